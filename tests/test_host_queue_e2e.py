"""End to end: the cap of URLs scheduled per host is counted by the frontier, and survives a resumed crawl.

``cap.test`` disallows ``/x/`` in its robots.txt, so the gate refuses those
links before fetching and they never count against the page budget; only the
cap of URLs scheduled per host (three times ``PERMITCRAWL_HOST_MAX_PAGES``)
keeps the crawl from scheduling the allowed page its home page links to last.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import pytest
import redis

from crawler.localweb.server import serve
from tests.conftest import crawl

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from crawler.localweb.server import LocalWebServer
    from tests.redisserver import RedisServer

BUDGET = 2  # pages per host: at most 6 URLs of a host are ever scheduled
REFUSED = [f"/x/{i}" for i in range(10)]
HTML = {"Content-Type": "text/html; charset=utf-8"}


def page(title: str, *links: str) -> tuple[int, dict[str, str], str]:
    items = "".join(f'<a href="{href}">{href}</a> ' for href in links)
    return 200, HTML, f"<html><body><p>{title}</p>{items}</body></html>"


SITES = {
    "cap.test": {
        "/robots.txt": (200, {"Content-Type": "text/plain"}, "User-agent: *\nDisallow: /x/\n"),
        "/": page("home", *REFUSED, "/p/1"),
        "/p/1": page("one"),
        "/p/2": page("two"),
    }
}


@pytest.fixture(scope="module")
def cap_web() -> Iterator[LocalWebServer]:
    server = serve(SITES)
    yield server
    server.close()


def _crawl(web: LocalWebServer, out: Path, *seeds: str, frontier: str = "embedded") -> tuple[list[str], str]:
    run = crawl(
        web, out, "-s", f"PERMITCRAWL_HOST_MAX_PAGES={BUDGET}", "--frontier", frontier, seeds=list(seeds)
    )
    assert run.result.returncode == 0, run.result.stderr
    return [r.path for r in run.requests if r.host == "cap.test"], run.result.stderr


def _seen(out: Path) -> int:
    with sqlite3.connect(out / "frontier.db") as conn:
        return conn.execute("select count(*) from seen").fetchone()[0]


def test_a_host_gets_at_most_three_times_its_budget_of_urls_scheduled(
    cap_web: LocalWebServer, tmp_path: Path
) -> None:
    requested, stderr = _crawl(cap_web, tmp_path / "crawl", "http://cap.test/")
    # The home page and the first five links fill the cap of 6; the other five and /p/1 are left
    # out, so /p/1 is never requested although the page budget had room for it.
    assert "/" in requested and "/p/1" not in requested
    assert _seen(tmp_path / "crawl") == 3 * BUDGET
    assert (
        "1 host had more links than three times the page budget; links not scheduled:\n        6  cap.test"
        in stderr
    )


def test_a_resumed_crawl_counts_what_earlier_runs_scheduled(cap_web: LocalWebServer, tmp_path: Path) -> None:
    out = tmp_path / "crawl"
    first, _ = _crawl(cap_web, out, "http://cap.test/")
    assert "/p/1" not in first
    # The second run adds a seed of the same host: the host is full (counted on disk by the first
    # run), so the new seed is not scheduled, although the page budget still has room.
    second, stderr = _crawl(cap_web, out, "http://cap.test/", "http://cap.test/p/2")
    assert "/p/2" not in second and "/p/1" not in second
    assert _seen(out) == 3 * BUDGET
    assert "had more links than three times the page budget; links not scheduled" in stderr


def test_the_cap_holds_with_a_redis_frontier(
    cap_web: LocalWebServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    requested, stderr = _crawl(cap_web, tmp_path / "crawl", "http://cap.test/", frontier=redis_server.url)
    assert "/" in requested and "/p/1" not in requested
    client = redis.Redis(port=redis_server.port, decode_responses=True)
    assert client.hget("permitcrawl:scheduled", "cap.test") == str(3 * BUDGET)
    assert client.scard("permitcrawl:seen") == 3 * BUDGET
    assert (
        "1 host had more links than three times the page budget; links not scheduled:\n        6  cap.test"
        in stderr
    )
