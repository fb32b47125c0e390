"""Benchmark: a crawl on a Redis frontier with one and two workers, and the time lost on a takeover.

    python bench/distributed.py [--hosts 20] [--pages 100] [--lease 30 --lease 3]

It serves the bench web of bench/run.py (HOSTS x PAGES pages of about 8 KB) from its
own process on 127.0.0.1, starts a redis-server of its own (the test extra's, as the
tests do; persistence off), and runs ``permitcrawl crawl … --frontier redis://…``:

* **throughput**: the whole web with 1 worker, then with 2 (each its own --out), no
  delays; pages/s is the captures of all workers over the wall time from the first
  start to the last exit (process start-up included);
* **takeover**: two workers with a per-host DOWNLOAD_DELAY, so that hosts are still
  being fetched; one is killed with SIGKILL. The time lost is from the kill until
  the survivor captures a page of a host the killed worker held (read from the
  survivor's provenance database, whose fetched_at is when the request left).
  Once per lease length asked for.

This is a measurement, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import _serve  # noqa: E402  (after the path is set)
from tests.redisserver import start_redis  # noqa: E402

COMMON = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "LOG_LEVEL=ERROR", "-s", "PROGRESS_INTERVAL=0"]


def worker(
    proxy: str, redis_url: str, seeds: list[str], out: Path, extra: list[str]
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env["http_proxy"] = proxy
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONWARNINGS"] = "ignore"
    command = [sys.executable, "-m", "crawler", "crawl", *seeds, "--out", str(out), "--frontier", redis_url]
    return subprocess.Popen([*command, *COMMON, *extra], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(out.parent / f"{out.name}.log", "wb"))  # fmt: skip


def rows(out: Path, sql: str) -> list[tuple[object, ...]]:
    uri = f"{(out / 'provenance.db').as_uri()}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.Error:
        return []


def throughput(proxy: str, seeds: list[str], work: Path, workers: int, concurrency: int) -> tuple[float, int]:
    """Wall seconds and pages captured by ``workers`` workers crawling the whole web."""
    server = start_redis(work)
    try:
        extra = ["-s", f"CONCURRENT_REQUESTS={concurrency}", "-s", "DOWNLOAD_DELAY=0",
                 "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={concurrency}"]  # fmt: skip
        outs = [work / f"t{workers}-{i}" for i in range(workers)]
        started = time.perf_counter()
        processes = [worker(proxy, server.url, seeds, out, extra) for out in outs]
        for p in processes:
            if p.wait() != 0:
                raise SystemExit(f"a worker failed: see {work}")
        wall = time.perf_counter() - started
        return wall, sum(len(rows(out, "select 1 from captures")) for out in outs)
    finally:
        server.stop()


def takeover(proxy: str, seeds: list[str], work: Path, lease: float, delay: float) -> float:
    """Seconds from killing one of two workers until the other captures a page of the killed one's hosts."""
    server = start_redis(work)
    tag = f"lease{lease:g}"
    a, b = work / f"{tag}-a", work / f"{tag}-b"
    extra = ["-s", f"PERMITCRAWL_FRONTIER_LEASE={lease}", "-s", f"DOWNLOAD_DELAY={delay}",
             "-s", "RANDOMIZE_DOWNLOAD_DELAY=False"]  # fmt: skip
    pa = pb = None
    try:
        pa = worker(proxy, server.url, seeds, a, extra)
        time.sleep(1.0)
        pb = worker(proxy, server.url, seeds, b, extra)
        # Both are fetching: wait until the second worker has captured from a few hosts of its own.
        while len({r[0] for r in rows(b, "select host from captures")}) < 3:
            time.sleep(0.1)
        time.sleep(2 * delay + 1.0)
        hosts = {r[0] for r in rows(b, "select host from captures")}
        pb.send_signal(signal.SIGKILL)
        killed = time.time()
        pb.wait()
        while True:
            found = rows(
                a,
                "select min(fetched_at) from captures where host in ({}) and fetched_at > '{}'".format(
                    ",".join(f"'{h}'" for h in hosts),
                    datetime.fromtimestamp(killed).astimezone().isoformat(),
                ),
            )
            if found and found[0][0]:
                return datetime.fromisoformat(found[0][0]).timestamp() - killed
            if pa.poll() is not None:
                raise SystemExit("the surviving worker ended before taking over")
            time.sleep(0.05)
    finally:
        for p in (pa, pb):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--lease", type=float, action="append", help="lease seconds (default: 30 and 3)")
    parser.add_argument("--delay", type=float, default=1.0, help="DOWNLOAD_DELAY of the takeover runs")
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    web = ctx.Process(target=_serve, args=(args.hosts, args.pages, send), daemon=True)
    web.start()
    proxy = receive.recv()
    seeds = [f"http://host{h:03d}.bench.test/" for h in range(args.hosts)]
    work = Path(tempfile.mkdtemp(prefix="permitcrawl-distributed-"))
    try:
        print(f"site: {args.hosts} hosts x {args.pages} pages, concurrency {args.concurrency} per worker")
        for n in (1, 2):
            wall, pages = throughput(proxy, seeds, work, n, args.concurrency)
            rate = pages / wall
            label = f"{n} worker{'s' if n > 1 else ''}"
            print(f"{label:<9}: {wall:6.2f} s wall, {pages} pages, {rate:6.1f} pages/s")
        for lease in args.lease or [30.0, 3.0]:
            lost = takeover(proxy, seeds, work, lease, args.delay)
            print(f"takeover, lease {lease:g} s: {lost:5.2f} s from the kill to the first page of its hosts")
    finally:
        web.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
