"""Benchmark: how much memory the Redis frontier takes per queued URL, and how fast it queues.

    python bench/redis_memory.py [--urls 1000000] [--hosts 50000] [--batch 1000] [--url redis://...]

Without ``--url`` it starts a redis-server of its own (the test extra's, as the
tests do; persistence off) on a free 127.0.0.1 port and stops it at the end.
It queues URLs spread over HOSTS hosts (paths, query strings and lengths as on
real sites, payloads as the scheduler serialises a request) through
RedisFrontier.push in batches, then prints ``used_memory`` from ``INFO memory``
before and after, the bytes per queued URL, and the push rate. A measurement,
not a test: nothing here asserts a figure. Use an empty database: it is
flushed at the start when the server is the script's own, never otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.frontier.base import Entry  # noqa: E402 (after the path is set)
from crawler.frontier.redis import RedisFrontier  # noqa: E402
from tests.redisserver import start_redis  # noqa: E402

WORDS = [
    "news",
    "about",
    "products",
    "category",
    "article",
    "page",
    "blog",
    "archive",
    "2024",
    "2025",
    "en",
    "de",
    "help",
    "docs",
    "item",
]
TLDS = ["com", "org", "net", "de", "co.uk", "fr", "io", "info"]


def hosts(n: int, rng: random.Random) -> list[str]:
    return [
        f"{rng.choice(['www.', '', 'blog.', 'shop.'])}site{i}-{rng.choice(WORDS)}.{rng.choice(TLDS)}"
        for i in range(n)
    ]


def url_of(host: str, i: int, rng: random.Random) -> str:
    depth = rng.randint(1, 4)
    path = "/".join(rng.choice(WORDS) for _ in range(depth))
    url = f"https://{host}/{path}/{rng.choice(WORDS)}-{i}.html"
    if rng.random() < 0.3:
        url += f"?id={rng.randint(1, 10**6)}&ref={rng.choice(WORDS)}"
    return url


def entry_of(url: str, host: str, depth: int) -> Entry:
    """The entry as the scheduler makes it: a SHA-1 fingerprint and the request as JSON."""
    fingerprint = hashlib.sha1(url.encode()).hexdigest()
    payload = json.dumps({"url": url, "method": "GET", "callback": "parse", "meta": {"depth": depth}})
    return Entry(fingerprint, url, host, payload, priority=-depth)


def used_memory(frontier: RedisFrontier) -> int:
    return int(frontier._client.info("memory")["used_memory"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--urls", type=int, default=1_000_000)
    parser.add_argument("--hosts", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--url", help="an empty Redis database to measure in (default: a server of its own)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        server = None if args.url else start_redis(Path(directory))
        try:
            url = args.url or server.url  # type: ignore[union-attr]
            frontier = RedisFrontier(url, worker="bench", timeout=30)
            if server is not None:
                frontier._client.flushdb()
            run(frontier, args)
        finally:
            if server is not None:
                server.stop()


def run(frontier: RedisFrontier, args: argparse.Namespace) -> None:
    rng = random.Random(12)
    names = hosts(args.hosts, rng)
    before = used_memory(frontier)
    frontier.open({"bench": "redis_memory"})
    queued = 0
    payload_bytes = 0
    started = time.perf_counter()
    for start in range(0, args.urls, args.batch):
        batch = []
        for i in range(start, min(start + args.batch, args.urls)):
            host = names[rng.randrange(len(names))]
            entry = entry_of(url_of(host, i, rng), host, rng.randint(0, 5))
            payload_bytes += len(entry.url) + len(entry.payload)
            batch.append(entry)
        queued += frontier.push(batch)
    seconds = time.perf_counter() - started
    after = used_memory(frontier)
    info = frontier._client.info("memory")
    server = frontier._client.info("server")
    counts = frontier.counts()
    print(f"redis {server['redis_version']} ({info.get('mem_allocator', '?')}), {args.hosts} hosts")
    print(
        f"queued {queued} URLs ({counts.queued} counted) in {seconds:.1f} s: {queued / seconds:,.0f} URLs/s"
    )
    print(f"used_memory before {before:,} B, after {after:,} B ({info['used_memory_human']})")
    print(f"bytes per queued URL: {(after - before) / queued:,.0f}")
    print(f"of which URL and payload text: {payload_bytes / queued:,.0f} B per URL")
    frontier.close()


if __name__ == "__main__":
    main()
