"""Benchmark: each hostile site of the test web, crawled alone by permitcrawl and by plain Scrapy.

    python bench/hostile.py [--case HOST]... [--timeout 180] [--budget 1000]

For every host of tests/hostile.py (one trick each: oversized and cut
evidence, bombs, ReDoS patterns, traps, stalls, ...), and a bystander host
crawled alongside, two crawls run in fresh processes, one after the other:

* plain:       Scrapy with its stock settings and RobotsTxtMiddleware;
* permitcrawl: the add-on with its default bounds (the page budget is set
               with --budget, so that the trap ends in reasonable time).

Both get AutoThrottle off, the same DOWNLOAD_TIMEOUT (30 s, permitcrawl's
default) and an outer CLOSESPIDER_TIMEOUT (--timeout) so that a crawl that
would never end is stopped and reported as such. For each it prints wall
time, the peak resident memory of the crawling process (ru_maxrss from
wait4, the web server's process is not counted), responses and how the crawl
ended, and the ratios permitcrawl/plain. This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _bench_sites() -> dict:
    """The hostile test web, and cases too heavy for the test suite."""
    from crawler.localweb.server import Reply
    from tests.hostile import HOSTILE_SITES, Pages

    def anchor_farm() -> Reply:
        # 10 MiB of nothing but links: 582,000 anchors, every one a new URL.
        anchors = b"".join(b'<a href="/l/%d">x</a>' % i for i in range(480_000))
        body = b"<html><body>" + anchors[: 10 * 1024 * 1024 - 100] + b"</body></html>"
        return Reply(200, (("Content-Type", "text/html; charset=utf-8"),), body)

    def tag_flood() -> Reply:
        # 10 MiB of empty elements: 2.6 million nodes in a tree, none of them a link.
        body = b"<html><body>" + b"<br>" * (10 * 1024 * 1024 // 4 - 10) + b"</body></html>"
        return Reply(200, (("Content-Type", "text/html; charset=utf-8"),), body)

    return {
        **HOSTILE_SITES,
        "anchor-farm.test": Pages({"/": anchor_farm}),
        "tag-flood.test": Pages({"/": tag_flood}),
    }


def _serve(conn: multiprocessing.connection.Connection) -> None:
    from crawler.localweb.server import LocalWebServer

    server = LocalWebServer(_bench_sites())
    server.requests = _Discard()  # type: ignore[assignment]
    conn.send(server.proxy_url)
    server.serve_forever()


class _Discard(list):
    def append(self, item: object) -> None:
        pass


def child(mode: str, proxy: str, seeds: list[str], out: Path, timeout: int, budget: int) -> None:
    """Run one crawl in this (fresh) process; print how it ended."""
    os.environ["http_proxy"] = proxy
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from crawler.adapters.spiders.seeds import SeedSpider

    common = {
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_DELAY": 0,
        "DOWNLOAD_TIMEOUT": 30,
        "CLOSESPIDER_TIMEOUT": timeout,
        "LOG_LEVEL": "CRITICAL",
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
                "PERMITCRAWL_HOST_MAX_PAGES": budget,
            },
            priority="cmdline",
        )
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(SeedSpider)
    process.crawl(crawler, seeds=seeds)
    process.start()
    stats = crawler.stats.get_stats()
    print(
        json.dumps(
            {
                "responses": stats.get("response_received_count", 0),
                "captured": stats.get("archive/captures", 0),
                "refused": sum(v for k, v in stats.items() if k.startswith("policy/refused/")),
                "finish_reason": stats.get("finish_reason"),
            }
        )
    )


def measure(mode: str, proxy: str, seeds: list[str], out: Path, timeout: int, budget: int) -> dict:
    """Crawl once in a child process; return wall time, its peak RSS (MB) and what it reported."""
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(
            [sys.executable, __file__, "--child", mode, "--proxy", proxy, "--out", str(out),
             "--timeout", str(timeout), "--budget", str(budget), *seeds],
            stdout=stdout, stderr=stderr,
        )  # fmt: skip
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        stdout.seek(0)
        stderr.seek(0)
        lines = stdout.read().strip().splitlines()
        if process.returncode != 0 or not lines:
            return {"wall": wall, "rss": usage.ru_maxrss / 1024, "error": stderr.read()[-300:]}
    return {"wall": wall, "rss": usage.ru_maxrss / 1024, **json.loads(lines[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--case", action="append", default=[], help="a host of tests/hostile.py (repeatable)")
    parser.add_argument("--timeout", type=int, default=180, help="CLOSESPIDER_TIMEOUT for every crawl")
    parser.add_argument("--budget", type=int, default=1000, help="PERMITCRAWL_HOST_MAX_PAGES")
    parser.add_argument("--child", choices=["plain", "permitcrawl"])
    parser.add_argument("--proxy")
    parser.add_argument("--out", type=Path)
    parser.add_argument("seeds", nargs="*")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.proxy, args.seeds, args.out, args.timeout, args.budget)
        return

    from tests.hostile import HOSTILE_SEEDS

    sites = _bench_sites()
    homes = [f"http://{host}/" for host in sites]
    seeds_of = [*HOSTILE_SEEDS, *(home for home in homes if home not in HOSTILE_SEEDS)]
    passive = ("bystander.test", "victim.test", "hop-b.test")  # crawled alongside, not cases
    cases = args.case or [host for host in sites if host not in passive]
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    server = ctx.Process(target=_serve, args=(send,), daemon=True)
    server.start()
    proxy = receive.recv()
    work = Path(tempfile.mkdtemp(prefix="permitcrawl-hostile-"))
    rows = []
    try:
        for host in cases:
            seeds = [s for s in seeds_of if f"//{host}/" in s] + ["http://bystander.test/"]
            results = {
                mode: measure(mode, proxy, seeds, work / mode, args.timeout, args.budget)
                for mode in ("plain", "permitcrawl")
            }
            rows.append((host, results))
            print(f"{host}: " + json.dumps(results), file=sys.stderr)
    finally:
        server.terminate()
        shutil.rmtree(work, ignore_errors=True)

    print(f"each case with bystander.test; DOWNLOAD_TIMEOUT 30 s, CLOSESPIDER_TIMEOUT {args.timeout} s, "
          f"PERMITCRAWL_HOST_MAX_PAGES {args.budget}")  # fmt: skip
    print(f"{'case':<18} {'permitcrawl':>34}   {'plain Scrapy':>34}   ratio wall  ratio RSS")
    for host, results in rows:
        cells = []
        for mode in ("permitcrawl", "plain"):
            r = results[mode]
            if "error" in r:
                cells.append(f"{'failed':>34}")
                continue
            end = "" if r["finish_reason"] == "finished" else f" ({r['finish_reason']})"
            cells.append(f"{r['wall']:6.1f} s {r['rss']:6.0f} MB {r['responses']:5d} resp{end:>8}")
        ours, plain = results["permitcrawl"], results["plain"]
        ratio = (
            f"{ours['wall'] / plain['wall']:9.2f}x  {ours['rss'] / plain['rss']:8.2f}x"
            if "error" not in ours and "error" not in plain
            else ""
        )
        print(f"{host:<18} {cells[0]}   {cells[1]}   {ratio}")


if __name__ == "__main__":
    main()
