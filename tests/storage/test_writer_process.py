"""The writer process's protocol: ids given by the crawl, held rows, commits reported, back-pressure, its end.

Each test starts a real writer process (spawned) on a directory of its own.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from contextlib import closing
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.errors import ProvenanceError
from crawler.storage.archive import warc_files
from crawler.storage.records import Capture, Fence
from crawler.storage.warc import HttpExchange
from crawler.storage.writer_process import (
    WarcSpec,
    WriterClient,
    WriterFailed,
    WriterLost,
    WriterSpec,
)
from policies.decision import Basis, Decision, DefaultPolicy, Stage, Verdict, combine
from policies.document import Document
from policies.purpose import Purpose

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def spec(out: Path) -> WriterSpec:
    def store(name: str) -> WarcSpec:
        return WarcSpec(out / name, f"test-{name}", 1_000_000, 6, {"isPartOf": "run"})

    return WriterSpec(store("warc"), store("evidence"), out / "provenance.db", batch_size=500)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[WriterClient]:
    started = WriterClient(spec(tmp_path), bound=4)
    assert started.start() == 0
    yield started
    started.abandon()


def decision(url: str, *, allowed: bool = True) -> Decision:
    verdict = Verdict.NONE if allowed else Verdict.DENY
    return combine(
        [Basis(signal="robots", verdict=verdict, reason="no rule" if allowed else "Disallow: /")],
        url=url,
        purpose=Purpose.AI_TRAIN,
        default_policy=DefaultPolicy.ALLOW,
        decided_at=NOW,
        stage=Stage.POST_FETCH,
    )


def capture(url: str, key: str | None = None) -> Capture:
    applied = decision(url)
    return Capture(
        crawl_id="run",
        exchange=HttpExchange(url=url, status=200, body=b"<p>hi</p>", started_at=NOW),
        decision=applied,
        usage={Purpose.AI_TRAIN: applied},
        evidence=None,
        depth=0,
        referer=None,
        redirected_from=None,
        content_type="text/html",
        fetch_time_ms=1,
        fence=Fence(key, 0, 1, "w") if key else None,
    )


def rows(out: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(out / "provenance.db")) as db:
        return db.execute(sql).fetchall()


def record_ids(out: Path, kind: str) -> set[str]:
    found = set()
    for path in warc_files(out) + sorted(out.glob("*/*.open")):
        with open(path, "rb") as fh:
            found |= {
                r.rec_headers.get_header("WARC-Record-ID") for r in ArchiveIterator(fh) if r.rec_type == kind
            }
    return found


def test_records_get_the_ids_the_crawl_gave_and_held_rows_commit_only_once_released(
    client: WriterClient, tmp_path: Path
) -> None:
    hooks: list[str] = []
    client.rows.before_flush = lambda: hooks.append("before")
    client.rows.after_flush.append(lambda: hooks.append("after"))
    robots = Document(kind="robots.txt", url="http://a.test/robots.txt", fetched_at=NOW, status=200)
    exchange = HttpExchange(url=robots.url, status=200, body=b"User-agent: *\n", started_at=NOW)
    evidence_id = client.record_evidence("run", robots, origin="http://a.test", exchange=exchange)
    held_id = client.record_capture(capture("http://a.test/held", "k1"))
    dropped_id = client.record_capture(capture("http://a.test/dropped", "k2"))
    free_id = client.record_capture(capture("http://a.test/free"))
    assert client.rows.holds("k1") and client.rows.holds("k2") and client.rows.held == 2

    client.rows.sync()
    assert hooks == ["before", "after"]
    # Every record is in its file under the id the crawl gave; only the unit not held is committed.
    assert {held_id, dropped_id, free_id} <= record_ids(tmp_path, "response")
    assert evidence_id in record_ids(tmp_path, "response")
    assert rows(tmp_path, "select url, warc_record_id from captures") == [("http://a.test/free", free_id)]
    assert rows(tmp_path, "select warc_record_id from evidence") == [(evidence_id,)]

    client.rows.drop_held(["k2"])
    client.rows.release(["k1"])
    assert client.rows.held == 0
    client.rows.sync()
    assert sorted(r[0] for r in rows(tmp_path, "select warc_record_id from captures")) == sorted(
        [free_id, held_id]
    )
    client.finish(None, finished_at=NOW, finish_reason="finished", stats={})
    assert not client.alive


def test_an_evidence_document_that_never_came_back_has_no_record_id(client: WriterClient) -> None:
    missing = Document(kind="ai.txt", url="http://a.test/ai.txt", fetched_at=NOW, error="refused")
    assert client.record_evidence("run", missing, origin="http://a.test", exchange=None) is None


def test_the_sender_waits_while_the_writer_is_more_than_the_bound_behind(tmp_path: Path) -> None:
    client = WriterClient(spec(tmp_path), bound=1)
    client.start()
    try:
        ids = [client.record_capture(capture(f"http://a.test/{i}")) for i in range(30)]
        assert client.waits > 0
        client.rows.sync()
        assert len(rows(tmp_path, "select 1 from captures")) == 30
        assert set(ids) <= record_ids(tmp_path, "response")
    finally:
        client.abandon()


def send_until_it_fails(client: WriterClient) -> None:
    while True:  # the next send or poll finds the writer gone
        client.record_capture(capture("http://a.test/2"))
        client.poll()


def test_a_killed_writer_is_noticed_at_once_and_nothing_waits_for_it(client: WriterClient) -> None:
    client.record_capture(capture("http://a.test/1", "k1"))
    assert client.pid is not None
    os.kill(client.pid, signal.SIGKILL)
    started = time.monotonic()
    lost = r"the writer process \(pid \d+\) ended unexpectedly: killed by signal 9"
    with pytest.raises(WriterLost, match=lost):
        send_until_it_fails(client)
    assert time.monotonic() - started < 10
    # The scheduler's calls never raise; a commit it waits for does, at once.
    client.rows.release(["k1"])
    client.rows.flush()
    with pytest.raises(ProvenanceError):
        client.rows.sync()
    with pytest.raises(WriterLost):
        client.finish(None, finished_at=NOW, finish_reason="finished", stats={})


def test_after_a_failed_write_nothing_more_is_committed_and_the_end_says_why(tmp_path: Path) -> None:
    (tmp_path / "warc").symlink_to("/proc/self")  # no file can be created there
    client = WriterClient(spec(tmp_path), bound=8)
    client.start()
    try:
        refusal = decision("http://a.test/private", allowed=False)
        client.record_refusal("run", refusal)  # queued before the failure: its WARC record is not needed
        client.record_capture(capture("http://a.test/1"))
        client.record_refusal("run", decision("http://a.test/later", allowed=False))
        with pytest.raises(WriterFailed, match="the archive writer failed"):
            client.rows.sync()
        with pytest.raises(WriterFailed):
            client.finish(None, finished_at=NOW, finish_reason="archive_error", stats={})
    finally:
        client.abandon()
    # Nothing the crawl was not told was committed: not even the refusal queued before the failure.
    assert rows(tmp_path, "select url from refusals") == []
    assert rows(tmp_path, "select url from captures") == []


def test_a_writer_that_cannot_open_the_output_says_why_at_start(tmp_path: Path) -> None:
    (tmp_path / "provenance.db").write_text("not a database")
    client = WriterClient(spec(tmp_path), bound=4)
    with pytest.raises(ProvenanceError, match=r"provenance\.db: is not an SQLite database"):
        client.start()
    assert not client.alive
