"""FencedDownloadHandler: nothing is sent for a URL whose frontier lease this worker has lost.

The check is made in the download handler, the last step before bytes go
out: a request may wait in a downloader slot (politeness delay) long after
the scheduler handed it over, and a worker stopped (SIGSTOP, a long pause)
past its lease must not fetch, on waking, what the shard's new owner now
fetches. Requests outside the frontier (evidence documents) pass.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.exceptions import IgnoreRequest

from crawler.adapters.requestcodec import CLAIM_META

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from crawler.storage.records import Fence

logger = logging.getLogger(__name__)

# Per crawl: whether this worker still holds the lease a fence names (set by the scheduler).
_HOLDERS: WeakKeyDictionary[Crawler, Callable[[Fence], bool]] = WeakKeyDictionary()

LOST_STAT = "frontier/lease_lost/not_sent"


def share_fence(crawler: Crawler, holds: Callable[[Fence], bool]) -> None:
    """Let ``crawler``'s download handlers ask ``holds`` before sending a frontier request."""
    _HOLDERS[crawler] = holds


class FencedDownloadHandler(BaseDownloadHandler):
    """Scrapy's HTTP/1.1 handler, refusing requests taken under a lease no longer held."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.inner = HTTP11DownloadHandler.from_crawler(crawler)

    async def download_request(self, request: Request) -> Response:
        fence = request.meta.get(CLAIM_META)
        holds = _HOLDERS.get(self.crawler)
        if fence is not None and holds is not None and not holds(fence):
            self.crawler.stats.inc_value(LOST_STAT) if self.crawler.stats else None
            logger.warning("Not sent (shard %s lost by this worker): %s", fence.shard, request.url)
            raise IgnoreRequest(f"the lease of shard {fence.shard} (epoch {fence.epoch}) was lost")
        return await self.inner.download_request(request)

    async def close(self) -> None:
        await self.inner.close()
