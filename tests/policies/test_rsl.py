"""RSL licences: vectors L1-L6 of ../shared/reference/signals.md §7.4, parsing, discovery."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from policies.decision import Verdict
from policies.document import Document
from policies.purpose import Purpose
from policies.robotstxt import RobotsTxt
from policies.rsl import (
    FoundLicence,
    RslDocument,
    RslError,
    inline_evidence,
    licence_lines,
    link_header_licences,
    rsl_basis,
    rsl_evidence,
)

A, D, N = Verdict.ALLOW, Verdict.DENY, Verdict.NONE
NOW = datetime(2026, 11, 22, tzinfo=UTC)
NS = "https://rslstandard.org/rsl"


def doc(*contents: str) -> bytes:
    return f'<?xml version="1.0"?><rsl xmlns="{NS}">{"".join(contents)}</rsl>'.encode()


def content(url: str, *licences: str, server: str = "") -> str:
    attr = f' server="{server}"' if server else ""
    return f'<content url="{url}"{attr}>{"".join(f"<license>{x}</license>" for x in licences)}</content>'


def verdict(body: bytes, path: str = "/a", purpose: Purpose = Purpose.AI_TRAIN, *, status: int = 200,
            user: str = "commercial", geo: str = "") -> Verdict:  # fmt: skip
    evidence = rsl_evidence(
        Document(kind="rsl", url="http://x/l.xml", status=status, body=body, fetched_at=NOW)
    )
    basis = rsl_basis(FoundLicence(evidence, "robots.txt"), f"http://x{path}", purpose, user=user, geo=geo)
    assert basis.signal == "rsl"
    return basis.verdict


def test_l1_prohibits_training_permits_search() -> None:
    body = doc(
        content("/", '<permits type="usage">search</permits><prohibits type="usage">ai-train</prohibits>')
    )
    assert verdict(body) is D
    assert verdict(body, purpose=Purpose.SEARCH) is A


def test_l2_paid_licence() -> None:
    body = doc(
        content(
            "/",
            '<permits type="usage">ai-all</permits>'
            '<payment type="use"><amount currency="USD">1</amount></payment>',
        )
    )
    assert verdict(body) is D
    assert verdict(body, purpose=Purpose.SEARCH) is D  # search is not in the closed list


def test_l3_all_for_free() -> None:
    body = doc(content("/", '<permits type="usage">all</permits>'))
    assert {verdict(body, purpose=p) for p in Purpose} == {A}


def test_l4_licence_server_needs_a_token() -> None:
    body = doc(
        content(
            "/",
            '<permits type="usage">ai-train</permits><payment type="free"/>',
            server="https://olp.example",
        )
    )
    assert verdict(body) is D


@pytest.mark.parametrize("status", [404, 500])
def test_l5_unfetchable_licence_is_unlicensed(status: int) -> None:
    assert verdict(b"", status=status) is D
    assert verdict(b"", purpose=Purpose.SEARCH, status=status) is D


@pytest.mark.parametrize(
    "body",
    [
        b"not xml",
        b'<?xml version="1.0"?><rsl><content url="/"/></rsl>',  # no namespace
        f'<?xml version="1.0"?><licence xmlns="{NS}"/>'.encode(),  # wrong root
        f'<rsl xmlns="{NS}"></rsl>'.encode(),  # no content
        f'<rsl xmlns="{NS}"><content/></rsl>'.encode(),  # content without url
    ],
)
def test_l5_unreadable_licence_is_unlicensed(body: bytes) -> None:
    assert verdict(body) is D


def test_entity_expansion_is_refused_not_expanded() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b'<rsl xmlns="https://rslstandard.org/rsl"><content url="/">&lol3;</content></rsl>'
    )
    with pytest.raises(RslError, match="not readable XML"):
        RslDocument.parse(bomb)
    assert verdict(bomb) is D


def test_l6_geo_and_user_constraints() -> None:
    body = doc(content("/", '<permits type="usage">ai-train</permits><permits type="geo">US EU</permits>'))
    assert verdict(body, geo="") is D  # unknown geo: the licence does not reach us
    assert verdict(body, geo="DE") is D
    assert verdict(body, geo="us") is A
    edu = doc(content("/", '<permits type="usage">all</permits><permits type="user">education</permits>'))
    assert verdict(edu) is D
    assert verdict(edu, user="education") is A
    no_commercial = doc(
        content("/", '<permits type="usage">all</permits><prohibits type="user">commercial</prohibits>')
    )
    assert verdict(no_commercial) is D


def test_token_lists_and_prohibits_beat_permits() -> None:
    assert verdict(doc(content("/", '<permits type="usage">search,ai-train</permits>'))) is A
    both = doc(content("/", '<permits type="usage">all</permits><prohibits type="usage">ai-all</prohibits>'))
    assert verdict(both) is D
    quirk = doc(
        content("/", '<prohibits type="usage">train-ai</prohibits>')
    )  # the AIPREF label, meant as ai-train
    assert verdict(quirk) is D


def test_most_specific_content_and_conflicts() -> None:
    body = doc(
        content("/", '<permits type="usage">all</permits>'),
        content("/premium/", '<prohibits type="usage">ai-train</prohibits>'),
    )
    assert verdict(body, "/free") is A
    assert verdict(body, "/premium/x") is D
    conflict = doc(
        content("/p/", '<permits type="usage">all</permits>'), content("/p/", "<payment type='purchase'/>")
    )
    assert verdict(conflict, "/p/x") is D  # equally specific: most restrictive
    assert verdict(doc(content("/only/", "")), "/other") is N  # covers nothing here
    absolute = doc(content("http://x/abs/", '<permits type="usage">all</permits>'))
    assert verdict(absolute, "/abs/1") is A
    other_host = doc(content("http://elsewhere/", '<permits type="usage">all</permits>'))
    assert verdict(other_host, "/") is N


def test_payment_types() -> None:
    free = doc(content("/", '<permits type="usage">all</permits><payment type="free"/>'))
    assert verdict(free) is A
    for kind in ("attribution", "purchase", "subscription", "training", "crawl", "use", "contribution"):
        paid = doc(content("/", f'<permits type="usage">all</permits><payment type="{kind}"/>'))
        assert verdict(paid) is D, kind


def test_discovery_in_robots_txt() -> None:
    robots = RobotsTxt.parse(
        "License: https://x/site.xml\n"
        "User-agent: GPTBot\nDisallow: /\nLicense: /trailing.xml\n"
        "User-agent: *\nLicense: https://x/star.xml\nAllow: /\n"
        "User-agent: otherbot\nLicense: https://x/other.xml\nDisallow: /x\n"
        "License: https://x/site.xml\n"
    )
    found = dict(licence_lines(robots, "permitcrawl", base="http://x/robots.txt"))
    assert list(found) == ["https://x/site.xml", "http://x/trailing.xml", "https://x/star.xml"]
    assert "site-wide" in found["https://x/site.xml"]
    assert "https://x/other.xml" not in found  # inside another crawler's group, before its rules


def test_link_headers_and_inline_licences() -> None:
    values = [
        '</l.xml>; rel="license"; type="application/rsl+xml", </n>; rel="next"',
        "<https://y/l>; rel=license",
    ]
    assert link_header_licences(values, "http://x/page") == ["http://x/l.xml"]
    inline = inline_evidence(doc(content("/", '<permits type="usage">all</permits>')).decode(), "http://x/p")
    assert inline.document is not None and inline.sha256 and inline.record_id is None
    assert inline_evidence("<broken", "http://x/p").document is None
