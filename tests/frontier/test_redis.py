"""The Redis frontier against a real redis-server of the test's own (tests/redisserver.py)."""

from __future__ import annotations

import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

import pytest
import redis

from crawler.frontier.base import Claim, Entry, FrontierError, FrontierUnavailable, shard_of
from crawler.frontier.redis import RedisFrontier, parse_url
from tests.redisserver import start_redis

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.redisserver import RedisServer

IDENTITY = {"seeds": "http://a.test/", "purpose": "train-ai"}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def entry(url: str, *, filtered: bool = True, priority: int = 0, capped: bool = False) -> Entry:
    host = url.split("/")[2]
    payload = json.dumps({"url": url, "meta": {}})
    return Entry(url, url, host, payload, priority=priority, filtered=filtered, capped=capped)


def urls(n: int, hosts: int = 40) -> list[str]:
    return [f"http://h{i % hosts}.test/p{i}" for i in range(n)]


@pytest.fixture
def open_frontier(redis_server: RedisServer) -> Iterator[Any]:
    """Makes frontiers on the test's server, opened with IDENTITY; closes those still open at the end."""
    made: list[RedisFrontier] = []

    def make(worker: str = "w1", **options: Any) -> RedisFrontier:
        frontier = RedisFrontier(redis_server.url, worker=worker, timeout=1.0, **options)
        frontier.open(IDENTITY)
        made.append(frontier)
        return frontier

    yield make
    for frontier in made:
        with contextlib.suppress(FrontierError):  # already closed, or its server stopped by the test
            frontier.close()


def take_all(frontier: RedisFrontier, limit: int = 1000) -> list[Any]:
    taken: list[Any] = []
    while batch := frontier.take(limit):
        taken.extend(batch)
    return taken


def test_filtered_entries_are_queued_once(open_frontier: Any) -> None:
    f = open_frontier()
    assert f.push([entry("http://a.test/1"), entry("http://a.test/2"), entry("http://a.test/1")]).queued == 2
    assert f.push([entry("http://a.test/1")]).queued == 0
    assert f.counts().queued == 2
    assert sorted(t.url for t in take_all(f)) == ["http://a.test/1", "http://a.test/2"]


def test_unfiltered_entries_are_queued_every_time(open_frontier: Any) -> None:
    f = open_frontier()
    assert f.push([entry("http://a.test/r", filtered=False)]).queued == 1
    assert f.push([entry("http://a.test/r", filtered=False)]).queued == 1
    taken = take_all(f)
    assert [t.url for t in taken] == ["http://a.test/r"] * 2
    assert len({t.claim.key for t in taken}) == 2
    # An unfiltered entry does not enter the seen set: a filtered push of it still queues it.
    assert f.push([entry("http://a.test/r")]).queued == 1


def test_the_cap_of_urls_per_host_is_counted_on_the_server_for_every_worker(open_frontier: Any) -> None:
    w1, w2 = open_frontier("w1"), open_frontier("w2")
    pushed = w1.push([entry(f"http://a.test/{i}", capped=True) for i in range(5)], host_cap=3)
    assert (pushed.queued, pushed.over_cap) == (3, {"a.test": 2})
    pushed = w2.push(
        [
            entry("http://a.test/0", capped=True),  # a duplicate: not over the cap
            entry("http://a.test/u"),  # not capped
            entry("http://a.test/r", filtered=False, capped=True),  # dont_filter: never capped
            entry("http://b.test/0", capped=True),
            entry("http://a.test/3", capped=True),  # left out before, so not seen: left out again
        ],
        host_cap=3,
    )
    assert (pushed.queued, pushed.over_cap) == (3, {"a.test": 1})
    assert (w1.scheduled("a.test"), w2.scheduled("b.test")) == (3, 1)
    assert w2.push([entry("http://a.test/4", capped=True)]).queued == 1  # no cap given: none applies


def test_a_capped_push_retried_after_a_lost_answer_counts_once(open_frontier: Any) -> None:
    f = open_frontier()
    batch = [entry(f"http://a.test/{i}", capped=True) for i in range(4)]
    fail_after_running(f, "push")
    with pytest.raises(FrontierUnavailable):
        f.push(batch, host_cap=2)
    pushed = f.push(batch, host_cap=2)
    assert (pushed.queued, pushed.over_cap) == (2, {"a.test": 2})  # the lost answer, not a second count
    assert f.scheduled("a.test") == 2


def test_take_returns_the_payload_by_priority_then_arrival(open_frontier: Any) -> None:
    f = open_frontier()
    f.push([entry("http://a.test/low", priority=-1), entry("http://a.test/first")])
    f.push([entry("http://a.test/high", priority=5), entry("http://a.test/second")])
    taken = take_all(f, limit=1)
    assert [t.url for t in taken] == [
        "http://a.test/high",
        "http://a.test/first",
        "http://a.test/second",
        "http://a.test/low",
    ]
    assert json.loads(taken[0].payload) == {"url": "http://a.test/high", "meta": {}}
    assert all(t.claim.shard == shard_of("a.test") and t.claim.worker == "w1" for t in taken)


def test_non_ascii_urls_and_payloads_come_back_whole(open_frontier: Any) -> None:
    f = open_frontier()
    url = "http://a.test/caf\u00e9/\u65e5\u672c"
    f.push([Entry("fp", url, "a.test", '{"x": "\u00e9:7:"}')])
    (taken,) = f.take(10)
    assert (taken.url, taken.payload) == (url, '{"x": "\u00e9:7:"}')


def test_done_removes_once_and_ignores_keys_not_in_flight(open_frontier: Any) -> None:
    f = open_frontier()
    f.push([entry(u) for u in urls(10)])
    taken = f.take(4)
    assert len(taken) == 4
    assert (f.counts().queued, f.counts().in_flight, f.counts().done) == (6, 4, 0)
    keys = [t.claim.key for t in taken]
    f.done(keys[:2])
    f.done(keys[:2])  # again, as after an answer lost in an outage
    f.done(["3-0000000000099999", "nonsense"])
    assert (f.counts().queued, f.counts().in_flight, f.counts().done) == (6, 2, 2)
    f.done(keys[2:])
    rest = take_all(f)
    f.done([t.claim.key for t in rest])
    counts = f.counts()
    assert (counts.queued, counts.in_flight, counts.done, counts.finished) == (0, 0, 10, True)


def check_never_shared(*workers: RedisFrontier) -> None:
    """No shard is held, by its holder's own account, by two workers at once."""
    for w in workers:
        for lease in w.status().leases:
            claim = Claim("k", lease.shard, lease.epoch, lease.worker)
            if lease.worker == w.worker:
                assert w.holds(claim)
        for shard in range(w.shards):
            held = [x.worker for x in workers if any(x.holds(Claim("k", shard, e, x.worker)) for e in EPOCHS)]
            assert len(held) <= 1, (shard, held)


EPOCHS = range(1, 50)


def held_by(w: RedisFrontier) -> set[int]:
    return {lease.shard for lease in w.renew()}


def test_two_workers_split_the_shards_fairly_and_never_hold_one_together(open_frontier: Any) -> None:
    w1 = open_frontier("w1")
    check_never_shared(w1)
    assert len(w1.status().leases) == 64  # alone, a worker's fair share is every shard
    w2 = open_frontier("w2")
    check_never_shared(w1, w2)
    steps = [w1, w2, w1, w2, w2, w1]
    for w in steps:
        w.renew()
        check_never_shared(w1, w2)
    one, two = held_by(w1), held_by(w2)
    check_never_shared(w1, w2)
    assert (len(one), len(two)) == (32, 32)
    assert one.isdisjoint(two)
    # Each takes only from its own shards.
    w1.push([entry(u) for u in urls(400, hosts=200)])
    taken1, taken2 = take_all(w1), take_all(w2)
    assert {t.claim.shard for t in taken1} <= one
    assert {t.claim.shard for t in taken2} <= two
    assert len(taken1) + len(taken2) == 400
    assert {t.claim.worker for t in taken1} == {"w1"}


def test_a_third_worker_gets_its_share(open_frontier: Any) -> None:
    workers = [open_frontier("w1"), open_frontier("w2"), open_frontier("w3")]
    for _ in range(3):
        for w in workers:
            w.renew()
            check_never_shared(*workers)
    sizes = sorted(len(held_by(w)) for w in workers)
    assert sum(sizes) == 64
    assert sizes[-1] == 22


def test_a_shard_given_to_a_joining_worker_drains_first_and_no_entry_is_taken_twice(
    open_frontier: Any,
) -> None:
    w1 = open_frontier("w1")
    w1.push([entry(u) for u in urls(200, hosts=100)])
    first = w1.take(40)  # in flight on w1
    busy = {t.claim.shard for t in first}
    w2 = open_frontier("w2")
    for w in (w1, w2, w1, w2):
        w.renew()
        check_never_shared(w1, w2)
    one, two = held_by(w1), held_by(w2)
    assert len(two) > 0 and busy <= one  # w1 keeps every shard with something in flight
    draining = one - set(range(32))
    assert draining and draining <= busy
    again = take_all(w1)
    assert not {t.claim.shard for t in again} & draining  # nothing new from a draining shard
    w1.done([t.claim.key for t in first])
    w1.renew()
    w2.renew()
    assert not held_by(w1) & draining and draining <= held_by(w2)
    later = take_all(w2)
    keys = [t.claim.key for t in first + again + later]
    assert len(keys) == len(set(keys)) == 200  # every entry taken once, none twice


def test_a_lapsed_lease_goes_to_the_other_worker_with_its_entries(
    open_frontier: Any, redis_server: RedisServer
) -> None:
    clock = Clock()
    w1 = open_frontier("w1", lease_seconds=1.0, clock=clock)
    w1.push([entry(u) for u in urls(20)])
    taken = w1.take(5)
    assert len(taken) == 5 and all(w1.holds(t.claim) for t in taken)
    old_epochs = {t.claim.shard: t.claim.epoch for t in taken}

    clock.now += 1.0  # w1 stops renewing (as if SIGSTOPped); its own clock says the lease ran out
    redis_server.pause()  # holds() and take() decide without the server
    try:
        assert not any(w1.holds(t.claim) for t in taken)
        assert w1.take(10) == []
    finally:
        redis_server.resume()
    time.sleep(1.1)  # the server's lease runs out too

    w2 = open_frontier("w2", lease_seconds=1.0)
    assert len(w2.status().leases) == 64
    counts = w2.counts()
    assert (counts.queued, counts.in_flight) == (20, 0)  # w1's in-flight entries are queued again
    retaken = {t.claim.key: t for t in take_all(w2)}
    assert len(retaken) == 20
    for t in taken:
        again = retaken[t.claim.key]
        assert again.url == t.url
        assert again.claim.epoch > old_epochs[t.claim.shard]
        assert again.claim.worker == "w2"

    # The stale worker wakes: its done() does not remove what w2 now has in flight.
    w1.done([t.claim.key for t in taken])
    assert w2.counts().in_flight == 20
    clock.now += 0.1
    assert w1.renew() == []  # every shard is w2's: the fair share is 32, but none is free
    assert not any(w1.holds(t.claim) for t in taken)
    history = w2.lease_history(last=200)
    assert {(h.worker, h.epoch) for h in history if h.shard == 0} == {("w1", 1), ("w2", 2)}


def test_holds_turns_false_by_the_local_clock_alone(open_frontier: Any, redis_server: RedisServer) -> None:
    clock = Clock()
    w1 = open_frontier("w1", lease_seconds=30.0, clock=clock)
    w1.push([entry("http://a.test/1")])
    (taken,) = w1.take(1)
    redis_server.stop()  # any call to the server would now fail
    clock.now += 29.9
    assert w1.holds(taken.claim)
    clock.now += 0.1
    assert not w1.holds(taken.claim)
    assert w1.take(1) == []


def test_a_worker_of_another_crawl_is_refused(open_frontier: Any, redis_server: RedisServer) -> None:
    open_frontier("w1")
    other = RedisFrontier(redis_server.url, worker="w2")
    with pytest.raises(FrontierError) as error:
        other.open({"seeds": "http://b.test/", "purpose": "train-ai"})
    assert "seeds differ" in str(error.value)
    assert "purpose" not in str(error.value)
    assert redis_server.url in str(error.value)
    with pytest.raises(FrontierError, match="64 shards, not 8"):
        RedisFrontier(redis_server.url, worker="w3", shards=8).open(IDENTITY)
    assert open_frontier("w4").worker == "w4"  # the same identity joins


def test_the_page_limit_is_cluster_wide(open_frontier: Any) -> None:
    w1, w2 = open_frontier("w1"), open_frontier("w2")
    granted = [w.reserve_page(5) for _ in range(4) for w in (w1, w2)]
    assert granted.count(True) == 5
    w2.return_page()
    assert w1.reserve_page(5)
    assert not w2.reserve_page(5)
    assert w1.status().pages == 5


def test_status_counts_per_shard_and_worker(open_frontier: Any) -> None:
    w1 = open_frontier("w1")
    w1.push([entry(u) for u in urls(30, hosts=10)])
    taken = w1.take(7)
    w1.done([t.claim.key for t in taken[:3]])
    status = w1.status()
    assert status.backend == "redis"
    assert (status.total.queued, status.total.in_flight, status.total.done) == (23, 4, 3)
    assert status.hosts == 10
    assert sum(c.queued for c in status.shards.values()) == 23
    assert sum(c.done for c in status.shards.values()) == 3
    mine = status.workers["w1"]
    assert (mine.queued, mine.in_flight, mine.done) == (23, 4, 3)
    assert len(status.leases) == 64 and {lease.epoch for lease in status.leases} == {1}


def test_close_gives_the_shards_and_in_flight_entries_back(
    open_frontier: Any, redis_server: RedisServer
) -> None:
    w1 = RedisFrontier(redis_server.url, worker="w1")
    w1.open(IDENTITY)
    w1.push([entry(u) for u in urls(10)])
    assert len(w1.take(6)) == 6
    w1.close()
    w2 = open_frontier("w2")
    assert (w2.counts().queued, w2.counts().in_flight) == (10, 0)
    assert len(w2.status().leases) == 64
    assert all(lease.epoch == 2 for lease in w2.status().leases)
    assert len(take_all(w2)) == 10


def fail_after_running(frontier: RedisFrontier, name: str) -> None:
    """The next ``name`` script runs on the server but its answer is lost, as in a cut connection."""
    script = frontier._scripts[name]

    def run_then_fail(**kwargs: Any) -> Any:
        frontier._scripts[name] = script
        script(**kwargs)
        raise redis.ConnectionError("connection lost before the answer")

    frontier._scripts[name] = run_then_fail  # type: ignore[assignment]


def test_a_push_retried_after_a_lost_answer_is_applied_once(open_frontier: Any) -> None:
    f = open_frontier()
    batch = [entry("http://a.test/x", filtered=False), entry("http://a.test/y")]
    fail_after_running(f, "push")
    with pytest.raises(FrontierUnavailable):
        f.push(batch)
    assert f.push(batch).queued == 2  # the same answer as the lost one
    assert f.counts().queued == 2
    assert f.push(batch).queued == 1  # a new push of the same entries: the unfiltered one again
    assert f.counts().queued == 3


def test_a_take_retried_after_a_lost_answer_gets_the_entries(open_frontier: Any) -> None:
    f = open_frontier()
    f.push([entry(u) for u in urls(5)])
    fail_after_running(f, "take")
    with pytest.raises(FrontierUnavailable):
        f.take(3)
    again = f.take(3)
    assert len(again) == 3
    assert (f.counts().queued, f.counts().in_flight) == (2, 3)
    assert len(f.take(10)) == 2


def test_a_hung_server_is_unavailable_then_works_again(open_frontier: Any, redis_server: RedisServer) -> None:
    f = open_frontier()
    batch = [entry(u) for u in urls(5)] + [entry("http://a.test/again", filtered=False)]
    redis_server.pause()
    try:
        with pytest.raises(FrontierUnavailable, match=f"Redis frontier {redis_server.url} is unavailable"):
            f.push(batch)
        with pytest.raises(FrontierUnavailable):
            f.counts()
    finally:
        redis_server.resume()
    f.push(batch)  # the caller's retry, after the outcome was unknown
    f.renew()
    assert f.counts().queued == 6
    assert len(take_all(f)) == 6


def test_a_restarted_server_with_its_log_loses_nothing(tmp_path: Path) -> None:
    server = start_redis(tmp_path, appendonly=True)
    try:
        f = RedisFrontier(server.url, worker="w1", timeout=1.0)
        f.open(IDENTITY)
        f.push([entry(u) for u in urls(10)])
        taken = f.take(4)
        server.stop()
        with pytest.raises(FrontierUnavailable, match="unavailable"):
            f.done([t.claim.key for t in taken])
        with pytest.raises(FrontierUnavailable):
            f.take(1)
        server.start()
        f.done([t.claim.key for t in taken])  # the retry
        f.renew()
        rest = take_all(f)
        f.done([t.claim.key for t in rest])
        counts = f.counts()
        assert (counts.queued, counts.in_flight, counts.done) == (0, 0, 10)
        assert sorted(t.url for t in taken + rest) == sorted(urls(10))
        f.close()
    finally:
        server.stop()


def test_a_refused_connection_is_unavailable(tmp_path: Path) -> None:
    server = start_redis(tmp_path)
    server.stop()
    f = RedisFrontier(server.url, worker="w1", timeout=1.0)
    with pytest.raises(FrontierUnavailable, match=f"Redis frontier {server.url} is unavailable"):
        f.open(IDENTITY)
    assert issubclass(FrontierUnavailable, FrontierError)


@pytest.mark.parametrize(
    ("url", "wrong"),
    [
        ("http://127.0.0.1:6379/0", "the scheme is 'http'"),
        ("redis://127.0.0.1/0", "no port"),
        ("redis://:6379/0", "no host"),
        ("redis://127.0.0.1:6379", "the database is None"),
        ("redis://127.0.0.1:6379/", "the database is ''"),
        ("redis://127.0.0.1:6379/x", "the database is 'x'"),
        ("redis://127.0.0.1:6379/0?db=1", "it has a query"),
        ("redis://127.0.0.1:99999/0", "Port out of range"),
        ("unix:///tmp/r.sock", "exactly db=DB"),
        ("unix://host/tmp/r.sock?db=0", "names a host"),
        ("unix:///tmp/r.sock?db=0&x=1", "exactly db=DB"),
        ("6379", "the scheme is 'missing'"),
    ],
)
def test_a_malformed_url_is_refused(url: str, wrong: str) -> None:
    with pytest.raises(FrontierError) as error:
        RedisFrontier(url, worker="w1")
    assert f"frontier URL {url!r}" in str(error.value)
    assert wrong in str(error.value)
    assert "expected redis://HOST:PORT/DB" in str(error.value)


def test_urls_are_parsed_and_passwords_never_shown() -> None:
    assert parse_url("unix:///run/redis.sock?db=3").socket == "/run/redis.sock"
    assert parse_url("unix:///run/redis.sock?db=3").db == 3
    address = parse_url("redis://:s3cret@10.0.0.5:6380/2")
    assert (address.host, address.port, address.db, address.password) == ("10.0.0.5", 6380, 2, "s3cret")
    assert "s3cret" not in address.shown
    with pytest.raises(FrontierError) as error:
        parse_url("redis://:s3cret@10.0.0.5:6380/x")
    assert "s3cret" not in str(error.value)
