"""What the post-fetch signals read from a page: meta tags and licence pointers, in every plausible reading.

A page's bytes can be read several ways, and a site (or its server) may make
them disagree: ``text/html; charset=utf-16`` on plain ASCII, ``\\xff\\xfe``
before UTF-8, a NUL before the ``<meta>`` that a parser stops at, a tag inside
a comment. :func:`read_html` is the one way the crawler and ``audit`` read a
page, and it returns every distinct reading, the primary one first:

* the page parsed with lxml as a browser would decode it (byte-order mark,
  then the declared charset of the header, then of a ``<meta>``, then UTF-8),
  and under each of those decodings and UTF-8 where they differ;
* a scan of the raw bytes as ASCII for ``<meta>``, ``<link>`` and
  ``<script type="application/rsl+xml">`` tags, wherever they are (in comments,
  after NULs, after a stray unclosed tag or quote, in a page declared in an
  encoding its bytes are not in). Each tag ends at its ``>`` or where the
  next ``<`` begins. It runs on every response, whatever its content type.

The engine judges the page under each reading and the most restrictive one
applies, so a reservation visible in any of them counts and a grant counts
only if every reading shows it. Everything here is linear in the page.
"""

from __future__ import annotations

import html as html_entities
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import lxml.etree

from policies.charset import bom_of, codec_name, declared_charset, decodings

if TYPE_CHECKING:
    from lxml.etree import ParserTarget

    # lxml's parser-target interface is a protocol of its type stubs only (lxml calls whatever
    # methods a target has): _Collector is checked against it, and is a plain object at run time.
    _ParserTarget = ParserTarget[None]
else:
    _ParserTarget = object

RSL_TYPE = "application/rsl+xml"
# The HTML standard's encoding sniffing looks at the first 1024 bytes; a little more is harmless.
_PRESCAN = 4096
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE)
# A namespace prefix is allowed (<h:meta> in XHTML written with a prefixed namespace).
_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,40}:)?(meta|link|script)(?=[\s/>])", re.IGNORECASE)
_NAME = re.compile(r"[^\s\"'<>/=`]+")
_EQUALS = re.compile(r"\s*=\s*")
_UNQUOTED = re.compile(r"[^\s\"'<>`]*")
_SKIP = re.compile(r"[\s/\"'<>=`]+")
_SCRIPT_END = re.compile(rb"</script", re.IGNORECASE)
MAX_TAGS = 100_000  # <meta>, <link> and <script> tags the raw scan reads in one page; more is refused
# What a tag must contain to matter (meta: 'name' or 'http-equiv', link: license, script: rsl+xml).
_MATTERS = {b"meta": b"e", b"link": b"license", b"script": b"rsl"}
HTTP_EQUIV = "http-equiv:x-robots-tag"  # <meta http-equiv="X-Robots-Tag">, read as that header


@dataclass(frozen=True)
class HtmlSignals:
    """Meta tags (name lower-cased, content) in document order, and RSL licence links and scripts.

    ``how`` says which reading of the page this is (empty for the primary one).
    """

    meta: tuple[tuple[str, str], ...] = ()
    licence_links: tuple[str, ...] = ()
    licence_scripts: tuple[str, ...] = ()
    how: str = ""
    problem: str | None = None  # the reading could not be completed: the page is refused

    def meta_values(self, name: str) -> tuple[str, ...]:
        """The contents of every ``<meta name=NAME>`` (any case), in order."""
        wanted = name.lower()
        return tuple(content for meta_name, content in self.meta if meta_name == wanted)

    def same_signals(self, other: HtmlSignals) -> bool:
        """True if both readings give the same tags (however they were read)."""
        return (self.meta, self.licence_links, self.licence_scripts, self.problem) == (
            other.meta,
            other.licence_links,
            other.licence_scripts,
            other.problem,
        )


class _Collector(_ParserTarget):
    """An lxml parser target: collects the signal tags as the parser meets them, building no tree.

    A tree of a 10 MiB page of tags takes a few hundred MB; the events take none.
    At most ``MAX_TAGS`` ``<meta>``, ``<link>`` and ``<script>`` elements are
    read; a page with more gives a reading with a ``problem`` (refused).
    """

    def __init__(self) -> None:
        self.meta: list[tuple[str, str]] = []
        self.links: list[str] = []
        self.scripts: list[str] = []
        self.count = 0
        self.problem: str | None = None
        self._script: list[str] | None = None  # the text of an open RSL <script>

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if tag not in ("meta", "link", "script") or self.problem:
            return
        self.count += 1
        if self.count > MAX_TAGS:
            self.problem = f"more than {MAX_TAGS} <meta>, <link> and <script> elements; not read further"
            return
        get = attrib.get
        if tag == "meta":
            if get("name") is not None:
                self.meta.append((str(get("name")).strip().lower(), str(get("content") or "").strip()))
            elif str(get("http-equiv") or "").strip().lower() == "x-robots-tag":
                self.meta.append((HTTP_EQUIV, str(get("content") or "").strip()))
        elif str(get("type") or "").strip().lower() != RSL_TYPE:
            return
        elif tag == "link":
            if get("href") is not None and "license" in str(get("rel") or "").lower().split():
                self.links.append(str(get("href")).strip())
        else:
            self._script = []

    def data(self, data: str) -> None:
        if self._script is not None:
            self._script.append(data)

    def end(self, tag: str) -> None:
        if tag == "script":
            self._end_script()

    def _end_script(self) -> None:
        if self._script is not None:
            text = "".join(self._script)
            if text.strip():
                self.scripts.append(text)
        self._script = None

    def close(self) -> None:
        self._end_script()  # a <script> left open at the end of the page ends there

    def signals(self, how: str) -> HtmlSignals:
        return HtmlSignals(tuple(self.meta), tuple(self.links), tuple(self.scripts), how, self.problem)


def _parse(text: str, how: str) -> HtmlSignals:
    # HTML treats NUL as U+FFFD; libxml2 would stop reading at it.
    data = text.replace("\x00", "\ufffd").encode("utf-8", "surrogatepass")
    if not data.strip():
        return HtmlSignals(how=how)
    collector = _Collector()
    parser = lxml.etree.HTMLParser(encoding="utf-8", target=collector)
    try:
        parser.feed(data)
        parser.close()
    except (lxml.etree.LxmlError, ValueError) as exc:
        # Tags read before the error would be lost: a reading cut short is refused, never "no tags".
        return HtmlSignals(how=how, problem=f"the page could not be parsed as HTML ({exc})")
    return collector.signals(how)


def _attributes(text: str) -> dict[str, str]:
    """The attributes of one tag's text, as HTML reads them; every step consumes input (linear)."""
    found: dict[str, str] = {}
    position, end = 0, len(text)
    while position < end:
        skip = _SKIP.match(text, position)
        if skip:
            position = skip.end()
            continue
        name_match = _NAME.match(text, position)
        if name_match is None:  # pragma: no cover - _SKIP and _NAME together cover every character
            position += 1
            continue
        name, position, value = name_match.group().lower(), name_match.end(), ""
        equals = _EQUALS.match(text, position)
        if equals:
            position = equals.end()
            quote = text[position : position + 1]
            if quote in ('"', "'"):
                close = text.find(quote, position + 1)
                close = end if close < 0 else close
                value, position = text[position + 1 : close], close + 1
            else:
                unquoted = _UNQUOTED.match(text, position)
                assert unquoted is not None  # it matches the empty string at least
                value, position = unquoted.group(), unquoted.end()
        found.setdefault(name, html_entities.unescape(value))  # the first of a repeated attribute counts
    return found


def scan_tags(body: bytes, how: str = "the raw bytes read as ASCII") -> HtmlSignals:
    """The signal tags anywhere in ``body``, read byte for byte as ASCII (no HTML structure); linear."""
    meta: list[tuple[str, str]] = []
    links: list[str] = []
    scripts: list[str] = []
    position, close, count = 0, -1, 0
    while (match := _TAG.search(body, position)) is not None:
        count += 1
        if count > MAX_TAGS:
            problem = f"more than {MAX_TAGS} <meta>, <link> and <script> tags; not read further"
            return HtmlSignals(tuple(meta), tuple(links), tuple(scripts), how, problem)
        # A tag ends at its '>', or where the next tag begins: a stray '<' or quote before a
        # real tag cannot swallow it (browsers would read the stray text as part of the tag).
        # The next '>' is looked for only when the last one found lies behind: linear overall.
        if close < match.end():
            close = body.find(b">", match.end())
            close = len(body) if close < 0 else close
        following = body.find(b"<", match.end(), close)
        end = close if following < 0 else following
        position = end + 1 if end == close else end
        tag = match.group(1).lower()
        text = body[match.end() : end]  # tags never overlap: every byte is read once
        if _MATTERS[tag] not in text.lower():
            continue
        attributes = _attributes(text.decode("latin-1"))
        if tag == b"meta" and "name" in attributes:
            meta.append((attributes["name"].strip().lower(), attributes.get("content", "").strip()))
        elif tag == b"meta" and attributes.get("http-equiv", "").strip().lower() == "x-robots-tag":
            meta.append((HTTP_EQUIV, attributes.get("content", "").strip()))
        elif tag == b"link" and "href" in attributes:
            rels = attributes.get("rel", "").lower().split()
            if attributes.get("type", "").strip().lower() == RSL_TYPE and "license" in rels:
                links.append(attributes["href"].strip())
        elif tag == b"script" and attributes.get("type", "").strip().lower() == RSL_TYPE:
            script_end = _SCRIPT_END.search(body, position)
            content = body[position : script_end.start() if script_end else len(body)].decode("latin-1")
            position = script_end.end() if script_end else len(body)
            if content.strip():
                scripts.append(content)
    return HtmlSignals(tuple(meta), tuple(links), tuple(scripts), how)


def meta_charset(body: bytes) -> str | None:
    """The charset a ``<meta charset>`` or ``<meta http-equiv>`` near the top of ``body`` declares."""
    match = _META_CHARSET.search(body[:_PRESCAN])
    return codec_name(match.group(1).decode("ascii")) if match else None


def is_html(body: bytes, content_type: str | None) -> bool:
    """True for an HTML (or XHTML) content type, or an untyped body that starts like markup."""
    if content_type:
        return "html" in content_type.lower()
    mark = bom_of(body)
    return body[len(mark[0]) if mark else 0 :].lstrip()[:1] == b"<"


def read_html(body: bytes, content_type: str | None) -> tuple[HtmlSignals, ...]:
    """Every distinct reading of a page's signals, the primary one first (see the module docstring).

    ``content_type`` is the response's Content-Type value (None if absent).
    Readings that give the same tags are given once.
    """
    found: list[HtmlSignals] = []
    if is_html(body, content_type):
        header = declared_charset(content_type)
        in_page = meta_charset(body)
        mark = bom_of(body)
        browser = mark[1] if mark else header or in_page or "utf-8"
        declared = (
            (header, "as its Content-Type declares"),
            (in_page, "as its <meta> declares"),
            ("utf-8", ""),
        )
        texts = decodings(body, primary=browser, declared=declared)
        for index, decoded in enumerate(texts):
            found.append(_parse(decoded.text, "" if index == 0 else f"the page read as {decoded.how}"))
    found.append(scan_tags(body))
    if b"\x00" in body:  # UTF-16 or UTF-32 markup without a mark or a declaration
        found.append(scan_tags(body.replace(b"\x00", b""), "the raw bytes read as ASCII, NULs dropped"))
    readings: list[HtmlSignals] = []
    for reading in found:
        if not any(reading.same_signals(kept) for kept in readings):
            readings.append(reading)
    return tuple(readings)
