"""robots.txt access rules: vectors from RFC 9309, Google's documentation and reference parser,
Protego's Google-derived tests, and ../shared/reference/signals.md §1.4."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from policies import aipref, contentsignal
from policies.decision import Decision, DefaultPolicy, Verdict
from policies.document import Document
from policies.engine import decide
from policies.evidence import HostEvidence
from policies.purpose import Purpose
from policies.robots import (
    RobotsOutcome,
    RobotsRules,
    can_fetch,
    classify,
    read_delay,
    robots_basis,
    robots_evidence,
)
from policies.robotstxt import ACCESS_SEPARATORS, PARSE_LIMIT, RobotsTxt, agent_token, decode, truncate

NOW = datetime(2026, 11, 22, tzinfo=UTC)

# Google's robots.txt documentation, "URL matching based on path values" (as Protego tests it).
GOOGLE_PATH_MATCHING = [
    ("/", "/harry", True),
    ("/", "/device/time-turner", True),
    ("/*", "/harry", True),
    ("/*", "/hogwards.html", True),
    ("/phoenix", "/phoenix", True),
    ("/phoenix", "/phoenix.html", True),
    ("/phoenix", "/phoenix/sparky.html", True),
    ("/phoenix", "/phoenixheads", True),
    ("/phoenix", "/phoenix.php?id=anything", True),
    ("/phoenix", "/Phoenix.asp", False),
    ("/phoenix", "/redphoenix", False),
    ("/phoenix", "/?id=phoenix", False),
    ("/phoenix*", "/phoenixheads/yummy.html", True),
    ("/phoenix*", "/Phoenix.asp", False),
    ("/phoenix/", "/phoenix/", True),
    ("/phoenix/", "/phoenix/?id=anything", True),
    ("/phoenix/", "/phoenix", False),
    ("/phoenix/", "/Phoenix/Sparky.asp", False),
    ("/*.php", "/filename.php", True),
    ("/*.php", "/folder/filename.php?parameters", True),
    ("/*.php", "/folder/any.php.file.html", True),
    ("/*.php", "/windows.PHP", False),
    ("/*.php", "/", False),
    ("/*.php$", "/filename.php", True),
    ("/*.php$", "/filename.php?parameters", False),
    ("/*.php$", "/filename.php5", False),
    ("/fish*.php", "/fish.php", True),
    ("/fish*.php", "/fishheads/catfish.php?parameters", True),
    ("/fish*.php", "/Fish.PHP", False),
]


@pytest.mark.parametrize(("pattern", "path", "matches"), GOOGLE_PATH_MATCHING)
def test_google_path_matching(pattern: str, path: str, matches: bool) -> None:
    robots = f"User-agent: *\nDisallow: {pattern}\n"
    assert can_fetch(robots, "permitcrawl", f"http://example.com{path}") is not matches


@pytest.mark.parametrize(
    ("rules", "path", "allowed"),
    [
        ("Allow: /p\nDisallow: /", "/page", True),  # longest match wins
        ("Allow: /folder\nDisallow: /folder", "/folder/page", True),  # tie: allow wins
        ("Allow: /page\nDisallow: /*.htm", "/page.htm", False),  # the longer pattern wins
        ("Allow: /$\nDisallow: /", "/", True),
        ("Allow: /$\nDisallow: /", "/page.htm", False),
        ("Disallow:", "/anything", True),  # an empty Disallow allows everything
        ("Disallow: /", "/robots.txt", True),  # RFC 9309 §2.2.2: /robots.txt is implicitly allowed
    ],
)
def test_record_precedence(rules: str, path: str, allowed: bool) -> None:
    assert can_fetch(f"User-agent: *\n{rules}\n", "permitcrawl", f"http://example.com{path}") is allowed


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        ("hedwig-news", "/group1"),  # its own group
        ("hedwig-news2", "/group1"),  # cut to its product token, 'hedwig-news'
        ("hedwig", "/group3"),
        # Exact token match, as Google's reference parser: no group names 'hedwig-images',
        # so '*' applies (Protego alone would pick 'hedwig' by substring).
        ("hedwig-images", "/group2"),
        ("a", "/group2"),
    ],
)
def test_user_agent_precedence(agent: str, expected: str) -> None:
    robots = (
        "user-agent: hedwig-news\ndisallow: /\nallow: /group1\n"
        "user-agent: *\ndisallow: /\nallow: /group2\n"
        "user-agent: hedwig\ndisallow: /\nallow: /group3\n"
    )
    allowed = [p for p in ("/group1", "/group2", "/group3") if can_fetch(robots, agent, f"http://x{p}")]
    assert allowed == [expected]


# The three places where Protego alone fails open (reference/tos-and-provenance.md §6.2),
# and its substring group matching; each must deny exactly as Google's parser does.
FAIL_OPEN_CASES = [
    ("\ufeffUser-agent: *\nDisallow: /\n", "/x"),  # leading byte-order mark
    ("User-agent: permitcrawl/2.0\nDisallow: /\n", "/x"),  # a version on the token
    ("User-agent: permitcrawl crawler\nDisallow: /\n", "/x"),  # spaces: cut at the space
    ("User-agent: permitcrawl\nCrawl-delay: 5\nUser-agent: *\nDisallow: /private\n", "/private/p"),
    ("User-agent: permitcrawl\nInvalid-Unknown-Line: x\nUser-agent: other\nDisallow: /\n", "/p"),
    ("User-agent: *\nDisallow: /\nUser-agent: perm\nAllow: /\n", "/p"),  # 'perm' is not our token
    ("User-agent: *\nDisallow: /\nUser-agent: permitcrawlx\nAllow: /\n", "/p"),
]


@pytest.mark.parametrize(("robots", "path"), FAIL_OPEN_CASES)
def test_fail_open_cases_deny(robots: str, path: str) -> None:
    assert can_fetch(robots, "permitcrawl", f"http://example.com{path}") is False


def test_caller_agent_is_cut_to_its_product_token() -> None:
    robots = "User-agent: permitcrawl\nDisallow: /\n"
    assert can_fetch(robots, "permitcrawl/2.0", "http://x/a") is False
    assert can_fetch(robots, "PermitCrawl", "http://x/a") is False  # case-insensitive
    assert can_fetch(robots, "permitcrawl bot", "http://x/a") is False  # the token ends at the space


@pytest.mark.parametrize("caller", ["", "*", "/2.0", " "])
def test_a_caller_without_a_product_token_gets_the_star_groups_and_never_raises(caller: str) -> None:
    # Google's GoogleOnly_SystemTest: an empty user agent is answered, not refused with an error.
    assert can_fetch("User-agent: permitcrawl\nDisallow: /\n", caller, "http://x/a") is True
    star = "User-agent: permitcrawl\nAllow: /\nUser-agent: *\nDisallow: /\n"
    assert can_fetch(star, caller, "http://x/a") is False
    assert can_fetch("", caller, "") is True


# ../shared/reference/signals.md §1.4 (our token stands in for ExampleAIBot).
AI_ROBOTS_TXT = (
    "".join(f"User-agent: {t}\n" for t in ("GPTBot", "CCBot", "Scrapy", "ClaudeBot")) + "Disallow: /\n"
)


@pytest.mark.parametrize(
    ("robots", "agent", "path", "allowed"),
    [
        ("User-agent: *\nDisallow: /private/\n", "ExampleAIBot", "/a", True),  # R1
        (
            "User-agent: *\nDisallow: /\n\nUser-agent: ExampleAIBot\nAllow: /\n",
            "ExampleAIBot",
            "/a",
            True,
        ),  # R2
        (
            "User-agent: *\nDisallow: /\n\nUser-agent: ExampleAIBot\nAllow: /\n",
            "ExampleSearchBot",
            "/a",
            False,
        ),
        (AI_ROBOTS_TXT, "Scrapy/2.19.0 (+https://scrapy.org)", "/a", False),  # R3
        ("user-agent: exampleaibot\ndisallow: /\n", "ExampleAIBot", "/a", False),  # R4
        ("user-agent: exampleaibot\ndisallow: /\n", "ExampleSearchBot", "/a", True),
        ("User-agent: GPTBot\nDisallow: /\n", "ExampleAIBot", "/a", True),  # R7: not addressed to us
        ("User-agent: OAI-SearchBot\nDisallow: /\n", "ExampleAIBot", "/a", True),  # R8
    ],
)
def test_signals_reference_vectors(robots: str, agent: str, path: str, allowed: bool) -> None:
    assert can_fetch(robots, agent, f"http://example.com{path}") is allowed


@pytest.mark.parametrize(
    ("text", "path", "allowed"),
    [
        ("user-agent permitcrawl\ndisallow /x\n", "/x", False),  # missing colons are tolerated
        (
            "User-Agent: foo\r\nAllow: /\r\nUser-Agent: permitcrawl\r\n\r\nDisallow: /\r\n",
            "/a",
            False,
        ),  # CRLF
        ("User-Agent: foo\rAllow: /\rUser-Agent: permitcrawl\r\rDisallow: /\r", "/a", False),  # old Mac CR
        ("Disallow: /\nUser-agent: *\nAllow: /\n", "/a", True),  # rules before any group are ignored
        ("User-agent: *bot\nDisallow: /\n", "/a", True),  # '*bot' names no agent (Google)
        ("User-agent: * # everyone\nDisallow: /a # no\n", "/a", False),  # comments
        ("USER-AGENT: PERMITCRAWL\nDISALLOW: /A\n", "/A", False),  # field names any case
        ("User-agent: permitcrawl\nDisallow: /A\n", "/a", True),  # paths are case-sensitive
    ],
)
def test_parsing_details(text: str, path: str, allowed: bool) -> None:
    assert can_fetch(text, "permitcrawl", f"http://example.com{path}") is allowed


def test_agent_token() -> None:
    assert agent_token("FooBot/1.0") == "foobot"
    assert agent_token("FOO BAR") == "foo"
    assert agent_token("*") == "*"
    assert agent_token("* # x") == "*"
    assert agent_token("*bot") == ""
    assert agent_token("") == ""


def test_groups_follow_googles_boundaries() -> None:
    robots = RobotsTxt.parse(
        "User-agent: a\nCrawl-delay: 3\nUser-agent: b\nDisallow: /x\n"
        "Content-Usage: train-ai=n\nUser-agent: c\nAllow: /\n"
    )
    groups = robots.access_groups
    assert [g.tokens for g in groups] == [("a", "b"), ("c",)]
    # A parameterised boundary, as the AIPREF attachment makes Content-Usage a rule:
    assert [g.tokens for g in robots.groups(frozenset({"allow", "disallow", "content-usage"}))] == [
        ("a", "b"),
        ("c",),
    ]
    selection = robots.select("A")
    assert selection.matched == "a"
    assert [r.value for r in selection.records("crawl-delay")] == ["3"]


def test_matching_rule_is_named() -> None:
    rules = RobotsRules(
        RobotsTxt.parse("User-agent: *\nDisallow: /private/\nAllow: /private/ok\n"), "permitcrawl"
    )
    assert rules.matching_rule("http://x/private/a") == "'Disallow: /private/' (line 2)"
    assert rules.matching_rule("http://x/private/ok/1") == "'Allow: /private/ok' (line 3)"
    assert rules.matching_rule("http://x/public") is None


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, RobotsOutcome.PARSED),
        (204, RobotsOutcome.PARSED),
        (301, RobotsOutcome.UNREACHABLE),  # a redirect that was not followed
        (401, RobotsOutcome.UNAVAILABLE),
        (403, RobotsOutcome.UNAVAILABLE),
        (404, RobotsOutcome.UNAVAILABLE),
        (410, RobotsOutcome.UNAVAILABLE),
        (429, RobotsOutcome.UNREACHABLE),  # as Google: slow down is not "allow all"
        (500, RobotsOutcome.UNREACHABLE),
        (503, RobotsOutcome.UNREACHABLE),
        (None, RobotsOutcome.UNREACHABLE),
        (999, RobotsOutcome.UNREACHABLE),
    ],
)
def test_fetch_outcomes(status: int | None, outcome: RobotsOutcome) -> None:
    assert classify(status) is outcome


def test_truncate_drops_the_partial_last_line() -> None:
    body = b"User-agent: *\nDisallow: /private\nAllow: /publ"
    cut, was_cut = truncate(body, len(body) - 3)
    assert was_cut and cut == b"User-agent: *\nDisallow: /private\n"
    assert truncate(b"short", 100) == (b"short", False)
    assert truncate(b"x" * 10, 5) == (b"", True)


def test_decode_handles_boms_and_bad_bytes() -> None:
    # The primary reading is RFC 9309's UTF-8, whatever byte-order mark comes first.
    assert decode(b"\xef\xbb\xbfUser-agent: *") == "User-agent: *"
    assert decode(b"\xff\xfeUser-agent: *") == "User-agent: *"
    assert decode(b"Disallow: /caf\xe9/") == "Disallow: /caf\ufffd/"


def _document(status: int | None, body: bytes = b"", error: str | None = None) -> Document:
    return Document(
        kind="robots.txt", url="http://x/robots.txt", status=status, body=body, fetched_at=NOW, error=error
    )


def test_evidence_to_basis() -> None:
    parsed = robots_evidence(_document(200, b"User-agent: *\nDisallow: /p/\n"), "permitcrawl")
    assert parsed.outcome is RobotsOutcome.PARSED
    denied = robots_basis(parsed, "http://x/p/1")
    assert denied.verdict is Verdict.DENY and denied.rule == "'Disallow: /p/' (line 2)"
    assert denied.sha256 == _document(200, b"User-agent: *\nDisallow: /p/\n").sha256
    allowed = robots_basis(parsed, "http://x/q")
    assert allowed.verdict is Verdict.NONE  # access is not a grant of use
    assert (
        robots_basis(robots_evidence(_document(404), "permitcrawl"), "http://x/p/1").verdict is Verdict.NONE
    )
    for unreachable in (_document(503), _document(None, error="TimeoutError: took too long")):
        basis = robots_basis(robots_evidence(unreachable, "permitcrawl"), "http://x/")
        assert basis.verdict is Verdict.DENY and "unreachable" in basis.reason


def test_past_the_parse_limit_the_whole_file_is_a_second_reading() -> None:
    # RFC 9309 §2.5 lets a crawler stop parsing at 500 KiB; a rule past it is still the
    # site's word, so the whole file is read too and the most restrictive reading applies.
    filler = b"# " + b"x" * 100 + b"\n"
    body = (
        b"User-agent: *\nDisallow: /early/\n"
        + filler * (PARSE_LIMIT // len(filler) + 10)
        + b"Disallow: /late/\nAllow: /early/open\n"
    )
    evidence = robots_evidence(_document(200, body), "permitcrawl")
    assert "RFC 9309 parse limit" in evidence.source
    (whole,) = evidence.variants
    assert "the whole file" in whole.source
    assert robots_basis(evidence, "http://x/late/a").verdict is Verdict.NONE
    assert robots_basis(whole, "http://x/late/a").verdict is Verdict.DENY
    host = HostEvidence(origin="http://x", robots=evidence, fetched_at=NOW, expires_at=NOW)

    def judge(url: str) -> Decision:
        return decide(url, purpose=Purpose.SEARCH, host=host, default_policy=DefaultPolicy.ALLOW, now=NOW)

    late = judge("http://x/late/a")
    assert not late.allowed and late.signal == "robots"
    assert "another plausible reading" in late.bases[0].reason
    # An Allow past the limit does not open what the first 500 KiB close.
    assert not judge("http://x/early/open").allowed
    assert judge("http://x/other").allowed


def test_an_excessive_crawl_delay_keeps_us_away() -> None:
    evidence = robots_evidence(
        _document(200, b"User-agent: *\nCrawl-delay: 3600\n"), "permitcrawl", max_crawl_delay=60
    )
    assert evidence.crawl_delay == 3600
    basis = robots_basis(evidence, "http://x/")
    assert basis.verdict is Verdict.DENY and "Crawl-delay 3600" in basis.reason
    gentle = robots_evidence(
        _document(200, b"User-agent: *\nCrawl-delay: nonsense\nCrawl-delay: 2\n"), "permitcrawl"
    )
    assert gentle.crawl_delay == 2.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("10", 10.0),
        ("120 seconds", 120.0),
        ("1,5", 1.5),
        (".5", 0.5),
        ("500ms", 0.5),
        ("2 minutes", 120.0),
        ("inf", math.inf),
        ("1e400", math.inf),  # too large for a float: infinite, not an error
        ("nan", None),
        ("-1", None),
        ("soon", None),
    ],
)
def test_crawl_delay_as_sites_write_it(value: str, seconds: float | None) -> None:
    assert read_delay(value) == seconds


@pytest.mark.parametrize("value", ["inf", "1e400", "2 minutes"])
def test_a_delay_too_long_to_honour_keeps_us_away_whatever_its_spelling(value: str) -> None:
    for limit in (60, None):  # no bound set: an infinite delay still means never
        document = _document(200, f"User-agent: *\nCrawl-delay: {value}\n".encode())
        evidence = robots_evidence(document, "permitcrawl", max_crawl_delay=limit)
        basis = robots_basis(evidence, "http://x/")
        assert basis.verdict is Verdict.DENY or (limit is None and value == "2 minutes"), (value, limit)


@pytest.mark.parametrize(
    ("rules", "path", "allowed"),
    [
        # Google's reference parser: allowing /dir/index.htm(l) allows /dir/ too (only /dir/ itself).
        ("Disallow: /\nAllow: /index.html", "/", True),
        ("Disallow: /\nAllow: /index.html$", "/", True),
        ("Disallow: /\nAllow: /docs/index.htm", "/docs/", True),
        ("Disallow: /\nAllow: /docs/index.htm", "/docs/other", False),
        ("Disallow: /\nAllow: /index.html", "/other", False),
    ],
)
def test_index_html_allows_its_directory(rules: str, path: str, allowed: bool) -> None:
    assert can_fetch(f"User-agent: *\n{rules}\n", "permitcrawl", f"http://example.com{path}") is allowed


def test_groupings_that_come_out_equal_are_shared_and_those_that_differ_are_not() -> None:
    plain = RobotsTxt.parse("User-agent: a\nDisallow: /x\nUser-agent: b\nDisallow: /y\n")
    access = plain.groups(ACCESS_SEPARATORS)
    # No Content-Signal or Content-Usage line: every grouping is the access one, one object kept.
    assert plain.groups(contentsignal.SEPARATORS) is access
    assert plain.groups(aipref.SEPARATORS) is access
    assert plain.select("a", contentsignal.SEPARATORS) is plain.select("a")
    # A Content-Signal line ends a group for the Content-Signal reading only: kept apart, as it reads.
    signal = RobotsTxt.parse("User-agent: a\nContent-Signal: ai-train=no\nUser-agent: b\nDisallow: /y\n")
    assert len(signal.groups(ACCESS_SEPARATORS)) == 1
    assert len(signal.groups(contentsignal.SEPARATORS)) == 2
    assert signal.select("b", contentsignal.SEPARATORS).groups != signal.select("b").groups
