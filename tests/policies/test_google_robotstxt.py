"""permitcrawl's robots.txt matcher against Google's reference parser's test suite.

The vectors (tests/policies/google_robotstxt_vectors.py, Apache-2.0, google/robotstxt @ 22b355ff)
are run through what the crawler uses: :func:`policies.robots.robots_evidence` on the file's
bytes, then ``permits``; :func:`policies.robots.can_fetch`, the pure function, must agree.
Where we answer otherwise on purpose, the vector is in ``DIFFERENCES`` with our answer and the
reason; a test checks that list is exactly the vectors where we differ, so a regression and an
accidental change of a decision both fail.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from policies.document import Document
from policies.patterns import normalize, path_of
from policies.robots import can_fetch, robots_evidence
from tests.policies.google_robotstxt_vectors import (
    BYTE_CASES,
    CASES,
    DIFFERENCES,
    ESCAPE_CASES,
    PATH_CASES,
    ByteCase,
    Case,
)


def _permits(body: bytes, agent: str, url: str, content_type: str = "text/plain") -> bool:
    """What the crawler decides: the file read into evidence for ``agent``, asked about ``url``."""
    document = Document(
        kind="robots",
        url="http://foo.bar/robots.txt",
        fetched_at=datetime.now(UTC),
        status=200,
        body=body,
        content_type=content_type,
    )
    return robots_evidence(document, agent).permits(url)


def _ours(case: Case) -> bool:
    crawler = _permits(case.robots.encode(), case.agent, case.url)
    assert can_fetch(case.robots, case.agent, case.url) is crawler, "can_fetch and the crawler disagree"
    return crawler


def _expected(case_id: str, google: bool) -> bool:
    return DIFFERENCES[case_id][0] if case_id in DIFFERENCES else google


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_google_vector(case: Case) -> None:
    assert _ours(case) is _expected(case.id, case.google)


@pytest.mark.parametrize("case", BYTE_CASES, ids=[c.test for c in BYTE_CASES])
def test_google_byte_vector(case: ByteCase) -> None:
    assert _permits(case.body, "FooBot", case.url) is _expected(case.test, case.google)


def test_the_differences_are_exactly_the_listed_ones() -> None:
    differ = {c.id for c in CASES if _ours(c) is not c.google}
    differ |= {c.test for c in BYTE_CASES if _permits(c.body, "FooBot", c.url) is not c.google}
    assert differ == set(DIFFERENCES)
    for answer, reason in DIFFERENCES.values():
        assert isinstance(answer, bool)
        assert "RFC" in reason or "reading" in reason


def test_every_difference_is_stricter_or_follows_an_rfc() -> None:
    # A difference either refuses where Google allows, or cites the RFC text it follows instead.
    google = {c.id: c.google for c in CASES} | {c.test: c.google for c in BYTE_CASES}
    for case_id, (ours, reason) in DIFFERENCES.items():
        assert ours is not google[case_id]
        assert ours is False or "RFC" in reason, case_id


def test_the_suite_is_whole() -> None:
    # robots_test.cc's matcher EXPECTs (145) plus the robots.cc extras (19): none dropped by accident.
    assert len(CASES) == 164
    assert len({c.id for c in CASES}) == len(CASES)
    assert sum(1 for c in CASES if not c.test.startswith("extra_")) == 145


@pytest.mark.parametrize(("url", "path"), PATH_CASES)
def test_google_path_params_query(url: str, path: str) -> None:
    # TestGetPathParamsQuery: a URL without a scheme still yields the path a Disallow is matched against.
    assert path_of(url) == path


@pytest.mark.parametrize(("pattern", "escaped"), ESCAPE_CASES)
def test_google_maybe_escape_pattern(pattern: str, escaped: str) -> None:
    assert normalize(pattern) == escaped


def test_a_disallow_typo_google_accepts_refuses_and_an_allow_typo_grants_nothing() -> None:
    assert can_fetch("User-agent: *\nDisallowed: /a\n", "permitcrawl", "http://x/a") is False
    assert can_fetch("User-agents: permitcrawl\nDisallow: /\n", "permitcrawl", "http://x/a") is False
    assert can_fetch("User-agent: *\nDisallow: /\nAllowed: /a\n", "permitcrawl", "http://x/a") is False
    # Ungrouped by the typo'd User-agent line, the Disallow is the '*' group's in RFC 9309's reading.
    robots = "User-agent: *\nDisallow: /a\nUser-agents: otherbot\nDisallow: /b\n"
    assert can_fetch(robots, "permitcrawl", "http://x/b") is False


def test_a_long_line_cut_widens_a_disallow_but_never_an_allow() -> None:
    long_tail = "/x/" + "a" * 20_000
    robots = f"User-agent: *\nDisallow: {long_tail}/secret\n"
    assert can_fetch(robots, "permitcrawl", f"http://x{long_tail}/other") is False  # Google's cut
    assert can_fetch(robots, "permitcrawl", f"http://x{long_tail}/secret") is False  # as written
    robots = f"User-agent: *\nDisallow: /x/\nAllow: {long_tail}/open\nDisallow: /after\n"
    assert can_fetch(robots, "permitcrawl", f"http://x{long_tail}/other") is False
    assert can_fetch(robots, "permitcrawl", f"http://x{long_tail}/open") is True
    assert can_fetch(robots, "permitcrawl", "http://x/after") is False


def test_non_ascii_patterns_in_every_encoding_refuse() -> None:
    utf8 = "User-agent: *\nDisallow: /café\n".encode()
    latin1 = "User-agent: *\nDisallow: /café\n".encode("latin-1")
    for body in (utf8, latin1):
        assert _permits(body, "permitcrawl", "http://x/caf%C3%A9") is False
        assert _permits(body, "permitcrawl", "http://x/café") is False
        assert _permits(body, "permitcrawl", "http://x/cafe") is True
    assert _permits(latin1, "permitcrawl", "http://x/caf%E9") is False
    # Declared Latin-1, the same.
    assert _permits(latin1, "permitcrawl", "http://x/caf%C3%A9", "text/plain; charset=iso-8859-1") is False


def test_empty_inputs_answer() -> None:
    assert _permits(b"", "", "") is True
    assert _permits(b"", "permitcrawl", "http://x/a") is True
    assert _permits(b"User-agent: *\nDisallow: /\n", "", "http://x/a") is False
