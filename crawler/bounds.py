"""Crawl bounds: a per-host page budget and a report of the hosts whose links ran past the depth limit.

Both are switched on by the add-on. A site that links to ever-new URLs (a
calendar, a faceted search, session ids in links) would otherwise never let
a crawl end. Two bounds stop it:

* ``PERMITCRAWL_HOST_MAX_PAGES`` (:class:`HostBudgetMiddleware`, a downloader
  middleware just after the gate): at most this many pages are requested
  from one host, counting every response or download failure. Requests past
  it are dropped before they leave and counted per host
  (``bounds/host_budget/<host>``). A resumed crawl counts the pages its
  database already holds for each host.
* ``DEPTH_LIMIT`` (Scrapy's DepthMiddleware, 20 by default through the
  add-on): :class:`LinkBoundsMiddleware` counts, per host, the links that
  DepthMiddleware is about to drop (``bounds/depth/<host>``), and schedules
  at most three times the page budget of distinct URLs per host
  (``bounds/host_queue/<host>`` counts the rest).

The crawl summary lists the hosts that reached either bound.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware

from crawler.config import load_config
from crawler.storage.queries import BUDGET_STAT, DEPTH_STAT, QUEUE_STAT

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

# URLs ever scheduled per host, as a multiple of its page budget: room for the URLs the gate
# refuses before fetching, no room for a scheduler filled with URLs that will never be fetched.
QUEUE_FACTOR = 3


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def pages_so_far(database: Path) -> Counter[str]:
    """Pages fetched per host by earlier runs of a crawl (captures and refusals after fetching)."""
    counts: Counter[str] = Counter()
    if not database.is_file():
        return counts
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            for table, where in (("captures", ""), ("refusals", " where stage = 'post-fetch'")):
                rows = connection.execute(f"select host, count(*) from {table}{where} group by host")
                counts.update({host: n for host, n in rows if host})
        finally:
            connection.close()
    except sqlite3.Error as exc:
        logger.warning("Could not count the pages of earlier runs in %s: %s", database, exc)
    return counts


class HostBudgetMiddleware:
    """Drops requests to a host once ``PERMITCRAWL_HOST_MAX_PAGES`` pages of it have been requested."""

    def __init__(self, crawler: Crawler, budget: int, done: Counter[str] | None = None) -> None:
        self.crawler = crawler
        self.budget = budget
        self.done: Counter[str] = done or Counter()
        self.in_flight: Counter[str] = Counter()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("POLICY_ENABLED"):
            raise NotConfigured("POLICY_ENABLED is off")
        config = load_config(crawler.settings)
        if not config.host_max_pages:
            raise NotConfigured("PERMITCRAWL_HOST_MAX_PAGES is 0: no per-host budget")
        return cls(crawler, config.host_max_pages, pages_so_far(config.provenance_db))

    def process_request(self, request: Request) -> None:
        if request.meta.get("policy_exempt"):
            return
        host = _host(request.url)
        counted = request.meta.get("_policy_budgeted")
        if counted == host:
            return  # a retry, or a redirect within the host: the page is counted already
        if counted is not None:
            # A redirect to another host: the hop was a page of the first host; the target
            # is a page of its own host, within that host's budget.
            self._settle(request)
        if self.done[host] + self.in_flight[host] >= self.budget:
            self.crawler.stats.inc_value(BUDGET_STAT + host)
            if self.crawler.stats.get_value(BUDGET_STAT + host) == 1:
                logger.warning(
                    "%s reached its budget of %d pages (PERMITCRAWL_HOST_MAX_PAGES); its other URLs are "
                    "not requested",
                    host,
                    self.budget,
                )
            raise IgnoreRequest(f"{host} reached its budget of {self.budget} pages")
        request.meta["_policy_budgeted"] = host
        self.in_flight[host] += 1

    def _settle(self, request: Request) -> None:
        host = request.meta.pop("_policy_budgeted", None)
        if host is not None:
            self.in_flight[host] -= 1
            self.done[host] += 1

    def process_response(self, request: Request, response: Response) -> Response | Request:
        self._settle(request)
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        self._settle(request)


class LinkBoundsMiddleware(BaseSpiderMiddleware):
    """Bounds the links a crawl schedules per host, and counts those past ``DEPTH_LIMIT``.

    At most ``QUEUE_FACTOR`` times the page budget of distinct URLs are ever
    scheduled for one host (``bounds/host_queue/<host>`` counts the rest): a
    page of 200,000 links, or a sitemap of a million, cannot fill the
    scheduler with URLs the budget will never let out. Links past the depth
    limit are counted per host (``bounds/depth/<host>``) just before Scrapy's
    DepthMiddleware drops them.
    """

    def __init__(self, crawler: Crawler, depth_limit: int, queue_limit: int) -> None:
        super().__init__(crawler)
        self.depth_limit = depth_limit
        self.queue_limit = queue_limit
        self.scheduled: dict[str, set[bytes]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("POLICY_ENABLED"):
            raise NotConfigured("POLICY_ENABLED is off")
        config = load_config(crawler.settings)
        middleware = cls(
            crawler, crawler.settings.getint("DEPTH_LIMIT"), QUEUE_FACTOR * config.host_max_pages
        )
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        host = _host(request.url)
        # The depth DepthMiddleware is about to give the request (it runs after this).
        depth = (
            0 if response is None or request.meta.get("depth_reset") else response.meta.get("depth", 0) + 1
        )
        if 0 < self.depth_limit < depth:
            self.crawler.stats.inc_value(DEPTH_STAT + host)
            return request  # DepthMiddleware drops it and keeps its own count
        if not self.queue_limit or request.dont_filter or request.meta.get("policy_recheck"):
            return request
        seen = self.scheduled.setdefault(host, set())
        fingerprint = self.crawler.request_fingerprinter.fingerprint(request)
        if fingerprint in seen:
            return request  # the scheduler's duplicate filter has its say
        if len(seen) >= self.queue_limit:
            self.crawler.stats.inc_value(QUEUE_STAT + host)
            return None
        seen.add(fingerprint)
        return request

    def spider_closed(self, spider: Spider) -> None:
        stats = self.crawler.stats.get_stats()
        hosts = sorted(k.removeprefix(DEPTH_STAT) for k in stats if k.startswith(DEPTH_STAT))
        if hosts:
            logger.warning(
                "Links past DEPTH_LIMIT=%d were not followed on %d host(s): %s",
                self.depth_limit,
                len(hosts),
                ", ".join(hosts[:10]) + (", ..." if len(hosts) > 10 else ""),
            )
