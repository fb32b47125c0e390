"""Benchmark: permitcrawl against plain Scrapy on the same generated multi-host web, in one run.

    python bench/run.py [--hosts 20] [--pages 100] [--repeat 3] [--concurrency 32]

A local web of HOSTS x PAGES pages (about 8 KB of HTML each, linked as a tree)
is served on 127.0.0.1 by its own process. Each round crawls it twice, in
fresh processes, with the same spider, the same concurrency and no delays:

* plain:       Scrapy with its stock RobotsTxtMiddleware (ROBOTSTXT_OBEY=True), no output;
* permitcrawl: the gate, evidence archiving, WARC and provenance output.

Each round runs the two back to back (alternating which goes first), and the
ratio is taken per round, then the median over rounds: on a shared machine the
speed drifts between rounds, and pairing cancels most of it. It prints medians
of wall time and CPU time, and the median per-round ratios with their range.
This is a measurement, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = [
    "data",
    "crawl",
    "permission",
    "robots",
    "archive",
    "licence",
    "train",
    "model",
    "page",
    "site",
    "signal",
    "evidence",
    "record",
    "purpose",
    "consent",
    "policy",
    "web",
    "text",
    "corpus",
    "index",
    "search",
    "retrieval",
    "opt",
    "out",
    "reserve",
    "grant",
]


def generate(
    hosts: int, pages: int, seed: int = 7
) -> dict[str, dict[str, tuple[int, dict[str, str], bytes]]]:
    """HOSTS sites of PAGES pages each; page i links to 3i+1..3i+3, so a crawl from / finds them all."""
    rng = random.Random(seed)
    sites = {}
    for h in range(hosts):
        host = f"host{h:03d}.bench.test"
        site: dict[str, tuple[int, dict[str, str], bytes]] = {
            "/robots.txt": (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /nowhere/\n"),
        }
        for i in range(pages):
            path = "/" if i == 0 else f"/p/{i}"
            links = "".join(
                f'<a href="/p/{j}">page {j}</a> ' for j in range(3 * i + 1, 3 * i + 4) if j < pages
            )
            text = " ".join(rng.choice(WORDS) for _ in range(1100))
            html = f"<html><head><title>{host} {i}</title></head><body><p>{text}</p>{links}</body></html>"
            site[path] = (200, {"Content-Type": "text/html; charset=utf-8"}, html.encode())
        sites[host] = site
    return sites


def _serve(hosts: int, pages: int, conn: multiprocessing.connection.Connection) -> None:
    from crawler.localweb.server import LocalWebServer

    server = LocalWebServer(generate(hosts, pages))
    server.requests = _Discard()  # type: ignore[assignment]  # no request log: it would only grow
    conn.send(server.proxy_url)
    server.serve_forever()


class _Discard(list):
    def append(self, item: object) -> None:
        pass


def child(mode: str, proxy: str, seeds: list[str], out: Path, concurrency: int, extra: list[str]) -> None:
    """Run one crawl in this (fresh) process."""
    import os

    os.environ["http_proxy"] = proxy
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from crawler.adapters.runner import FRONTIER_SETTINGS
    from crawler.adapters.spiders.seeds import SeedSpider

    common = {
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_DELAY": 0,
        "LOG_LEVEL": "ERROR",
        "TELNETCONSOLE_ENABLED": False,
    }
    if mode == "plain":
        settings = Settings({**common, "ROBOTSTXT_OBEY": True})
    else:
        settings = Settings()
        settings.setmodule("crawler.adapters.settings", priority="project")
        settings.setdict(
            {
                **common,
                "WARC_DIR": str(out / "warc"),
                "PROVENANCE_DB": str(out / "provenance.db"),
                "PROGRESS_INTERVAL": 0,
                # As `permitcrawl crawl` runs: the embedded frontier in the crawl directory.
                **FRONTIER_SETTINGS,
                "PERMITCRAWL_FRONTIER": "embedded",
                **dict(pair.split("=", 1) for pair in extra),
            },
            priority="cmdline",
        )
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(SeedSpider)
    process.crawl(crawler, seeds=seeds)
    process.start()
    import resource as _resource

    peak_kib = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss  # Linux: KiB
    print(
        json.dumps({"pages": crawler.stats.get_value("response_received_count", 0), "rss": peak_kib * 1024})
    )


def measure(
    mode: str, proxy: str, seeds: list[str], out: Path, concurrency: int, extra: list[str]
) -> dict[str, float]:
    """Crawl once in a child process; return wall time, child CPU time and responses."""
    shutil.rmtree(out, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--proxy", proxy, "--out", str(out),
         "--concurrency", str(concurrency), *(f"--set={pair}" for pair in extra), *seeds],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{mode} crawl failed:\n{result.stderr[-3000:]}")
    said = json.loads(result.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    measured = {"wall": wall, "cpu": cpu, "responses": said["pages"], "rss": said["rss"]}
    database = out / "provenance.db"
    if database.exists():
        import sqlite3

        with sqlite3.connect(database) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the WAL's pages into the file, for its size
            captures = conn.execute("select count(*) from captures").fetchone()[0]
        measured["db_bytes_per_capture"] = database.stat().st_size / max(captures, 1)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a permitcrawl setting for its runs"
    )
    parser.add_argument("--child", choices=["plain", "permitcrawl"])
    parser.add_argument("--proxy")
    parser.add_argument("--out", type=Path)
    parser.add_argument("seeds", nargs="*")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.proxy, args.seeds, args.out, args.concurrency, args.set)
        return

    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    server = ctx.Process(target=_serve, args=(args.hosts, args.pages, send), daemon=True)
    server.start()
    proxy = receive.recv()
    seeds = [f"http://host{h:03d}.bench.test/" for h in range(args.hosts)]
    work = Path(tempfile.mkdtemp(prefix="permitcrawl-bench-"))
    results: dict[str, list[dict[str, float]]] = {"plain": [], "permitcrawl": []}
    try:
        for round_ in range(args.repeat):
            for mode in ("plain", "permitcrawl") if round_ % 2 == 0 else ("permitcrawl", "plain"):
                results[mode].append(measure(mode, proxy, seeds, work / mode, args.concurrency, args.set))
                r = results[mode][-1]
                print(f"round {round_ + 1} {mode:<12} {r['wall']:6.2f} s wall  {r['cpu']:6.2f} s CPU  "
                      f"{r['responses']:.0f} responses", file=sys.stderr)  # fmt: skip
        out_dir = work / "permitcrawl"
        files = [*(out_dir / "warc").glob("*.warc.gz"), *(out_dir / "evidence").glob("*.warc.gz")]
        warc_bytes = sum(p.stat().st_size for p in files)
    finally:
        server.terminate()
        shutil.rmtree(work, ignore_errors=True)

    def median(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in results[mode])

    print(
        f"site: {args.hosts} hosts x {args.pages} pages, concurrency {args.concurrency}, {args.repeat} rounds"
    )
    for mode in ("plain", "permitcrawl"):
        wall, cpu, responses = median(mode, "wall"), median(mode, "cpu"), median(mode, "responses")
        print(f"{mode:<12} median {wall:6.2f} s wall, {cpu:6.2f} s CPU, {responses:.0f} responses, "
              f"{responses / wall:7.1f} responses/s")  # fmt: skip
    print(f"WARC output: {warc_bytes / 1e6:.1f} MB")
    per_capture = median("permitcrawl", "db_bytes_per_capture")
    print(f"provenance.db: {per_capture:,.0f} bytes per capture (indexes included, WAL checkpointed)")
    for mode in ("plain", "permitcrawl"):
        print(f"peak RSS {mode:<12} median {median(mode, 'rss') / 2**20:6.1f} MiB")
    for key, label in (("wall", "wall"), ("cpu", "CPU")):
        ratios = sorted(
            p[key] / q[key] for p, q in zip(results["permitcrawl"], results["plain"], strict=True)
        )
        print(f"ratio permitcrawl/plain, {label:<4}: median {statistics.median(ratios):.2f}x "
              f"(rounds {ratios[0]:.2f}-{ratios[-1]:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
