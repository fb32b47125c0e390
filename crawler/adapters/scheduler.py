"""FrontierScheduler: Scrapy's scheduler, backed by the crawl's frontier (SQLite or Redis).

A request the spider yields is queued in the frontier (its fingerprint joins
the crawl's seen set); the scheduler takes URLs from the shards this worker
holds and hands them to the engine. A URL stays *in flight* in the frontier
until it is done: the engine has finished with it (downloaded, judged, its
links queued: it left the engine's in-progress set) **and** every row it led
to is committed. Rows written for a frontier URL are held back until the
first of these (:meth:`ProvenanceDB.release`); the frontier is told after
the commit that follows. So, whenever the process dies:

* a URL whose row is committed has its links queued already;
* a URL in flight at the kill is fetched again on resume, unless its rows
  were committed (the embedded frontier checks, so no URL is recorded twice);
  WARC records written for it without a committed row are found and marked
  superseded when the crawl resumes.

The cap of URLs scheduled per host (three times ``PERMITCRAWL_HOST_MAX_PAGES``)
is counted by the frontier as links are queued: requests marked by
:class:`crawler.adapters.bounds.LinkBoundsMiddleware` count, and those of a
full host are left out and counted in ``bounds/host_queue/<host>``. The count
lives with the seen set (on disk, or on the Redis server), so a resumed crawl
goes on from it and this process keeps nothing per host.

The frontier may be unreachable for a while (Redis restarting): queued links
wait in memory, acknowledgements are retried, and the crawl goes on when it
answers again; requests are never dropped. A frontier that fails for good
(the embedded file cannot be written) stops the crawl with reason
``frontier_error``.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import TYPE_CHECKING

from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task

from crawler.adapters.bounds import HOST_CAP_META, host_queue_limit
from crawler.adapters.extensions import ArchiveExtension
from crawler.adapters.fence import share_fence, share_pages
from crawler.adapters.requestcodec import CLAIM_META, PUT_BACK, decode_request, encode_request
from crawler.frontier.base import (
    LEASE_SECONDS,
    Claim,
    Entry,
    FrontierError,
    FrontierUnavailable,
    Taken,
    shard_of,
)
from crawler.frontier.embedded import EmbeddedFrontier, worker_name
from crawler.frontier.opening import EMBEDDED, open_frontier
from crawler.judging.config import setup_of
from crawler.storage.queries import QUEUE_STAT
from crawler.storage.records import Fence
from crawler.storage.writer_process import RemoteRows
from policies.urls import request_host

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Self

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

    from crawler.frontier.base import Frontier, Lease
    from crawler.judging.config import CrawlConfig
    from crawler.storage.provenance import ProvenanceDB

logger = logging.getLogger(__name__)

TICK = 0.2  # seconds between rounds of bookkeeping (links queued, URLs done, leases)
TAKE = 64  # URLs taken from the frontier at once
PUSH_BATCH = 256  # links kept in memory before they are queued in the frontier
COUNTS_EVERY = 0.5  # seconds a cluster-wide count is trusted, asking whether the crawl is over


def crawl_identity(seeds: Iterable[str], config: CrawlConfig, settings: BaseSettings) -> dict[str, str]:
    """What decides which URLs a crawl fetches (its seeds as the spider holds them, and settings).

    Workers of one crawl must agree on it; it is checked before the crawl starts
    (:func:`crawler.adapters.runner.check_frontier`) and again when the frontier opens.
    """
    return {
        "seeds": " ".join(sorted(seeds)),
        "purpose": config.purpose.value,
        "default_policy": config.default_policy.value,
        "robots_token": config.robots_token,
        "depth_limit": str(settings.getint("DEPTH_LIMIT")),
        "max_pages": str(settings.get("PERMITCRAWL_MAX_PAGES") or ""),
    }


class FrontierScheduler:
    """See the module docstring. Settings: ``PERMITCRAWL_FRONTIER`` (``embedded`` or a Redis URL)."""

    # LinkBoundsMiddleware leaves the cap of URLs per host to this scheduler (see the module docstring).
    counts_host_cap = True

    def __init__(
        self, crawler: Crawler, frontier: Frontier, *, lease: float = LEASE_SECONDS, host_cap: int = 0
    ) -> None:
        self.crawler = crawler
        self.frontier = frontier
        self.lease = lease
        self.host_cap = host_cap
        self._acquired_at: dict[int, float] = {}  # shard -> when this worker took it (monotonic)
        self.spider: Spider | None = None
        self.db: ProvenanceDB | RemoteRows | None = None
        self._pushes: list[Entry] = []
        self._ready: deque[Taken] = deque()
        self._started: dict[str, Request] = {}  # handed to the engine, not finished with
        self._taken: dict[str, Taken] = {}  # the same, as taken from the frontier
        self._abandoned: dict[str, Taken] = {}  # not sent: the lease was lost (see abandon)
        self._awaiting: list[str] = []  # finished with, waiting for the commit of their rows
        self._awaited: dict[str, Taken] = {}  # the same, as taken from the frontier
        # How many of them the commit under way covers (released before it began); None: all of them.
        # A writer process commits while the crawl goes on, releasing more.
        self._covered: int | None = None
        self._held_shards: set[int] = set()
        self._counted_at = 0.0
        self._over = False
        self._renewed_at = 0.0
        self._committed_at = time.monotonic()  # when the frontier last heard what is done
        self._outage: str | None = None
        self._failed = False
        self._tick = task.LoopingCall(self._bookkeeping)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        spec = settings.get("PERMITCRAWL_FRONTIER") or EMBEDDED
        config = setup_of(crawler).config
        out = config.provenance_db.parent
        lease = config.frontier_lease
        return cls(
            crawler,
            open_frontier(spec, out, worker=worker_name(out), lease_seconds=lease),
            lease=lease,
            host_cap=host_queue_limit(config.host_max_pages),
        )

    # -- opening and closing ------------------------------------------------------------

    def _identity(self, spider: Spider) -> dict[str, str]:
        """What decides which URLs this crawl fetches: workers of one crawl must agree on it."""
        seeds = getattr(spider, "seeds", ())
        return crawl_identity(seeds, setup_of(self.crawler).config, self.crawler.settings)

    def open(self, spider: Spider) -> None:
        if self.crawler.settings.getint("CONCURRENT_REQUESTS_PER_IP"):
            # Hosts are partitioned among workers; two hosts on one address may be on two workers.
            raise ValueError(
                "FrontierScheduler does not support CONCURRENT_REQUESTS_PER_IP: politeness holds per host "
                "(each host belongs to one worker); use CONCURRENT_REQUESTS_PER_DOMAIN"
            )
        self.spider = spider
        engine = self.crawler.engine
        if engine is None or not hasattr(getattr(engine, "_slot", None), "inprogress"):
            # The one engine internal this relies on, checked rather than assumed.
            raise FrontierError("this Scrapy's engine does not expose the requests in progress")
        archive = next(
            (m for m in self.crawler.extensions.middlewares if isinstance(m, ArchiveExtension)), None
        )
        self.db = archive.rows if archive is not None else None
        self.frontier.open(self._identity(spider))
        if self.db is not None:
            before = self.db.before_flush

            embedded = isinstance(self.frontier, EmbeddedFrontier)

            def flush_then_push() -> None:
                before()
                try:
                    self._push()  # a page's links are queued before its rows commit
                except FrontierUnavailable as exc:
                    # Only the embedded frontier counts committed rows as done (on resume); a
                    # shared one fetches again what was in flight, so the rows may go first.
                    if embedded:
                        raise
                    self._unavailable(exc)
                self._covered = len(self._awaiting)

            self.db.before_flush = flush_then_push
            self.db.after_flush.append(self._committed)
        self._resolve_stranded()
        self._renew(force=True)
        share_fence(self.crawler, self)
        if not isinstance(self.frontier, EmbeddedFrontier):
            share_pages(self.crawler, self.frontier)  # --max-pages counts the cluster's captures
        self._tick.start(TICK, now=False)

    def _resolve_stranded(self) -> None:
        """URLs an earlier run left in flight: done if their rows were committed, else queued again."""
        if not isinstance(self.frontier, EmbeddedFrontier):
            return
        stranded = self.frontier.stranded()
        if not stranded:
            return
        done = self._recorded(stranded)
        self.frontier.done(done)
        recorded = set(done)
        again = [t.claim.key for t in stranded if t.claim.key not in recorded]
        self.frontier.requeue(again)
        logger.warning(
            "Resuming: %d URLs were in flight when the last run stopped: %d were recorded, %d are queued "
            "again",
            len(stranded),
            len(done),
            len(again),
        )

    def _recorded(self, taken: Iterable[Taken]) -> list[str]:
        """The keys of the URLs among ``taken`` whose rows are committed (written under their claim)."""
        if self.db is None:
            return []
        done = []
        for entry in taken:
            claim = entry.claim
            found = self.db.db.execute(
                "select 1 from captures where url = ? and epoch = ? and worker = ? union all "
                "select 1 from refusals where url = ? and epoch = ? and worker = ? limit 1",
                [entry.url, claim.epoch, claim.worker] * 2,
            ).fetchone()
            if found:
                done.append(claim.key)
        return done

    def _settle_in_flight(self) -> None:
        """Before the frontier puts what is in flight back in the queue: URLs whose rows committed are done.

        A writer process commits on its own (a batch full) before it says so:
        if it died or failed since, this run's own in-flight URLs may have rows,
        and fetched again they would be recorded twice. Embedded frontier only
        (a shared one fetches again what was in flight).
        """
        if not isinstance(self.frontier, EmbeddedFrontier) or not isinstance(self.db, RemoteRows):
            return
        in_flight = {**self._awaited, **self._taken}
        if in_flight:
            self.frontier.done(self._recorded(in_flight.values()))

    def close(self, reason: str) -> None:
        if self._tick.running:
            self._tick.stop()
        try:
            self._push()
            self._finish_processed()
            if isinstance(self.db, RemoteRows):
                self.db.sync()  # commits what is released, waits for it; acknowledges it (_committed)
            elif self.db is not None:
                self.db.flush()  # commits what is released; acknowledges it (_committed)
            else:
                self._acknowledge()
        except Exception as exc:  # the archive's own close reports its failure
            logger.error("The frontier could not be brought up to date at close: %s", exc)
        finally:
            try:
                self._settle_in_flight()
            except Exception as exc:
                logger.error("Could not tell which URLs in flight were recorded: %s", exc)
            try:
                self.frontier.close()  # what is still in flight goes back to the queue
            except FrontierError as exc:
                logger.error("%s", exc)

    # -- the queue ------------------------------------------------------------------------

    def has_pending_requests(self) -> bool:
        if self._ready or self._pushes or self._started or self._awaiting or self._abandoned:
            return True
        now = time.monotonic()
        if now - self._counted_at < COUNTS_EVERY:
            return not self._over
        self._counted_at = now
        try:
            self._refill()
            if self._ready:
                return True
            self._over = self.frontier.counts().finished
        except FrontierUnavailable as exc:
            self._unavailable(exc)
            return True
        except FrontierError as exc:
            self._fail(exc)
            return False
        return not self._over

    def enqueue_request(self, request: Request) -> bool:
        assert self.spider is not None
        fingerprint = self.crawler.request_fingerprinter.fingerprint(request).hex()
        capped = bool(request.meta.pop(HOST_CAP_META, False))  # not queued with it: redirects do not count
        self._pushes.append(
            Entry(
                fingerprint=fingerprint,
                url=request.url,
                host=request_host(request.url) or "",
                payload=encode_request(request, self.spider),
                priority=request.priority,
                filtered=not request.dont_filter,
                capped=capped,
            )
        )
        if len(self._pushes) >= PUSH_BATCH:
            self._push()
        self._over = False
        return True

    def next_request(self) -> Request | None:
        assert self.spider is not None
        while True:
            if not self._ready:
                try:
                    self._refill()
                except FrontierUnavailable as exc:
                    self._unavailable(exc)
                    return None
                except FrontierError as exc:
                    self._fail(exc)
                    return None
            if not self._ready:
                return None
            taken = self._ready.popleft()
            claim = taken.claim
            fence = Fence(claim.key, claim.shard, claim.epoch, claim.worker)
            if not self.holds(fence):
                continue  # the shard's new owner puts it back in its queue
            try:
                request = decode_request(taken.payload, self.spider)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                # Written by another spider (a callback this one lacks): it can never be fetched here.
                logger.error(
                    "Cannot read the queued request for %s (%s); counted done, not fetched", taken.url, exc
                )
                self.crawler.stats.inc_value("frontier/unreadable") if self.crawler.stats else None
                self._awaiting.append(claim.key)
                continue
            request.meta[CLAIM_META] = fence
            self._started[claim.key] = request
            self._taken[claim.key] = taken
            return request

    def _refill(self) -> None:
        self._push()
        if not self._held_shards:
            return
        self._ready.extend(self.frontier.take(TAKE))

    def _push(self) -> None:
        """Queue the links kept in memory (kept if the frontier does not answer: retried)."""
        if not self._pushes:
            return
        pushes = self._pushes
        pushed = self.frontier.push(pushes, self.host_cap)
        del self._pushes[: len(pushes)]
        stats = self.crawler.stats
        for host, left_out in pushed.over_cap.items():
            if stats is not None:
                stats.inc_value(QUEUE_STAT + host, left_out)

    # -- done: finished with and committed --------------------------------------------------

    def _finish_processed(self) -> None:
        """Release the rows of the requests the engine has finished with; they await the commit.

        A request dropped for a reason that is not its URL's (the page budget
        spent), or that ended with nothing on the record while the crawl was
        closing (a download cancelled by the stop), is not done: it stays in
        flight, and the frontier's close puts it back in the queue.
        """
        engine = self.crawler.engine
        slot = engine._slot if engine is not None else None
        inprogress = slot.inprogress if slot is not None else set()
        closing = slot is None or slot.closing is not None
        finished = [key for key, request in self._started.items() if request not in inprogress]
        done = []
        for key in finished:
            request = self._started.pop(key)
            taken = self._taken.pop(key, None)
            recorded = self.db is not None and self.db.holds(key)
            if request.meta.get(PUT_BACK) or (closing and not recorded):
                continue
            done.append(key)
            if taken is not None:
                self._awaited[key] = taken
        if not done:
            return
        if self.db is not None:
            self.db.release(done)
        self._awaiting.extend(done)

    def _committed(self) -> None:
        """After a commit: what awaited it is in the database; tell the frontier."""
        covered, self._covered = self._covered, None
        try:
            self._acknowledge(covered)
        except FrontierUnavailable as exc:
            self._unavailable(exc)
        except FrontierError as exc:
            self._fail(exc)

    def _acknowledge(self, covered: int | None = None) -> None:
        """Tell the frontier the first ``covered`` URLs awaiting are done (None: all of them)."""
        self._committed_at = time.monotonic()
        if not self._awaiting:
            return
        self._push()  # links first: a URL is done only once what it led to is queued
        keys = self._awaiting[:covered] if covered is not None else list(self._awaiting)
        if not keys:
            return
        self.frontier.done(keys)
        del self._awaiting[: len(keys)]
        for key in keys:
            self._awaited.pop(key, None)

    # -- leases -----------------------------------------------------------------------------

    def taken_at(self, host: str) -> float:
        """When (monotonic) this worker took the shard of ``host``: a handover waits a delay from it."""
        return self._acquired_at.get(shard_of(host, self.frontier.shards), 0.0)

    def holds(self, fence: Fence) -> bool:
        """Whether this worker still holds the lease ``fence`` was taken under (by its own clock)."""
        return self.frontier.holds(Claim(fence.key, fence.shard, fence.epoch, fence.worker))

    def abandon(self, fence: Fence) -> None:
        """A request the fence did not send is not done: never acknowledged.

        If this worker still holds the shard under the same epoch at its next
        renewal (its clock ran out before the server's), it is taken up again;
        otherwise the shard's new owner has put it back in its queue.
        """
        taken = self._taken.pop(fence.key, None)
        self._started.pop(fence.key, None)
        if taken is not None:
            self._abandoned[fence.key] = taken
        if self.db is not None:
            self.db.drop_held([fence.key])

    def _renew(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._renewed_at < self.lease / 3:
            return
        leases = self.frontier.renew()
        self._renewed_at = now
        held = {lease.shard for lease in leases}
        lost = self._held_shards - held
        if lost:
            logger.warning("Lost the lease of shards %s; their URLs go to their new owner", sorted(lost))
            self._ready = deque(t for t in self._ready if t.claim.shard not in lost)
        epochs = {lease.shard: lease.epoch for lease in leases}
        for key, taken in list(self._abandoned.items()):
            del self._abandoned[key]
            if epochs.get(taken.claim.shard) == taken.claim.epoch:
                self._ready.append(taken)  # still ours: send it after all
        new = [lease for lease in leases if lease.shard not in self._held_shards]
        for lease in new:
            self._acquired_at[lease.shard] = now
        for shard in lost:
            self._acquired_at.pop(shard, None)
        self._record_leases(new)
        self._held_shards = held

    def _record_leases(self, leases: list[Lease]) -> None:
        if self.db is None or not leases:
            return
        crawl_id = self.crawler.stats.get_value("permitcrawl/crawl_id") if self.crawler.stats else None
        for lease in leases:
            self.db.add_lease(
                {
                    "shard": lease.shard,
                    "epoch": lease.epoch,
                    "worker": lease.worker,
                    "acquired_at": lease.acquired_at,
                    "crawl_id": crawl_id,
                }
            )

    # -- bookkeeping --------------------------------------------------------------------------

    def _bookkeeping(self) -> None:
        try:
            self._push()
            self._finish_processed()
            self._renew()
            engine = self.crawler.engine
            idle = engine is not None and engine._slot is not None and not engine._slot.inprogress
            # Commit when nothing else is coming, and at least every third of a lease: a URL stays in
            # flight until its rows commit, and a shard handed to a joining worker waits for that.
            due = time.monotonic() - self._committed_at >= self.lease / 3
            if self._awaiting and (idle or due or self.db is None):
                if self.db is not None:
                    self.db.flush()
                else:
                    self._acknowledge()
            if self._outage is not None:
                logger.warning("The frontier answers again; the crawl goes on")
                self._outage = None
            if idle and engine is not None and engine._slot is not None:
                engine._slot.nextcall.schedule()  # work queued by other workers, or the end
        except FrontierUnavailable as exc:
            self._unavailable(exc)
        except FrontierError as exc:
            self._fail(exc)

    def _unavailable(self, exc: FrontierError) -> None:
        if self._outage is None:
            logger.warning("The frontier does not answer (%s); pausing until it does", exc)
        self._outage = str(exc)
        if self.crawler.stats:
            self.crawler.stats.inc_value("frontier/unavailable")

    def _fail(self, exc: BaseException) -> None:
        if self._failed:
            return
        self._failed = True
        logger.error("The frontier failed (%s); stopping the crawl", exc)
        if self.crawler.stats:
            self.crawler.stats.set_value("finish_reason", "frontier_error")
        engine = self.crawler.engine
        if engine is not None:
            deferred_from_coro(engine.close_spider_async(reason="frontier_error"))
