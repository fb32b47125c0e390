"""Evidence cache: each key fetched once, shared by concurrent requests, expired on time.

Waiting is done on Twisted Deferreds, so it works under any reactor Scrapy runs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class Expiring(Protocol):
    """What the cache holds: anything that knows until when it may be used."""

    def is_fresh(self, now: datetime) -> bool: ...


E = TypeVar("E", bound=Expiring)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class EvidenceCache(Generic[E]):
    """Holds each key's evidence (a :class:`HostEvidence` per origin, ...) until it expires.

    ``fetch(key, previous)`` gathers fresh evidence; it is called once per key
    at a time, and concurrent callers wait for its result. ``previous`` is the
    expired entry, if any, so the fetcher may fall back on it where the RFC
    allows (an unreachable robots.txt may be replaced by a cached copy).
    """

    def __init__(
        self,
        fetch: Callable[[str, E | None], Awaitable[E]],
        *,
        clock: Clock = utcnow,
        awaitable: Callable[[Deferred[E]], Awaitable[E]] = maybe_deferred_to_future,
        max_entries: int = 0,
    ) -> None:
        self._fetch = fetch
        # 0: no bound. Otherwise the least recently used go first (fetched again if asked for).
        self._max_entries = max_entries
        self._clock = clock
        # Under the asyncio reactor a Deferred must be wrapped to be awaited; tests await it bare.
        self._awaitable = awaitable
        self._entries: dict[str, E] = {}
        self._waiting: dict[str, list[Deferred[E]]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, origin: str) -> E:
        """Return fresh evidence for ``origin``, fetching it if needed."""
        entry = self._entries.get(origin)
        if entry is not None and entry.is_fresh(self._clock()):
            if self._max_entries:
                self._entries[origin] = self._entries.pop(origin)  # the most recently used go last
            return entry
        waiting = self._waiting.get(origin)
        if waiting is not None:
            waiter: Deferred[E] = Deferred()
            waiting.append(waiter)
            return await self._awaitable(waiter)
        self._waiting[origin] = []
        try:
            entry = await self._fetch(origin, entry)
            self._entries.pop(origin, None)
            self._entries[origin] = entry
            while self._max_entries and len(self._entries) > self._max_entries:
                del self._entries[next(iter(self._entries))]
        except BaseException as exc:
            for waiter in self._waiting.pop(origin):
                waiter.errback(exc)
            raise
        for waiter in self._waiting.pop(origin):
            waiter.callback(entry)
        return entry
