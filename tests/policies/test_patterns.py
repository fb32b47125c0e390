"""Path patterns: linear matching whatever a site writes, the rule index, and Protego as the oracle.

Google's path-matching vectors are in test_robots.py; here, the cases that made
a regular-expression matcher backtrack for minutes, the index that answers
"which rule matches best" without trying every rule, and a differential test:
on patterns and paths where both are defined alike, our verdict is Protego's.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from protego import Protego

from policies.patterns import PathPattern, RuleIndex, equivalent_urls, normalize, path_of, resolved_path
from policies.robots import can_fetch

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextmanager
def within(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging) if the block runs longer than ``seconds``."""

    def expire(*_: object) -> None:
        raise TimeoutError(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/" + "*" * 10 + "x", "/" + "a" * 40, False),  # 42 s with the old regex matcher
        ("/" + "*" * 10 + "x", "/" + "a" * 40 + "x", True),
        ("/" + "*a" * 5000 + "x", "/" + "a" * 100_000, False),
        ("/" + "*a" * 5000 + "$", "/" + "a" * 100_000, True),
        ("/" + "a*" * 3000 + "b$", "/" + "a" * 50_000 + "c", False),
        ("/**" + "*" * 100_000, "/anything", True),
    ],
)
def test_hostile_patterns_match_in_linear_time(pattern: str, path: str, matches: bool) -> None:
    with within(2):
        assert PathPattern(pattern).matches(f"http://x{path}") is matches


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/a*b*c", "/aXbYc", True),
        ("/a*b*c", "/aXcYb", False),
        ("/a*c$", "/abc", True),
        ("/a*c$", "/abcd", False),
        ("/a*$", "/a", True),
        ("*.jpg$", "/x.jpg", True),  # (ai.txt writes patterns that start with '*')
        ("/a$b", "/a$b/c", True),  # '$' anywhere but the end is an ordinary character
        ("/%7Efoo", "/~foo", True),
        ("/caf\u00e9", "/caf%C3%A9", True),
    ],
)
def test_wildcards_and_normalisation(pattern: str, path: str, matches: bool) -> None:
    assert PathPattern(pattern).matches(f"http://x{path}") is matches


def test_path_of_never_raises() -> None:
    assert path_of("http://[x/a?b#c") == "/a?b"
    assert path_of("http://x") == "/"
    assert path_of("http://x/a?") == "/a?"
    assert normalize("/\ud800") == "/%ED%A0%80"  # a lone surrogate (from JSON) does not raise


def test_rule_index_ranks() -> None:
    entries = [("/a", "plain-a"), ("/a/b", "plain-ab"), ("/a*/bz", "wild"), ("/a/b$", "exact"), ("", "all")]
    longest = RuleIndex(entries, lambda length, _payload: length)
    assert longest.best("http://x/a/b") == ["exact"]  # '/a/b$' is '/a/b' and one octet more
    assert RuleIndex(entries[:2], lambda length, _: length).best("http://x/a/b") == ["plain-ab"]
    assert longest.best("http://x/a/bz") == ["wild"]
    assert longest.best("http://x/a/b/c") == ["plain-ab"]
    tie = RuleIndex([("/a/b", "plain"), ("/a*b", "wild")], lambda length, _: length)
    assert sorted(tie.best("http://x/a/b")) == ["plain", "wild"]  # equally long: both, for the caller
    assert longest.best("http://x/q") == ["all"]
    # First in sequence (TDMRep): rank by position, whatever the length.
    first = RuleIndex(entries, lambda _length, payload: -[p for _, p in entries].index(payload))
    assert first.best("http://x/a/b") == ["plain-a"]
    assert RuleIndex([], lambda length, _: length).best("http://x/") == []


def test_a_huge_rule_set_costs_little_per_url() -> None:
    rules = "User-agent: *\n" + "".join(f"Disallow: /filler-{i:07d}/\n" for i in range(200_000))
    with within(20):
        from policies.robots import RobotsRules
        from policies.robotstxt import RobotsTxt

        matcher = RobotsRules(RobotsTxt.parse(rules), "permitcrawl")
    with within(2):
        for i in range(2000):
            assert matcher.can_fetch(f"http://x/late/{i}")
        assert not matcher.can_fetch("http://x/filler-0000042/page")
        assert (
            matcher.matching_rule("http://x/filler-0199999/") == "'Disallow: /filler-0199999/' (line 200001)"
        )


# -- Protego as the oracle -------------------------------------------------------------

# Protego and Google part ways on 'Allow: /index.html$' and 'Allow: /index.htmlx' (Google also
# allows '/', Protego does not; we follow Google, see test_robots.py): no index pages here.
pieces = st.sampled_from(["/", "a", "b", "ab", "*", ".", "-", "_", "~", "x.html", "?q=1", "%41", "="])
patterns = st.lists(pieces, min_size=1, max_size=6).map(lambda p: "/" + "".join(p)) | st.just("/")
anchored = st.tuples(patterns, st.booleans()).map(lambda t: t[0] + ("$" if t[1] else ""))
paths = st.lists(pieces.filter(lambda p: p != "*"), max_size=8).map(lambda p: "/" + "".join(p))
rules = st.lists(st.tuples(st.sampled_from(["Allow", "Disallow"]), anchored), min_size=1, max_size=8)


@settings(max_examples=600, deadline=None)
@given(rules, paths)
def test_verdicts_are_protegos(rule_list: list[tuple[str, str]], path: str) -> None:
    text = "User-agent: *\n" + "".join(f"{field}: {pattern}\n" for field, pattern in rule_list)
    url = f"http://example.com{path}"
    assert can_fetch(text, "permitcrawl", url) is Protego.parse(text).can_fetch(url, "permitcrawl")


@pytest.mark.parametrize(
    ("path", "resolved"),
    [
        ("/private/x", "/private/x"),
        ("/a/../private/x", "/private/x"),
        ("/a/%2e%2E/private/x", "/private/x"),
        ("/a%2F..%2fprivate/x", "/private/x"),  # an escaped slash that the server decodes
        ("/a%5C..%5cprivate\\x", "/private/x"),  # backslashes, as IIS reads them
        ("/private;jsessionid=1/x", "/private/x"),  # path parameters, as Tomcat drops them
        ("//private///x", "/private/x"),  # runs of slashes, as nginx merges them
        ("/../../private/x", "/private/x"),  # above the root stays at the root
        ("/a/./b/.", "/a/b/"),
    ],
)
def test_resolved_path(path: str, resolved: str) -> None:
    assert resolved_path(path) == resolved


def test_equivalent_urls_include_every_resolution() -> None:
    assert equivalent_urls("http://h.test/plain/path?q=1") == []
    found = equivalent_urls("http://h.test/a%2F..%2Fprivate;x=1/y?q=1#frag")
    assert "http://h.test/private/y?q=1" in found
    assert all("#" not in url for url in found)
    # Every spelling is judged: one of them matches Disallow: /private where the original does not.
    index = RuleIndex([("/private", "disallow")], lambda length, _: length)
    assert index.best("http://h.test/a%2F..%2Fprivate;x=1/y") == []
    assert any(index.best(url) == ["disallow"] for url in found)
