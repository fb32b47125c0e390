"""The writer process end to end: the same output as writing inline, back-pressure, and its death survived.

Every crawl goes through the CLI in a subprocess against the test web of
tests/test_frontier_e2e.py (three hosts of linked pages, some refused before
fetching, some after). The writer process is found as the crawl's child
started by multiprocessing's spawn (not its resource tracker).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from crawler.localweb.server import serve
from tests.conftest import cli_env, run_cli
from tests.test_frontier_e2e import HOSTS, _site, command, outcome, query

if TYPE_CHECKING:
    from collections.abc import Iterator

    from crawler.localweb.server import LocalWebServer

KILL_WAIT = 60  # seconds a crawl may take to stop once its writer is killed
PROCESS = ("-s", "PERMITCRAWL_WRITER=process")


@pytest.fixture(scope="module")
def wweb() -> Iterator[LocalWebServer]:
    server = serve({host: _site(host) for host in HOSTS})
    yield server
    server.close()


def crawl(out: Path, *settings: str, proxy: str) -> subprocess.CompletedProcess[str]:
    extra = [part for pair in settings for part in ("-s", pair)]
    return run_cli(*command(out)[3:], *extra, proxy=proxy)


def digests(out: Path) -> list[tuple[Any, ...]]:
    """Each capture's URL and payload digest, and each refusal's URL and signal, sorted."""
    return sorted(query(out, "select url, payload_digest from captures")) + sorted(
        query(out, "select url, signal from refusals")
    )


def audited(out: Path) -> str:
    result = run_cli("audit", out)
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout + result.stderr


def frontier_left(out: Path) -> int:
    with contextlib.closing(sqlite3.connect(out / "frontier.db")) as conn:
        return conn.execute("select count(*) from queue").fetchone()[0]


def writer_of(pid: int) -> int | None:
    """The pid of the writer process of the crawl process ``pid`` (None if it has none now)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and "spawn_main" in cmdline:
            return int(entry.name)
    return None


@pytest.fixture(scope="module")
def reference(wweb: LocalWebServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The crawl written inline, never interrupted."""
    out = tmp_path_factory.mktemp("inline") / "crawl"
    result = crawl(out, "PERMITCRAWL_WRITER=inline", proxy=wweb.proxy_url)
    assert result.returncode == 0, result.stderr
    assert "0 differences" in audited(out)
    return out


def test_a_crawl_written_by_the_writer_process_is_the_crawl_written_inline(
    wweb: LocalWebServer, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "process"
    result = crawl(out, "PERMITCRAWL_WRITER=process", proxy=wweb.proxy_url)
    assert result.returncode == 0, result.stderr
    assert digests(out) == digests(reference)
    assert outcome(out) == outcome(reference)
    assert "0 differences" in audited(out)
    assert frontier_left(out) == 0
    # The crawl's row names the crawl's process, and says the writer process wrote it.
    settings, stats = query(out, "select settings, stats from crawls")[0]
    assert json.loads(settings)["permitcrawl"]["writer"] == "process"
    assert "archive/writer_waits" in json.loads(stats)


def test_with_a_queue_of_one_the_crawl_waits_for_the_writer_and_ends_the_same(
    wweb: LocalWebServer, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "tiny"
    result = crawl(out, "PERMITCRAWL_WRITER=process", "PERMITCRAWL_WRITER_QUEUE=1", proxy=wweb.proxy_url)
    assert result.returncode == 0, result.stderr
    assert outcome(out) == outcome(reference)
    assert "0 differences" in audited(out)
    (stats,) = query(out, "select stats from crawls")[0]
    assert json.loads(stats)["archive/writer_waits"] > 0  # the crawl did wait for its writer


def kill_writer_when(
    out: Path, proxy: str, captured: int, *, whole: bool = False
) -> subprocess.CompletedProcess[str]:
    """Start the crawl, kill -9 its writer once ``captured`` captures are committed; return how it ended.

    ``whole``: kill the crawl process instead (its writer dies with it).
    """
    crawl_process = subprocess.Popen(
        [*command(out), *PROCESS],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(proxy),
    )
    killed = None
    deadline = time.monotonic() + 60
    while killed is None and time.monotonic() < deadline and crawl_process.poll() is None:
        writer = writer_of(crawl_process.pid)
        if writer is not None and len(query(out, "select 1 from captures")) >= captured:
            killed = crawl_process.pid if whole else writer
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.005)
    assert killed is not None, "the crawl ended before its writer could be killed"
    stdout, stderr = crawl_process.communicate(timeout=KILL_WAIT)
    return subprocess.CompletedProcess(crawl_process.args, crawl_process.returncode, stdout, stderr)


@pytest.mark.parametrize("captured", [0, 5, 40])
def test_a_crawl_whose_writer_is_killed_stops_and_the_same_command_resumes_without_loss(
    wweb: LocalWebServer, reference: Path, tmp_path: Path, captured: int
) -> None:
    out = tmp_path / "killed"
    stopped = kill_writer_when(out, wweb.proxy_url, captured)
    assert stopped.returncode == 1, stopped.stderr
    assert "ended unexpectedly: killed by signal 9 (SIGKILL)" in stopped.stderr
    # Killed as it starts, the crawl could not run; killed later, it stopped: either way, said so.
    assert (
        "Error: the crawl stopped: its writer process ended unexpectedly" in stopped.stderr
        or "Error: the crawl could not run: WriterLost: the writer process" in stopped.stderr
    )
    assert "Traceback" not in stopped.stderr
    assert len(query(out, "select 1 from captures")) < len(outcome(reference)[0])

    resumed = run_cli(*command(out)[3:], *PROCESS, proxy=wweb.proxy_url)
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr
    # The same captures and refusals as the crawl never interrupted, no URL twice; audit accounts
    # for every record the killed writer left without rows (named superseded).
    assert outcome(out) == outcome(reference)
    assert "0 differences" in audited(out)
    assert frontier_left(out) == 0


@pytest.mark.parametrize("captured", [3, 60])
def test_a_crawl_killed_with_its_writer_process_resumes_to_the_same_result(
    wweb: LocalWebServer, reference: Path, tmp_path: Path, captured: int
) -> None:
    out = tmp_path / "killed"
    stopped = kill_writer_when(out, wweb.proxy_url, captured, whole=True)
    assert stopped.returncode == -signal.SIGKILL
    resumed = run_cli(*command(out)[3:], *PROCESS, proxy=wweb.proxy_url)
    assert resumed.returncode == 0, resumed.stderr
    # The writer died with the crawl: its files are recovered, not left open to a writer still going.
    assert "left open by a crawl that stopped abruptly" in resumed.stderr
    assert outcome(out) == outcome(reference)
    assert "0 differences" in audited(out)
    assert frontier_left(out) == 0
