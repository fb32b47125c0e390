"""SeedSpider: crawls from seed URLs, following links (and robots.txt sitemaps) within each seed's host.

Usable from the CLI (``permitcrawl crawl``) and from plain Scrapy:
``scrapy crawl seeds -a seeds=https://example.org/ -a max_pages=100`` (``max_pages``
stands for ``PERMITCRAWL_MAX_PAGES``: pages captured in all).
The spider never decides permissions: the gate has already judged every
response it receives. Responses refused after fetching reach it only when
``POLICY_DELIVER_REFUSED`` is on, and then only their links are used.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.http import HtmlResponse, Response

from crawler.adapters import signals as our_signals
from crawler.adapters.links import read_links
from crawler.adapters.sitemaps import SitemapError, read_sitemap
from crawler.errors import SeedsError
from crawler.storage.queries import LINKS_STAT, SITEMAP_STAT
from policies.files import LIST_FILE_MAX, InputFileError, read_text_input
from policies.urls import is_http_url, request_host

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Iterator
    from typing import Self

    from scrapy.crawler import Crawler

    from policies.evidence import HostEvidence

logger = logging.getLogger(__name__)

# Links followed from one page. A page with more is a link farm or a trap; past the bound only
# its first links are read, so a 10 MiB page of 500,000 anchors costs no more than a normal one.
PAGE_MAX_LINKS = 10_000


def check_seed(url: str, where: str = "seed URL") -> str:
    """Return ``url`` stripped if it is one absolute http(s) URL a request can be made of.

    Raise SeedsError naming ``where`` (the argument, or ``file:line``) and the
    seed otherwise: a URL that does not parse (``http://[::1``), a port out of
    range, a host that cannot be encoded, or whitespace inside, as two URLs on
    one line would have.
    """
    url = url.strip()
    problem = _seed_problem(url)
    if problem is None:
        return url
    detail = f" ({problem})" if problem else ""
    raise SeedsError(f"{where}: {url!r} is not usable{detail}; expected an absolute http:// or https:// URL")


def _seed_problem(url: str) -> str | None:
    """What is wrong with ``url`` as a seed ("" when it is not an http(s) URL at all), or None."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"it does not parse: {exc}"
    if not is_http_url(url):
        return ""
    if any(c.isspace() for c in url):
        return "it holds whitespace, as two URLs on one line would: give one URL per line, or per argument"
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return "its port is not a number from 1 to 65535"
    try:
        request_host(url)
    except (ValueError, UnicodeError) as exc:
        return f"its host cannot be encoded as a domain name: {exc}"
    return None


def read_seed_file(path: Path) -> list[str]:
    """Read one URL per line; blank lines and ``#`` comments are skipped. Errors name file and line."""
    try:
        text = read_text_input(path, limit=LIST_FILE_MAX, expected="a UTF-8 seed file, one URL per line")
    except InputFileError as exc:
        raise SeedsError(str(exc)) from exc
    seeds = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line and not line.startswith("#"):
            seeds.append(check_seed(line, f"{path}:{number}"))
    return seeds


def _seed_list(seeds: str | Iterable[str] | None) -> list[str]:
    if seeds is None:
        return []
    if isinstance(seeds, str):
        seeds = [s for s in seeds.replace(",", " ").split() if s]
    return [check_seed(s) for s in seeds]


class SeedSpider(Spider):
    """Follows links from the seeds, staying on each seed's host."""

    name = "seeds"

    def __init__(
        self,
        seeds: str | Iterable[str] | None = None,
        seeds_file: str | None = None,
        max_pages: int | str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.seeds = _seed_list(seeds)
        if seeds_file:
            self.seeds += read_seed_file(Path(seeds_file))
        if not self.seeds:
            raise SeedsError("no seed URL given; expected at least one absolute http(s) URL")
        self.hosts = {request_host(s) for s in self.seeds}
        try:
            # Read by the page budget (bounds.PageBudgetMiddleware), as PERMITCRAWL_MAX_PAGES.
            self.max_pages = int(max_pages) if max_pages not in (None, "") else None
        except ValueError:
            raise SeedsError(f"max_pages={max_pages!r} is not usable; expected a whole number") from None
        if self.max_pages is not None and self.max_pages < 1:
            raise SeedsError(f"max_pages={max_pages!r} is not usable; expected a whole number, at least 1")

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.host_evidence_ready, signal=our_signals.host_evidence_ready)
        return spider

    def in_scope(self, url: str) -> bool:
        """True for http(s) URLs on one of the seeds' hosts (compared as ``request_host`` spells them)."""
        try:
            return urlsplit(url).scheme in ("http", "https") and request_host(url) in self.hosts
        except (ValueError, UnicodeError):  # a link no request can be made of
            return False

    async def start(self) -> AsyncIterator[Request]:
        for url in self.seeds:
            yield Request(url, callback=self.parse)

    def host_evidence_ready(self, evidence: HostEvidence) -> None:
        """Schedule the sitemaps a host's robots.txt names.

        Each sitemap URL is fetched once: the scheduler's seen set (the
        frontier's, on disk) drops it when the host's evidence is fetched again
        (it expired, or was dropped from the cache), so nothing is kept here per host.
        """
        if not evidence.robots.sitemaps or self.crawler.engine is None:
            return
        for url in evidence.robots.sitemaps:
            if self.in_scope(url):
                self.crawler.engine.crawl(Request(url, callback=self.parse_sitemap))

    def parse(self, response: Response) -> Iterator[Request]:
        """Follow the in-scope links of an HTML page (not rel=nofollow, not from nofollow pages)."""
        yield from self._links(response)

    def _links(self, response: Response) -> Iterator[Request]:
        if not isinstance(response, HtmlResponse):
            return
        # Streamed, never a tree: a page of a million tags costs no more memory than a small one.
        page = read_links(response.body, response.url, response.encoding, PAGE_MAX_LINKS)
        for url in page.urls:
            if self.in_scope(url):
                yield Request(url, callback=self.parse)
        if page.anchors > PAGE_MAX_LINKS and not page.nofollow:
            what = f"{page.anchors} links, only the first {PAGE_MAX_LINKS} followed"
            self._bound(LINKS_STAT, response.url, page.anchors - PAGE_MAX_LINKS, what)

    def _bound(self, stat: str, url: str, count: int, what: str) -> None:
        """Add ``count`` to the bound's stat for ``url``'s host; warn once per host and bound."""
        host = urlsplit(url).hostname or ""
        if self.crawler.stats.get_value(stat + host) is None:
            logger.warning("%s: %s (later ones on this host are counted, not logged)", url, what)
        self.crawler.stats.inc_value(stat + host, count)

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        """Schedule the in-scope URLs of a sitemap or sitemap index (gzip accepted).

        At most 50,000 entries and 50 MiB (inflated) are read per sitemap, the
        sitemaps.org limits; a broken sitemap keeps the entries before the break.
        """
        try:
            sitemap = read_sitemap(response.body)
        except SitemapError as exc:  # a broken sitemap is a site's problem, not the crawl's
            logger.warning("Ignoring unreadable sitemap %s: %s", response.url, exc)
            return
        if sitemap.stopped and sitemap.stopped.startswith("bound:"):
            self._bound(SITEMAP_STAT, response.url, 1, f"sitemap {sitemap.stopped}; the rest not read")
        elif sitemap.stopped:
            logger.warning("Sitemap %s read in part: %s", response.url, sitemap.stopped)
        callback = self.parse_sitemap if sitemap.index else self.parse
        for url in sitemap.urls:
            if self.in_scope(url):
                yield Request(url, callback=callback)
