"""FencedDownloadHandler: nothing is sent for a URL whose frontier lease this worker has lost.

The check is made in the download handler, the last step before bytes go
out: a request may wait in a downloader slot (politeness delay) long after
the scheduler handed it over, and a worker stopped (SIGSTOP, a long pause)
past its lease must not fetch, on waking, what the shard's new owner now
fetches. Requests outside the frontier (evidence documents) pass that check.

It is also where a host that answered 429 or 5xx is backed off
(:mod:`crawler.adapters.backoff`): its next request waits here until the
Retry-After it gave, or an exponential back-off, has passed.

It is also where a crawl that signs its requests (Web Bot Auth) signs each
one, every request alike: after every middleware and every wait, just
before it is sent.

A shard changes hands (a worker joins, leaves or dies) while its hosts'
politeness delays run: the new owner sends nothing to a host of a shard it
has just taken, its evidence documents included, before the host's download
delay (``DOWNLOAD_DELAY``, or the Crawl-delay the gate set) has passed since
it took the shard, and the old owner sends nothing once it has given the
shard up or its lease ran out by its own clock. So the gap between two
requests to one host holds across workers, handovers included.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Protocol
from weakref import WeakKeyDictionary

from scrapy import signals
from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.misc import load_object
from twisted.internet.task import deferLater

from crawler.adapters.backoff import HostBackoff
from crawler.adapters.requestcodec import CLAIM_META
from crawler.errors import SettingsError
from crawler.identity.signer import SigningError
from crawler.judging.config import setup_of
from policies.urls import request_host

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from crawler.frontier.base import Frontier
    from crawler.storage.records import Fence

logger = logging.getLogger(__name__)


class NotSigned(IgnoreRequest):
    """A request of a crawl that signs, which could not be signed and so was not sent."""


class Keeper(Protocol):
    """What the handler asks the frontier's scheduler about a request's lease."""

    def holds(self, fence: Fence) -> bool:
        """Whether this worker still holds the lease ``fence`` was taken under."""

    def taken_at(self, host: str) -> float:
        """When (monotonic seconds) this worker took the shard of ``host``."""

    def abandon(self, fence: Fence) -> None:
        """``fence``'s request was not sent: it is not done (its shard's owner fetches it)."""


# Per crawl: the keeper of this worker's leases (the scheduler).
_KEEPERS: WeakKeyDictionary[Crawler, Keeper] = WeakKeyDictionary()
# Per crawl: the frontier that counts pages against --max-pages cluster-wide (Redis only).
_PAGES: WeakKeyDictionary[Crawler, Frontier] = WeakKeyDictionary()

# Per crawl: what must run on a request right before it is signed and sent, after every wait: an
# RSL licence token renewed if it expired while the request waited for its slot; the payment
# middleware's check that a host it stopped paying meanwhile gets no paid request. A hook that
# refuses raises IgnoreRequest, having recorded why.
_BEFORE_SEND: WeakKeyDictionary[Crawler, list[Callable[[Request], Awaitable[None]]]] = WeakKeyDictionary()

LOST_STAT = "frontier/lease_lost/not_sent"
NOT_SIGNED_STAT = "signing/not_signed/not_sent"
BACKOFF_STAT = "politeness/backed_off"

# Hosts whose next send time is kept before those already past are forgotten.
SPACING_KEPT = 10_000


def share_fence(crawler: Crawler, keeper: Keeper) -> None:
    """Let ``crawler``'s download handlers ask ``keeper`` before sending a frontier request."""
    _KEEPERS[crawler] = keeper


def before_send(crawler: Crawler, hook: Callable[[Request], Awaitable[None]]) -> None:
    """Have ``crawler``'s download handlers await ``hook(request)`` right before sending each request."""
    _BEFORE_SEND.setdefault(crawler, []).append(hook)


def share_pages(crawler: Crawler, frontier: Frontier) -> None:
    """Count ``crawler``'s pages against the page budget in ``frontier``, with every other worker's."""
    _PAGES[crawler] = frontier


def pages_of(crawler: Crawler) -> Frontier | None:
    """The frontier counting pages cluster-wide for ``crawler``, if any (None: count in this process)."""
    return _PAGES.get(crawler)


def check_signing_handler(crawler: Crawler) -> None:
    """Raise SettingsError if ``crawler`` signs its requests but would send some through another handler.

    Requests are signed here, in :class:`FencedDownloadHandler`; a project
    whose DOWNLOAD_HANDLERS put another handler on http or https would send
    them unsigned. Fail closed: such a crawl does not start.
    """
    if not crawler.settings.get("PERMITCRAWL_SIGN_KEY"):  # the setting: the gate may be off, not signing
        return
    handlers = crawler.settings.getwithbase("DOWNLOAD_HANDLERS")
    wrong = [
        scheme
        for scheme in ("http", "https")
        if not handlers.get(scheme) or load_object(handlers[scheme]) is not FencedDownloadHandler
    ]
    if wrong:
        raise SettingsError(
            f"PERMITCRAWL_SIGN_KEY is set, but DOWNLOAD_HANDLERS sends {' and '.join(wrong)} requests "
            "through a handler that does not sign them; expected "
            "crawler.adapters.fence.FencedDownloadHandler for http and https (permitcrawl crawl installs it)"
        )


class FencedDownloadHandler(BaseDownloadHandler):
    """Scrapy's HTTP/1.1 handler, refusing requests taken under a lease no longer held."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.inner = HTTP11DownloadHandler.from_crawler(crawler)
        self._next_send: dict[str, float] = {}  # slot (host) -> earliest next send (monotonic)
        setup = setup_of(crawler)
        # The crawl's signer, its key loaded once for the whole crawl (None: requests are not signed).
        self._signer = setup.signer
        # Hosts that answered 429 or 5xx wait here before their next request (crawler.adapters.backoff).
        self.backoff = HostBackoff(setup.config.backoff_base, setup.config.backoff_max)
        crawler.signals.connect(self._downloaded, signal=signals.response_downloaded)

    async def download_request(self, request: Request) -> Response:
        fence = request.meta.get(CLAIM_META)
        keeper = _KEEPERS.get(self.crawler)
        if keeper is not None:
            await self._space(request, keeper.taken_at)
        await self._back_off(request)
        for hook in _BEFORE_SEND.get(self.crawler, ()):
            await hook(request)
        # The lease is checked after every wait (spacing, a back-off of up to minutes, a licence
        # token fetched): a worker that lost the shard meanwhile must not send.
        if keeper is not None and fence is not None and not keeper.holds(fence):
            keeper.abandon(fence)
            if self.crawler.stats:
                self.crawler.stats.inc_value(LOST_STAT)
            logger.warning("Not sent (shard %s lost by this worker): %s", fence.shard, request.url)
            raise IgnoreRequest(f"the lease of shard {fence.shard} (epoch {fence.epoch}) was lost")
        self._sign(request)
        return await self.inner.download_request(request)

    def _sign(self, request: Request) -> None:
        """Sign ``request`` if the crawl signs (Web Bot Auth), now that nothing else will change it.

        Here, not in a middleware: a request may wait in its slot, and in
        :meth:`_space`, long after the middlewares ran, and its signature
        expires a minute after it is made. Retries and redirects come back
        through here and are signed again. Fail closed: a request that cannot be
        signed is not sent (NotSigned, which the policy middleware records as
        the URL's refusal; an evidence document's fetch records it as its error).
        """
        signer = self._signer
        if signer is None:
            return
        try:
            signer.sign(request)
        except SigningError as exc:
            if self.crawler.stats:
                self.crawler.stats.inc_value(NOT_SIGNED_STAT)
            logger.error("Not sent (it could not be signed): %s", exc)
            raise NotSigned(f"not sent: {exc}") from exc

    async def _space(self, request: Request, taken_at: Callable[[str], float]) -> None:
        """Wait until the host's delay has passed since this worker took its shard and since its last send.

        Every request to the host waits, evidence documents included: after a
        takeover the new owner's first request there is usually its robots.txt.
        The downloader spaces requests as it hands them over; a request held
        here would let the next one catch up, so the spacing is kept here too:
        each request reserves its send time before it waits.
        """
        delay = self._delay(request)
        if delay <= 0:
            return
        now = time.monotonic()
        slot = self._slot_key(request)
        send_at = max(now, taken_at(request_host(request.url) or "") + delay, self._next_send.get(slot, now))
        if len(self._next_send) >= SPACING_KEPT:  # bounded: hosts whose next send is past need no entry
            self._next_send = {key: at for key, at in self._next_send.items() if at > now}
        self._next_send[slot] = send_at + delay
        if send_at > now:  # a shard just taken over, or a request ahead of this one held here
            await maybe_deferred_to_future(deferLater(_reactor(), send_at - now, lambda: None))

    def _downloaded(self, response: Response, request: Request, spider: Any = None) -> None:
        """Note every answer of every request (pages and evidence alike): an error backs its host off."""
        retry_after = response.headers.get("Retry-After")
        wait = self.backoff.observe(
            _backoff_key(request), response.status, retry_after.decode("latin-1") if retry_after else None
        )
        if wait is not None:
            if self.crawler.stats:
                self.crawler.stats.inc_value(BACKOFF_STAT)
            logger.info(
                "%s answered %s%s: its host is sent nothing for %.1f s",
                response.url,
                response.status,
                f" (Retry-After: {retry_after.decode('latin-1')})" if retry_after else "",
                wait,
            )

    async def _back_off(self, request: Request) -> None:
        """Wait while ``request``'s host is backed off (an error answer extends the wait as it comes)."""
        key = _backoff_key(request)
        while (left := self.backoff.remaining(key)) > 0:
            await maybe_deferred_to_future(deferLater(_reactor(), left, lambda: None))

    def _slot_key(self, request: Request) -> str:
        engine = self.crawler.engine
        if engine is None:
            return request_host(request.url) or ""
        return str(engine.downloader.get_slot_key(request))

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


def _backoff_key(request: Request) -> str:
    """The download slot a request went through (its host's), as the downloader named it in its meta."""
    return str(request.meta.get("download_slot") or request_host(request.url) or "")


def _reactor() -> Any:
    """The running reactor, imported only now: importing it early would install the wrong one."""
    from twisted.internet import reactor

    return reactor
