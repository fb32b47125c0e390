"""The ToS policy store: file format, validation with path:line errors, scoping, writing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from policies.errors import PolicyError, PolicyStoreError
from policies.purpose import Purpose
from policies.rules import Rule
from policies.store import REVIEW_PERIOD, load_policies, store_from_contents, write_rule
from policies.tomlwriter import dumps
from policies.validator import load_file
from policies.vocabulary import merged_label

GOOD = """domain = "example.org"

[[rule]]
ai_scraping = "No AI"
license = "Unrestricted Use"
compete = "Unrestricted Use"
deny = ["ai-train", "ai-input"]
allow = ["search"]
quote = ["You may not use the Service to train machine learning models."]
tos_url = "https://example.org/terms"
reviewer = "A. Maintainer"
reviewed = 2026-11-01
review_by = 2027-05-01

[[rule]]
scope = "blog.example.org"
path = "/open/"
ai_scraping = "Unrestricted Use"
license = "Unrestricted Use"
compete = "Unrestricted Use"
quote = "Posts under /open/ are CC-BY."
tos_url = "https://blog.example.org/terms"
reviewer = "B. Maintainer"
reviewed = "2026-11-02"
review_by = 2026-12-01
"""


def write(tmp_path: Path, text: str, name: str = "example.org.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_and_scope(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    store = load_policies(tmp_path)
    general, narrow = store.all_rules()
    assert general.scope == "example.org" and general.deny == (Purpose.AI_TRAIN, Purpose.AI_INPUT)
    assert general.where.endswith("example.org.toml:3") and narrow.where.endswith(":15")
    assert narrow.quote == ("Posts under /open/ are CC-BY.",) and narrow.reviewed == date(2026, 11, 2)
    assert store.applicable("www.example.org", "/x") == [general]  # subdomains are covered
    assert store.applicable("blog.example.org", "/open/post") == [narrow]  # the narrower rule wins
    assert store.applicable("blog.example.org", "/closed") == [general]
    assert store.applicable("other.org", "/") == []
    assert store.applicable("notexample.org", "/") == []


def test_versions_change_with_content_only(tmp_path: Path) -> None:
    first = load_file(write(tmp_path, GOOD))[0]
    moved = load_file(
        write(tmp_path, GOOD.replace('domain = "example.org"\n', '# moved\ndomain = "example.org"\n'))
    )[0]
    edited = load_file(write(tmp_path, GOOD.replace("A. Maintainer", "C. Maintainer")))[0]
    assert first.version == moved.version and first.line != moved.line
    assert edited.version != first.version
    assert first.merged == "No AI"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD.replace("deny =", "dney ="),
            r"example.org.toml:7: unknown key 'dney'; expected one of .* Hint: did you mean 'deny'\?",
        ),
        (
            GOOD.replace('"No AI"', '"No ai"', 1),
            r"example.org.toml:4: ai_scraping: 'No ai' is not a label of this axis; expected one of",
        ),
        (
            GOOD.replace('"ai-input"]', '"training"]'),
            r":7: deny: unknown purpose 'training'; expected one of ai-train, ai-input, search",
        ),
        (
            GOOD.replace("review_by = 2027-05-01", "review_by = 2026-01-01"),
            r":13: review_by is before reviewed",
        ),
        (GOOD.replace('allow = ["search"]', 'allow = ["ai-train"]'), r":8: ai-train both allowed and denied"),
        (
            GOOD.replace('scope = "blog.example.org"', 'scope = "example.com"'),
            r":16: scope 'example.com' is not example.org",
        ),
        (
            GOOD.replace('tos_url = "https://example.org/terms"', 'tos_url = "example.org/terms"'),
            r":10: tos_url: .* not an http\(s\) URL",
        ),
        (
            GOOD.replace('reviewer = "A. Maintainer"\n', ""),
            r":3: rule is missing reviewer; expected every rule to have ai_scraping",
        ),
        (
            GOOD.replace('domain = "example.org"', 'domain = "example.com"'),
            r":1: domain is 'example.com'; expected 'example.org'",
        ),
        (GOOD.replace('path = "/open/"', 'path = "open"'), r":17: path: 'open' is not a path"),
        (GOOD + "\n[[rule]\n", r"not valid TOML"),
        ('domain = "example.org"\n', r":1: no \[\[rule\]\] table"),
        (GOOD.replace('quote = ["You may', 'quote = ["", "You may'), r":9: quote is empty"),
    ],
)
def test_validation_errors(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, text)
    with pytest.raises(PolicyStoreError, match=message):
        load_policies(tmp_path)


def test_allowing_against_the_label_needs_an_agreement(tmp_path: Path) -> None:
    text = GOOD.replace('deny = ["ai-train", "ai-input"]\nallow = ["search"]', 'allow = ["ai-train"]')
    write(tmp_path, text)
    with pytest.raises(PolicyStoreError, match=r":7: allows ai-train although ai_scraping is 'No AI'"):
        load_policies(tmp_path)
    write(tmp_path, text.replace('allow = ["ai-train"]', 'allow = ["ai-train"]\nagreement = "Licence #1"'))
    assert load_policies(tmp_path).all_rules()[0].agreement == "Licence #1"


def test_every_error_of_every_file_is_listed(tmp_path: Path) -> None:
    write(tmp_path, GOOD.replace("deny =", "dney =").replace('"No AI"', '"Nope"', 1))
    write(tmp_path, 'domain = "other.org"\n', "other.org.toml")
    write(tmp_path, 'domain = "co.uk"\n[[rule]]\n', "co.uk.toml")
    with pytest.raises(PolicyStoreError) as caught:
        load_policies(tmp_path)
    text = str(caught.value)
    assert "example.org.toml:4" in text and "example.org.toml:7" in text
    assert "other.org.toml:1" in text and "co.uk is not a registrable domain" in text
    with pytest.raises(PolicyStoreError, match="no such directory; expected a policy store"):
        load_policies(tmp_path / "missing")


TODAY = date(2026, 12, 2)
FIELDS = {
    "ai_scraping": "No Scraping & AI",
    "license": "Unrestricted Use",
    "compete": "Non-Compete",
    "deny": ("ai-train",),
    "quote": ("No robots.",),
    "tos_url": "https://www.example.co.uk/terms",
    "reviewer": "Jo",
    "reviewed": date(2026, 11, 1),
    "review_by": date(2027, 5, 1),
}


def write_as(directory: Path, host: str, changes: dict, **kwargs) -> Rule:
    return write_rule(directory, host, changes, editor="Ed", today=TODAY, **kwargs)


def test_write_creates_updates_and_stays_valid(tmp_path: Path) -> None:
    rule = write_as(tmp_path, "www.example.co.uk", FIELDS)
    assert rule.file.endswith("example.co.uk.toml") and rule.scope == "www.example.co.uk"
    assert rule.edited is None and "edited" not in rule.content()
    updated = write_as(tmp_path, "www.example.co.uk", {"note": "checked again"})
    assert (
        updated.note == "checked again"
        and updated.deny == (Purpose.AI_TRAIN,)
        and updated.version != rule.version
    )
    other = write_as(tmp_path, "www.example.co.uk", {**FIELDS, "path": "/shop/"})
    assert len(load_file(Path(other.file))) == 2
    with pytest.raises(PolicyStoreError, match=r"a new rule for example.co.uk needs --ai-scraping"):
        write_as(tmp_path, "example.co.uk", {"reviewer": "Jo"})
    before = Path(rule.file).read_text()
    with pytest.raises(PolicyStoreError, match="review_by is before reviewed"):
        write_as(tmp_path, "www.example.co.uk", {"review_by": date(2020, 1, 1)})
    assert Path(rule.file).read_text() == before  # an invalid edit leaves the file as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["example.co.uk.toml"]
    assert dumps("example.co.uk", list(load_file(Path(rule.file)))) == before


def test_an_edit_is_not_a_review(tmp_path: Path) -> None:
    rule = write_as(tmp_path, "example.org", {**FIELDS, "tos_url": "https://example.org/terms"})
    edited = write_as(tmp_path, "example.org", {"note": "typo"})
    assert (edited.reviewer, edited.reviewed, edited.review_by) == ("Jo", date(2026, 11, 1), date(2027, 5, 1))
    assert (edited.edited, edited.edited_by) == (TODAY, "Ed")
    reviewed = write_as(tmp_path, "example.org", {"reviewer": "Kim", "reviewed": date(2026, 12, 1)})
    assert (reviewed.reviewer, reviewed.reviewed, reviewed.review_by) == (
        "Kim",
        date(2026, 12, 1),
        date(2026, 12, 1) + REVIEW_PERIOD,
    )
    assert reviewed.edited == TODAY  # the last edit stays on record
    for half in ({"reviewer": "Kim"}, {"reviewed": date(2026, 12, 1)}):
        with pytest.raises(PolicyStoreError, match=r"reviewed by Kim on 2026-12-01; a new review needs both"):
            write_as(tmp_path, "example.org", half)
    with pytest.raises(PolicyStoreError, match="nothing to change"):
        write_as(tmp_path, "example.org", {"note": None})
    with pytest.raises(PolicyStoreError, match=r"no rule for example.org/blog/; expected an existing rule"):
        write_as(tmp_path, "example.org", {"path": "/blog/", "reviewer": "Kim"}, create=False)
    assert rule.version != edited.version != reviewed.version


def test_rules_without_edit_fields_keep_their_version(tmp_path: Path) -> None:
    # Crawls cite rules by version: adding the edit fields must not change the version of a rule
    # written before they existed (this digest is of GOOD's first rule, as recorded before).
    rule = load_file(write(tmp_path, GOOD))[0]
    assert rule.version == "3273c9852e014a9d"
    assert (
        store_from_contents([{**rule.content(), "where": rule.where}]).all_rules()[0].version == rule.version
    )


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("exa mple.org", "'exa mple.org' is not a host name"),
        ("https://example.org/", "'https://example.org/' is not a host name"),
        ("", "'' is not a host name"),
        ("co.uk", "'co.uk' is a public suffix"),
        ("127.0.0.1", "'127.0.0.1' is an IP address"),
    ],
)
def test_write_refuses_what_is_not_a_host(tmp_path: Path, host: str, message: str) -> None:
    with pytest.raises(PolicyError, match=f"^{message}"):
        write_as(tmp_path, host, FIELDS)
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_cannot_be_written_is_reported_as_the_store_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = write_as(tmp_path, "example.co.uk", FIELDS)
    before = Path(rule.file).read_text()

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("policies.store.os.replace", refuse)
    with pytest.raises(
        PolicyStoreError, match=r"example.co.uk.toml: cannot be written \(Permission denied\)"
    ):
        write_as(tmp_path, "example.co.uk", {"note": "x"})
    assert Path(rule.file).read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["example.co.uk.toml"]  # no temporary file left


def test_write_needs_a_store(tmp_path: Path) -> None:
    with pytest.raises(PolicyStoreError, match=r"typo: no such directory; expected a policy store"):
        write_as(tmp_path / "typo", "example.org", FIELDS)
    assert not (tmp_path / "typo").exists()


def test_text_a_toml_string_cannot_hold_raw_is_escaped(tmp_path: Path) -> None:
    write_as(tmp_path, "example.co.uk", FIELDS)
    rule = write_as(tmp_path, "example.co.uk", {"note": 'a\x7fb\x00c"d\\'})
    assert rule.note == 'a\x7fb\x00c"d\\'
    with pytest.raises(PolicyStoreError, match="not UTF-8 text"):
        write_as(tmp_path, "example.co.uk", {"note": "bad \udcff byte"})


def test_the_dpi_misspelling_is_an_alias(tmp_path: Path) -> None:
    old = GOOD.replace('license = "Unrestricted Use"', 'license = "Non-Comercial Only"', 1)
    rule = load_file(write(tmp_path, old))[0]
    assert rule.license == "Non-Commercial Only" and rule.merged == "No AI"
    right = load_file(write(tmp_path, old.replace("Non-Comercial", "Non-Commercial")))[0]
    assert right.license == "Non-Commercial Only"
    with pytest.raises(
        PolicyStoreError, match=r"expected one of: Non-Commercial Only, .* \(or Non-Comercial Only\)"
    ):
        load_file(write(tmp_path, old.replace("Non-Comercial", "Non-Commerciall")))


def test_every_error_of_a_rule_is_listed(tmp_path: Path) -> None:
    text = (
        GOOD.replace("deny =", 'dney = ["x"]\ndeny =', 1)
        .replace('allow = ["search"]', 'allow = ["search", "ai-train"]', 1)
        .replace("review_by = 2027-05-01", 'review_by = 2026-01-01\nedited_by = "Ed"')
    )
    with pytest.raises(PolicyStoreError) as caught:
        load_file(write(tmp_path, text))
    messages = [(e.line, e.message.split(";")[0]) for e in caught.value.errors]
    assert messages == [
        (7, "unknown key 'dney'"),
        (9, "ai-train both allowed and denied"),
        (9, "allows ai-train although ai_scraping is 'No AI'"),
        (14, "review_by is before reviewed"),
        (15, "edited_by without edited"),
    ]


@pytest.mark.parametrize(
    ("axes", "merged"),
    [
        (("No AI", "Unrestricted Use", "Unrestricted Use"), "No AI"),
        (("Unrestricted Use", "Non-Commercial Only", "Unrestricted Use"), "NC Only"),
        (("Unrestricted Use", "Non-Comercial Only", "Unrestricted Use"), "NC Only"),
        (("Conditional Use", "Unrestricted Use", "Non-Compete"), "Non-Compete"),
        (("Unrestricted Use", "Unrestricted Use", "Unrestricted Use"), "Unrestricted Use"),
        (("Conditional Use", "Conditionally Commercial", "Unrestricted Use"), "Conditional Use"),
    ],
)
def test_merged_label(axes: tuple[str, str, str], merged: str) -> None:
    assert merged_label(*axes) == merged
