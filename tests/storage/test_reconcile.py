"""reconcile: capture records without rows are marked superseded, reading only files that can hold them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.errors import WarcError
from crawler.storage.provenance import ProvenanceDB, insert_rows
from crawler.storage.reconcile import REASON, files_to_check, reconcile
from crawler.storage.warc import HttpExchange, WarcStore
from crawler.storage.writer import ArchiveWriter

if TYPE_CHECKING:
    from pathlib import Path

    import sqlite_utils

CAPTURE = json.dumps({"crawl_id": "x", "evidence": {"origin": "http://a.test"}}).encode()
EVIDENCE_DOCUMENT = json.dumps({"crawl_id": "x", "kind": "robots.txt"}).encode()


def exchange(url: str) -> HttpExchange:
    return HttpExchange(url=url, status=200, body=b"<p>hi</p>", started_at=datetime(2026, 1, 1, tzinfo=UTC))


def write_run(crawl_dir: Path, run: str | None, pages: dict[str, bytes]) -> dict[str, str]:
    """One run's WARC file in ``crawl_dir/warc``: each URL with the metadata given; {url: response id}."""
    info = {"isPartOf": run} if run else {}
    store = WarcStore(crawl_dir / "warc", prefix=f"run-{run}", info=info)
    ids = {
        url: store.write_exchange(exchange(url), metadata).response.record_id
        for url, metadata in pages.items()
    }
    store.close()
    return ids


def open_db(crawl_dir: Path) -> sqlite_utils.Database:
    return ProvenanceDB.open(crawl_dir / "provenance.db").db


def add_run(db: sqlite_utils.Database, run: str, finish_reason: str | None) -> None:
    db.table("crawls").insert({"id": run, "finish_reason": finish_reason})


def add_capture(db: sqlite_utils.Database, record_id: str, url: str) -> None:
    with db.atomic():
        insert_rows(db, captures=[{"warc_record_id": record_id, "url": url}])


def superseded_ids(db: sqlite_utils.Database) -> set[str]:
    return {row[0] for row in db.execute("select warc_record_id from superseded")}


def test_a_killed_runs_capture_records_without_rows_are_marked_superseded_once(tmp_path: Path) -> None:
    db = open_db(tmp_path)
    add_run(db, "killed", None)
    ids = write_run(
        tmp_path,
        "killed",
        {"http://a.test/1": CAPTURE, "http://a.test/2": CAPTURE, "http://a.test/3": CAPTURE,
         "http://a.test/robots.txt": EVIDENCE_DOCUMENT},
    )  # fmt: skip
    add_capture(db, ids["http://a.test/1"], "http://a.test/1")
    db.table("tombstones").insert({"capture_id": ids["http://a.test/2"], "url": "http://a.test/2"})

    found = reconcile(tmp_path, db)

    # Only the capture nothing accounts for: not the one with a row, the erased one, the evidence document.
    assert [(s.warc_record_id, s.url, s.reason) for s in found] == [
        (ids["http://a.test/3"], "http://a.test/3", REASON)
    ]
    row = db.table("superseded").get(ids["http://a.test/3"])
    assert row["warc_file"] == found[0].warc_file and row["warc_file"].startswith("warc/run-killed-")
    with open(tmp_path / row["warc_file"], "rb") as fh:  # the offset is the response record's
        fh.seek(row["warc_offset"])
        record = next(iter(ArchiveIterator(fh)))
        assert record.rec_headers.get_header("WARC-Record-ID") == ids["http://a.test/3"]
    assert reconcile(tmp_path, db) == []  # already accounted for: nothing new, nothing twice
    assert superseded_ids(db) == {ids["http://a.test/3"]}


def test_files_of_runs_that_ended_cleanly_are_not_read_unless_recovered_from_open(tmp_path: Path) -> None:
    db = open_db(tmp_path)
    add_run(db, "clean", "finished")
    add_run(db, "killed", None)
    clean = write_run(tmp_path, "clean", {"http://a.test/c": CAPTURE})  # a row lost some other way
    killed = write_run(tmp_path, "killed", {"http://a.test/k": CAPTURE})

    assert [p.name for p in files_to_check(tmp_path, db)] == [
        p.name for p in (tmp_path / "warc").glob("run-killed-*")
    ]
    assert superseded_ids(db) == set() and [s.warc_record_id for s in reconcile(tmp_path, db)] == [
        killed["http://a.test/k"]
    ]
    # A file recovered from .open was never closed by its run, whatever its row says: it is read.
    recovered = list((tmp_path / "warc").glob("run-clean-*"))
    assert [s.warc_record_id for s in reconcile(tmp_path, db, recovered=recovered)] == [
        clean["http://a.test/c"]
    ]


@pytest.mark.parametrize(
    ("run", "finish_reason"),
    [("failed", "archive_error"), ("unknown", None), (None, None)],
    ids=["archive-error", "run-not-in-the-database", "no-isPartOf"],
)
def test_when_unsure_a_file_is_read(tmp_path: Path, run: str | None, finish_reason: str | None) -> None:
    db = open_db(tmp_path)
    if run == "failed":
        add_run(db, run, finish_reason)
    ids = write_run(tmp_path, run, {"http://a.test/x": CAPTURE})
    assert [s.warc_record_id for s in reconcile(tmp_path, db)] == [ids["http://a.test/x"]]


def test_a_damaged_file_is_refused_and_nothing_is_marked(tmp_path: Path) -> None:
    db = open_db(tmp_path)
    write_run(tmp_path, "killed", {"http://a.test/1": CAPTURE})
    write_run(tmp_path, "other", {"http://a.test/2": CAPTURE})
    damaged = sorted((tmp_path / "warc").glob("run-other-*"))[0]
    data = damaged.read_bytes()
    damaged.write_bytes(data[: len(data) // 2] + b"not gzip" * 4)  # damaged mid-file
    with pytest.raises(WarcError, match=f"{damaged}: cannot be read past offset"):
        reconcile(tmp_path, db)
    assert superseded_ids(db) == set()


def test_a_run_whose_last_commit_fails_records_an_archive_error_so_its_files_are_read(tmp_path: Path) -> None:
    provenance = ProvenanceDB.open(tmp_path / "provenance.db")
    add_run(provenance.db, "run", None)
    writer = ArchiveWriter(WarcStore(tmp_path / "warc", info={"isPartOf": "run"}), provenance)
    provenance.add_refusal({"crawl_id": "run", "url": "http://a.test/"})

    def full_disk() -> None:
        raise OSError(28, "No space left on device")

    provenance.before_flush = full_disk
    with pytest.raises(OSError, match="No space left"):
        writer.finish("run", finished_at=datetime(2026, 1, 1, tzinfo=UTC), finish_reason="finished", stats={})
    db = open_db(tmp_path)
    assert db.table("crawls").get("run")["finish_reason"] == "archive_error"  # not Scrapy's "finished"
