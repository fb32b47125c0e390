"""What a frontier is: the values it holds and the contract both backends keep.

A URL enters with :meth:`Frontier.push` (once: its fingerprint joins the
crawl's seen set, unless it was pushed ``filtered=False``, as Scrapy's
``dont_filter`` requests are), waits in the queue of its host's shard, is
taken by the worker that holds that shard's lease (:meth:`Frontier.take`:
it is then *in flight*), and leaves only when :meth:`Frontier.done` says its
capture or refusal is committed. A push may cap the URLs ever scheduled per
host (``host_cap``): the count lives in the frontier beside the seen set, on
disk or on the server, so it holds for a crawl's whole life, across resumed
runs and workers, and costs the crawling process no memory per host. A worker that dies or stops renewing its
leases loses its shards once the lease runs out; the next owner puts their
in-flight URLs back in the queue under a higher fencing number (epoch).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from crawler.errors import PermitcrawlError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# Virtual shards: a host belongs to shard hash(host) mod SHARDS. Enough for tens of workers to
# share the load; fixed for a crawl's life, since it decides where each queued URL lives.
SHARDS = 64

# How long a lease lasts without renewal, and how often a worker renews (a third of it).
LEASE_SECONDS = 30.0


class FrontierError(PermitcrawlError):
    """The frontier cannot be used (unreachable, foreign, another crawl's, damaged); the text says why."""


class FrontierUnavailable(FrontierError):
    """The frontier's server cannot be reached right now (refused, timed out, still loading).

    Nothing was lost: the caller pauses and calls again. :meth:`Frontier.push`
    and :meth:`Frontier.done` are idempotent, so calling one again after this
    error (its outcome unknown) neither loses nor duplicates an entry.
    """


def shard_of(host: str, shards: int = SHARDS) -> int:
    """The shard of ``host``: stable across processes and machines (not Python's salted ``hash``)."""
    digest = hashlib.blake2b(host.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


@dataclass(frozen=True)
class Entry:
    """A URL to enqueue: its seen-set fingerprint, host, priority and serialised request (JSON text)."""

    fingerprint: str
    url: str
    host: str
    payload: str
    priority: int = 0
    filtered: bool = True  # False: enqueued even if its fingerprint was seen (Scrapy's dont_filter)
    capped: bool = False  # counts against its host's cap of URLs scheduled (push's host_cap), if filtered


@dataclass
class Pushed:
    """What a push did: entries queued, and per host the capped entries left out (the host was full)."""

    queued: int = 0
    over_cap: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Claim:
    """Under which lease a URL was taken: written into every row about it, so a merge can fence."""

    key: str
    shard: int
    epoch: int
    worker: str


@dataclass(frozen=True)
class Taken:
    """A URL taken from the queue, in flight until :meth:`Frontier.done` names ``claim.key``."""

    claim: Claim
    url: str
    payload: str


@dataclass(frozen=True)
class Lease:
    """A shard held by a worker, under fencing number ``epoch``, since ``acquired_at`` (ISO 8601)."""

    shard: int
    epoch: int
    worker: str
    acquired_at: str


@dataclass
class Counts:
    """URLs queued, in flight and done (cluster-wide, or for one shard or worker)."""

    queued: int = 0
    in_flight: int = 0
    done: int = 0

    @property
    def finished(self) -> bool:
        return self.queued == 0 and self.in_flight == 0


@dataclass
class Status:
    """What ``permitcrawl frontier status`` shows: totals, per shard, per worker, leases."""

    backend: str
    total: Counts
    shards: dict[int, Counts] = field(default_factory=dict)
    workers: dict[str, Counts] = field(default_factory=dict)
    leases: list[Lease] = field(default_factory=list)
    hosts: int = 0
    pages: int = 0  # pages captured, counted against the crawl's --max-pages
    details: Mapping[str, str] = field(default_factory=dict)


class Frontier(Protocol):
    """The contract of both backends. Every method may raise FrontierError.

    ``worker`` names this worker (host name, process id, crawl directory);
    ``identity`` is the crawl's identity (its seeds, purpose and settings that
    decide what is fetched), checked at :meth:`open` so that a worker started
    with another command never joins a crawl that is not its own.
    """

    worker: str
    shards: int  # hosts are spread over this many shards (shard_of)

    def open(self, identity: Mapping[str, str]) -> None:
        """Join the crawl (creating it if new): check identity, take leases on free shards."""

    def push(self, entries: Sequence[Entry], host_cap: int = 0) -> Pushed:
        """Enqueue ``entries`` in their hosts' shards; return how many were queued.

        A filtered entry whose fingerprint was seen is left out, uncounted. With
        ``host_cap`` (0: none), a new ``capped`` entry is queued only while fewer
        than ``host_cap`` capped entries of its host were ever queued (the count
        is kept with the seen set); otherwise it is left out, counted in
        ``over_cap``, and its fingerprint stays unseen (a later push of it is
        left out and counted again, as long as the host is full).
        """

    def take(self, limit: int) -> list[Taken]:
        """Take up to ``limit`` URLs from the shards this worker holds; they are in flight from now."""

    def done(self, keys: Sequence[str]) -> None:
        """The captures or refusals of ``keys`` are committed: they leave the frontier for good."""

    def renew(self) -> list[Lease]:
        """Renew this worker's leases, take free or expired shards; return the leases held now.

        Shards whose lease was lost (it ran out before this renewal) are no
        longer held: URLs taken under them must not be fetched (:meth:`holds`).
        """

    def holds(self, claim: Claim) -> bool:
        """Whether this worker still holds the lease ``claim`` was taken under (by its own clock)."""

    def counts(self) -> Counts:
        """Cluster-wide counts: the crawl is over when nothing is queued and nothing in flight."""

    def reserve_page(self, limit: int) -> bool:
        """Count one page against the cluster-wide ``limit`` if there is room; False if spent."""

    def return_page(self) -> None:
        """Give back a page reserved for a fetch that captured nothing."""

    def status(self) -> Status:
        """Everything ``frontier status`` shows."""

    def close(self) -> None:
        """Leave the crawl: give up this worker's leases (its in-flight URLs go back to the queue)."""
