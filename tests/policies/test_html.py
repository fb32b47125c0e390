"""A page's signals in every plausible reading: the crawler and audit read pages through read_html only."""

from __future__ import annotations

import pytest

from policies.html import MAX_TAGS, read_html, scan_tags

NOAI = b'<html><head><meta name="robots" content="noai"></head><body>x</body></html>'


def _metas(readings: tuple) -> list[tuple[tuple[str, str], ...]]:
    return [r.meta for r in readings]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (NOAI, "text/html; charset=utf-16"),  # plain ASCII declared as UTF-16
        (NOAI, "text/html; charset=cp500"),  # ... as EBCDIC
        (NOAI, "text/html; charset=utf-32"),
        (b"\xff\xfe" + NOAI, "text/html"),  # a UTF-16 mark before UTF-8
        (b"\xfe\xff" + NOAI, None),
        (b"<html>\x00" + NOAI, "text/html"),  # a NUL a parser stops at
        (b"<html><!-- " + NOAI, "text/html"),  # an unclosed comment
        (b"<html><script>" + NOAI, "text/html"),  # inside a script
        (b'<html><meta x="' + NOAI, "text/html"),  # after a stray unclosed quote
        (b"<html><meta " + NOAI, "text/html"),  # after a stray unclosed tag
        (NOAI, "text/plain"),  # whatever the content type says
        (NOAI, "application/octet-stream"),
        ("<html><meta name=robots content=noai>".encode("utf-16-le"), "text/html"),  # no mark at all
    ],
)
def test_a_reservation_in_any_plausible_reading_is_seen(body: bytes, content_type: str | None) -> None:
    readings = read_html(body, content_type)
    assert any(("robots", "noai") in reading.meta for reading in readings), _metas(readings)


def test_one_reading_when_all_readings_agree() -> None:
    (only,) = read_html(NOAI, "text/html; charset=utf-8")
    assert only.meta == (("robots", "noai"),) and only.how == ""
    page = "<html><head><meta charset=utf-8><meta name=robots content=noai></head><p>café</p>"
    assert len(read_html(page.encode(), "text/html")) == 1  # non-ASCII text does not split the readings


def test_the_primary_reading_is_the_browsers() -> None:
    body = '<html><head><meta charset="iso-8859-1"><meta name="x" content="caf\xe9"></head></html>'
    readings = read_html(body.encode("latin-1"), "text/html")
    assert readings[0].meta == (("x", "café"),)  # the page's own declaration, as a browser reads it
    assert any(r.meta == (("x", "caf\ufffd"),) for r in readings[1:])  # and as UTF-8


def test_licence_pointers_in_the_raw_scan() -> None:
    body = (
        b'<!-- <link rel="License" type="Application/RSL+XML" href=" /l.xml "> -->'
        b'<script type="application/rsl+xml"><rsl>inline</rsl></script>'
    )
    raw = scan_tags(body)
    assert raw.licence_links == ("/l.xml",)
    assert raw.licence_scripts == ("<rsl>inline</rsl>",)
    (lxml_reading, *others) = read_html(body, "text/html")
    assert lxml_reading.licence_links == ()  # in a comment: lxml does not see it
    assert any(r.licence_links == ("/l.xml",) for r in others)


@pytest.mark.parametrize(
    ("tag", "meta"),
    [
        (b'<meta name="robots" content="noai">', ("robots", "noai")),
        (b"<meta name=robots content=noai/>", ("robots", "noai/")),
        (b"<META NAME='Robots' CONTENT=' NoAI '>", ("robots", "NoAI")),
        (b'<meta name="robots" content="no&#97;i">', ("robots", "noai")),
        (b'<meta name="robots" name="other" content="noai">', ("robots", "noai")),  # the first counts
        (b'<meta content="noai" name="robots">', ("robots", "noai")),
        (b"<meta\nname=robots\ncontent=noai>", ("robots", "noai")),
    ],
)
def test_raw_scan_attributes_as_html_reads_them(tag: bytes, meta: tuple[str, str]) -> None:
    assert scan_tags(tag).meta == (meta,)


@pytest.mark.parametrize(
    "body",
    [
        b"<meta " * 1_500_000,
        b'<meta a="' * 1_000_000 + b">",
        b"<meta name=" + b'"=' * 3_000_000 + b">",
        b"<" * 9_000_000,
        b"<meta name=a>" * 800_000,
        b"<script type=application/rsl+xml>" * 300_000,
    ],
)
def test_hostile_pages_are_read_in_bounded_time(body: bytes) -> None:
    from tests.policies.test_patterns import within

    with within(10):
        readings = read_html(body, "text/html")
    assert readings


def test_too_many_tags_is_a_problem_not_a_silence() -> None:
    readings = read_html(b"<meta name=a content=b>" * (MAX_TAGS + 1), "text/html")
    assert all(r.problem and "more than" in r.problem for r in readings)
