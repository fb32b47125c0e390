"""Benchmark: the read commands over a provenance database of a million captures.

    python bench/million.py [DIR] [--captures 1000000] [--hosts 50000] [--warc-captures N]
        [--audit-hosts 20] [--audit-pages 100]

Builds DIR (default: a temporary directory) as a crawl directory through the
project's own writing code: :class:`~crawler.storage.writer.ArchiveWriter`
over a :class:`~crawler.storage.warc.WarcStore` and a
:class:`~crawler.storage.provenance.ProvenanceDB`, with typed
:class:`~crawler.storage.records.Capture` values whose decisions come from
:func:`policies.decision.combine` and whose evidence manifest names the host's
robots.txt record (written as an evidence document). The first
``--warc-captures`` captures go through ``record_capture`` (three WARC
records each, then their rows); the rest get their rows from the same
:mod:`crawler.storage.records` shapes (``capture_row``, ``usage_rows``)
queued through ``ProvenanceDB.add_capture``, pointing at WARC locations that
were not written: writing a million gzip'd WARC records costs more than the
queries being measured. Hosts are ``hN.dM.test``: ten hosts a domain, but the
first thousand hosts share ``d0.test`` (the big domain); every fifth host
refuses ai-train (a noai meta basis) and one page in fifty is a 404.

Then it times, through the CLI in a subprocess (the time includes Python's
and the CLI's start-up) and in-process (the query alone, warm cache):
``pages --usable --host``, ``explain URL``, ``pages --usable --domain``,
every usable page as jsonl to /dev/null, ``report``, and ``audit``: audit
re-derives every decision from the WARC records, which the synthetic
decisions cannot survive, so it is timed on a real crawl of bench/run.py's
web (``--audit-hosts`` x ``--audit-pages``) in DIR/audit-crawl. It prints a table, the database's bytes per
capture, and the EXPLAIN QUERY PLAN of every statement the queries ran,
flagging any step that scans a whole table. This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.storage.provenance import ProvenanceDB  # noqa: E402
from crawler.storage.queries import PageFilter, explain, open_crawl, pages  # noqa: E402
from crawler.storage.records import Capture, capture_row, usage_rows  # noqa: E402
from crawler.storage.warc import CaptureRecords, HttpExchange, WarcLocation, WarcStore  # noqa: E402
from crawler.storage.writer import ArchiveWriter  # noqa: E402
from crawler.workflows.report import render  # noqa: E402
from policies.decision import Basis, DefaultPolicy, Stage, Verdict, combine  # noqa: E402
from policies.document import Document  # noqa: E402
from policies.purpose import Purpose  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import sqlite_utils

    from policies.decision import Decision

CRAWL_ID = "00000000-0000-4000-8000-00000000b001"
START = datetime(2026, 11, 1, tzinfo=UTC)
BIG_DOMAIN_HOSTS = 1000
HOSTS_PER_DOMAIN = 10
AGENT = [("User-Agent", "permitcrawl/0.1.0 (+https://permitcrawl.invalid/contact)")]


def host_name(index: int) -> str:
    """Host ``index``'s name: the first thousand under d0.test, then ten a domain."""
    domain = 0 if index < BIG_DOMAIN_HOSTS else 1 + (index - BIG_DOMAIN_HOSTS) // HOSTS_PER_DOMAIN
    return f"h{index}.d{domain}.test"


@dataclasses.dataclass(frozen=True)
class Host:
    """A host's evidence manifest and its decisions per purpose (for its first URL; others differ by url)."""

    name: str
    manifest: dict[str, Any]
    decisions: dict[Purpose, Decision]


def host_decisions(name: str, robots_id: str, refuses_training: bool) -> dict[Purpose, Decision]:
    """A page's decisions on host ``name``: robots allows; ai-train also has a noai meta if refused."""
    robots = Basis(
        signal="robots",
        verdict=Verdict.ALLOW,
        reason="robots.txt allows / for permitcrawl",
        source=f"http://{name}/robots.txt (HTTP 200)",
        sha256="ab" * 32,
        record_id=robots_id,
        rule="Allow: /",
    )
    noai = Basis(signal="meta-robots", verdict=Verdict.DENY, reason="<meta name=robots content=noai>")
    return {
        purpose: combine(
            [robots, noai] if refuses_training and purpose is Purpose.AI_TRAIN else [robots],
            url=f"http://{name}/",
            purpose=purpose,
            default_policy=DefaultPolicy.ALLOW,
            decided_at=START,
            stage=Stage.POST_FETCH,
        )
        for purpose in Purpose
    }


def write_host(writer: ArchiveWriter, index: int) -> Host:
    """Write host ``index``'s robots.txt as an evidence document; return its manifest and decisions."""
    name = host_name(index)
    body = b"User-agent: *\nAllow: /\n"
    robots_url = f"http://{name}/robots.txt"
    document = Document(
        kind="robots.txt", url=robots_url, final_url=robots_url, status=200, body=body, fetched_at=START
    )
    exchange = HttpExchange(
        url=robots_url,
        request_headers=AGENT,
        status=200,
        response_headers=[("Content-Type", "text/plain")],
        body=body,
        started_at=START,
    )
    origin = f"http://{name}"
    location = writer.record_evidence(CRAWL_ID, document, origin=origin, exchange=exchange)
    assert location is not None
    manifest = {
        "origin": origin,
        "fetched_at": START.isoformat(),
        "robots.txt": {"url": robots_url, "record_id": location.record_id, "source": "HTTP 200"},
        "rsl": [],
    }
    return Host(name, manifest, host_decisions(name, location.record_id, refuses_training=index % 5 == 0))


def page_capture(host: Host, number: int, serial: int) -> Capture:
    """Page ``number`` of ``host`` (``serial``: its position in the crawl, which sets its fetch time)."""
    url = f"http://{host.name}/articles/{number}.html"
    status = 404 if serial % 50 == 49 else 200
    body = (f"<html><head><title>{url}</title></head><body>" + "<p>text of the page</p>" * 40).encode()
    exchange = HttpExchange(
        url=url,
        request_headers=AGENT,
        status=status,
        response_headers=[("Content-Type", "text/html; charset=utf-8")],
        body=body,
        ip_address="192.0.2.1",
        started_at=START + timedelta(seconds=serial),
    )
    usage = {purpose: dataclasses.replace(d, url=url) for purpose, d in host.decisions.items()}
    return Capture(
        crawl_id=CRAWL_ID,
        exchange=exchange,
        decision=usage[Purpose.AI_TRAIN],
        usage=usage,
        evidence=host.manifest,
        depth=1,
        referer=f"http://{host.name}/",
        redirected_from=None,
        content_type="text/html; charset=utf-8",
        fetch_time_ms=20,
    )


def rows_only(writer: ArchiveWriter, capture: Capture, serial: int) -> None:
    """Queue a capture's rows, as record_capture would, pointing at WARC records that were not written."""
    ids = [f"<urn:uuid:00000000-0000-4000-{kind}-{serial:012d}>" for kind in ("a000", "b000", "c000")]
    response, request, metadata = (WarcLocation("unwritten.warc.gz", serial * 3000, 1000, i) for i in ids)
    records = CaptureRecords(
        response=response,
        request=request,
        metadata=metadata,
        payload_digest="sha1:" + "A" * 32,
        block_digest="sha1:" + "B" * 32,
    )
    location = {"warc_file": "warc/unwritten.warc.gz", "warc_offset": serial * 3000, "warc_length": 1000}
    writer.db.add_capture(capture_row(capture, records, location), usage_rows(capture, response.record_id))


def build(directory: Path, captures: int, hosts: int, warc_captures: int) -> float:
    """Build the crawl directory; return the seconds it took."""
    began = time.perf_counter()
    directory.mkdir(parents=True, exist_ok=True)
    writer = ArchiveWriter(
        WarcStore(directory / "warc", prefix="bench"),
        ProvenanceDB.open(directory / "provenance.db", batch_size=5000),
        evidence_warc=WarcStore(directory / "evidence", prefix="bench-evidence"),
        warc_path=lambda path: os.path.relpath(path, directory).replace(os.sep, "/"),
    )
    writer.db.start_crawl({"id": CRAWL_ID, "purpose": "ai-train", "started_at": START.isoformat()})
    per_host = -(-captures // hosts)
    host: Host | None = None
    for serial in range(captures):
        if serial % per_host == 0:
            host = write_host(writer, serial // per_host)
            if serial // per_host % 5000 == 0:
                print(f"  {serial:,} captures written, {time.perf_counter() - began:.0f} s", file=sys.stderr)
        assert host is not None
        capture = page_capture(host, serial % per_host, serial)
        if serial < warc_captures:
            writer.record_capture(capture)
        else:
            rows_only(writer, capture, serial)
    finished = START + timedelta(seconds=captures)
    writer.finish(CRAWL_ID, finished_at=finished, finish_reason="finished", stats={})
    db = open_crawl(directory, write=True)
    db.execute("ANALYZE")  # as a crawl's end leaves it
    db.conn.commit()
    db.close()
    return time.perf_counter() - began


def real_crawl(out: Path, hosts: int, pages: int) -> int:
    """Crawl bench/run.py's web of ``hosts`` x ``pages`` into ``out``; return the captures it made.

    Audit re-derives each decision from its evidence, so it is timed on a real
    crawl: the synthetic decisions above rest on no page that says them.
    """
    import multiprocessing

    import run  # bench/run.py: its local web and its way of crawling it

    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    server = ctx.Process(target=run._serve, args=(hosts, pages, send), daemon=True)
    server.start()
    try:
        seeds = [f"http://host{h:03d}.bench.test/" for h in range(hosts)]
        run.measure("permitcrawl", receive.recv(), seeds, out, 32, [])
    finally:
        server.terminate()
    db = open_crawl(out)
    try:
        return int(db["captures"].count)
    finally:
        db.close()


def cli(*args: str) -> tuple[float, int]:
    """Run ``python -m crawler ARGS`` with stdout to /dev/null; return its wall seconds and exit code."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "crawler", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    return time.perf_counter() - began, done.returncode


def best_of(runs: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """The least wall seconds of ``runs`` calls of ``work`` (warm cache), and the last call's result."""
    times, result = [], None
    for _ in range(runs):
        began = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - began)
    return min(times), result


def count(rows: Iterator[Any]) -> int:
    return sum(1 for _ in rows)


def plans(db: sqlite_utils.Database, work: Callable[[], Any]) -> list[tuple[str, list[str]]]:
    """Run ``work`` and return each distinct select it ran with its EXPLAIN QUERY PLAN steps."""
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    try:
        work()
    finally:
        db.conn.set_trace_callback(None)
    seen: dict[str, list[str]] = {}
    for sql in statements:
        if sql.lstrip().lower().startswith(("select", "with")) and sql not in seen:
            seen[sql] = [row[3] for row in db.conn.execute("EXPLAIN QUERY PLAN " + sql)]
    return list(seen.items())


def scans(plan: list[str]) -> list[str]:
    """The steps that read a whole table (SQLite says SCAN without USING ... INDEX)."""
    return [step for step in plan if step.startswith("SCAN") and "USING" not in step]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("directory", nargs="?", type=Path, default=None)
    parser.add_argument("--captures", type=int, default=1_000_000)
    parser.add_argument("--hosts", type=int, default=50_000)
    parser.add_argument("--warc-captures", type=int, default=20_000, help="captures written to WARC too")
    parser.add_argument("--audit-hosts", type=int, default=20, help="hosts of the crawl audit is timed on")
    parser.add_argument("--audit-pages", type=int, default=100, help="pages a host of that crawl")
    parser.add_argument(
        "--reuse", action="store_true", help="time DIR as an earlier run built it (same --captures, --hosts)"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each timing (the best is kept)")
    args = parser.parse_args()
    if (
        args.captures < args.hosts
        or args.hosts < 1
        or args.warc_captures < 0
        or min(args.audit_hosts, args.audit_pages) < 1
    ):
        parser.error(
            "need --captures >= --hosts >= 1, --warc-captures >= 0, --audit-hosts and --audit-pages >= 1"
        )
    directory = args.directory or Path(tempfile.mkdtemp(prefix="permitcrawl-million-"))
    if args.reuse:
        if not (directory / "provenance.db").exists():
            parser.error(f"--reuse: {directory} holds no provenance.db; build one first (without --reuse)")
    elif (directory / "provenance.db").exists():
        parser.error(f"{directory}: already holds a provenance.db; give a new directory, or --reuse it")
    seconds = None
    if not args.reuse:
        print(f"building {directory}: {args.captures:,} captures over {args.hosts:,} hosts", file=sys.stderr)
        seconds = build(directory, args.captures, args.hosts, min(args.warc_captures, args.captures))
        print(f"built in {seconds:.0f} s ({args.captures / seconds:,.0f} captures/s)", file=sys.stderr)
    size = (directory / "provenance.db").stat().st_size
    per_host = -(-args.captures // args.hosts)
    host = host_name(args.hosts // 2 + 1)  # a host whose ai-train is usable (index not a multiple of 5)
    url = f"http://{host}/articles/{per_host // 2}.html"
    domain = "d0.test"
    small_domain = host.split(".", 1)[1]
    table: list[tuple[str, str, str, str]] = []
    db = open_crawl(directory)

    def timed(name: str, goal: str, argv: list[str], work: Callable[[], Any]) -> None:
        inproc, result = best_of(args.runs, work)
        sub = min(cli(*argv)[0] for _ in range(args.runs))
        note = f"{result:,} rows" if isinstance(result, int) else ""
        table.append((name, f"{inproc * 1000:,.1f} ms {note}".strip(), f"{sub * 1000:,.0f} ms", goal))

    d = str(directory)
    startup = min(cli("--version")[0] for _ in range(args.runs))
    table.append(("CLI start-up (--version)", "", f"{startup * 1000:,.0f} ms", ""))
    usable = PageFilter(purpose="ai-train", usable=True)
    timed(
        f"pages --usable --host {host}",
        "< 100 ms",
        ["pages", d, "--usable", "--host", host],
        lambda: count(pages(db, dataclasses.replace(usable, host=host))),
    )
    timed("explain URL", "< 100 ms", ["explain", d, url], lambda: len(explain(db, url)["events"]))
    timed(
        f"pages --usable --domain {small_domain}",
        "< 1 s",
        ["pages", d, "--usable", "--domain", small_domain],
        lambda: count(pages(db, dataclasses.replace(usable, domain=small_domain))),
    )
    timed(
        f"pages --usable --domain {domain} (big)",
        "< 1 s",
        ["pages", d, "--usable", "--domain", domain],
        lambda: count(pages(db, dataclasses.replace(usable, domain=domain))),
    )
    began = time.perf_counter()
    streamed = count(pages(db, usable))
    inproc = time.perf_counter() - began
    sub = cli("pages", d, "--usable", "--format", "jsonl")[0]
    table.append(
        (
            "pages --usable --format jsonl (all)",
            f"{streamed / inproc:,.0f} rows/s ({streamed:,} rows)",
            f"{streamed / sub:,.0f} rows/s",
            ">= 100,000 rows/s",
        )
    )
    report = cli("report", d, "--out", str(directory / "report.html"))
    table.append(("report", "", f"{report[0]:,.1f} s (exit {report[1]})", "< 30 s"))
    sample = directory / "audit-crawl"
    audited = real_crawl(sample, args.audit_hosts, args.audit_pages)
    audit = cli("audit", str(sample))
    table.append(
        (
            f"audit (a real crawl: {audited:,} captures)",
            "",
            f"{audited / audit[0]:,.0f} pages/s ({audit[0]:,.1f} s, exit {audit[1]})",
            "",
        )
    )
    in_warc = min(args.warc_captures, args.captures)
    print(f"\n{args.captures:,} captures over {args.hosts:,} hosts; {in_warc:,} in WARC")
    print(f"provenance.db: {size:,} bytes, {size / args.captures:,.0f} bytes per capture")
    if seconds is not None:
        print(f"build: {seconds:,.0f} s, {args.captures / seconds:,.0f} captures/s")
    print()
    print("| query | in-process (warm) | CLI subprocess (incl. start-up) | goal |")
    print("| --- | --- | --- | --- |")
    for row in table:
        print("| " + " | ".join(row) + " |")
    print("\nEXPLAIN QUERY PLAN (steps that scan a whole table are flagged):")
    checks: list[tuple[str, Callable[[], Any]]] = [
        ("pages --host", lambda: count(pages(db, dataclasses.replace(usable, host=host)))),
        ("pages --domain", lambda: count(pages(db, dataclasses.replace(usable, domain=small_domain)))),
        ("pages (all)", lambda: next(iter(pages(db, usable)))),
        ("explain", lambda: explain(db, url)),
        # The report sums over every row: reading a whole table or index is its job, not a miss.
        ("report", lambda: render(db, directory)),
    ]
    for name, work in checks:
        for sql, plan in plans(db, work):
            flagged = scans(plan)
            verdict = f"SCANS: {flagged}" if flagged else "indexed"
            print(f"- {name}: {verdict}\n    {' '.join(sql.split())[:160]}\n    {plan}")


if __name__ == "__main__":
    main()
