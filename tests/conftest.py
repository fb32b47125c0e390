"""Shared fixtures: a clean environment, the local test web, and CLI runs in subprocesses."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.localweb.server import LocalWebServer, LoggedRequest, serve
from tests.redisserver import RedisServer, start_redis
from tests.sites import SEEDS, SITES

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Strip ambient proxy settings: no test may reach a real network by accident."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture(scope="session")
def web() -> Iterator[LocalWebServer]:
    """The multi-host test web on 127.0.0.1, as a forward proxy."""
    server = serve(SITES)
    yield server
    server.close()


def cli_env(proxy: str | None) -> dict[str, str]:
    """The environment for a CLI subprocess: ours, minus proxies, plus the test web's."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
    if proxy:
        env["http_proxy"] = proxy
    env["PYTHONWARNINGS"] = "ignore::DeprecationWarning"
    return env


def run_cli(
    *args: str | Path, proxy: str | None = None, timeout: float = 180, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m crawler ARGS`` (the permitcrawl CLI) in a fresh process.

    Its stdin is ``input`` through a pipe, else empty: never the terminal pytest runs in, so that
    no command finds someone there to ask.
    """
    stdin: dict[str, Any] = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
    return subprocess.run(
        [sys.executable, "-m", "crawler", *map(str, args)],
        capture_output=True,
        text=True,
        env=cli_env(proxy),
        timeout=timeout,
        check=False,
        **stdin,
    )


@dataclass
class CrawlRun:
    """One finished CLI crawl: its directory, its process result and the requests it made."""

    out: Path
    result: subprocess.CompletedProcess[str]
    requests: list[LoggedRequest]

    def requested(self, host: str | None = None) -> list[str]:
        return [r.url for r in self.requests if host is None or r.host == host]


def crawl(
    web: LocalWebServer, out: Path, *args: str, seeds: list[str] | None = None, timeout: float = 180
) -> CrawlRun:
    """Crawl the test web through the CLI and return what happened (within ``timeout`` seconds)."""
    before = len(web.requests)
    result = run_cli(
        "crawl",
        *(seeds or SEEDS),
        "--out",
        out,
        "-s",
        "AUTOTHROTTLE_START_DELAY=0",
        "-s",
        "DOWNLOAD_TIMEOUT=1",
        *args,
        proxy=web.proxy_url,
        timeout=timeout,
    )
    return CrawlRun(out, result, list(web.requests[before:]))


@pytest.fixture(scope="session")
def main_crawl(web: LocalWebServer, tmp_path_factory: pytest.TempPathFactory) -> CrawlRun:
    """One crawl of the whole test web, shared by the end-to-end tests that only read it."""
    run = crawl(web, tmp_path_factory.mktemp("main") / "crawl")
    assert run.result.returncode == 0, run.result.stderr
    return run


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own (persistence off) on a free 127.0.0.1 port, stopped by PID."""
    server = start_redis(tmp_path)
    yield server
    server.stop()


@dataclass
class Record:
    """A WARC record read back: headers, the payload as stored, and the payload decoded."""

    rec_type: str
    rec_headers: Any
    http_headers: Any
    raw: bytes
    decoded: bytes


def read_record(crawl_dir: Path, warc_file: str, offset: int) -> Record:
    """Read the one WARC record that starts at ``offset`` (as an index would)."""
    path = crawl_dir / warc_file
    with open(path, "rb") as fh:
        fh.seek(offset)
        record = next(iter(ArchiveIterator(fh)))
        raw = record.raw_stream.read()
    with open(path, "rb") as fh:
        fh.seek(offset)
        record = next(iter(ArchiveIterator(fh)))
        decoded = record.content_stream().read()
    return Record(record.rec_type, record.rec_headers, record.http_headers, raw, decoded)


def private_decision(db: sqlite3.Connection, capture_id: str, purpose: str) -> int:
    """Give one capture's decision for ``purpose`` a ``decisions`` row of its own; return its id.

    Decisions and verdict sets are shared by every capture judged alike
    (crawler.storage.compact): a test that damages one capture's decision
    copies it first, stored whole (char(28)), under a verdict set of its own.
    """
    (verdict_id, text) = db.execute(
        "select c.verdict_id, u.decision from capture_rows c join usage u on u.capture_id = c.warc_record_id "
        "where c.warc_record_id = ? and u.purpose = ?",
        [capture_id, purpose],
    ).fetchone()
    own = db.execute("insert into verdicts (sha256) values (?)", [f"private {capture_id}"]).lastrowid
    db.execute(
        "insert into verdict_usage (verdict_id, purpose, usable, signal, reason, decision_id) "
        "select ?, purpose, usable, signal, reason, decision_id from verdict_usage where verdict_id = ?",
        [own, verdict_id],
    )
    db.execute("update capture_rows set verdict_id = ? where warc_record_id = ?", [own, capture_id])
    decision = db.execute(
        "insert into decisions (sha256, body) values (?, char(28) || ?)", [f"private {capture_id}", text]
    ).lastrowid
    db.execute(
        "update verdict_usage set decision_id = ? where verdict_id = ? and purpose = ?",
        [decision, own, purpose],
    )
    return int(decision or 0)
