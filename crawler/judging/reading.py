"""How a crawl reads what it fetched: each evidence document into its evidence, a response into a Page.

No Scrapy here. The evidence fetcher and the gate read what they fetch with
these functions, and ``audit`` reads the same bytes back from the WARC files
with them, under the :class:`~crawler.judging.judge.JudgeConfig` the crawl recorded:
both build a host's :class:`~policies.evidence.HostEvidence` and a
:class:`~policies.engine.Page` from the same readings, with the same bounds.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from policies.aitxt import aitxt_evidence
from policies.page import Page
from policies.robots import robots_evidence
from policies.rsl import FoundLicence, rsl_evidence
from policies.tdmrep import tdmrep_evidence
from policies.terms import read_terms

if TYPE_CHECKING:
    from collections.abc import Iterable

    from crawler.judging.judge import JudgeConfig
    from policies.aitxt import AiTxtEvidence
    from policies.document import Document
    from policies.html import HtmlSignals
    from policies.robots import RobotsEvidence
    from policies.tdmrep import TdmRepEvidence
    from policies.terms import TermsEvidence


def read_robots(document: Document, judge: JudgeConfig) -> RobotsEvidence:
    """A robots.txt, read for our token within the crawl's bounds (Crawl-delay, RFC 9309 parse limit)."""
    return robots_evidence(
        document, judge.token, max_crawl_delay=judge.max_crawl_delay, parse_limit=judge.parse_limit
    )


def read_tdmrep(document: Document) -> TdmRepEvidence:
    """A /.well-known/tdmrep.json."""
    return tdmrep_evidence(document)


def read_aitxt(document: Document, judge: JudgeConfig) -> AiTxtEvidence:
    """An /ai.txt, within the crawl's parse limit."""
    return aitxt_evidence(document, judge.parse_limit)


def read_licence(document: Document, found_in: str) -> FoundLicence:
    """An RSL licence document, and where it was found (a robots.txt line, a page's link, ...)."""
    return FoundLicence(rsl_evidence(document), found_in)


def read_terms_page(document: Document, home_url: str) -> TermsEvidence:
    """A terms page found from ``home_url`` (:func:`policies.terms.read_terms`: its text and passages)."""
    return read_terms(document, home_url)


def archived_terms(terms: TermsEvidence, document: Document) -> TermsEvidence:
    """Terms read from ``document``, cited by the URL asked for and the record it was archived as.

    The crawler reads a terms page before archiving it (what it found is
    recorded with it); audit reads it back archived. Both cite it here.
    """
    return replace(terms, terms_url=document.url, record_id=document.record_id, source=document.describe())


def header_map(headers: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """HTTP headers as :class:`Page` holds them: lower-case names, every value in the order received."""
    found: dict[str, tuple[str, ...]] = {}
    for name, value in headers:
        found[name.lower()] = (*found.get(name.lower(), ()), value)
    return found


def read_page(
    url: str,
    status: int,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    *,
    html: tuple[HtmlSignals, ...] | None = None,
) -> Page:
    """A fetched page as the post-fetch signals read it; ``body`` decoded (content-coding removed).

    ``html`` are the page's readings when the caller has them (the gate reads
    a large page on a worker thread); otherwise they are read when first needed.
    """
    return Page(url=url, status=status, headers=header_map(headers), body=body, html=html)
