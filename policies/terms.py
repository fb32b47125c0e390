"""Terms pages: finding a host's terms, reading them as text, and the passages that matter.

Terms are written for people, so the crawler does not decide on them: it finds
the terms page (links such as "Terms of Service", "Conditions", "Legal" on the
home page), normalises its text so that a change can be noticed, and keeps the
passages that speak of scraping, crawling, robots, data mining, machine
learning or AI, for the maintainers' review. Parsing is BeautifulSoup's.

Normalisation (the text whose sha256 a reviewed rule keeps): the visible text
(scripts, styles and templates dropped), Unicode NFKC, every run of whitespace
made one space. The same function reads the crawled page and the file a
maintainer passes to ``policy set --tos-text``, so the digests compare.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import warnings
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import lxml.html
from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning

if TYPE_CHECKING:
    from policies.document import Document

# Link texts and URL words that name a terms page, strongest first.
TERMS_PHRASES: tuple[str, ...] = (
    "terms of service",
    "terms of use",
    "terms and conditions",
    "terms & conditions",
    "conditions of use",
    "user agreement",
    "nutzungsbedingungen",
    "conditions générales",
    "términos",
    "termini",
    "terms",
    "conditions",
    "agb",
    "legal",
    "tos",
)
RESTRICTION = re.compile(
    r"\b(scrap(e|es|ed|ing|er|ers)|crawl(s|ed|ing|er|ers)?|spider(s|ing)?|robots?|bots?|"
    r"automated (means|access|collection|tools?|systems?|queries|software|processes)|"
    r"(text and )?data[- ]mining|tdm|machine[- ]learning|artificial intelligence|a\.?i\.?|"
    r"large language models?|llms?|neural networks?|train(ing)? (of )?(ai|models?|algorithms?)|"
    r"harvest(ing)?)\b",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?;])\s+")
_SPACE = re.compile(r"\s+")
MAX_PASSAGES = 20
MAX_PASSAGE = 600
TERMS_MAX = 1024 * 1024  # bytes of a terms page read for its text
MAX_ANCHORS = 10_000  # links of a home page looked at for the terms


def _soup(body: bytes) -> BeautifulSoup:
    with warnings.catch_warnings():
        # Odd bodies (a URL, XML) are parsed as they are; the warnings say nothing we act on.
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(body, "lxml")


def normalise_text(text: str) -> str:
    """NFKC, and every run of whitespace one space."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def terms_text(body: bytes, *, html: bool | None = None) -> str:
    """The normalised visible text of a terms document (HTML, or plain text)."""
    if html is None:
        html = body.lstrip()[:1] == b"<"
    if not html:
        return normalise_text(body.decode("utf-8", errors="replace"))
    soup = _soup(body)
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    return normalise_text(soup.get_text(" "))


def text_sha256(text: str) -> str:
    """The digest a rule keeps of the terms it reviewed."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def restrictive_passages(text: str) -> tuple[str, ...]:
    """The sentences that speak of scraping, crawling, robots, data mining, ML or AI (at most 20)."""
    found = []
    for sentence in _SENTENCE.split(text):
        if RESTRICTION.search(sentence):
            found.append(sentence[:MAX_PASSAGE])
            if len(found) == MAX_PASSAGES:
                break
    return tuple(found)


def _score(text: str) -> int:
    lowered = normalise_text(text).lower()
    for rank, phrase in enumerate(TERMS_PHRASES):
        if re.search(rf"(^|[^a-z]){re.escape(phrase)}([^a-z]|$)", lowered):
            return len(TERMS_PHRASES) - rank
    return 0


def find_terms_links(body: bytes, base_url: str) -> list[str]:
    """Links of a page that look like its terms: same host first, then the best words; never raises.

    Read with lxml (a home page may be large; BeautifulSoup would take some
    150 times its size in memory). At most ``MAX_ANCHORS`` links are looked at.
    """
    try:
        root = lxml.html.fromstring(body, parser=lxml.html.HTMLParser(encoding=None, recover=True))
    except (lxml.etree.ParserError, ValueError):
        return []
    host = urlsplit(base_url).hostname
    scored = []
    for position, anchor in enumerate(root.iter("a")):
        if position >= MAX_ANCHORS:
            break
        href = anchor.get("href")
        if href is None:
            continue
        try:
            url = urljoin(base_url, str(href).strip())
            parts = urlsplit(url)
        except ValueError:
            continue
        if parts.scheme not in ("http", "https"):
            continue
        score = max(_score(anchor.text_content()), _score(parts.path.replace("-", " ").replace("_", " ")))
        if score:
            same_site = parts.hostname == host
            scored.append((not same_site, -score, position, url.split("#", 1)[0]))
    seen, ordered = set(), []
    for *_, url in sorted(scored):
        if url not in seen:
            seen.add(url)
            ordered.append(url)
    return ordered


@dataclass(frozen=True, kw_only=True, slots=True)
class TermsEvidence:
    """A host's terms as found: where, their normalised-text digest and passages; or why there are none."""

    home_url: str
    terms_url: str | None
    source: str
    sha256: str | None = None  # of the document as received
    record_id: str | None = None
    text_sha256: str | None = None
    passages: tuple[str, ...] = ()
    problem: str | None = None
    unread: str | None = None  # a terms page was found but could not be read: why

    @property
    def mentions_restrictions(self) -> bool:
        """True when the terms speak of scraping, crawling, robots, mining, ML or AI."""
        return bool(self.passages)


def read_terms(document: Document, home_url: str) -> TermsEvidence:
    """The evidence of a fetched terms page (2xx); the crawler and ``audit`` both read it here.

    A page not read whole, or larger than ``TERMS_MAX`` (its text is read with
    BeautifulSoup, which takes some 150 times a page's size in memory), is
    *unread*: its terms may speak of scraping or AI, and the ToS signal treats
    it as terms nobody reviewed (``--unreviewed``).
    """
    of_document = partial(
        TermsEvidence,
        home_url=home_url,
        terms_url=document.url,
        source=document.describe(),
        sha256=document.sha256,
        record_id=document.record_id,
    )
    if document.incomplete is not None:
        return of_document(unread=f"not read whole ({document.incomplete})")
    if len(document.body) > TERMS_MAX:
        return of_document(unread=f"larger than the {TERMS_MAX} bytes read of a terms page")
    text = terms_text(document.body)
    return of_document(text_sha256=text_sha256(text), passages=restrictive_passages(text))
