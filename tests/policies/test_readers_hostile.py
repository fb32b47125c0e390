"""Every evidence reader on what hostile or broken sites serve: cut, oversized, mis-encoded, pathological.

A document not read whole is an error (deny), never an absence; a document
that reads differently under plausible decodings is judged under each and the
most restrictive reading applies; a file too large to evaluate is refused.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import pytest

from policies.aitxt import aitxt_basis, aitxt_evidence
from policies.decision import DefaultPolicy, Verdict
from policies.document import EVIDENCE_MAX_SIZE, Document
from policies.engine import decide, decide_all
from policies.evidence import HostEvidence, evidence_manifest
from policies.page import Page
from policies.purpose import Purpose
from policies.readings import Readings
from policies.robots import RobotsOutcome, robots_basis, robots_evidence
from policies.robotstxt import MAX_WILD_PATTERNS, RobotsTxt
from policies.rsl import (
    MAX_CONTENTS,
    FoundLicence,
    licence_lines,
    link_header_licences,
    rsl_basis,
    rsl_evidence,
)
from policies.tdmrep import MAX_RULES, file_step, tdmrep_basis, tdmrep_evidence

NOW = datetime(2026, 11, 29, tzinfo=UTC)
TRAIN = Purpose.AI_TRAIN


def doc(kind: str, body: bytes, *, status: int = 200, **extra: object) -> Document:
    return Document(kind=kind, url=f"http://x/{kind}", fetched_at=NOW, status=status, body=body, **extra)


def host(**evidence: object) -> HostEvidence:
    robots = evidence.pop("robots", None) or robots_evidence(
        doc("robots.txt", b"", status=404), "permitcrawl"
    )
    return HostEvidence(origin="http://x", robots=robots, fetched_at=NOW, expires_at=NOW, **evidence)


def judge(
    url: str, h: HostEvidence, *, page: Page | None = None, policy: DefaultPolicy = DefaultPolicy.ALLOW
):
    return decide(url, purpose=TRAIN, host=h, default_policy=policy, now=NOW, page=page)


# -- not read whole ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["robots.txt", "tdmrep.json", "ai.txt", "rsl"])
def test_a_document_not_read_whole_denies_in_every_reader(kind: str) -> None:
    cut = doc(kind, b"User-agent: *\nDisall", incomplete="the connection was lost before the end of the body")
    if kind == "robots.txt":
        evidence = robots_evidence(cut, "permitcrawl")
        assert evidence.outcome is RobotsOutcome.UNREACHABLE
        basis = robots_basis(evidence, "http://x/secret")
    elif kind == "tdmrep.json":
        basis = tdmrep_basis([file_step(tdmrep_evidence(cut), "http://x/a")], TRAIN, keep_reservation=True)
    elif kind == "ai.txt":
        basis = aitxt_basis(aitxt_evidence(cut), "permitcrawl", "http://x/a", TRAIN)
    else:
        basis = rsl_basis(
            FoundLicence(rsl_evidence(cut), "robots.txt"), "http://x/a", TRAIN, user="commercial", geo=""
        )
    assert basis is not None and basis.verdict is Verdict.DENY
    assert "not read whole" in basis.reason or "cut" in basis.reason or "connection was lost" in basis.reason


def test_from_raw_reads_as_the_crawler_did() -> None:
    body = b'[{"location": "/", "tdm-reservation": 1}]'
    whole = Document.from_raw(
        kind="tdmrep.json", url="http://x/t", fetched_at=NOW, status=200,
        raw=gzip.compress(body, mtime=0), content_encoding=("gzip",),
    )  # fmt: skip
    assert whole.body == body and whole.incomplete is None
    bomb = Document.from_raw(
        kind="tdmrep.json", url="http://x/t", fetched_at=NOW, status=200,
        raw=gzip.compress(b" " * 4096, mtime=0), content_encoding=("gzip",), max_size=1024,
    )  # fmt: skip
    # In the crawler's words (crawler.adapters.decompression), so that audit re-derives the reason it gave.
    assert (
        bomb.incomplete
        == "its content-coding (gzip) could not be removed: larger than 1024 bytes once decompressed (gzip)"
    )
    cut = Document.from_raw(
        kind="robots.txt", url="http://x/r", fetched_at=NOW, status=200, raw=b"x", cut="length"
    )
    assert cut.incomplete == f"larger than the {EVIDENCE_MAX_SIZE}-byte bound; read no further"
    assert "not read whole" in cut.describe()


def test_an_unarchived_incomplete_document_travels_in_the_manifest() -> None:
    begun = Document(
        kind="tdmrep.json", url="http://x/t", fetched_at=NOW, error="TimeoutError", incomplete="x"
    )
    h = host(tdmrep=tdmrep_evidence(begun), aitxt=aitxt_evidence(doc("ai.txt", b"", status=404)))
    manifest = evidence_manifest(h)
    assert manifest["tdmrep.json"]["incomplete"]  # audit rebuilds an error from it, not an absence
    assert "incomplete" not in manifest["ai.txt"]


# -- several readings, the most restrictive -------------------------------------------


def test_tdmrep_read_whole_past_the_old_parse_limit() -> None:
    pads = [{"location": f"/pad-{i:07d}/", "tdm-reservation": 0} for i in range(40_000)]
    body = json.dumps([*pads, {"location": "/", "tdm-reservation": 1}]).encode()
    assert len(body) > 1_000_000
    decision = judge("http://x/page", host(tdmrep=tdmrep_evidence(doc("tdmrep.json", body))))
    assert not decision.allowed and decision.signal == "tdmrep"


@pytest.mark.parametrize(
    "body",
    [
        b'\xff\xfe[{"location": "/", "tdm-reservation": 1}]',  # a stray mark before UTF-8
        '[{"location": "/", "tdm-reservation": 1}]'.encode("utf-16"),  # real UTF-16
        b'[{"location": "/", "tdm-reservation": 1},]',  # a trailing comma: not JSON
        b'[{"location": "/", "tdm-reservation": 1} {"location": "/b"}]',  # a missing comma
        b'[{"location": "/", "tdm-reservation": "1"}, \x00garbage',  # cut off and dirty
    ],
)
def test_tdmrep_reservation_survives_encodings_and_broken_json(body: bytes) -> None:
    decision = judge("http://x/page", host(tdmrep=tdmrep_evidence(doc("tdmrep.json", body))))
    assert not decision.allowed and decision.signal == "tdmrep", decision.reason


def test_salvage_is_a_switch_and_never_grants() -> None:
    broken = host(tdmrep=tdmrep_evidence(doc("tdmrep.json", b'[{"location": "/", "tdm-reservation": 1},]')))
    literal = Readings(tdmrep_salvage=False)
    assert decide(
        "http://x/p",
        purpose=TRAIN,
        host=broken,
        default_policy=DefaultPolicy.ALLOW,
        now=NOW,
        readings=literal,
    ).allowed  # the spec's reading: not JSON, so not implemented
    granting = host(tdmrep=tdmrep_evidence(doc("tdmrep.json", b'[{"location": "/", "tdm-reservation": 0},]')))
    assert not judge("http://x/p", granting, policy=DefaultPolicy.DENY).allowed  # no grant from broken JSON


def test_tdmrep_undecodable_is_an_error() -> None:
    evidence = tdmrep_evidence(doc("tdmrep.json", b'[{"location": "/caf\xe9"}]'))
    assert evidence.error and "no text encoding" in evidence.error
    assert not judge("http://x/p", host(tdmrep=evidence)).allowed


def test_robots_byte_order_marks_and_declared_charsets() -> None:
    for body, content_type in [
        (b"\xff\xfeUser-agent: *\nDisallow: /\n", None),
        (b"\xfe\xffUser-agent: *\nDisallow: /\n", None),
        ("User-agent: *\nDisallow: /\n".encode("utf-16"), None),
        (b"User-agent: *\nDisallow: /\n", "text/plain; charset=utf-16"),
    ]:
        robots = robots_evidence(doc("robots.txt", body, content_type=content_type), "permitcrawl")
        assert not judge("http://x/a", host(robots=robots)).allowed, (body, content_type)
    # One plain reading: no variants, no note.
    plain = robots_evidence(doc("robots.txt", b"User-agent: *\nDisallow: /p\n"), "permitcrawl")
    assert plain.variants == () and plain.source == "http://x/robots.txt: HTTP 200"


def test_a_grant_counts_only_if_every_reading_shows_it() -> None:
    # Content-Signal ai-train=yes under UTF-8; the UTF-16 reading its mark names shows nothing.
    body = b"\xff\xfeUser-agent: *\nContent-Signal: ai-train=yes\nAllow: /\n"
    robots = robots_evidence(doc("robots.txt", body), "permitcrawl")
    opt_in = judge("http://x/a", host(robots=robots), policy=DefaultPolicy.DENY)
    assert not opt_in.allowed and "another plausible reading" in opt_in.bases[0].reason


def test_ai_txt_readings_and_bounds() -> None:
    marked = aitxt_evidence(doc("ai.txt", b"\xff\xfeUser-Agent: *\nDisallow: /\n"))
    assert not judge("http://x/a", host(aitxt=marked)).allowed
    wild = "User-Agent: *\n" + "".join(f"Disallow: /*{i}*\n" for i in range(MAX_WILD_PATTERNS + 1))
    refused = aitxt_evidence(doc("ai.txt", wild.encode()))
    assert refused.error and "this crawler evaluates" in refused.error
    assert not judge("http://x/a", host(aitxt=refused)).allowed


def test_caps_refuse_instead_of_slowing_every_decision() -> None:
    wild = "User-agent: *\n" + "".join(f"Disallow: /*{i}*\n" for i in range(MAX_WILD_PATTERNS + 1))
    robots = robots_evidence(doc("robots.txt", wild.encode()), "permitcrawl")
    assert robots.outcome is RobotsOutcome.UNREACHABLE and "this crawler evaluates" in robots.source
    many = json.dumps([{"location": f"/{i}", "tdm-reservation": 0} for i in range(MAX_RULES + 1)]).encode()
    assert "more than" in (tdmrep_evidence(doc("tdmrep.json", many)).error or "")
    contents = "".join(f'<content url="/{i}"><license/></content>' for i in range(MAX_CONTENTS + 1))
    rsl = rsl_evidence(doc("rsl", f'<rsl xmlns="https://rslstandard.org/rsl">{contents}</rsl>'.encode()))
    assert rsl.document is None and "more than" in (rsl.problem or "")


# -- parsers that raised ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ('<http://[>; rel="license"; type="application/rsl+xml"', ["http://[>"[:-1]]),
        ('<bad, </l.xml>; rel="license"; type="application/rsl+xml"', ["http://x/l.xml"]),
        ('</a>; title="x, </l.xml>; rel=license; type=application/rsl+xml', ["http://x/l.xml"]),
        ('</a>; x="unclosed, </l.xml>; rel=license; type=application/rsl+xml', ["http://x/l.xml"]),
        ("<>; rel=license; type=application/rsl+xml", ["http://x/"]),
        (";;;,,,<<<>>>", []),
    ],
)
def test_link_headers_never_raise_and_never_lose_a_later_link(value: str, found: list[str]) -> None:
    assert link_header_licences([value], "http://x/") == found


def test_unjoinable_licence_urls_are_unlicensed_not_exceptions() -> None:
    robots = RobotsTxt.parse("License: http://[x/l.xml\nUser-agent: *\nAllow: /\n")
    assert licence_lines(robots, "permitcrawl", base="http://x/robots.txt")[0][0] == "http://[x/l.xml"
    body = b'<rsl xmlns="https://rslstandard.org/rsl"><content url="http://[x"><license/></content></rsl>'
    evidence = rsl_evidence(doc("rsl", body))
    assert evidence.document is None and "not a URL or path" in (evidence.problem or "")


def test_decide_all_reads_a_hostile_page_once_per_reading() -> None:
    page = Page(url="http://x/p", status=200, headers={"content-type": ("text/html; charset=utf-16",)},
                body=b'<meta name="robots" content="noai">')  # fmt: skip
    decisions = decide_all("http://x/p", host=host(), default_policy=DefaultPolicy.ALLOW, now=NOW, page=page)
    assert not decisions[TRAIN].allowed and decisions[TRAIN].signal == "meta-robots"
    assert decisions[Purpose.SEARCH].allowed  # noai says nothing about search


# -- found by attacking the first version of these defences ---------------------------------------


@pytest.mark.parametrize(
    ("url", "resolved"),
    [
        ("http://x/a/../private/1", ["http://x/private/1"]),
        ("http://x/a/%2e%2E/private/2", ["http://x/private/2"]),
        ("http://x//private/4", ["http://x/private/4"]),
        ("http://x/a/b/..", ["http://x/a/"]),
        ("http://x/a/b?next=/../c", []),  # the query is not a path
        ("http://x/plain/path", []),
    ],
)
def test_urls_are_judged_as_a_server_resolves_them(url: str, resolved: list[str]) -> None:
    from policies.patterns import equivalent_urls

    assert equivalent_urls(url) == resolved
    robots = robots_evidence(doc("robots.txt", b"User-agent: *\nDisallow: /private\n"), "permitcrawl")
    if resolved and "private" in resolved[0]:
        decision = judge(url, host(robots=robots))
        assert not decision.allowed and decision.url == url
        assert "as a server resolves it" in decision.bases[0].reason


def test_robots_txt_split_at_every_line_separator() -> None:
    for separator in ("\x0c", "\u2028", "\x85", "\x1e"):
        body = f"User-agent: *{separator}Disallow: /private\n".encode()
        robots = robots_evidence(doc("robots.txt", body), "permitcrawl")
        assert not judge("http://x/private/a", host(robots=robots)).allowed, repr(separator)


def test_a_partial_response_is_never_read_as_whole() -> None:
    partial = doc("robots.txt", b"User-agent: *\nAllow: /\n", status=206)
    assert partial.incomplete and "206" in partial.incomplete
    assert robots_evidence(partial, "permitcrawl").outcome is RobotsOutcome.UNREACHABLE


@pytest.mark.parametrize(
    "body",
    [
        b'[{"location":"/","tdm-reservation":1,"tdm-reservation":0}]',  # json.loads keeps the 0
        b'[{"location":"/","tdm-reservation":0,"tdm-reservation":1}]',
        b'[[{"location":"/","tdm-reservation":1}]]',
        b'{"rules": [{"location": "/", "tdm-reservation": 1}]}',
        b'// comment\n[{"location":"/","tdm-reservation":1,"tdm-policy":{"url":"x"}}]',
        b'[{"location":"/","tdm-reservation":1.0}]',
    ],
)
def test_tdmrep_as_any_reader_might_read_it(body: bytes) -> None:
    decision = judge("http://x/page", host(tdmrep=tdmrep_evidence(doc("tdmrep.json", body))))
    assert not decision.allowed and decision.signal == "tdmrep", decision.reason


@pytest.mark.parametrize(
    ("values", "reserved"),
    [(("1", "0"), True), (("0", "1"), True), (("1, 0",), True), (("0", "x"), False), (("x", "0"), False)],
)
def test_one_place_that_says_two_things_reserves(values: tuple[str, ...], reserved: bool) -> None:
    page = Page(url="http://x/p", status=200, headers={"tdm-reservation": values}, body=b"")
    decision = judge("http://x/p", host(), page=page, policy=DefaultPolicy.DENY)
    assert (decision.signal == "tdmrep" and not decision.allowed) is reserved


def test_a_page_with_more_licences_than_read_is_unlicensed() -> None:
    from policies.page import page_licences
    from policies.rsl import MAX_LICENCES

    links = tuple(f'</l{i}.xml>; rel="license"; type="application/rsl+xml"' for i in range(MAX_LICENCES + 1))
    scripts = "".join(f'<script type="application/rsl+xml"><rsl v="{i}"/></script>' for i in range(12))
    page = Page(url="http://x/p", status=200, headers={"link": links}, body=scripts.encode())
    linked, inline, unread = page_licences(page)
    assert len(linked) == MAX_LICENCES and len(unread) == 1
    assert len(inline) == MAX_LICENCES + 1 and inline[-1].evidence.document is None
    basis = rsl_basis(unread[0], "http://x/p", TRAIN, user="commercial", geo="")
    assert basis.verdict is Verdict.DENY


@pytest.mark.parametrize(
    ("body", "content_type", "header"),
    [
        (b'<h:meta name="robots" content="noai"/>', "application/xhtml+xml", None),
        (b'<meta http-equiv="X-Robots-Tag" content="noai">', "text/html", None),
        (b'<meta name="robots" content="noimageai noai">', "text/html", None),
        (b'<meta data-x="' + b"a" * 20_000 + b'" name="robots" content="noai"/>', "application/xml", None),
        (b"<p>x</p>", "text/html", ("x-robots-tag", "noimageai noai")),
        (b"<p>x</p>", "text/html", ("content-usage", "Train-AI = n;")),
        # Found by the second attack: reservations a strict tokenizer lost.
        (b'<meta name="robots" content="noai;">', "text/html", None),
        (b'<meta name="robots" content="\'noai\'">', "text/html", None),
        (b"<p>x</p>", "text/html", ("x-robots-tag", "noai;")),
        (b"<p>x</p>", "text/html", ("x-robots-tag", "*: noai")),
        (b"<p>x</p>", "text/html", ("x-robots-tag", "all: noai")),
        (b"<p>x</p>", "text/html", ("x-robots-tag", "robots: noai")),
        (b"<p>x</p>", "text/html", ("x-robots-tag", "max-snippet:-1 noai")),
        (b"<p>x</p>", "text/html", ("x-robots-tag", "no\x00ai")),
        (b"<p>x</p>", "text/html", ("content-signal", "ai-train=no;")),
        (b"<p>x</p>", "text/html", ("content-signal", "search=yes; ai-train=no")),
        (b"<p>x</p>", "text/html", ("content-signal", "search=yes ai-train=no")),
        (b"<p>x</p>", "text/html", ("content-signal", 'ai-train="no"')),
        (b"<p>x</p>", "text/html", ("content-usage", "train-ai=N")),
        (b"<p>x</p>", "text/html", ("content-usage", "train-ai=no")),
        (b"<p>x</p>", "text/html", ("content-usage", 'train-ai="n"')),
        (b"<p>x</p>", "text/html", ("tdm-reservation", "1;")),
        (b"<p>x</p>", "text/html", ("tdm-reservation", '"1"')),
        (b'<meta name="tdm-reservation" content="true">', "text/html", None),
    ],
)
def test_reservations_written_loosely_still_count(
    body: bytes, content_type: str, header: tuple | None
) -> None:
    headers = {"content-type": (content_type,), **({header[0]: (header[1],)} if header else {})}
    page = Page(url="http://x/p", status=200, headers=headers, body=body)
    assert not judge("http://x/p", host(), page=page).allowed


def test_an_rsl_licence_covers_its_site_whatever_the_scheme() -> None:
    body = (
        b'<rsl xmlns="https://rslstandard.org/rsl"><content url="https://x/"><license>'
        b'<prohibits type="usage">ai-train</prohibits></license></content></rsl>'
    )
    found = FoundLicence(rsl_evidence(doc("rsl", body)), "robots.txt")
    assert rsl_basis(found, "http://x/page", TRAIN, user="commercial", geo="").verdict is Verdict.DENY


def test_a_file_too_large_to_keep_in_every_reading_is_refused() -> None:
    from policies.robotstxt import MAX_RECORDS

    body = b"\xff\xfeUser-agent: *\n" + b"Disallow: /\xe9\n" * (MAX_RECORDS // 2 + 1)
    robots = robots_evidence(
        doc("robots.txt", body, content_type="text/plain; charset=latin-1"), "permitcrawl"
    )
    assert robots.outcome is RobotsOutcome.UNREACHABLE and "records" in robots.source


# -- second attack: documents ended by a close, RSL and terms bounds ---------------------


@pytest.mark.parametrize(
    ("kind", "body", "content_type", "cut"),
    [
        ("robots.txt", b"User-agent: *\nDisallow: /priv", "text/plain", True),
        ("robots.txt", b"User-agent: *\nDisallow: /private\n", "text/plain", False),
        ("ai.txt", b"User-Agent: *\r\nDisallow: *.jpg\r\n", "text/plain", False),
        ("tdmrep.json", b'[{"location":"/","tdm-reser', "application/json", True),
        ("tdmrep.json", b'[{"location":"/","tdm-reservation":1}]\n', "application/json", False),
        ("rsl", b'<rsl xmlns="https://rslstandard.org/rsl"><content url="/"', "application/rsl+xml", True),
        (None, b"<html><body><p>half a page", "text/html", True),
        (None, b"<html><body><p>whole</p></body></HTML>\n", "text/html", False),
        (None, b"\x89PNG\r\n\x1a\n....", "image/png", False),  # nothing in an image says where it ends
        (None, b"", "text/html", False),
    ],
)
def test_a_body_ended_by_a_close_is_whole_only_if_its_end_shows_it(
    kind: str | None, body: bytes, content_type: str, cut: bool
) -> None:
    from policies.document import closed_mid_document

    assert closed_mid_document(body, kind=kind, content_type=content_type) is cut


def test_rsl_documents_are_bounded() -> None:
    from policies.rsl import MAX_ALTERNATIVES, MAX_SIZE, MAX_TOKENS, RslDocument, RslError

    ns = "https://rslstandard.org/rsl"
    free = '<license><permits type="usage">all</permits></license>'
    many = f'<rsl xmlns="{ns}"><content url="/">{free * (MAX_ALTERNATIVES + 1)}</content></rsl>'
    with pytest.raises(RslError, match="license"):
        RslDocument.parse(many.encode())
    tokens = " ".join(f"token{i}" for i in range(MAX_TOKENS + 1))
    wordy = f'<rsl xmlns="{ns}"><content url="/"><license><permits type="usage">{tokens}</permits></license>'
    wordy += "</content></rsl>"
    with pytest.raises(RslError, match="tokens"):
        RslDocument.parse(wordy.encode())
    with pytest.raises(RslError, match="bytes"):
        RslDocument.parse(b" " * (MAX_SIZE + 1))
    # Refused, not read: a page under such a licence is unlicensed.
    found = FoundLicence(rsl_evidence(doc("rsl", many.encode())), "robots.txt")
    assert rsl_basis(found, "http://x/p", TRAIN, user="commercial", geo="").verdict is Verdict.DENY


def test_a_terms_page_not_read_whole_or_too_large_is_unread() -> None:
    from policies.terms import TERMS_MAX, read_terms

    whole = read_terms(doc("terms", b"<p>You may not scrape this site.</p>"), "http://x/")
    assert whole.unread is None and whole.passages and whole.text_sha256
    cut = read_terms(doc("terms", b"<p>You may", incomplete="the connection was lost"), "http://x/")
    assert cut.unread and "not read whole" in cut.unread and cut.text_sha256 is None
    large = read_terms(doc("terms", b"<p>" + b"x" * TERMS_MAX), "http://x/")
    assert large.unread and "larger than" in large.unread


def test_terms_links_are_looked_for_in_a_bounded_number_of_anchors() -> None:
    from policies.terms import MAX_ANCHORS, find_terms_links

    padding = b'<a href="/p">p</a>' * MAX_ANCHORS
    assert find_terms_links(b'<a href="/terms">Terms of Service</a>' + padding, "http://x/") == [
        "http://x/terms"
    ]
    assert find_terms_links(padding + b'<a href="/terms">Terms of Service</a>', "http://x/") == []


@pytest.mark.parametrize(
    "header",
    [
        ("content-signal", "search=yes; ai-train=no"),  # search's value reads 'yes; ai-train=no'
        ("content-signal", 'search="yes"'),
        ("content-signal", "search=yes ai-train=yes"),
    ],
)
def test_loose_writing_never_grants(header: tuple[str, str]) -> None:
    def granted(name: str, value: str) -> bool:
        headers = {"content-type": ("text/html",), name: (value,)}
        page = Page(url="http://x/p", status=200, headers=headers, body=b"<p>x</p>")
        search, deny = Purpose.SEARCH, DefaultPolicy.DENY
        decision = decide("http://x/p", purpose=search, host=host(), default_policy=deny, now=NOW, page=page)
        return decision.allowed

    assert granted("content-signal", "search=yes, ai-train=no")  # written as specified: a grant
    assert not granted(*header)


def test_another_crawlers_scope_is_not_everyone() -> None:
    headers = {"content-type": ("text/html",), "x-robots-tag": ("otherbot: index, noai",)}
    page = Page(url="http://x/p", status=200, headers=headers, body=b"<p>x</p>")
    assert judge("http://x/p", host(), page=page).allowed
