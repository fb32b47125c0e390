"""End to end: `--max-pages N` captures N pages at most, whatever the concurrency."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
import sqlite_utils

from crawler.localweb.server import LocalWebServer, Reply, serve
from tests.conftest import crawl, run_cli
from tests.sites import HTML, page

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def _rows(out: Path, sql: str) -> list[dict]:
    return list(sqlite_utils.Database(out / "provenance.db").query(sql))


@contextmanager
def local_web(sites: dict) -> Iterator[LocalWebServer]:
    server = serve(sites)
    try:
        yield server
    finally:
        server.close()


def _budget_site(number: int) -> dict:
    """A host of 20 pages: every third refused after fetching, every seventh cut short by the server."""
    site: dict = {"/": page(f"budget {number}", *(f"/p{i}" for i in range(20)))}
    for i in range(20):
        if i % 3 == 0:
            site[f"/p{i}"] = (200, {**HTML, "X-Robots-Tag": "noai"}, "<html><body>no ai</body></html>")
        elif i % 7 == 0:
            site[f"/p{i}"] = Reply(
                200, (("Content-Type", "text/html"), ("Content-Length", "500")), b"<ht", close=True
            )
        else:
            site[f"/p{i}"] = page(f"budget {number} page {i}", *(f"/p{j}" for j in range(20)))
    return site


BUDGET_SITES = {f"budget-{n}.test": _budget_site(n) for n in range(12)}
BUDGET_SEEDS = [f"http://{host}/" for host in BUDGET_SITES]
FAST_AND_WIDE = (
    "-s", "AUTOTHROTTLE_ENABLED=False",
    "-s", "CONCURRENT_REQUESTS=32",
    "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8",
    "-s", "RETRY_TIMES=0",
)  # fmt: skip


@pytest.mark.parametrize("budget", [1, 25])
def test_max_pages_is_a_hard_cap_on_pages_captured(budget: int, tmp_path: Path) -> None:
    out = tmp_path / "budget"
    with local_web(BUDGET_SITES) as web:
        run = crawl(web, out, "--max-pages", str(budget), *FAST_AND_WIDE, seeds=BUDGET_SEEDS)
        assert run.result.returncode == 0, run.result.stderr
        assert "finished (max_pages)" in run.result.stderr
        # There are far more pages than the budget: exactly the budget is captured, never more.
        assert _rows(out, "select count(*) as n from captures")[0]["n"] == budget
        assert f"URLs are still queued in the frontier: crawl into {out} again to go on" in run.result.stderr
        # The same command again resumes the crawl: the budget is spent already.
        again = crawl(web, out, "--max-pages", str(budget), *FAST_AND_WIDE, seeds=BUDGET_SEEDS)
        assert again.result.returncode == 0, again.result.stderr
        assert "\ncaptured 0 pages" in f"\n{again.result.stderr}"
        assert _rows(out, "select count(*) as n from captures")[0]["n"] == budget
        # A larger budget goes on from the frontier: the pages not yet captured, none twice.
        more = crawl(web, out, "--max-pages", str(budget + 3), *FAST_AND_WIDE, seeds=BUDGET_SEEDS)
    assert more.result.returncode == 0, more.result.stderr
    assert "\ncaptured 3 pages" in f"\n{more.result.stderr}"
    counts = _rows(out, "select count(*) as n, count(distinct url) as urls from captures")[0]
    assert (counts["n"], counts["urls"]) == (budget + 3, budget + 3)


def test_a_budget_larger_than_the_web_lets_the_crawl_finish(tmp_path: Path) -> None:
    with local_web(BUDGET_SITES) as web:
        run = crawl(web, tmp_path / "all", "--max-pages", "10000", *FAST_AND_WIDE, seeds=BUDGET_SEEDS[:2])
    assert run.result.returncode == 0, run.result.stderr
    assert "finished (finished)" in run.result.stderr
    # 1 home page and 11 plain pages per host; the others were refused or cut short.
    assert _rows(tmp_path / "all", "select count(*) as n from captures")[0]["n"] == 2 * 12


def test_a_budget_below_zero_is_an_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli("crawl", "http://site-a.test/", "--out", out, "-s", "PERMITCRAWL_MAX_PAGES=-1")
    assert result.returncode == 1
    assert result.stderr == (
        "Error: setting PERMITCRAWL_MAX_PAGES='-1' is not usable (-1 is out of range); "
        "expected a whole number of pages captured in all (0: no limit)\n"
    )
    assert not out.exists()
