"""End to end: provenance grows by a small row per capture; each distinct decision is stored once.

Pages of one host are judged alike but for their URL, the time and the URL's path in some
reasons: their decisions are stored once each (crawler.storage.compact), and every capture's
rows refer to them. A behaviour test, not a measurement: bench/README.md has the figures.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from typing import TYPE_CHECKING

from crawler.localweb.server import LocalWebServer, serve
from tests.conftest import crawl, run_cli
from tests.sites import page

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

HOSTS = 3
PAGES = 30
SITES = {
    f"many-{n}.test": {
        "/robots.txt": (200, {"Content-Type": "text/plain"}, "User-agent: *\nDisallow: /private\n"),
        "/": page(f"host {n}", *(f"/p{i}" for i in range(PAGES))),
        **{f"/p{i}": page(f"host {n} page {i}", "/") for i in range(PAGES)},
    }
    for n in range(HOSTS)
}
SEEDS = [f"http://{host}/" for host in SITES]


@contextmanager
def local_web() -> Iterator[LocalWebServer]:
    server = serve(SITES)
    try:
        yield server
    finally:
        server.close()


def _one(conn: sqlite3.Connection, sql: str) -> int:
    return conn.execute(sql).fetchone()[0]


def test_each_distinct_decision_is_stored_once(tmp_path: Path) -> None:
    out = tmp_path / "many"
    with local_web() as web:
        run = crawl(web, out, "-s", "AUTOTHROTTLE_ENABLED=False", seeds=SEEDS)
    assert run.result.returncode == 0, run.result.stderr
    with sqlite3.connect(out / "provenance.db") as conn:
        captures = _one(conn, "select count(*) from capture_rows")
        assert captures == HOSTS * (PAGES + 1)
        # Three purposes judged per page, alike on each host: three decisions a host, not three a page.
        assert _one(conn, "select count(*) from decisions") == 3 * HOSTS
        assert _one(conn, "select count(*) from verdicts") == HOSTS
        assert _one(conn, "select count(*) from manifests") == HOSTS
        # No per-capture row holds a decision's text or a manifest: they are ids.
        for table in ("capture_rows", "verdict_usage"):
            columns = [row[1] for row in conn.execute(f"select * from pragma_table_info('{table}')")]
            longest = max(
                _one(conn, f"select max(length(cast({c} as text))) from {table}") or 0 for c in columns
            )
            assert longest < 200, (table, longest)
        # The views give every row back whole: the decision of each purpose, with its page's URL.
        for url, decision in conn.execute(
            "select c.url, u.decision from captures c join usage u on u.capture_id = c.warc_record_id"
        ):
            data = json.loads(decision)
            assert data["url"] == url
            robots = next(b for b in data["bases"] if b["signal"] == "robots")
            path = url.split("://", 1)[1][url.split("://", 1)[1].index("/") :]
            assert robots["reason"].startswith(f"robots.txt allows {path} for ")
    conn.close()
    # The WARC metadata records keep every decision whole: audit re-derives them all from there.
    audit = run_cli("audit", out)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert f"audited {captures} captures" in audit.stderr and "0 differences" in audit.stderr
