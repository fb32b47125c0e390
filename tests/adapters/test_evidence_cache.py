"""EvidenceCache: one fetch per origin however many requests wait, expiry on time, errors to every waiter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from twisted.internet.defer import Deferred

from crawler.adapters.evidence import EvidenceCache
from policies.document import Document
from policies.evidence import HostEvidence
from policies.robots import robots_evidence

T0 = datetime(2026, 11, 22, tzinfo=UTC)


def evidence(origin: str, at: datetime, ttl: float = 60) -> HostEvidence:
    doc = Document(kind="robots.txt", url=f"{origin}/robots.txt", status=404, fetched_at=at)
    return HostEvidence(
        origin=origin,
        robots=robots_evidence(doc, "permitcrawl"),
        fetched_at=at,
        expires_at=at + timedelta(seconds=ttl),
    )


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def run(coro) -> Deferred:
    return Deferred.fromCoroutine(coro)


def test_concurrent_requests_share_one_fetch() -> None:
    clock = Clock()
    calls: list[tuple[str, HostEvidence | None]] = []
    pending: Deferred = Deferred()

    async def fetch(origin: str, previous: HostEvidence | None) -> HostEvidence:
        calls.append((origin, previous))
        await pending
        return evidence(origin, clock())

    cache = EvidenceCache(fetch, clock=clock, awaitable=lambda d: d)
    results: list[HostEvidence] = []
    for _ in range(3):
        run(cache.get("http://a.test")).addCallback(results.append)
    assert len(calls) == 1 and results == []
    pending.callback(None)
    assert len(results) == 3 and results[0] is results[1] is results[2]
    run(cache.get("http://a.test")).addCallback(results.append)
    assert len(calls) == 1 and results[3] is results[0]  # kept: a later request fetches nothing


def test_expired_evidence_is_fetched_again_with_the_previous_copy() -> None:
    clock = Clock()
    calls: list[HostEvidence | None] = []

    async def fetch(origin: str, previous: HostEvidence | None) -> HostEvidence:
        calls.append(previous)
        return evidence(origin, clock())

    cache = EvidenceCache(fetch, clock=clock, awaitable=lambda d: d)
    first: list[HostEvidence] = []
    run(cache.get("http://a.test")).addCallback(first.append)
    run(cache.get("http://a.test"))
    assert calls == [None]  # still fresh: no second fetch
    clock.now = T0 + timedelta(seconds=61)
    run(cache.get("http://a.test"))
    assert calls == [None, first[0]]
    assert len(cache) == 1  # the fresh copy replaced the expired one


def test_a_failing_fetch_fails_every_waiter() -> None:
    pending: Deferred = Deferred()

    async def fetch(origin: str, previous: HostEvidence | None) -> HostEvidence:
        await pending
        raise RuntimeError("boom")

    cache = EvidenceCache(fetch, awaitable=lambda d: d)
    errors: list[BaseException] = []
    for _ in range(2):
        run(cache.get("http://a.test")).addErrback(lambda f: errors.append(f.value))
    pending.callback(None)
    assert [str(e) for e in errors] == ["boom", "boom"]
    assert len(cache) == 0  # nothing kept: the next request fetches again


@pytest.mark.parametrize("ttl", [0, -1])
def test_zero_ttl_is_never_fresh(ttl: float) -> None:
    assert not evidence("http://a.test", T0, ttl).is_fresh(T0)


def test_a_bounded_cache_forgets_the_least_recently_used() -> None:
    clock = Clock()
    calls: list[str] = []

    async def fetch(origin: str, previous: HostEvidence | None) -> HostEvidence:
        calls.append(origin)
        return evidence(origin, clock())

    cache = EvidenceCache(fetch, clock=clock, awaitable=lambda d: d, max_entries=2)
    for origin in ("http://a.test", "http://b.test", "http://a.test", "http://c.test"):
        run(cache.get(origin))
    # a was used after b: b went when c came. Asked for again, b is fetched again, and a goes.
    assert len(cache) == 2 and calls == ["http://a.test", "http://b.test", "http://c.test"]
    run(cache.get("http://c.test"))
    assert len(calls) == 3  # c is kept
    run(cache.get("http://b.test"))
    assert calls == ["http://a.test", "http://b.test", "http://c.test", "http://b.test"]
    run(cache.get("http://a.test"))
    assert calls[-1] == "http://a.test" and len(cache) == 2
