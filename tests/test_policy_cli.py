"""permitcrawl policy: the maintainers' commands, through the CLI."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner

from crawler.cli import cli as main
from policies.terms import terms_text, text_sha256
from tests.conftest import run_cli

if TYPE_CHECKING:
    import subprocess

NEW = [
    "--ai-scraping", "No AI", "--license", "Unrestricted Use", "--compete", "Unrestricted Use",
    "--deny", "ai-train", "--deny", "ai-input", "--allow", "search",
    "--quote", "You may not use Content to train machine learning models.",
    "--tos-url", "https://example.org/terms", "--reviewer", "A. Maintainer",
    "--reviewed", "2026-11-01", "--review-by", "2027-05-01",
]  # fmt: skip


def invoke(*args: str | Path):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def store(tmp_path: Path) -> Path:
    directory = tmp_path / "tos"
    assert invoke("policy", "init", directory).exit_code == 0
    return directory


def test_init(store: Path) -> None:
    assert (store / "README.txt").exists()
    assert invoke("policy", "validate", store).exit_code == 0
    (store / "x.org.toml").write_text("")
    again = invoke("policy", "init", store)
    assert again.exit_code == 1 and "already holds policy files" in again.stderr


def test_set_show_list_check(store: Path, tmp_path: Path) -> None:
    terms = tmp_path / "terms.html"
    terms.write_text("<html><body><p>Terms.</p><p>No ML training.</p></body></html>")
    result = invoke("policy", "set", "www.example.org", "--store", store, *NEW, "--tos-text", terms)
    assert result.exit_code == 0, result.stderr
    assert "example.org.toml:" in result.output and "rule for www.example.org" in result.output
    text = (store / "example.org.toml").read_text()
    assert 'scope = "www.example.org"' in text
    assert f'tos_sha256 = "{text_sha256(terms_text(terms.read_bytes()))}"' in text

    shown = json.loads(invoke("policy", "show", "example.org", "--store", store, "--format", "json").output)
    assert shown[0]["deny"] == ["ai-train", "ai-input"] and shown[0]["merged"] == "No AI"
    version = shown[0]["version"]

    updated = invoke(
        "policy",
        "set",
        "www.example.org",
        "--store",
        store,
        "--note",
        "rechecked",
        "--reviewed",
        "2026-11-20",
        "--reviewer",
        "B. Maintainer",
    )
    assert updated.exit_code == 0, updated.stderr
    shown = json.loads(
        invoke("policy", "show", "www.example.org", "--store", store, "--format", "json").output
    )
    assert (
        shown[0]["note"] == "rechecked"
        and shown[0]["deny"] == ["ai-train", "ai-input"]
        and shown[0]["version"] != version
    )

    listed = invoke("policy", "list", "--store", store, "--format", "jsonl")
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert [r["scope"] for r in rows] == ["www.example.org"] and rows[0]["due"] is False
    assert invoke("policy", "list", "--store", store, "--due").output.count("\n") == 2  # header lines only

    check = invoke("policy", "check", "https://a.www.example.org/p", "--store", store, "--format", "json")
    data = json.loads(check.output)
    assert data["basis"]["verdict"] == "deny" and data["rules"][0]["scope"] == "www.example.org"
    search = invoke("policy", "check", "https://www.example.org/", "--store", store, "--purpose", "search")
    assert "[allow]" in search.output
    nothing = invoke("policy", "check", "https://other.org/", "--store", store)
    assert "no rule for other.org" in nothing.output


def test_due_reviews(store: Path) -> None:
    args = [a if a != "2027-05-01" else "2026-11-02" for a in NEW]
    assert invoke("policy", "set", "example.org", "--store", store, *args).exit_code == 0
    rows = invoke("policy", "list", "--store", store, "--due", "--format", "jsonl").output.splitlines()
    assert len(rows) == 1 and json.loads(rows[0])["due"] is True


def test_set_errors(store: Path) -> None:
    missing = invoke("policy", "set", "example.org", "--store", store, "--reviewer", "Jo")
    assert missing.exit_code == 1
    assert (
        "a new rule for example.org needs --ai-scraping, --license, --compete, --quote, --tos-url"
        in missing.stderr
    )
    contradiction = invoke("policy", "set", "example.org", "--store", store, *NEW, "--allow", "ai-train")
    assert contradiction.exit_code == 1 and "both allowed and denied" in contradiction.stderr
    bad_label = invoke("policy", "set", "example.org", "--store", store, "--ai-scraping", "Nope")
    assert bad_label.exit_code == 2 and "'Nope' is not one of" in bad_label.stderr
    bad_date = invoke("policy", "set", "example.org", "--store", store, "--reviewed", "yesterday")
    assert bad_date.exit_code == 2 and "expected YYYY-MM-DD" in bad_date.stderr
    assert not (store / "example.org.toml").exists()  # nothing half-written


def test_validate_lists_every_problem(store: Path) -> None:
    (store / "bad.org.toml").write_text('domain = "bad.org"\n[[rule]]\nalow = 1\n')
    (store / "worse.org.toml").write_text("not toml at all [")
    result = invoke("policy", "validate", store)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert any(line.startswith(f"{store / 'bad.org.toml'}:3: unknown key 'alow'") for line in lines)
    assert any(line.startswith(f"{store / 'worse.org.toml'}:1: not valid TOML") for line in lines)
    usage = CliRunner().invoke(main, ["policy", "validate"], env={"PERMITCRAWL_POLICY_STORE": ""})
    assert usage.exit_code == 2


# -- end to end, in a fresh process ----------------------------------------------------------


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_cli("policy", *args)


def rule_of(store: Path, domain: str = "example.org") -> dict[str, Any]:
    shown = cli("show", domain, "--store", store, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)[0]


def test_an_edit_does_not_move_the_review_clock(store: Path) -> None:
    today = date.today()
    reviewed, review_by = today - timedelta(days=200), today - timedelta(days=18)
    args = [a for a in NEW if a not in ("--reviewed", "2026-11-01", "--review-by", "2027-05-01")]
    created = cli("set", "example.org", "--store", store, *args,
                  "--reviewed", reviewed.isoformat(), "--review-by", review_by.isoformat())  # fmt: skip
    assert created.returncode == 0, created.stderr

    edited = cli("set", "example.org", "--store", store, "--note", "typo", "--by", "B. Editor")
    assert edited.returncode == 0, edited.stderr
    assert f"the review by A. Maintainer of {reviewed} stands" in edited.stderr
    rule = rule_of(store)
    assert (rule["reviewer"], rule["reviewed"], rule["review_by"]) == (
        "A. Maintainer",
        reviewed.isoformat(),
        review_by.isoformat(),
    )
    assert (rule["note"], rule["edited"], rule["edited_by"]) == ("typo", today.isoformat(), "B. Editor")
    due = cli("list", "--store", store, "--due", "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line)["scope"] for line in due] == ["example.org"]  # still due: nobody reviewed it

    # Naming a reviewer without a review date (or the reverse) credits no one with a review.
    for half in (["--reviewer", "C. Other"], ["--reviewed", today.isoformat()]):
        refused = cli("set", "example.org", "--store", store, *half)
        assert refused.returncode == 1
        assert f"was reviewed by A. Maintainer on {reviewed}; a new review needs both" in refused.stderr
    assert rule_of(store)["reviewer"] == "A. Maintainer"

    reviewed_again = cli("review", "example.org", "--store", store, "--reviewer", "C. Reviewer")
    assert reviewed_again.returncode == 0, reviewed_again.stderr
    rule = rule_of(store)
    assert (rule["reviewer"], rule["reviewed"], rule["review_by"]) == (
        "C. Reviewer",
        today.isoformat(),
        (today + timedelta(days=182)).isoformat(),
    )
    assert rule["deny"] == ["ai-train", "ai-input"] and rule["note"] == "typo"
    assert cli("list", "--store", store, "--due", "--format", "jsonl").stdout == ""
    missing = cli("review", "example.org", "--path", "/blog/", "--store", store, "--reviewer", "C")
    assert missing.returncode == 1
    assert f"{store / 'example.org.toml'}: no rule for example.org/blog/; expected an existing rule" in (
        missing.stderr
    )
    assert cli("validate", store).returncode == 0


def test_set_needs_a_store_made_by_init(tmp_path: Path) -> None:
    typo = tmp_path / "tos-typo"
    result = cli("set", "example.org", "--store", typo, *NEW)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {typo}: no such directory; expected a policy store "
        f"(create one with: permitcrawl policy init {typo})\n"
    )
    assert not typo.exists()


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("co.uk", "'co.uk' is a public suffix, under which anyone may register a domain"),
        ("127.0.0.1", "'127.0.0.1' is an IP address, which has no registrable domain"),
        ("exa mple.org", "'exa mple.org' is not a host name"),
        ("https://example.org/", "'https://example.org/' is not a host name"),
    ],
)
def test_set_names_what_is_wrong_with_the_host(store: Path, host: str, message: str) -> None:
    result = cli("set", host, "--store", store, *NEW)
    assert result.returncode == 1
    assert result.stderr == f"Error: {message}; expected a host name such as example.org or www.example.org\n"
    assert sorted(p.name for p in store.iterdir()) == ["README.txt"]


def test_errors_name_the_users_file_never_a_staging_path(store: Path) -> None:
    assert cli("set", "example.org", "--store", store, *NEW).returncode == 0
    path = store / "example.org.toml"
    # Text a TOML string cannot hold raw is written escaped, and reads back as given.
    odd = cli("set", "example.org", "--store", store, "--note", "del\x7fhere", "--by", "Ed")
    assert odd.returncode == 0, odd.stderr
    assert rule_of(store)["note"] == "del\x7fhere"
    before = path.read_text()
    invalid = cli("set", "example.org", "--store", store, "--review-by", "2020-01-01", "--by", "Ed")
    assert invalid.returncode == 1
    assert invalid.stderr.startswith(f"Error: {path}: review_by is before reviewed; expected a later date")
    path.write_text(before.replace("deny =", "dney ="))
    broken = cli("set", "example.org", "--store", store, "--note", "x", "--by", "Ed")
    assert broken.returncode == 1
    assert broken.stderr.startswith(f"Error: {path}:10: unknown key 'dney'")
    for result in (odd, invalid, broken):
        assert ".staging" not in result.stdout + result.stderr
    assert sorted(p.name for p in store.iterdir()) == ["README.txt", "example.org.toml"]


def test_the_licence_label_is_spelt_right_and_the_dpi_spelling_still_reads(store: Path) -> None:
    def with_license(label: str) -> list[str]:
        at = NEW.index("--license") + 1
        return [*NEW[:at], label, *NEW[at + 1 :]]

    right = cli("set", "example.org", "--store", store, *with_license("Non-Commercial Only"))
    assert right.returncode == 0, right.stderr
    assert 'license = "Non-Commercial Only"' in (store / "example.org.toml").read_text()
    old = cli("set", "example.net", "--store", store, *with_license("Non-Comercial Only"))
    assert old.returncode == 0, old.stderr
    assert 'license = "Non-Commercial Only"' in (store / "example.net.toml").read_text()
    # A file written with DPI's spelling stays valid.
    (store / "example.com.toml").write_text(
        (store / "example.net.toml").read_text().replace("example.net", "example.com")
        .replace("Non-Commercial Only", "Non-Comercial Only")
    )  # fmt: skip
    assert cli("validate", store).returncode == 0
    rule = rule_of(store, "example.com")
    assert rule["license"] == "Non-Commercial Only" and rule["merged"] == "No AI"
    wrong = cli("set", "example.org", "--store", store, "--license", "Non-Commercial")
    assert wrong.returncode == 2 and "'Non-Commercial Only'" in wrong.stderr


def test_validate_reports_every_error_of_every_file(store: Path) -> None:
    (store / "example.org.toml").write_text(
        'domain = "example.org"\n'
        "[[rule]]\n"
        'ai_scraping = "No AI"\n'
        'license = "Unrestricted Use"\n'
        'compete = "Nope"\n'
        'dney = ["ai-train"]\n'
        'allow = ["ai-train", "search"]\n'
        'deny = ["ai-train"]\n'
        'quote = ["q"]\n'
        'tos_url = "https://example.org/terms"\n'
        'reviewer = "A"\n'
        "reviewed = 2026-11-01\n"
        "review_by = 2026-01-01\n"
    )
    (store / "example.net.toml").write_text(
        'domain = "example.net"\n'
        "[[rule]]\n"
        'ai_scraping = "No AI"\n'
        'license = "Unrestricted Use"\n'
        'compete = "Unrestricted Use"\n'
        'quote = ["q"]\n'
        'tos_url = "example.net/terms"\n'
        "reviewed = 2026-11-01\n"
        "review_by = 2027-01-01\n"
        "edited = 2026-11-02\n"
    )
    (store / "example.com.toml").write_text('domain = "example.com"\n[[rule]\n')
    result = cli("validate", store)
    assert result.returncode == 1 and result.stdout == ""
    found = [
        line.removeprefix(f"{store}/").split(" (")[0].split(";")[0] for line in result.stderr.splitlines()
    ]
    assert found == [
        "example.com.toml:2: not valid TOML",
        "example.net.toml:2: rule is missing reviewer",
        "example.net.toml:7: tos_url: 'example.net/terms' is not an http(s) URL",
        "example.net.toml:10: edited without edited_by",
        "example.org.toml:5: compete: 'Nope' is not a label of this axis",
        "example.org.toml:6: unknown key 'dney'",
        "example.org.toml:7: ai-train both allowed and denied",
        "example.org.toml:7: allows ai-train although ai_scraping is 'No AI'",
        "example.org.toml:13: review_by is before reviewed",
        f"{store}: 9 problems in 3 files",
    ]
    # Each says what was expected.
    assert all("; expected" in line for line in result.stderr.splitlines()[:-1])


def test_a_review_dated_later_than_today_is_refused(store: Path) -> None:
    # --reviewed 2099-01-01 (for 2029) was taken: review_by became 2099-07-02, never due in anyone's time.
    later = (date.today() + timedelta(days=1)).isoformat()
    args = [a for a in NEW if a not in ("--reviewed", "2026-11-01", "--review-by", "2027-05-01")]
    refused = cli("set", "example.org", "--store", store, *args, "--reviewed", later)
    assert refused.returncode == 2
    assert f"'{later}' is later than today ({date.today()}); expected the day the terms were reviewed" in (
        refused.stderr
    )
    assert not (store / "example.org.toml").exists()
    assert cli("set", "example.org", "--store", store, *args).returncode == 0
    before = (store / "example.org.toml").read_text()
    again = cli("review", "example.org", "--store", store, "--reviewer", "B", "--reviewed", later)
    assert again.returncode == 2 and "is later than today" in again.stderr
    assert (store / "example.org.toml").read_text() == before
