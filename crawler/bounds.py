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
  add-on): :class:`DepthReportMiddleware` counts, per host, the links that
  DepthMiddleware is about to drop (``bounds/depth/<host>``).

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
from crawler.storage.queries import BUDGET_STAT, DEPTH_STAT

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)


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
        if request.meta.get("policy_exempt") or "_policy_budgeted" in request.meta:
            return
        host = _host(request.url)
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
        request.meta["_policy_budgeted"] = host  # a redirect or a retry of it counts against this host
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


class DepthReportMiddleware(BaseSpiderMiddleware):
    """Counts per host the links past ``DEPTH_LIMIT`` (Scrapy's DepthMiddleware drops them after this)."""

    def __init__(self, crawler: Crawler, limit: int) -> None:
        super().__init__(crawler)
        self.limit = limit

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        limit = crawler.settings.getint("DEPTH_LIMIT")
        if not crawler.settings.getbool("POLICY_ENABLED") or limit <= 0:
            raise NotConfigured("no depth limit to report on")
        middleware = cls(crawler, limit)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        # The depth DepthMiddleware is about to give the request (it runs after this).
        depth = None if response is None else response.meta.get("depth", 0) + 1
        if depth is not None and depth > self.limit and not request.meta.get("depth_reset"):
            self.crawler.stats.inc_value(DEPTH_STAT + _host(request.url))
        return request

    def spider_closed(self, spider: Spider) -> None:
        stats = self.crawler.stats.get_stats()
        hosts = sorted(k.removeprefix(DEPTH_STAT) for k in stats if k.startswith(DEPTH_STAT))
        if hosts:
            logger.warning(
                "Links past DEPTH_LIMIT=%d were not followed on %d host(s): %s",
                self.limit,
                len(hosts),
                ", ".join(hosts[:10]) + (", ..." if len(hosts) > 10 else ""),
            )
