"""A fetched page as the post-fetch signals read it: its headers, its HTML readings, the licences it names."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING

from policies.html import HtmlSignals, read_html
from policies.rsl import (
    INLINE,
    MAX_LICENCES,
    FoundLicence,
    inline_evidence,
    link_header_licences,
    resolve,
    unread_licence,
)

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True, kw_only=True)
class Page:
    """A fetched response, as the post-fetch signals read it.

    ``headers`` maps lower-case names to every value received, in order;
    ``body`` is the decoded body (content-coding removed). ``html`` holds the
    page's readings (:func:`~policies.html.read_html`) when the caller has
    them already; otherwise they are read when first needed. ``licences``
    are the RSL documents the page points to, fetched by the caller.
    """

    url: str
    status: int
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    body: bytes = b""
    html: tuple[HtmlSignals, ...] | None = None
    licences: tuple[FoundLicence, ...] = ()

    def header(self, name: str) -> tuple[str, ...]:
        """Every value of header ``name`` (any case), in the order received."""
        return tuple(self.headers.get(name.lower(), ()))

    @property
    def content_type(self) -> str | None:
        """The Content-Type value (several joined with commas), or None."""
        return ",".join(self.header("content-type")) or None

    @cached_property
    def html_readings(self) -> tuple[HtmlSignals, ...]:
        """Every reading of the page's meta tags and licence pointers, the primary one first."""
        return self.html if self.html else read_html(self.body, self.content_type)

    @property
    def html_signals(self) -> HtmlSignals:
        """The primary reading of the page's meta tags and licence pointers."""
        return self.html_readings[0]

    def variants(self) -> list[tuple[str, str, Page]]:
        """The page's other readings, as ``(signal, how, page)``: each judged as if it were the only one."""
        return [("meta-robots", r.how, replace(self, html=(r,))) for r in self.html_readings[1:]]


def page_licences(page: Page) -> tuple[list[tuple[str, str]], list[FoundLicence], list[FoundLicence]]:
    """The RSL licences a fetched page points to, in every reading of it.

    Returns the linked ones to fetch, as ``(url, where)`` (``Link`` headers,
    then HTML ``<link>``; at most ``MAX_LICENCES``); the inline ones, read (at
    most ``MAX_LICENCES``, then one unread licence for the rest); and an
    unread licence for each linked one past the bound. An unread licence
    leaves the content unlicensed (deny): a page never escapes its licences
    by having many. The crawler and ``audit`` both call this.
    """
    linked: dict[str, str] = {}
    for url in link_header_licences(page.header("link"), page.url):
        linked.setdefault(url, f"Link header of {page.url}")
    scripts: dict[str, None] = {}
    for reading in page.html_readings:
        for href in reading.licence_links:
            linked.setdefault(resolve(page.url, href), f"HTML <link> of {page.url}")
        scripts.update(dict.fromkeys(reading.licence_scripts))
    inline = [FoundLicence(inline_evidence(text, page.url), INLINE) for text in list(scripts)[:MAX_LICENCES]]
    if len(scripts) > MAX_LICENCES:
        inline.append(FoundLicence(unread_licence(page.url), INLINE))
    unread = [FoundLicence(unread_licence(url), where) for url, where in list(linked.items())[MAX_LICENCES:]]
    return list(linked.items())[:MAX_LICENCES], inline, unread
