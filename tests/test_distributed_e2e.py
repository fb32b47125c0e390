"""Many workers on one Redis frontier, end to end: joining, dying, stopping, Redis restarting, the budget.

Every worker is ``permitcrawl crawl SEEDS --out DIR_i --frontier redis://…``
in a subprocess of its own, against a redis-server started by the test and a
test web of eight hosts (robots.txt reserves ``/private/``, a page answers
``X-Robots-Tag: noai``). Each worker sends its own User-Agent (which is not
part of the crawl's identity), so the server's log tells the workers apart.
The results are read from the workers' databases, from ``permitcrawl merge``
and ``audit`` of the merge, and from the server's millisecond request log.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from crawler.frontier.base import shard_of
from crawler.localweb.server import LocalWebServer, LoggedRequest, Reply, serve
from tests.conftest import cli_env, run_cli
from tests.redisserver import start_redis
from tests.sites import HTML, TEXT

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from tests.redisserver import RedisServer

HOSTS = tuple(f"h{i}.distributed.test" for i in range(8))
SEEDS = [f"http://{host}/" for host in HOSTS]
PAGES = 22  # per host, besides the home page, /noai and the reserved /private/ URLs
PAGE_DELAY = 0.01  # seconds every page takes to answer
DOWNLOAD_DELAY = 0.3
LEASE = 3
CONCURRENCY = 8
# The server logs arrival times; the client spaces its sends. A send's way to the server (a new
# connection, thread scheduling on a loaded machine) varies by some milliseconds, so an arrival gap
# may be that much shorter than the gap between sends. Measured: up to 32 ms within one worker.
JITTER = 0.05
ARGS = (
    *("-s", "AUTOTHROTTLE_START_DELAY=0"),
    *("-s", f"DOWNLOAD_DELAY={DOWNLOAD_DELAY}"),
    *("-s", "RANDOMIZE_DOWNLOAD_DELAY=False"),
    *("-s", f"PERMITCRAWL_FRONTIER_LEASE={LEASE}"),
    *("-s", "DOWNLOAD_TIMEOUT=30"),
    *("-s", f"CONCURRENT_REQUESTS={CONCURRENCY}"),
    *("-s", "PROVENANCE_BATCH_SIZE=5"),
)
WAIT = 90.0  # seconds any group of workers may take


def _page(title: str, links: list[str], headers: tuple[tuple[str, str], ...] = ()) -> Callable[[], Reply]:
    items = "".join(f'<a href="{href}">{href}</a> ' for href in links)
    body = f"<html><head><title>{title}</title></head><body><p>{title}</p>{items}</body></html>".encode()

    def reply() -> Reply:
        return Reply(200, (*HTML.items(), *headers), body, delay=PAGE_DELAY)

    return reply


def _site(host: str) -> dict[str, Any]:
    pages = [f"/p{j}" for j in range(PAGES)]
    site: dict[str, Any] = {
        "/robots.txt": (200, TEXT, "User-agent: *\nDisallow: /private/\n"),
        "/": _page(f"{host} home", [*pages, "/private/a", "/noai"]),
        "/noai": _page("not for training", [], (("X-Robots-Tag", "noai"),)),
    }
    for j, path in enumerate(pages):
        site[path] = _page(f"{host} page {j}", [pages[(j + 1) % PAGES], "/private/b"])
    return site


ALLOWED = {f"http://{host}{path}" for host in HOSTS for path in ["/", *(f"/p{j}" for j in range(PAGES))]}
NOAI = {f"http://{host}/noai" for host in HOSTS}


@pytest.fixture(scope="module")
def dweb() -> Iterator[LocalWebServer]:
    server = serve({host: _site(host) for host in HOSTS})
    yield server
    server.close()


# -- workers ---------------------------------------------------------------------------------------


@dataclass
class Worker:
    """One ``permitcrawl crawl`` worker process, its directory, and what was seen when it exited."""

    name: str
    out: Path
    process: subprocess.Popen[bytes]
    exited_at: float | None = None  # time.monotonic() when its exit was seen
    counts_at_exit: dict[str, int] = field(default_factory=dict)

    @property
    def stderr(self) -> str:
        return (self.out.parent / f"{self.name}.stderr").read_text(errors="replace")

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        return query(self.out, sql, *args)


def start(web: LocalWebServer, redis: RedisServer, tmp_path: Path, name: str, *extra: str) -> Worker:
    """Start a worker named ``name`` (its --out is tmp_path/name; its User-Agent names it)."""
    out = tmp_path / name
    command = [sys.executable, "-m", "crawler", "crawl", *SEEDS, "--out", str(out), "--frontier", redis.url]
    command += [*ARGS, "-s", f"USER_AGENT=permitcrawl/test (+https://example.org/{name})", *extra]
    # stderr to a file: a pipe nobody reads while the crawl runs would fill up and block the worker.
    with open(tmp_path / f"{name}.stderr", "wb") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=cli_env(web.proxy_url)
        )
    return Worker(name, out, process)


def frontier_counts(redis: RedisServer) -> dict[str, int]:
    """The cluster-wide counts in Redis, read at once (a CLI run would take a second to start)."""
    with contextlib.closing(redis.client()) as client:
        values = client.hmget("permitcrawl:counts", ["queued", "in_flight", "done"])
    return {name: int(v or 0) for name, v in zip(("queued", "in_flight", "done"), values, strict=True)}


def wait_all(redis: RedisServer | None, *workers: Worker, timeout: float = WAIT) -> None:
    """Wait for every worker to exit, noting when each did and the frontier's counts at that moment."""
    deadline = time.monotonic() + timeout
    while any(w.exited_at is None for w in workers):
        for w in workers:
            if w.exited_at is None and w.process.poll() is not None:
                w.exited_at = time.monotonic()
                if redis is not None:
                    w.counts_at_exit = frontier_counts(redis)
        if time.monotonic() > deadline:
            for w in workers:
                if w.process.poll() is None:
                    w.process.kill()
                    w.process.wait()
            pytest.fail(f"workers still running after {timeout} s: {[w.name for w in workers]}")
        time.sleep(0.02)


def assert_clean_exit(worker: Worker) -> None:
    assert worker.process.returncode == 0, (worker.name, worker.stderr[-3000:])
    assert "Traceback" not in worker.stderr, (worker.name, worker.stderr[-3000:])


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


# -- reading the results ---------------------------------------------------------------------------


def query(out: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` in ``out``'s provenance database, read-only ([] while it does not exist yet)."""
    uri = f"{(out / 'provenance.db').as_uri()}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            return conn.execute(sql, args).fetchall()
    except sqlite3.Error:
        return []


def captured(out: Path) -> list[str]:
    return [row[0] for row in query(out, "select url from captures")]


def agent_of(request: LoggedRequest) -> str:
    return next((v for k, v in request.headers.items() if k.lower() == "user-agent"), "")


def by_worker(requests: list[LoggedRequest], worker: Worker) -> list[LoggedRequest]:
    return [r for r in requests if agent_of(r).endswith(f"/{worker.name})")]


def merge(tmp_path: Path, *workers: Worker) -> tuple[Path, dict[str, Any]]:
    """``permitcrawl merge`` of the workers' directories; its JSON report."""
    merged = tmp_path / "merged"
    result = run_cli("merge", *(w.out for w in workers), "--out", merged, "--format", "json")
    assert result.returncode == 0, result.stderr
    return merged, json.loads(result.stdout)


def assert_audit_clean(merged: Path) -> None:
    audited = run_cli("audit", merged)
    assert audited.returncode == 0, (audited.stdout, audited.stderr)
    assert "0 differences" in audited.stdout + audited.stderr, audited.stdout + audited.stderr


def assert_each_allowed_url_once(merged: Path) -> None:
    urls = captured(merged)
    assert sorted(urls) == sorted(ALLOWED), (set(urls) ^ ALLOWED, Counter(urls).most_common(3))
    refused = {row[0] for row in query(merged, "select url from refusals")}
    assert refused >= NOAI  # fetched, then refused on its header


def recover(web: LocalWebServer, redis: RedisServer, tmp_path: Path, killed: Worker) -> None:
    """Run a killed worker's command again once the crawl is over: it recovers its open WARC file."""
    again = start(web, redis, tmp_path, killed.name)
    wait_all(None, again)
    assert_clean_exit(again)


# -- the tests -------------------------------------------------------------------------------------


def test_two_workers_then_a_third_joining_capture_every_allowed_url_once_politely(
    dweb: LocalWebServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    before = len(dweb.requests)
    w1 = start(dweb, redis_server, tmp_path, "w1")
    w2 = start(dweb, redis_server, tmp_path, "w2")
    wait_for(lambda: len(captured(w1.out)) + len(captured(w2.out)) >= 20, "the first captures")
    w3 = start(dweb, redis_server, tmp_path, "w3")
    wait_all(redis_server, w1, w2, w3)
    requests = list(dweb.requests[before:])
    for w in (w1, w2, w3):
        assert_clean_exit(w)
        # Each exit came only once the whole crawl was done: nothing queued, nothing in flight.
        assert w.counts_at_exit["queued"] == 0 and w.counts_at_exit["in_flight"] == 0, (
            w.name,
            w.counts_at_exit,
        )
        assert w.exited_at is not None and w.exited_at > max(r.at for r in requests)
    # The third worker joined: it took shards over from the first two.
    assert w3.query("select count(*) from leases")[0][0] > 0
    status = run_cli("frontier", "status", "--frontier", redis_server.url, "--format", "jsonl")
    assert status.returncode == 0, status.stderr
    total = json.loads(status.stdout.splitlines()[0])
    assert (total["kind"], total["queued"], total["in_flight"]) == ("total", 0, 0), total
    # No reserved URL was ever requested, by any worker.
    assert not [r.url for r in requests if "/private/" in r.path]
    # Politeness across the cluster: every request to a host (robots.txt included), whoever sent it.
    closest = {}
    for host in HOSTS:
        sent = sorted((r for r in requests if r.host == host), key=lambda r: r.at)
        assert len(sent) > PAGES
        closest[host] = min(((b.at - a.at, a, b) for a, b in itertools.pairwise(sent)), key=lambda t: t[0])
    too_close = [
        (round(gap, 4), a.path, agent_of(a)[-4:-1], b.path, agent_of(b)[-4:-1])
        for gap, a, b in closest.values()
        if gap < DOWNLOAD_DELAY - JITTER
    ]
    assert not too_close, too_close
    merged, report = merge(tmp_path, w1, w2, w3)
    assert_each_allowed_url_once(merged)
    assert report["kept"]["captures"] == len(ALLOWED)
    assert_audit_clean(merged)
    # No worker died: no URL was fetched twice (a shard given to a joining worker is handed over
    # only once nothing of it is in flight), so the merge had no duplicate to drop.
    union = Counter(url for w in (w1, w2, w3) for url in captured(w.out))
    assert not {url: n for url, n in union.items() if n > 1}
    assert report["dropped"]["captures"] == {"stale": 0, "duplicate": 0}, report


def test_a_worker_killed_mid_crawl_loses_nothing_and_its_in_flight_duplicates_are_merged_away(
    dweb: LocalWebServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    w1 = start(dweb, redis_server, tmp_path, "w1")
    w2 = start(dweb, redis_server, tmp_path, "w2")
    wait_for(lambda: len(captured(w1.out)) >= 15, "w1's first captures")
    w1.process.send_signal(signal.SIGKILL)
    w1.process.wait()
    w3 = start(dweb, redis_server, tmp_path, "w3")  # the replacement, a directory of its own
    wait_all(redis_server, w2, w3)
    for w in (w2, w3):
        assert_clean_exit(w)
    recover(dweb, redis_server, tmp_path, w1)
    # Duplicates in the union of the workers' databases: URLs captured by more than one row.
    rows = {w.name: Counter(captured(w.out)) for w in (w1, w2, w3)}
    union = sum(rows.values(), Counter())
    duplicates = {url: n for url, n in union.items() if n > 1}
    assert set(union) == ALLOWED  # nothing lost
    # Only what the killed worker had in flight: each duplicate is one row of w1 (its rows committed,
    # the frontier not yet told) and one of a survivor; never two rows in one directory; at most as
    # many as w1 could have had in flight at once (CONCURRENT_REQUESTS).
    assert all(n == 2 and rows["w1"][url] == 1 for url, n in duplicates.items()), duplicates
    assert all(max(c.values(), default=1) == 1 for c in rows.values())
    assert len(duplicates) <= CONCURRENCY, duplicates
    merged, report = merge(tmp_path, w1, w2, w3)
    assert_each_allowed_url_once(merged)
    assert report["dropped"]["captures"]["duplicate"] == len(duplicates), (report, duplicates)
    details = json.loads(query(merged, "select details from ledger where action = 'merge'")[0][0])
    said = sorted(d["url"] for d in details["dropped_rows"] if d["table"] == "captures")
    assert said == sorted(duplicates), (details["dropped_rows"], duplicates)
    assert_audit_clean(merged)


def test_a_worker_stopped_past_its_lease_fetches_nothing_more_on_the_shards_it_lost(
    dweb: LocalWebServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    before = len(dweb.requests)
    w1 = start(dweb, redis_server, tmp_path, "w1")
    w2 = start(dweb, redis_server, tmp_path, "w2")
    wait_for(lambda: len(captured(w1.out)) >= 10, "w1's first captures")
    held = {row[0]: row[1] for row in w1.query("select shard, max(epoch) from leases group by shard")}
    w1.process.send_signal(signal.SIGSTOP)  # requests wait in its downloader slots (DOWNLOAD_DELAY)
    stopped_wall = time.time()
    try:
        time.sleep(LEASE + 2.5)  # past its lease: w2 takes every shard over
    finally:
        w1.process.send_signal(signal.SIGCONT)
    woke = time.monotonic()
    woke_wall = time.time()
    wait_all(redis_server, w1, w2)
    for w in (w1, w2):
        assert_clean_exit(w)
    requests = list(dweb.requests[before:])
    # The shards w1 lost: held when it stopped, taken by w2 with a higher fencing number meanwhile.
    taken = w2.query("select shard, epoch, acquired_at from leases")
    lost = {
        shard: min(at for s, e, at in taken if s == shard and e > epoch and at <= iso(woke_wall))
        for shard, epoch in held.items()
        if any(s == shard and e > epoch and at <= iso(woke_wall) for s, e, at in taken)
    }
    lost_hosts = {host for host in HOSTS if shard_of(host) in lost}
    assert lost_hosts, (held, taken)  # w1 did hold hosts that w2 took over
    # After SIGCONT, w1 sent nothing to a host of a shard it lost, unless it took that shard back
    # later under a new lease of its own.
    regained = w1.query("select shard, acquired_at from leases where acquired_at > ?", iso(stopped_wall))
    late = [
        r
        for r in by_worker(requests, w1)
        if r.at >= woke and r.host in lost_hosts and not _regained_before(r, regained, woke, woke_wall)
    ]
    assert not late, [(r.url, r.at - woke) for r in late]
    # Rows carry the fencing number their request was sent under: none of w1's was sent under a lease
    # w2 had taken over (none stale); had one been, the merge would drop it as stale.
    stale = [
        (url, shard, epoch)
        for table, when in (("captures", "fetched_at"), ("refusals", "decided_at"))
        for url, shard, epoch, at in w1.query(f"select url, shard, epoch, {when} from {table}")
        if shard in lost and epoch <= held[shard] and at >= lost[shard]
    ]
    assert not stale, stale
    assert "Not sent (shard" in w1.stderr  # it woke with requests of lost shards waiting, refused them
    merged, report = merge(tmp_path, w1, w2)
    dropped = report["dropped"]["captures"]["stale"] + report["dropped"]["refusals"]["stale"]
    assert dropped == len(stale), (report, stale)
    kept = query(merged, "select url, shard, epoch, worker from captures union all select url, shard, "
                 "epoch, worker from refusals")  # fmt: skip
    w1_name = {row[0] for row in w1.query("select distinct worker from leases")}
    assert not [k for k in kept if k[3] in w1_name and (k[0], k[1], k[2]) in set(stale)]
    assert_each_allowed_url_once(merged)
    assert_audit_clean(merged)


def iso(wall: float) -> str:
    """A wall-clock time as the leases table writes it (ISO 8601, UTC), for comparisons."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds")


def _regained_before(
    request: LoggedRequest, regained: list[tuple[Any, ...]], woke: float, woke_wall: float
) -> bool:
    """Whether w1 took ``request``'s shard back (a new lease) before sending it."""
    shard = shard_of(request.host)
    sent_wall = woke_wall + (request.at - woke)
    return any(s == shard and at <= iso(sent_wall) for s, at in regained)


def test_redis_stopped_and_restarted_mid_crawl_the_crawl_completes(
    dweb: LocalWebServer, tmp_path: Path
) -> None:
    server = start_redis(tmp_path, appendonly=True)
    try:
        w1 = start(dweb, server, tmp_path, "w1")
        w2 = start(dweb, server, tmp_path, "w2")
        wait_for(lambda: len(captured(w1.out)) + len(captured(w2.out)) >= 30, "the first captures")
        server.stop()  # SIGTERM: the append-only file is written; the data comes back on start
        time.sleep(2.0)
        server.start()
        wait_all(server, w1, w2)
    finally:
        server.stop()
    for w in (w1, w2):
        assert_clean_exit(w)
        assert "The frontier does not answer" in w.stderr  # it did see Redis go away
        assert w.counts_at_exit["queued"] == 0 and w.counts_at_exit["in_flight"] == 0
    merged, _ = merge(tmp_path, w1, w2)
    assert_each_allowed_url_once(merged)
    assert_audit_clean(merged)


def test_max_pages_is_a_cap_for_the_whole_cluster(
    dweb: LocalWebServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    """Two workers share one budget of N pages: together they capture N, each URL once.

    The second worker joins while the first holds every shard: the shards it gets must not be
    handed over with URLs in flight (fetched again, each would spend a page of the budget twice).
    """
    cap = 30
    w1 = start(dweb, redis_server, tmp_path, "w1", "--max-pages", str(cap))
    w2 = start(dweb, redis_server, tmp_path, "w2", "--max-pages", str(cap))
    wait_all(redis_server, w1, w2)
    for w in (w1, w2):
        assert_clean_exit(w)
        assert len(captured(w.out)) <= cap
    assert len(captured(w1.out)) + len(captured(w2.out)) == cap
    merged, _ = merge(tmp_path, w1, w2)
    urls = captured(merged)
    assert len(urls) == len(set(urls)) == cap
    assert set(urls) <= ALLOWED


def test_a_worker_of_another_crawl_is_refused(
    dweb: LocalWebServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    """Exit 1 with a message naming the fields that differ, before Scrapy starts: no traceback."""
    w1 = start(dweb, redis_server, tmp_path, "w1")
    try:
        wait_for(lambda: redis_server.client().exists("permitcrawl:identity") == 1, "the crawl in Redis")
        other = run_cli(
            "crawl", "http://elsewhere.test/", "--out", tmp_path / "other", "--frontier", redis_server.url,
            *ARGS, proxy=dweb.proxy_url,
        )  # fmt: skip
    finally:
        w1.process.send_signal(signal.SIGKILL)
        w1.process.wait()
    assert other.returncode == 1, other.stderr
    assert "Traceback" not in other.stderr
    assert "seeds" in other.stderr and redis_server.url in other.stderr, other.stderr
    assert not os.path.exists(tmp_path / "other" / "provenance.db")


def test_a_worker_whose_redis_does_not_answer_at_start_is_refused(
    dweb: LocalWebServer, tmp_path: Path
) -> None:
    server = start_redis(tmp_path)
    url = server.url
    server.stop()  # a port nothing listens on any more
    result = run_cli(
        "crawl", *SEEDS, "--out", tmp_path / "w1", "--frontier", url, *ARGS, proxy=dweb.proxy_url
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"Redis frontier {url} is unavailable" in result.stderr, result.stderr
    assert not (tmp_path / "w1" / "provenance.db").exists()
