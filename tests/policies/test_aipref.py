"""AIPREF Content-Usage: vectors A1-A14 of ../shared/reference/signals.md §2.3, header and robots.txt."""

from __future__ import annotations

import pytest

from policies.aipref import header_usage_basis, parse_preferences, robots_usage_basis
from policies.decision import Cite, Verdict
from policies.purpose import Purpose
from policies.robotstxt import RobotsTxt

A, D, N = Verdict.ALLOW, Verdict.DENY, Verdict.NONE
CITE = Cite(source="http://x/robots.txt: HTTP 200")


def header(*values: str, purpose: Purpose = Purpose.AI_TRAIN, legacy: bool = True) -> Verdict:
    basis = header_usage_basis(values, purpose, legacy=legacy)
    assert basis is not None and basis.signal == "content-usage"
    return basis.verdict


@pytest.mark.parametrize(
    ("values", "train", "search"),
    [
        (("train-ai=n",), D, N),  # A1
        (("train-ai=n, search=y",), D, A),  # A2
        (("train-ai=y", "train-ai=n"), D, N),  # A3: lines joined, the last value wins
        (("Train-AI=n",), N, N),  # A4: uppercase key, the field fails to parse
        (("train-ai = n",), N, N),  # A5: spaces round '='
        (("train-ai=N",), N, N),  # A6
        (('train-ai="n"',), N, N),
        (("train-ai",), N, N),
        (("train-ai=no",), N, N),
        (("train-ai=n;reason=x",), D, N),  # A7: parameters ignored
        (('train-ai=y, train-ai, search=n, search="n"',), N, N),  # A8
        (("train-ai;allow=n, train-ai=y",), A, N),  # A9
        (("train-ai=n # no AI please",), N, N),  # a header has no comments: unparseable
    ],
)
def test_header_vectors(values: tuple[str, ...], train: Verdict, search: Verdict) -> None:
    assert header(*values) is train
    assert header(*values, purpose=Purpose.SEARCH) is search
    assert header(*values, purpose=Purpose.AI_INPUT) is N  # no current label speaks for ai-input


def test_malformed_is_recorded() -> None:
    basis = header_usage_basis(("Train-AI=n",), Purpose.AI_TRAIN, legacy=True)
    assert basis is not None and "Structured Fields" in basis.reason and "unknown" in basis.reason
    assert header_usage_basis((), Purpose.AI_TRAIN, legacy=True) is None


@pytest.mark.parametrize(
    ("value", "legacy", "train", "ai_input", "search"),
    [
        ("bots=n, train-genai=n", True, D, D, D),  # A10, conservative
        ("bots=n, train-genai=n", False, N, N, N),  # A10, literal: unknown labels ignored
        ("train-genai=n", True, D, N, N),
        ("ai-use=n", True, N, D, N),
        ("ai-output=n", True, N, D, D),
        ("bots=y", True, N, N, N),  # only 'n' on a legacy label counts
    ],
)
def test_legacy_labels(value: str, legacy: bool, train: Verdict, ai_input: Verdict, search: Verdict) -> None:
    expected = {Purpose.AI_TRAIN: train, Purpose.AI_INPUT: ai_input, Purpose.SEARCH: search}
    for purpose, verdict in expected.items():
        assert header(value, purpose=purpose, legacy=legacy) is verdict, purpose


def robots(text: str, url: str, purpose: Purpose = Purpose.AI_TRAIN, *, wildcard: bool = True) -> Verdict:
    basis = robots_usage_basis(
        RobotsTxt.parse(text), "permitcrawl", url, purpose, wildcard=wildcard, legacy=True, cite=CITE
    )
    return basis.verdict


DRAFT_EXAMPLE = (
    "User-Agent: *\nAllow: /\nDisallow: /never/\nContent-Usage: train-ai=n\n"
    "Content-Usage: /ai-ok/ train-ai=y\n\n"
    "User-Agent: OtherBot\nAllow: /\nContent-Usage: train-ai=y\n"
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/test", D), ("/ai-ok/test", A), ("/ai-okay", D)],  # attach-05 §3 example: longest path wins
)
def test_draft_example(path: str, expected: Verdict) -> None:
    assert robots(DRAFT_EXAMPLE, f"http://x{path}") is expected


def test_the_other_bots_group_is_not_ours() -> None:
    text = (
        "User-Agent: permitcrawl\nAllow: /\nContent-Usage: train-ai=y\n\n"
        "User-Agent: *\nContent-Usage: train-ai=n\n"
    )
    assert robots(text, "http://x/a", wildcard=False) is A  # A11 literal: our group only
    assert robots(text, "http://x/a", wildcard=True) is D  # A11 conservative: '*' counts too


def test_same_path_conflicts_combine_most_restrictively() -> None:
    text = "User-agent: *\nContent-Usage: /p/ train-ai=y\nContent-Usage: /p/ train-ai=n\n"
    assert robots(text, "http://x/p/1") is D


def test_rules_without_a_path_apply_everywhere_and_comments_end_values() -> None:
    text = "User-agent: *\nContent-Usage: train-ai=n # no AI please\n"  # A13
    assert robots(text, "http://x/anything") is D
    assert robots(text, "http://x/anything", Purpose.SEARCH) is N


def test_missing_space_after_path() -> None:
    text = "User-agent: *\nContent-Usage: /ai-ok/train-ai=y\n"  # A12: all path, empty preference
    assert robots(text, "http://x/ai-ok/train-ai=y") is N
    assert robots(text, "http://x/other") is N


def test_content_usage_lines_separate_groups() -> None:
    text = "User-agent: a\nContent-Usage: train-ai=n\nUser-agent: permitcrawl\nDisallow: /x\n"
    # Content-Usage is a rule (attach §3), so the 'a' group ends before ours begins.
    assert robots(text, "http://x/page", wildcard=False) is N


def test_robots_and_header_combine_most_restrictively() -> None:
    pre = robots("User-agent: *\nContent-Usage: train-ai=y\n", "http://x/a")
    post = header("train-ai=n")
    assert (pre, post) == (A, D)  # A14: the engine combines both bases; any deny excludes


def test_preferences_parse() -> None:
    prefs = parse_preferences("train-ai=n, search=y, unknown-label=n")
    assert prefs.allowed == {Purpose.AI_TRAIN: False, Purpose.SEARCH: True}
    assert prefs.error is None
    assert parse_preferences("Train-AI=n").error


@pytest.mark.parametrize(
    ("values", "train", "search"),
    [
        # One unparsable line no longer voids a parsable 'n' on another (issue: hostile sites).
        (("train-ai=n", "Bad=x"), D, N),
        (("train-ai=n, Bad=x",), D, N),
        (("Bad=x", "search=n"), N, D),
        # A later 'y' for the same key does not lift an 'n' said in so many words.
        (("train-ai=n, train-ai=y",), D, N),
        (("train-ai=n", "train-ai=y"), D, N),
        # A8: 'search=n' is a member of its own, the later 'search="n"' a String.
        (('train-ai=y, train-ai, search=n, search="n"',), N, D),
        # 'n' as authors also write it (a String, a word, upper case) counts in this reading;
        # the spec reads each as "unknown" (vocab section 6.6).
        (('train-ai="n", Bad=x',), D, N),
        (("train-ai=no, Bad=x",), D, N),
        (("train-ai=N",), D, N),
        (("train-ai=no",), D, N),
        (("train-ai=yes",), N, N),
        (("train-ai=y, Bad=x",), N, N),  # a grant is never read member by member
        (('train-ai=n;why="a, b", Bad',), D, N),  # commas inside strings do not split members
    ],
)
def test_any_n_reading(values: tuple[str, ...], train: Verdict, search: Verdict) -> None:
    def verdict(purpose: Purpose) -> Verdict:
        basis = header_usage_basis(values, purpose, legacy=True, any_n=True)
        assert basis is not None
        return basis.verdict

    assert verdict(Purpose.AI_TRAIN) is train
    assert verdict(Purpose.SEARCH) is search
    robots = RobotsTxt.parse("User-agent: *\n" + "".join(f"Content-Usage: {v}\n" for v in values))
    basis = robots_usage_basis(
        robots,
        "permitcrawl",
        "http://x/",
        Purpose.AI_TRAIN,
        wildcard=True,
        legacy=True,
        any_n=True,
        cite=CITE,
    )
    assert basis.verdict is train
    if train is D:
        assert "aipref_any_n" in basis.reason or basis.reason.count("reserves") == 1


def test_any_n_reading_says_so() -> None:
    basis = header_usage_basis(("train-ai=n, Bad=x",), Purpose.AI_TRAIN, legacy=True, any_n=True)
    assert basis is not None and basis.verdict is D
    assert "(train-ai=n)" in basis.reason and "aipref_any_n" in basis.reason
    off = header_usage_basis(("train-ai=n, Bad=x",), Purpose.AI_TRAIN, legacy=True, any_n=False)
    assert off is not None and off.verdict is N
