"""Page links: the links a spider may follow from one HTML page, read in one streaming pass.

Scrapy's ``LinkExtractor`` reads links from a full element tree; a 10 MiB page
of tags builds a tree of a few hundred MB, and the crawl's peak memory is that
tree. :func:`read_links` reads the same links (``<a>`` and ``<area>`` hrefs,
resolved against the page's ``<base href>``, made safe in the page's encoding,
without duplicates or the extensions Scrapy ignores) with an lxml parser target:
no tree is built, so memory stays flat whatever the page holds.

It differs from ``LinkExtractor(restrict_xpaths=...)`` only where the tree
would cost more than the links are worth: past ``limit`` anchors the rest are
counted, not read. The tests hold it to ``LinkExtractor``'s output on the same
pages.
"""

from __future__ import annotations

import codecs
import contextlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlparse

import lxml.etree
from scrapy.linkextractors import IGNORED_EXTENSIONS
from scrapy.utils.misc import rel_has_nofollow
from scrapy.utils.url import url_has_any_extension
from w3lib.html import get_base_url, strip_html5_whitespace
from w3lib.url import safe_url_string

_CHUNK = 1 << 16  # bytes decoded and fed to the parser at a time
_BASE_SCAN = 4096  # Scrapy reads <base href> in the first 4096 characters; so do we
_SCHEMES = frozenset({"http", "https", "file", "ftp"})  # the schemes a Scrapy link may have
_IGNORED = frozenset("." + extension for extension in IGNORED_EXTENSIONS)
_ROBOTS_NAMES = frozenset({"robots", "permitcrawl"})  # <meta name> whose nofollow/none we obey


@dataclass
class PageLinks:
    """What one page offers to follow.

    ``urls`` are absolute, unique, in document order, and followable (not
    ``rel=nofollow``, not on a page whose robots meta says ``nofollow`` or
    ``none``: then it is empty). ``anchors`` counts every ``<a>`` and ``<area>``,
    including those past the limit.
    """

    urls: list[str] = field(default_factory=list)
    anchors: int = 0
    nofollow: bool = False


class _Collector:
    """An lxml parser target: keeps the first ``limit`` hrefs and the robots meta contents."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.anchors = 0
        self.hrefs: list[tuple[str, bool]] = []
        self.robots: list[str] = []

    def start(self, tag: str, attrib: Any) -> None:
        if tag in ("a", "area"):
            self.anchors += 1
            href = attrib.get("href")
            if href is not None and self.anchors <= self.limit:
                self.hrefs.append((href, rel_has_nofollow(attrib.get("rel"))))
        elif tag == "meta" and str(attrib.get("name", "")).lower() in _ROBOTS_NAMES:
            self.robots.append(str(attrib.get("content", "")))

    def end(self, tag: str) -> None:
        pass

    def data(self, data: str) -> None:
        pass

    def close(self) -> None:
        pass


def _feed(body: bytes, encoding: str, target: _Collector) -> None:
    parser = lxml.etree.HTMLParser(target=target, recover=True, huge_tree=True)  # type: ignore[call-overload]  # any object with start/end/data/close is a target
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    fed = False
    for start in range(0, len(body), _CHUNK):
        # NUL stops libxml2 reading; Scrapy's selector drops it, and so do we.
        text = decoder.decode(body[start : start + _CHUNK]).replace("\x00", "")
        if text:
            parser.feed(text)
            fed = True
    text = decoder.decode(b"", final=True).replace("\x00", "")
    if text:
        parser.feed(text)
        fed = True
    if fed:  # markup that recover mode still refuses at its end: the links read so far count
        with contextlib.suppress(lxml.etree.XMLSyntaxError):
            parser.close()


def read_links(body: bytes, url: str, encoding: str, limit: int) -> PageLinks:
    """The followable links of the HTML page ``body`` fetched from ``url``; linear, flat in memory.

    ``encoding`` is the page's encoding as the response reports it (a Python
    codec name). At most ``limit`` anchors are read; all are counted.
    """
    try:
        codecs.lookup(encoding)
    except LookupError:
        encoding = "utf-8"
    target = _Collector(limit)
    _feed(body, encoding, target)
    page = PageLinks(anchors=target.anchors)
    if any("nofollow" in c.lower() or "none" in c.lower().replace(",", " ").split() for c in target.robots):
        page.nofollow = True
        return page
    head = body[: _BASE_SCAN * 4].decode(encoding, errors="replace")[:_BASE_SCAN]
    base = get_base_url(head, url, encoding)
    seen: set[str] = set()
    for href, nofollow in target.hrefs:
        link = _absolute(href, base, url, encoding)
        if link is None or link in seen:
            continue
        seen.add(link)  # the first occurrence decides, nofollow or not, as in Scrapy
        if not nofollow and _allowed(link):
            page.urls.append(link)
    return page


def _absolute(href: str, base: str, url: str, encoding: str) -> str | None:
    """``href`` joined and made safe as Scrapy's link extractor does; None for a bogus one."""
    try:
        joined = urljoin(base, strip_html5_whitespace(href))
        return urljoin(url, safe_url_string(joined, encoding=encoding))
    except ValueError:
        return None


def _allowed(link: str) -> bool:
    if link.split("://", 1)[0] not in _SCHEMES:
        return False
    return not url_has_any_extension(urlparse(link), _IGNORED)
