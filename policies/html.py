"""What the post-fetch signals read from an HTML page: meta tags and embedded licence pointers.

Works on an lxml tree (the crawler passes the one Scrapy's selector already
built, so the page is parsed once), or parses the bytes itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lxml.html

RSL_TYPE = "application/rsl+xml"
_LOWER = "translate(%s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"


@dataclass(frozen=True)
class HtmlSignals:
    """Meta tags (name lower-cased, content) in document order, and RSL licence links and scripts."""

    meta: tuple[tuple[str, str], ...] = ()
    licence_links: tuple[str, ...] = ()
    licence_scripts: tuple[str, ...] = ()

    def meta_values(self, name: str) -> tuple[str, ...]:
        """The contents of every ``<meta name=NAME>`` (any case), in order."""
        wanted = name.lower()
        return tuple(content for meta_name, content in self.meta if meta_name == wanted)


def html_signals(root: Any) -> HtmlSignals:
    """Extract the signals from an lxml element tree; never raises on odd markup."""
    meta = tuple(
        (str(el.get("name")).strip().lower(), str(el.get("content") or "").strip())
        for el in root.xpath("//meta[@name]")
    )
    links = tuple(
        str(el.get("href")).strip()
        for el in root.xpath(f"//link[@href and {_LOWER % '@type'} = '{RSL_TYPE}']")
        if "license" in str(el.get("rel") or "").lower().split()
    )
    scripts = tuple(
        "".join(el.itertext())
        for el in root.xpath(f"//script[{_LOWER % '@type'} = '{RSL_TYPE}']")
        if "".join(el.itertext()).strip()
    )
    return HtmlSignals(meta, links, scripts)


def parse_html(body: bytes) -> HtmlSignals:
    """Parse an HTML body and extract its signals; an empty or unparseable body gives none."""
    if not body.strip():
        return HtmlSignals()
    try:
        root = lxml.html.fromstring(body)
    except (lxml.etree.ParserError, ValueError):
        return HtmlSignals()
    return html_signals(root)
