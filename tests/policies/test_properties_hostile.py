"""Property tests against hostile input: every parser returns within a bound, and an offending part
never grants more than the same input without it.

"Offending part": what a broken or hostile site adds to a well-formed document
without changing what it says: lines that are not records, bytes that do not
decode, a stray byte-order mark, a misleading charset, garbage between JSON
objects, between HTML tags, between header items or field lines. For each
signal, the decision on the mangled input (both regimes, every purpose) may be
stricter than on the clean one, never more permissive.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.aipref import header_usage_basis
from policies.aitxt import aitxt_evidence
from policies.contentcoding import ContentCodingError, decode_content
from policies.contentsignal import header_signal_basis
from policies.decision import DefaultPolicy, Verdict
from policies.document import Document
from policies.engine import decide_all
from policies.evidence import HostEvidence
from policies.html import read_html
from policies.page import Page
from policies.purpose import Purpose
from policies.readings import Readings
from policies.robots import robots_evidence
from policies.robotsmeta import directives_basis, parse_header
from policies.robotstxt import split_record
from policies.rsl import FoundLicence, link_header_licences, rsl_basis, rsl_evidence
from policies.tdmrep import tdmrep_evidence
from tests.policies.test_patterns import within

NOW = datetime(2026, 11, 29, tzinfo=UTC)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
POLICIES = (DefaultPolicy.ALLOW, DefaultPolicy.DENY)

# -- building blocks --------------------------------------------------------------------

path_pieces = st.sampled_from(["/", "a", "b", "private", "x.jpg", "*", "?q=1", "-"])
patterns = st.lists(path_pieces, min_size=1, max_size=4).map(lambda p: "/" + "".join(p))
url_paths = st.lists(path_pieces.filter(lambda p: p != "*"), max_size=5).map(lambda p: "/" + "".join(p))
agents = st.sampled_from(["*", "permitcrawl", "GPTBot", "CCBot", "otherbot"])
values = st.sampled_from(["yes", "no", "maybe"])
usage = st.sampled_from(["train-ai=n", "train-ai=y", "search=n", "search=y", "bots=n"])


def _is_record(line: str) -> bool:
    parsed = split_record(line.split("#", 1)[0].strip())
    return parsed is not None and parsed[0] in (
        "user-agent", "allow", "disallow", "sitemap", "crawl-delay", "content-usage",
        "content-signal", "license", "host", "request-rate", "visit-time",
    )  # fmt: skip


# A line no robots.txt-style parser reads as a record: random bytes, no line break.
garbage_lines = st.binary(min_size=1, max_size=40).filter(
    lambda b: b"\n" not in b and b"\r" not in b and not _is_record(b.decode("utf-8", "replace"))
)
boms = st.sampled_from([b"", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf"])


@st.composite
def robots_files(draw: Any) -> list[bytes]:
    lines: list[bytes] = []
    for _ in range(draw(st.integers(1, 3))):
        lines.append(f"User-agent: {draw(agents)}".encode())
        for _ in range(draw(st.integers(1, 4))):
            kind = draw(st.sampled_from(["Allow", "Disallow", "Content-Signal", "Content-Usage"]))
            if kind == "Content-Signal":
                lines.append(f"Content-Signal: ai-train={draw(values)}, search={draw(values)}".encode())
            elif kind == "Content-Usage":
                lines.append(f"Content-Usage: {draw(usage)}".encode())
            else:
                lines.append(f"{kind}: {draw(patterns)}".encode())
    return lines


def _mangle(lines: list[bytes], draw: Any) -> bytes:
    mangled = list(lines)
    for _ in range(draw(st.integers(1, 4))):
        mangled.insert(draw(st.integers(0, len(mangled))), draw(garbage_lines))
    return draw(boms) + b"\n".join(mangled) + b"\n"


def _doc(kind: str, body: bytes, content_type: str | None = None) -> Document:
    return Document(
        kind=kind,
        url=f"http://x.test/{kind}",
        status=200,
        body=body,
        fetched_at=NOW,
        content_type=content_type,
    )


def _host(**evidence: Any) -> HostEvidence:
    robots = evidence.pop("robots", None) or robots_evidence(
        Document(kind="robots.txt", url="http://x.test/robots.txt", status=404, fetched_at=NOW), "permitcrawl"
    )
    return HostEvidence(
        origin="http://x.test", robots=robots, fetched_at=NOW, expires_at=NOW + timedelta(hours=1), **evidence
    )


def _allowed(url: str, host: HostEvidence, page: Page | None = None) -> dict[tuple[Any, Any], bool]:
    found = {}
    for policy in POLICIES:
        with within(5):
            decisions = decide_all(url, host=host, default_policy=policy, now=NOW, page=page)
        for purpose, decision in decisions.items():
            found[(policy, purpose)] = decision.allowed
    return found


def _never_more_permissive(mangled: dict, clean: dict) -> None:
    for key, allowed in mangled.items():
        assert not allowed or clean[key], f"{key}: the mangled input is allowed, the clean one refused"


# -- robots.txt, ai.txt, tdmrep.json ---------------------------------------------------------------


@SETTINGS
@given(st.data(), robots_files(), url_paths)
def test_robots_txt_garbage_never_grants_more(data: Any, lines: list[bytes], path: str) -> None:
    clean = robots_evidence(_doc("robots.txt", b"\n".join(lines) + b"\n"), "permitcrawl")
    with within(5):
        mangled = robots_evidence(_doc("robots.txt", _mangle(lines, data.draw)), "permitcrawl")
    url = f"http://x.test{path}"
    _never_more_permissive(_allowed(url, _host(robots=mangled)), _allowed(url, _host(robots=clean)))


@st.composite
def ai_txt_files(draw: Any) -> list[bytes]:
    lines = [f"User-Agent: {draw(agents)}".encode()]
    for _ in range(draw(st.integers(1, 5))):
        pattern = draw(st.sampled_from(["*.jpg", "*.txt", "/private/", "/", "/a*b"]))
        lines.append(f"{draw(st.sampled_from(['Allow', 'Disallow']))}: {pattern}".encode())
    return lines


@SETTINGS
@given(st.data(), ai_txt_files(), url_paths)
def test_ai_txt_garbage_never_grants_more(data: Any, lines: list[bytes], path: str) -> None:
    clean = aitxt_evidence(_doc("ai.txt", b"\n".join(lines) + b"\n"))
    with within(5):
        mangled = aitxt_evidence(_doc("ai.txt", _mangle(lines, data.draw)))
    url = f"http://x.test{path}"
    _never_more_permissive(_allowed(url, _host(aitxt=mangled)), _allowed(url, _host(aitxt=clean)))


json_garbage = st.binary(min_size=1, max_size=20).filter(lambda b: not set(b) & set(b'{}"'))


@SETTINGS
@given(
    st.lists(st.tuples(patterns, st.sampled_from([0, 1, "1", 2])), min_size=1, max_size=5),
    st.lists(json_garbage, min_size=1, max_size=3),
    st.data(),
    url_paths,
)
def test_tdmrep_garbage_never_grants_more(rules: list, garbage: list[bytes], data: Any, path: str) -> None:
    objects = [json.dumps({"location": loc, "tdm-reservation": value}).encode() for loc, value in rules]
    clean = tdmrep_evidence(_doc("tdmrep.json", b"[" + b", ".join(objects) + b"]"))
    pieces = [b"[", *(o + b", " for o in objects[:-1]), objects[-1], b"]"]
    for junk in garbage:
        pieces.insert(data.draw(st.integers(1, len(pieces))), junk)
    with within(5):
        mangled = tdmrep_evidence(_doc("tdmrep.json", data.draw(boms) + b"".join(pieces)))
    url = f"http://x.test{path}"
    _never_more_permissive(_allowed(url, _host(tdmrep=mangled)), _allowed(url, _host(tdmrep=clean)))


# -- headers ----------------------------------------------------------------------------

header_garbage = st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), min_size=1, max_size=30)


@SETTINGS
@given(st.lists(usage, min_size=1, max_size=3), st.lists(header_garbage, min_size=1, max_size=3), st.data())
def test_content_usage_garbage_lines_never_grant_more(
    lines: list[str], garbage: list[str], data: Any
) -> None:
    mangled = list(lines)
    for junk in garbage:
        mangled.insert(data.draw(st.integers(0, len(mangled))), junk)
    for purpose in Purpose:
        clean_basis = header_usage_basis(tuple(lines), purpose, legacy=True, any_n=True)
        with within(2):
            mangled_basis = header_usage_basis(tuple(mangled), purpose, legacy=True, any_n=True)
        assert clean_basis is not None and mangled_basis is not None
        assert _rank(mangled_basis.verdict) <= _rank(clean_basis.verdict), (lines, mangled)


@SETTINGS
@given(
    st.lists(st.tuples(st.sampled_from(["ai-train", "search", "ai-input"]), values), min_size=1, max_size=4),
    st.lists(header_garbage.filter(lambda g: "," not in g), min_size=1, max_size=3),
    st.data(),
)
def test_content_signal_garbage_items_never_grant_more(items: list, garbage: list[str], data: Any) -> None:
    clean_items = [f"{key}={value}" for key, value in items]
    mangled = list(clean_items)
    for junk in garbage:
        mangled.insert(data.draw(st.integers(0, len(mangled))), junk)
    for purpose in Purpose:
        clean_basis = header_signal_basis((", ".join(clean_items),), purpose, use_limits=True)
        mangled_basis = header_signal_basis((", ".join(mangled),), purpose, use_limits=True)
        assert clean_basis is not None and mangled_basis is not None
        assert _rank(mangled_basis.verdict) <= _rank(clean_basis.verdict), (clean_items, mangled)


@SETTINGS
@given(
    st.lists(
        st.sampled_from(["noai", "noimageai", "noarchive", "noindex", "all", "permitcrawl: noai"]), min_size=1
    ),
    st.lists(header_garbage, min_size=1, max_size=3),
)
def test_x_robots_tag_garbage_lines_never_grant_more(directives: list[str], garbage: list[str]) -> None:
    clean = (", ".join(directives),)
    for purpose in Purpose:
        for lines in ((*garbage, *clean), (*clean, *garbage)):
            args = {"token": "permitcrawl", "readings": Readings(), "signal": "x-robots-tag"}
            clean_basis = directives_basis(parse_header(clean), purpose, **args)
            mangled_basis = directives_basis(parse_header(lines), purpose, **args)
            assert clean_basis is not None and mangled_basis is not None
            assert _rank(mangled_basis.verdict) <= _rank(clean_basis.verdict)


def _rank(verdict: Verdict) -> int:
    return {Verdict.DENY: 0, Verdict.NONE: 1, Verdict.ALLOW: 2}[verdict]


# -- pages ------------------------------------------------------------------------------

metas = st.sampled_from(
    [
        b'<meta name="robots" content="noai">',
        b'<meta name="robots" content="noimageai, noarchive">',
        b'<meta name="permitcrawl" content="noai">',
        b'<meta name="GPTBot" content="noai">',
        b'<meta name="tdm-reservation" content="1">',
        b'<meta name="tdm-reservation" content="0">',
        b'<meta name="robots" content="noindex">',
        b'<meta name="viewport" content="width=device-width">',
        b"<p>caf\xc3\xa9 text</p>",
    ]
)
charsets = st.sampled_from(
    ["text/html", "text/html; charset=utf-8", "text/html; charset=utf-16", "text/html; charset=cp500",
     "text/html; charset=shift_jis", "text/html; charset=iso-8859-1", "text/plain", None]
)  # fmt: skip
page_garbage = st.binary(min_size=1, max_size=30)


@SETTINGS
@given(
    st.lists(metas, min_size=1, max_size=5),
    st.lists(page_garbage, min_size=1, max_size=4),
    charsets,
    st.data(),
)
def test_page_garbage_and_charsets_never_grant_more(
    tags: list[bytes], garbage: list[bytes], content_type: str | None, data: Any
) -> None:
    clean_parts = [b"<html><head>", *tags, b"</head><body>text</body></html>"]
    mangled_parts = list(clean_parts)
    for junk in garbage:  # between tags, never inside one
        mangled_parts.insert(data.draw(st.integers(1, len(mangled_parts))), junk)
    url = "http://x.test/page"
    clean = Page(url=url, status=200, headers={"content-type": ("text/html; charset=utf-8",)},
                 body=b"".join(clean_parts))  # fmt: skip
    headers = {"content-type": (content_type,)} if content_type else {}
    mangled = Page(url=url, status=200, headers=headers, body=data.draw(boms) + b"".join(mangled_parts))
    _never_more_permissive(_allowed(url, _host(), mangled), _allowed(url, _host(), clean))


# -- every parser on random bytes, within a bound -------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=4000), st.sampled_from(["text/html", "text/html; charset=utf-16", None]))
def test_every_parser_returns_on_random_bytes(body: bytes, content_type: str | None) -> None:
    text = body.decode("latin-1")
    with within(5):
        robots_evidence(_doc("robots.txt", body, content_type), "permitcrawl")
        aitxt_evidence(_doc("ai.txt", body, content_type))
        tdmrep_evidence(_doc("tdmrep.json", body, content_type))
        evidence = rsl_evidence(_doc("rsl", body))
        rsl_basis(
            FoundLicence(evidence, "test"), "http://x.test/a", Purpose.AI_TRAIN, user="commercial", geo=""
        )
        link_header_licences([text], "http://x.test/")
        header_usage_basis((text,), Purpose.AI_TRAIN, legacy=True, any_n=True)
        header_signal_basis((text,), Purpose.AI_TRAIN, use_limits=True)
        directives_basis(parse_header([text]), Purpose.AI_TRAIN, token="permitcrawl", readings=Readings(),
                         signal="x-robots-tag")  # fmt: skip
        read_html(body, content_type)
        for coding in ("gzip", "deflate", "br", "zstd"):
            with contextlib.suppress(ContentCodingError):
                decode_content(body, [coding], 1 << 20)
