"""Benchmark: peak memory of one permitcrawl crawl as the number of hosts grows.

    python bench/hosts.py [--hosts 2000 --hosts 20000] [--pages 3] [--concurrency 64]
                          [--set NAME=VALUE]... [--profile] [--evidence-size]

For each HOSTS, a local web of HOSTS sites (``h00000.hosts.test``, ...) of
PAGES small HTML pages each (the home page links to the others) and a
robots.txt is served on 127.0.0.1 by its own process, and crawled once by
permitcrawl (the add-on, evidence archiving, WARC files, the provenance
database and the embedded frontier, as ``permitcrawl crawl`` runs) from every
host's home page, in a fresh process. It prints, per run, wall time, pages
fetched and the peak resident memory of the crawling process (ru_maxrss from
wait4; the web server's process is not counted), and the ratio of the largest
run's peak to the smallest's. ``--profile`` also prints the largest
allocations (tracemalloc, by size) left at the end of each crawl, which slows
the crawl several times. ``--evidence-size`` prints what one host's evidence
costs while it is kept (the gate's cache, in bytes a host: every object it
reaches, those shared between hosts counted once), the figure that sets
``POLICY_HOSTS_KEPT``'s default. This is a measurement, not a test.
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

HTML = (("Content-Type", "text/html; charset=utf-8"),)
ROBOTS = b"User-agent: *\nDisallow: /nowhere/\n"


def host_name(index: int) -> str:
    return f"h{index:05d}.hosts.test"


def generate(hosts: int, pages: int) -> dict[str, dict[str, tuple]]:
    """HOSTS sites of PAGES pages each (the home page links to the others) and a robots.txt."""
    sites = {}
    for h in range(hosts):
        paths = ["/", *(f"/p/{i}" for i in range(1, pages))]
        links = "".join(f'<a href="{path}">{path}</a> ' for path in paths[1:])
        site: dict[str, tuple] = {"/robots.txt": (200, {"Content-Type": "text/plain"}, ROBOTS)}
        for path in paths:
            body = f"<html><head><title>{path}</title></head><body><p>{path}</p>{links}</body></html>"
            site[path] = (200, dict(HTML), body.encode())
        sites[host_name(h)] = site
    return sites


class _Discard(list):
    def append(self, item: object) -> None:
        pass


def _serve(conn: multiprocessing.connection.Connection, hosts: int, pages: int) -> None:
    from crawler.localweb.server import LocalWebServer

    server = LocalWebServer(generate(hosts, pages))
    server.requests = _Discard()  # type: ignore[assignment]  # a log of 60,000 requests is not measured
    conn.send(server.proxy_url)
    server.serve_forever()


def deep_size(roots: list[object], seen: set[int]) -> int:
    """Bytes of the objects reachable from ``roots`` and not in ``seen`` (types, modules, functions aside)."""
    import gc
    import types

    shared = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)
    total, stack = 0, list(roots)
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, shared):
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        stack.extend(gc.get_referents(item))
    return total


def evidence_size(crawler: object) -> dict[str, float]:
    """Bytes a kept host's evidence costs: the gate's cache over its hosts, the first one left out.

    The first host's evidence is measured alone, so that what every host shares
    (enumerations, interned strings, the bundled agent list) is counted there.
    """
    import gc

    from crawler.adapters.middlewares import PolicyGateMiddleware

    gate = next(o for o in gc.get_objects() if isinstance(o, PolicyGateMiddleware) and o.crawler is crawler)
    entries = list(gate.evidence._entries.values())
    seen: set[int] = set()
    deep_size(entries[:1], seen)
    rest = deep_size([*entries[1:], *gate.fetcher.robots_seen.values()], seen)
    return {"hosts_kept": len(entries), "bytes_per_kept_host": round(rest / max(1, len(entries) - 1))}


def child(
    proxy: str, hosts: int, out: Path, concurrency: int, extra: list[str], profile: bool, sizes: bool = False
) -> None:
    """Run one crawl in this (fresh) process; print what it fetched (and its largest allocations)."""
    os.environ["http_proxy"] = proxy
    if profile:
        import tracemalloc

        tracemalloc.start(5)
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from crawler.adapters.runner import FRONTIER_SETTINGS
    from crawler.adapters.spiders.seeds import SeedSpider

    settings = Settings()
    settings.setmodule("crawler.adapters.settings", priority="project")
    settings.setdict(
        {
            "CONCURRENT_REQUESTS": concurrency,
            "AUTOTHROTTLE_ENABLED": False,
            "DOWNLOAD_DELAY": 0,
            "LOG_LEVEL": "ERROR",
            "TELNETCONSOLE_ENABLED": False,
            "WARC_DIR": str(out / "warc"),
            "PROVENANCE_DB": str(out / "provenance.db"),
            "PROGRESS_INTERVAL": 0,
            **FRONTIER_SETTINGS,
            "PERMITCRAWL_FRONTIER": "embedded",
            **dict(pair.split("=", 1) for pair in extra),
        },
        priority="cmdline",
    )
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(SeedSpider)
    process.crawl(crawler, seeds=[f"http://{host_name(h)}/" for h in range(hosts)])
    process.start()
    stats = crawler.stats.get_stats()
    measured = evidence_size(crawler) if sizes else {}
    if profile:
        import tracemalloc

        snapshot = tracemalloc.take_snapshot()
        for stat in snapshot.statistics("traceback")[:15]:
            print(f"{stat.size / 1e6:8.1f} MB {stat.count:9d} blocks", file=sys.stderr)
            for line in stat.traceback.format()[-6:]:
                print("    " + line, file=sys.stderr)
    print(
        json.dumps(
            {
                "responses": stats.get("response_received_count", 0),
                "captured": stats.get("archive/captures", 0),
                "stats_keys": len(stats),
                "finish_reason": stats.get("finish_reason"),
                **measured,
            }
        )
    )


def measure(
    proxy: str, hosts: int, out: Path, concurrency: int, extra: list[str], profile: bool, sizes: bool = False
) -> dict:
    """Crawl once in a child process; return wall time, its peak RSS (MB) and what it reported."""
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, __file__, "--child", "--proxy", proxy, "--out", str(out),
               "--hosts", str(hosts), "--concurrency", str(concurrency),
               *(f"--set={pair}" for pair in extra), *(["--profile"] if profile else []),
               *(["--evidence-size"] if sizes else [])]  # fmt: skip
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stdout:
        process = subprocess.Popen(command, stdout=stdout)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        stdout.seek(0)
        lines = stdout.read().strip().splitlines()
    if os.waitstatus_to_exitcode(status) != 0 or not lines:
        return {"wall": wall, "rss": usage.ru_maxrss / 1024, "error": True}
    return {"wall": wall, "rss": usage.ru_maxrss / 1024, **json.loads(lines[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, action="append", default=[], help="hosts of a run (repeatable)")
    parser.add_argument("--pages", type=int, default=3, help="pages per host, the home page included")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a crawl setting")
    parser.add_argument("--profile", action="store_true", help="print the largest allocations at the end")
    parser.add_argument("--evidence-size", action="store_true", help="bytes a kept host's evidence costs")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--proxy")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.child:
        options = (args.concurrency, args.set, args.profile, args.evidence_size)
        child(args.proxy, args.hosts[0], args.out, *options)
        return
    runs = args.hosts or [2000, 20000]
    ctx = multiprocessing.get_context("spawn")
    work = Path(tempfile.mkdtemp(prefix="permitcrawl-hosts-"))
    rows = []
    try:
        for hosts in runs:
            receive, send = ctx.Pipe(duplex=False)
            server = ctx.Process(target=_serve, args=(send, hosts, args.pages), daemon=True)
            server.start()
            try:
                proxy = receive.recv()
                result = measure(
                    proxy, hosts, work / "out", args.concurrency, args.set, args.profile, args.evidence_size
                )
            finally:
                server.terminate()
            rows.append((hosts, result))
            print(f"{hosts} hosts: " + json.dumps(result), file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.pages} pages per host, concurrency {args.concurrency}, settings {args.set or 'default'}")
    print(f"{'hosts':>7} {'wall':>9} {'responses':>10} {'peak RSS':>10}")
    for hosts, r in rows:
        print(f"{hosts:7d} {r['wall']:7.1f} s {r.get('responses', 0):10d} {r['rss']:7.0f} MB")
    good = [r["rss"] for _, r in rows if "error" not in r]
    if len(good) > 1:
        print(f"peak RSS, largest run / smallest run: {good[-1] / good[0]:.2f}x")


if __name__ == "__main__":
    main()
