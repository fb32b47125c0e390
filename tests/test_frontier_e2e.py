"""The embedded frontier end to end: a crawl killed with SIGKILL at any moment resumes to the same result.

Every run goes through the CLI in a subprocess against a test web of its own:
three hosts of linked pages (some refused before fetching by robots.txt, some
after, by an X-Robots-Tag), served with a small delay so that a kill lands
mid-crawl. The reference is the same crawl never killed.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest

from crawler.localweb.server import LocalWebServer, Reply, serve
from tests.conftest import cli_env, run_cli
from tests.sites import HTML, TEXT

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

SECTIONS = 6
PER_SECTION = 8
DELAY = {"seconds": 0.01}
HOSTS = ("a.frontier.test", "b.frontier.test", "c.frontier.test")
SEEDS = [f"http://{host}/" for host in HOSTS]
ARGS = ("-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "DOWNLOAD_TIMEOUT=5", "-s", "PROVENANCE_BATCH_SIZE=5")


def _page(title: str, links: list[str], headers: tuple[tuple[str, str], ...] = ()) -> Callable[[], Reply]:
    items = "".join(f'<a href="{href}">{href}</a> ' for href in links)
    body = f"<html><head><title>{title}</title></head><body><p>{title}</p>{items}</body></html>".encode()

    def reply() -> Reply:
        return Reply(200, (*HTML.items(), *headers), body, delay=DELAY["seconds"])

    return reply


def _site(host: str) -> dict[str, Any]:
    """A home page, sections of pages linking onward (a tree three deep), a refused corner."""
    site: dict[str, Any] = {
        "/robots.txt": (200, TEXT, "User-agent: *\nDisallow: /private/\n"),
        "/": _page(f"{host} home", [f"/s{i}/" for i in range(SECTIONS)] + ["/private/a", "/noai"]),
        "/noai": _page("not for training", [], (("X-Robots-Tag", "noai"),)),
    }
    for i in range(SECTIONS):
        site[f"/s{i}/"] = _page(f"section {i}", [f"/s{i}/p{j}" for j in range(PER_SECTION)])
        for j in range(PER_SECTION):
            site[f"/s{i}/p{j}"] = _page(f"page {i}.{j}", [f"/s{i}/p{(j + 1) % PER_SECTION}", "/private/b"])
    return site


@pytest.fixture(scope="module")
def fweb() -> Iterator[LocalWebServer]:
    server = serve({host: _site(host) for host in HOSTS})
    yield server
    server.close()


def query(out: Path, sql: str) -> list[tuple[Any, ...]]:
    uri = f"{(out / 'provenance.db').as_uri()}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.Error:
        return []


def command(out: Path) -> list[str]:
    return [sys.executable, "-m", "crawler", "crawl", *SEEDS, "--out", str(out), *ARGS]


def outcome(out: Path) -> tuple[list[str], list[str]]:
    """The URLs captured and the URLs refused, each sorted, duplicates kept."""
    captured = sorted(row[0] for row in query(out, "select url from captures"))
    refused = sorted(row[0] for row in query(out, "select url from refusals"))
    return captured, refused


def test_a_crawl_killed_at_ten_moments_resumes_each_time_to_the_uninterrupted_result(
    fweb: LocalWebServer, tmp_path: Path
) -> None:
    started = time.monotonic()
    reference = tmp_path / "reference"
    whole = subprocess.run(command(reference), capture_output=True, text=True, env=cli_env(fweb.proxy_url))
    took = time.monotonic() - started
    assert whole.returncode == 0, whole.stderr
    captured, refused = outcome(reference)
    pages = 1 + 1 + SECTIONS * (1 + PER_SECTION)  # home, the noai page's refusal aside
    assert len(captured) == len(HOSTS) * (pages - 1), captured
    assert {url.rsplit("/", 2)[-2:][0] for url in refused} >= {"private"}
    assert sum(url.endswith("/noai") for url in refused) == len(HOSTS)
    kills = []
    for moment in range(10):
        out = tmp_path / f"killed{moment}"
        # Spread over the whole crawl: from start-up to the last pages.
        delay = took * (0.1 + 0.09 * moment)
        first = subprocess.Popen(
            command(out),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(fweb.proxy_url),
        )
        time.sleep(delay)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
        kills.append((moment, len(query(out, "select 1 from captures"))))
        resumed = run_cli(*command(out)[3:], proxy=fweb.proxy_url)
        assert resumed.returncode == 0, (moment, resumed.stderr)
        assert "Traceback" not in resumed.stderr
        again_captured, again_refused = outcome(out)
        assert again_captured == captured, (moment, set(captured) ^ set(again_captured))
        assert again_refused == refused, (moment, set(refused) ^ set(again_refused))
        audited = run_cli("audit", out)
        assert audited.returncode == 0, (moment, audited.stdout, audited.stderr)
        assert "0 differences" in audited.stdout + audited.stderr
        # The frontier is empty: nothing queued, nothing in flight.
        with contextlib.closing(sqlite3.connect(out / "frontier.db")) as conn:
            assert conn.execute("select count(*) from queue").fetchone()[0] == 0
    # The kills did land mid-crawl: some before anything was recorded, some with pages recorded.
    recorded = [count for _, count in kills]
    assert min(recorded) < len(captured) and max(recorded) > 0, kills


def test_frontier_status_shows_what_a_crawl_left_per_shard_and_refuses_unclear_requests(
    fweb: LocalWebServer, tmp_path: Path
) -> None:
    out = tmp_path / "crawl"
    # Two hosts' home pages only (depth 0): the links found there stay queued.
    result = run_cli(*command(out)[3:6], "--out", out, *ARGS, "--max-depth", "0", proxy=fweb.proxy_url)
    assert result.returncode == 0, result.stderr
    lines = [
        json.loads(line)
        for line in run_cli(
            "frontier", "status", out, "--format", "jsonl", "--sample", "0"
        ).stdout.splitlines()
    ]
    total = lines[0]
    recorded = len(query(out, "select 1 from captures")) + len(query(out, "select 1 from refusals"))
    assert total["kind"] == "total" and total["backend"] == "embedded" and total["in_flight"] == 0
    assert total["done"] >= recorded > 0
    shards = [line for line in lines if line["kind"] == "shard"]
    assert (
        sum(s["done"] for s in shards) == total["done"]
        and sum(s["queued"] for s in shards) == total["queued"]
    )
    assert {line["kind"] for line in lines} >= {"total", "shard", "lease"}
    text = run_cli("frontier", "status", out, "--sample", "0.2")
    assert text.returncode == 0 and text.stdout.startswith("embedded frontier: ")
    assert "0.0 URLs done a second" in text.stdout  # nothing runs there now
    both = run_cli("frontier", "status", out, "--frontier", "redis://127.0.0.1:1/0")
    assert both.returncode == 2 and "one of them" in both.stderr
    missing = run_cli("frontier", "status", tmp_path / "nowhere")
    assert (
        missing.returncode == 1
        and "no frontier there" in missing.stderr
        and "Traceback" not in missing.stderr
    )
