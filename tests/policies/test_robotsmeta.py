"""noai, noimageai, noindex in X-Robots-Tag and meta tags: vectors N1-N9 of reference/signals.md §6.1."""

from __future__ import annotations

import pytest

from policies.decision import Verdict
from policies.html import read_html
from policies.purpose import Purpose
from policies.readings import Readings
from policies.robotsmeta import directives_basis, parse_header, parse_meta

A, D, N = Verdict.ALLOW, Verdict.DENY, Verdict.NONE


def header(
    *lines: str, purpose: Purpose = Purpose.AI_TRAIN, readings: Readings | None = None
) -> Verdict | None:
    basis = directives_basis(
        parse_header(lines),
        purpose,
        token="permitcrawl",
        readings=readings or Readings(),
        signal="x-robots-tag",
    )
    return None if basis is None else basis.verdict


def meta(
    *tags: tuple[str, str], purpose: Purpose = Purpose.AI_TRAIN, readings: Readings | None = None
) -> Verdict | None:
    basis = directives_basis(
        parse_meta(tags), purpose, token="permitcrawl", readings=readings or Readings(), signal="meta-robots"
    )
    return None if basis is None else basis.verdict


@pytest.mark.parametrize(
    ("lines", "train", "search"),
    [
        (("noai",), D, N),  # N1
        (("noindex",), N, D),  # N3: recorded, not an AI signal
        (("permitcrawl: NoAI",), D, N),  # N5: case-insensitive bot and directive
        (("noindex", "noai"), D, D),  # N6
        (("noindex, permitcrawl: noai",), D, D),  # N7: the scope starts mid-line
        (("unavailable_after: 25 Jun 2010 15:00:00 PST",), N, N),  # N8: not a bot scope
        (("otherbot: noai",), N, N),  # not addressed to us, not an AI crawler
        (("max-snippet: 20, noai",), D, N),  # valued directives do not scope what follows
        (("googlebot: noindex, noai",), N, N),  # the scope runs to the end of the line
        (("none",), N, D),
    ],
)
def test_header_vectors(lines: tuple[str, ...], train: Verdict, search: Verdict) -> None:
    assert header(*lines) is train
    assert header(*lines, purpose=Purpose.SEARCH) is search


def test_n4_ai_crawler_scope_and_the_ai_agents_reading() -> None:
    assert header("GPTBot: noai") is D  # conservative: a training crawler's noai
    assert header("GPTBot: noai", readings=Readings(ai_agents=False)) is N
    assert header("GPTBot: noai", purpose=Purpose.AI_INPUT) is N  # GPTBot is not an AI-input crawler
    assert header("ChatGPT-User: noai", purpose=Purpose.AI_INPUT) is D


def test_noimageai_and_noarchive_readings() -> None:
    assert header("noimageai") is D  # N2 conservative: the page too
    assert header("noimageai", readings=Readings(noimageai_page=False)) is N
    assert header("noarchive") is D
    assert header("noarchive", readings=Readings(noarchive=False)) is N
    assert header("noarchive", purpose=Purpose.AI_INPUT) is N


def test_ai_input_reads_noai() -> None:
    assert header("noai", purpose=Purpose.AI_INPUT) is D


@pytest.mark.parametrize(
    ("tags", "train"),
    [
        ((("robots", "noai, noimageai"),), D),  # N2
        ((("robots", "NOAI"),), D),
        ((("permitcrawl", "noai"),), D),  # N9, our name
        ((("gptbot", "noai"),), D),  # a training crawler's name, conservative reading
        ((("googlebot", "noai"),), N),
        ((("robots", "noindex, nofollow"),), N),
        ((("viewport", "width=device-width"),), N),
    ],
)
def test_meta_vectors(tags: tuple[tuple[str, str], ...], train: Verdict) -> None:
    assert meta(*tags) is train


def test_nothing_at_all() -> None:
    assert header() is None
    assert meta() is None


def test_html_extraction() -> None:
    html = read_html(
        b'<html><HEAD><META NAME="Robots" CONTENT="noai"><meta name="tdm-reservation" content="1">'
        b'<LINK REL="License Alternate" TYPE="Application/RSL+XML" HREF="/l.xml">'
        b'<link rel="license" href="/cc.html">'
        b'<script type="application/rsl+xml"><rsl xmlns="https://rslstandard.org/rsl"/></script>'
        b"</head><body>x</body></html>",
        "text/html",
    )[0]
    assert html.meta_values("robots") == ("noai",)
    assert html.meta_values("TDM-Reservation") == ("1",)
    assert html.licence_links == ("/l.xml",)
    assert len(html.licence_scripts) == 1 and "rslstandard" in html.licence_scripts[0]
    primary = [read_html(body, "text/html")[0] for body in (b"", b"   ", b"\x00\x01 not html")]
    assert primary[0] == primary[1] == primary[2]
