"""Crawl bounds: a page budget for the crawl and per host, and a report of links past the depth limit.

All are switched on by the add-on. A site that links to ever-new URLs (a
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
  DepthMiddleware is about to drop (``bounds/depth/<host>``), and marks the
  links it passes as counted against the cap of URLs scheduled per host: at
  most three times the page budget of distinct URLs per host, counted by the
  frontier (on disk, or on the Redis server) when the scheduler queues them,
  so a resumed crawl keeps counting where the last run stopped and the crawl
  keeps no per-host set in memory (``bounds/host_queue/<host>`` counts the rest).

The crawl summary lists the hosts that reached either bound.

``PERMITCRAWL_MAX_PAGES`` (``crawl --max-pages``; :class:`PageBudgetMiddleware`,
just after the host budget) caps the pages captured in all: never more,
whatever the concurrency (see the class).
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import weakref
from collections import Counter
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from scrapy.utils.misc import load_object
from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater

from crawler.adapters import signals as our_signals
from crawler.adapters.fence import pages_of
from crawler.adapters.requestcodec import PUT_BACK
from crawler.frontier.base import FrontierError, FrontierUnavailable
from crawler.judging.config import setup_of
from crawler.storage.queries import BUDGET_STAT, DEPTH_STAT, QUEUE_STAT
from policies.decision import Decision, Stage

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from crawler.frontier.base import Frontier

logger = logging.getLogger(__name__)

# URLs ever scheduled per host, as a multiple of its page budget: room for the URLs the gate
# refuses before fetching, no room for a scheduler filled with URLs that will never be fetched.
QUEUE_FACTOR = 3

# Request meta key: the request counts against its host's cap of URLs scheduled (set by
# LinkBoundsMiddleware, read and removed by the scheduler before the request is queued).
HOST_CAP_META = "_permitcrawl_host_cap"


def host_queue_limit(host_max_pages: int) -> int:
    """The cap of URLs ever scheduled per host for a page budget per host (0: none)."""
    return QUEUE_FACTOR * host_max_pages


T = TypeVar("T")


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _earlier_runs(database: Path, what: str, count: Callable[[sqlite3.Connection], T], none: T) -> T:
    """``count`` run on a crawl's database, opened read-only; ``none`` if there is none yet or it cannot
    be read (logged: a budget then counts from zero, as on a first run)."""
    if not database.is_file():
        return none
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            return count(connection)
        finally:
            connection.close()
    except sqlite3.Error as exc:
        logger.warning("Could not count the %s of earlier runs in %s: %s", what, database, exc)
        return none


def pages_so_far(database: Path) -> Counter[str]:
    """Pages fetched per host by earlier runs of a crawl (captures and refusals after fetching)."""

    def count(connection: sqlite3.Connection) -> Counter[str]:
        counts: Counter[str] = Counter()
        for table, where in (("captures", ""), ("refusals", " where stage = 'post-fetch'")):
            rows = connection.execute(f"select host, count(*) from {table}{where} group by host")
            counts.update({host: n for host, n in rows if host})
        return counts

    return _earlier_runs(database, "pages", count, Counter())


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
        config = setup_of(crawler).config
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
            if not self.in_flight[host]:  # a host with nothing in flight keeps no entry here
                del self.in_flight[host]
            self.done[host] += 1

    def process_response(self, request: Request, response: Response) -> Response | Request:
        self._settle(request)
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        self._settle(request)


def captures_so_far(database: Path) -> int:
    """Pages captured by earlier runs of a crawl (0 when there is no database yet)."""
    return _earlier_runs(
        database, "captures", lambda c: int(c.execute("select count(*) from captures").fetchone()[0]), 0
    )


# Request meta key: the page budget's token for a page request in flight (kept by retries and redirects).
BUDGET_TOKEN = "_permitcrawl_page_budget"

# Seconds between looks at requests waiting for the page budget (see PageBudgetMiddleware._wake).
BUDGET_SWEEP = 1.0


class PageBudgetMiddleware:
    """Lets at most ``PERMITCRAWL_MAX_PAGES`` pages be captured in all, whatever the concurrency.

    Closing the spider once the count is reached overshoots by every page
    already requested (ten seeds and a budget of one made ten pages). Here a
    page request leaves only while the captures so far plus the pages in
    flight stay under the budget; one that would pass it waits (holding its
    downloader slot, so nothing more is taken from the scheduler meanwhile)
    until a page in flight ends without a capture (refused after fetching,
    failed, dropped), then goes. Once the budget is spent every other page
    request is dropped and the crawl closes, finish reason ``max_pages``.

    The budget is ``PERMITCRAWL_MAX_PAGES`` (0: none), or the spider's
    ``max_pages`` attribute when smaller (``scrapy crawl seeds -a max_pages=N``).
    A resumed crawl counts the captures its database already holds.
    """

    def __init__(self, crawler: Crawler, budget: int, captured: int = 0) -> None:
        self.crawler = crawler
        self.budget: int | None = budget or None
        self.captured = captured
        self._tokens = itertools.count(1)
        # Token -> the request now carrying it. A request lost without any signal (none is known)
        # is collected, and its place in the budget freed, rather than held for ever.
        self.in_flight: dict[int, weakref.ref[Request]] = {}
        self.waiting: list[Deferred[None]] = []
        self.closing = False
        self._sweeper = task.LoopingCall(self._wake)
        connect = crawler.signals.connect
        connect(self.spider_opened, signal=signals.spider_opened)
        connect(self.spider_closed, signal=signals.spider_closed)
        connect(self.response_received, signal=signals.response_received)
        connect(self.request_dropped, signal=signals.request_dropped)
        connect(self.request_refused, signal=our_signals.request_refused)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("POLICY_ENABLED"):
            raise NotConfigured("POLICY_ENABLED is off")
        config = setup_of(crawler).config
        return cls(crawler, config.max_pages, captures_so_far(config.provenance_db))

    def spider_opened(self, spider: Spider) -> None:
        asked = getattr(spider, "max_pages", None)
        if asked:
            self.budget = min(self.budget or asked, asked)
        if self.budget is not None:
            self._sweeper.start(BUDGET_SWEEP, now=False)

    def spider_closed(self, spider: Spider) -> None:
        self.closing = True
        if self._sweeper.running:
            self._sweeper.stop()
        self._wake()

    # -- the budget ------------------------------------------------------------------

    def _room(self) -> bool:
        for token in [t for t, ref in self.in_flight.items() if ref() is None]:
            del self.in_flight[token]
        return self.budget is None or self.captured + len(self.in_flight) < self.budget

    def _spent(self) -> bool:
        return self.closing or (self.budget is not None and self.captured >= self.budget)

    def _wake(self) -> None:
        """Let every waiting request look again (it waits anew if there is still no room)."""
        waiting, self.waiting = self.waiting, []
        for waiter in waiting:
            waiter.callback(None)

    def _release(self, request: Request, *, captured: bool) -> None:
        token = request.meta.pop(BUDGET_TOKEN, None)
        if token is None or self.in_flight.pop(token, None) is None:
            return  # not a page of the budget, or already settled (refused, then delivered)
        cluster = pages_of(self.crawler)
        if cluster is not None:
            if not captured:
                self._give_back(cluster)
            self._wake()
            return
        if captured:
            self.captured += 1
        if self._spent() and not self.closing:
            self._close()
        self._wake()

    def _close(self) -> None:
        self.closing = True
        logger.info("%d pages captured: the page budget (PERMITCRAWL_MAX_PAGES) is spent", self.captured)
        engine = self.crawler.engine
        if engine is not None:
            deferred_from_coro(engine.close_spider_async(reason="max_pages"))

    # -- Scrapy hooks ------------------------------------------------------------------

    async def process_request(self, request: Request) -> None:
        if self.budget is None or request.meta.get("policy_exempt"):
            return
        token = request.meta.get(BUDGET_TOKEN)
        if token in self.in_flight:
            self.in_flight[token] = weakref.ref(request)  # a retry or a redirect of a page in flight
            return
        cluster = pages_of(self.crawler)
        if cluster is not None:
            await self._reserve_in(cluster, request)
            return
        while not self._room():
            if self._spent():
                if not self.closing:
                    self._close()
                request.meta[PUT_BACK] = True  # not fetched for want of budget: a later run may
                raise IgnoreRequest(f"the page budget of {self.budget} pages is spent")
            waiter: Deferred[None] = Deferred()
            self.waiting.append(waiter)
            await maybe_deferred_to_future(waiter)
        if self._spent():
            request.meta[PUT_BACK] = True
            raise IgnoreRequest(f"the page budget of {self.budget} pages is spent")
        token = next(self._tokens)
        request.meta[BUDGET_TOKEN] = token
        self.in_flight[token] = weakref.ref(request)

    async def _reserve_in(self, cluster: Frontier, request: Request) -> None:
        """Count the page against the budget every worker shares (a Redis frontier's counter).

        A page that ends uncaptured gives its place back. While the frontier
        does not answer, the request waits: it is neither sent uncounted nor dropped.
        """
        assert self.budget is not None
        while True:
            try:
                room = cluster.reserve_page(self.budget)
                break
            except FrontierUnavailable:
                await maybe_deferred_to_future(deferLater(_reactor(), BUDGET_SWEEP, lambda: None))
        if not room or self.closing:
            if room:
                self._give_back(cluster)
            if not self.closing:
                self._close()
            request.meta[PUT_BACK] = True
            raise IgnoreRequest(f"the page budget of {self.budget} pages, shared by every worker, is spent")
        token = next(self._tokens)
        request.meta[BUDGET_TOKEN] = token
        self.in_flight[token] = weakref.ref(request)

    def _give_back(self, cluster: Frontier) -> None:
        try:
            cluster.return_page()
        except FrontierError as exc:  # the cluster captures a page fewer than it might: never more
            logger.warning("A page reserved against the shared budget could not be given back: %s", exc)

    def process_exception(self, request: Request, exception: Exception) -> None:
        # Reached only when no retry took the request up again: the page ends here, uncaptured.
        self._release(request, captured=False)

    def response_received(self, response: Response, request: Request, spider: Spider) -> None:
        decision = request.meta.get("policy_decision")
        captured = isinstance(decision, Decision) and decision.stage is Stage.POST_FETCH and decision.allowed
        self._release(request, captured=captured)

    def request_refused(self, request: Request, decision: Decision, response: Response | None) -> None:
        self._release(request, captured=False)

    def request_dropped(self, request: Request, spider: Spider) -> None:
        # A redirect or retry of a page that the scheduler would not take (a duplicate).
        self._release(request, captured=False)


class LinkBoundsMiddleware(BaseSpiderMiddleware):
    """Marks the links counted against the cap of URLs per host, and counts those past ``DEPTH_LIMIT``.

    At most ``QUEUE_FACTOR`` times the page budget of distinct URLs are ever
    scheduled for one host (``bounds/host_queue/<host>`` counts the rest): a
    page of 200,000 links, or a sitemap of a million, cannot fill the
    scheduler with URLs the budget will never let out. The spider's requests
    (seeds, links, sitemap URLs) count, except ``dont_filter`` ones and
    re-checks; this middleware marks them (``HOST_CAP_META``), and the
    frontier counts and enforces the cap when the scheduler queues them
    (:meth:`crawler.frontier.base.Frontier.push`), so the count is on disk (or
    on the Redis server), never in a per-host set in memory, and survives a
    resumed run. Redirects are not counted, as they never pass here. Under
    another scheduler (the add-on in another Scrapy project, whose duplicate
    filter is in memory too), this middleware counts and enforces the cap
    itself, in a per-host set of fingerprints. Links past the depth limit
    are counted per host (``bounds/depth/<host>``) just before Scrapy's
    DepthMiddleware drops them.
    """

    def __init__(self, crawler: Crawler, depth_limit: int, queue_limit: int, *, in_frontier: bool) -> None:
        super().__init__(crawler)
        self.depth_limit = depth_limit
        self.queue_limit = queue_limit
        # Only without a frontier scheduler: the fingerprints scheduled per host.
        self.scheduled: dict[str, set[bytes]] | None = None if in_frontier else {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("POLICY_ENABLED"):
            raise NotConfigured("POLICY_ENABLED is off")
        config = setup_of(crawler).config
        scheduler = load_object(crawler.settings["SCHEDULER"])
        middleware = cls(
            crawler,
            crawler.settings.getint("DEPTH_LIMIT"),
            host_queue_limit(config.host_max_pages),
            in_frontier=bool(getattr(scheduler, "counts_host_cap", False)),
        )
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        # The depth DepthMiddleware is about to give the request (it runs after this).
        depth = (
            0 if response is None or request.meta.get("depth_reset") else response.meta.get("depth", 0) + 1
        )
        if 0 < self.depth_limit < depth:
            self.crawler.stats.inc_value(DEPTH_STAT + _host(request.url))
            return request  # DepthMiddleware drops it and keeps its own count
        if not self.queue_limit or request.dont_filter or request.meta.get("policy_recheck"):
            return request
        if self.scheduled is None:
            request.meta[HOST_CAP_META] = True  # the frontier counts it when it is queued
            return request
        return self._count_in_memory(request)

    def _count_in_memory(self, request: Request) -> Request | None:
        """The cap kept here, for a scheduler that is not the frontier's."""
        assert self.scheduled is not None
        host = _host(request.url)
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


def _reactor() -> Any:
    """The running reactor, imported only now: importing it early would install the wrong one."""
    from twisted.internet import reactor

    return reactor
