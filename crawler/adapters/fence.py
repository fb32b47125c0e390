"""FencedDownloadHandler: nothing is sent for a URL whose frontier lease this worker has lost.

The check is made in the download handler, the last step before bytes go
out: a request may wait in a downloader slot (politeness delay) long after
the scheduler handed it over, and a worker stopped (SIGSTOP, a long pause)
past its lease must not fetch, on waking, what the shard's new owner now
fetches. Requests outside the frontier (evidence documents) pass.

A shard changes hands (a worker joins, leaves or dies) while its hosts'
politeness delays run: the new owner sends nothing to a host of a shard it
has just taken before the host's download delay (``DOWNLOAD_DELAY``, or the
Crawl-delay the gate set) has passed since it took the shard, and the old
owner sends nothing once it has given the shard up or its lease ran out by
its own clock. So the gap between two requests to one host holds across
workers, handovers included.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Protocol
from weakref import WeakKeyDictionary

from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.task import deferLater

from crawler.adapters.requestcodec import CLAIM_META

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from crawler.frontier.base import Frontier
    from crawler.storage.records import Fence

logger = logging.getLogger(__name__)


class Keeper(Protocol):
    """What the handler asks the frontier's scheduler about a request's lease."""

    def holds(self, fence: Fence) -> bool:
        """Whether this worker still holds the lease ``fence`` was taken under."""

    def taken_at(self, fence: Fence) -> float:
        """When (monotonic seconds) this worker took the shard of ``fence``."""

    def abandon(self, fence: Fence) -> None:
        """``fence``'s request was not sent: it is not done (its shard's owner fetches it)."""


# Per crawl: the keeper of this worker's leases (the scheduler).
_KEEPERS: WeakKeyDictionary[Crawler, Keeper] = WeakKeyDictionary()
# Per crawl: the frontier that counts pages against --max-pages cluster-wide (Redis only).
_PAGES: WeakKeyDictionary[Crawler, Frontier] = WeakKeyDictionary()

LOST_STAT = "frontier/lease_lost/not_sent"


def share_fence(crawler: Crawler, keeper: Keeper) -> None:
    """Let ``crawler``'s download handlers ask ``keeper`` before sending a frontier request."""
    _KEEPERS[crawler] = keeper


def share_pages(crawler: Crawler, frontier: Frontier) -> None:
    """Count ``crawler``'s pages against the page budget in ``frontier``, with every other worker's."""
    _PAGES[crawler] = frontier


def pages_of(crawler: Crawler) -> Frontier | None:
    """The frontier counting pages cluster-wide for ``crawler``, if any (None: count in this process)."""
    return _PAGES.get(crawler)


class FencedDownloadHandler(BaseDownloadHandler):
    """Scrapy's HTTP/1.1 handler, refusing requests taken under a lease no longer held."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.inner = HTTP11DownloadHandler.from_crawler(crawler)

    async def download_request(self, request: Request) -> Response:
        fence = request.meta.get(CLAIM_META)
        keeper = _KEEPERS.get(self.crawler)
        if fence is not None and keeper is not None:
            wait = keeper.taken_at(fence) + self._delay(request) - time.monotonic()
            if wait > 0:  # a shard just taken over: the host's last request may be that recent
                await maybe_deferred_to_future(deferLater(_reactor(), wait, lambda: None))
            if not keeper.holds(fence):
                keeper.abandon(fence)
                if self.crawler.stats:
                    self.crawler.stats.inc_value(LOST_STAT)
                logger.warning("Not sent (shard %s lost by this worker): %s", fence.shard, request.url)
                raise IgnoreRequest(f"the lease of shard {fence.shard} (epoch {fence.epoch}) was lost")
        return await self.inner.download_request(request)

    def _delay(self, request: Request) -> float:
        """The download delay of ``request``'s slot (its host's), as the downloader applies it."""
        engine = self.crawler.engine
        if engine is None:
            return 0.0
        downloader = engine.downloader
        slot = downloader.slots.get(downloader.get_slot_key(request))
        return slot.delay if slot is not None else self.crawler.settings.getfloat("DOWNLOAD_DELAY")

    async def close(self) -> None:
        await self.inner.close()


def _reactor() -> Any:
    """The running reactor, imported only now: importing it early would install the wrong one."""
    from twisted.internet import reactor

    return reactor
