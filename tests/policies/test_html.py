"""A page's signals in every plausible reading: the crawler and audit read pages through read_html only."""

from __future__ import annotations

import lxml.html
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from policies.html import HTTP_EQUIV, MAX_TAGS, RSL_TYPE, read_html, scan_tags

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


def _tree_reading(text: str) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...], tuple[str, ...]]:
    """The signal tags as read from a full lxml tree: the oracle the streaming reader is held to."""
    meta, links, scripts = [], [], []
    try:
        root = lxml.html.document_fromstring(
            text.replace("\x00", "\ufffd").encode("utf-8", "surrogatepass"),
            parser=lxml.html.HTMLParser(encoding="utf-8"),
        )
    except lxml.etree.ParserError:  # nothing but an end tag: an empty document
        return (), (), ()
    for element in root.iter("meta", "link", "script"):
        get = element.get
        if element.tag == "meta":
            if get("name") is not None:
                meta.append((get("name").strip().lower(), (get("content") or "").strip()))
            elif (get("http-equiv") or "").strip().lower() == "x-robots-tag":
                meta.append((HTTP_EQUIV, (get("content") or "").strip()))
        elif (get("type") or "").strip().lower() != RSL_TYPE:
            continue
        elif element.tag == "link":
            if get("href") is not None and "license" in (get("rel") or "").lower().split():
                links.append(get("href").strip())
        elif "".join(element.itertext()).strip():
            scripts.append("".join(element.itertext()))
    return tuple(meta), tuple(links), tuple(scripts)


_tag_fragments = st.sampled_from(
    [
        '<meta name="robots" content="noai">', "<meta name=TDM-Reservation content=' 1 '>", "<html>",
        "<head>", "</head>", "<body>", "<!--", "-->", "<script>", "</script>",
        '<script type="application/rsl+xml">',
        '<link rel="license" type="application/rsl+xml" href=" /l.xml ">',
        '<meta http-equiv="X-Robots-Tag" content=noai>', "<svg>", "<table>", "<template>", "<noscript>",
        "<title>", "</title>", "<style>", "<textarea>", "<", '"', "\x00", "\ufeff", "&amp;", "<p>", "text",
    ]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(_tag_fragments | st.text(max_size=5), min_size=1, max_size=14).map("".join))
def test_streamed_reading_is_the_tree_reading(text: str) -> None:
    """The reader builds no tree (flat memory on a page of a million tags) yet reads what the tree holds."""
    assume(text.replace("\x00", "\ufffd").encode("utf-8", "surrogatepass").strip())
    reading = read_html(text.encode("utf-8", "surrogatepass"), "text/html; charset=utf-8")[0]
    assert (reading.meta, reading.licence_links, reading.licence_scripts) == _tree_reading(text)


def test_a_parse_error_is_a_problem_not_an_absence(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tags collected before the parser failed are lost: the reading is refused, never read as "no tags".
    import lxml.etree

    class Failing:
        def __init__(self, *, encoding: str, target: object) -> None:
            pass

        def feed(self, data: bytes) -> None:
            raise lxml.etree.ParserError("cut short")

    monkeypatch.setattr(lxml.etree, "HTMLParser", Failing)
    readings = read_html(b"<meta name=robots content=noai><p>text</p>", "text/html; charset=utf-8")
    assert readings[0].problem is not None
    assert "could not be parsed" in readings[0].problem
