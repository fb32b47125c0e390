"""The archive writer's bytes, pinned: one capture (response, request, metadata) and one evidence document.

Record ids and dates are injected (a counter, a fixed clock) and the files are
written uncompressed, so that the records can be compared byte for byte with
golden files, as warcio's own writer tests pin their output. A change to the
records a crawl writes (a header, the metadata record's JSON, its key order)
fails here; regenerate the golden files only for a change meant to alter the
WARC records, with ``PERMITCRAWL_REGENERATE_GOLDEN=1``.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import sqlite_utils

from crawler.storage.archive import WarcArchive
from crawler.storage.provenance import ProvenanceDB, dumps, open_db
from crawler.storage.records import Capture, read_decision
from crawler.storage.warc import HttpExchange, WarcStore
from crawler.storage.writer import ArchiveWriter
from policies.decision import Basis, DefaultPolicy, Stage, Verdict, combine
from policies.document import Document
from policies.purpose import Purpose

if TYPE_CHECKING:
    from collections.abc import Callable

    from policies.decision import Decision

GOLDEN = Path(__file__).parent / "golden"
STARTED = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)
DECIDED = datetime(2026, 11, 22, 10, 0, 1, 500000, tzinfo=UTC)
CRAWL_ID = "00000000-0000-4000-8000-000000000001"
URL = "http://site.test/caf%C3%A9?x=1"
ROBOTS_ID = "<urn:uuid:00000000-0000-4000-8000-00000000e001>"


def record_ids(prefix: str) -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"<urn:uuid:00000000-0000-4000-8000-{prefix}{next(counter):08d}>"


def store(directory: Path, prefix: str, id_prefix: str) -> WarcStore:
    return WarcStore(
        directory,
        prefix=prefix,
        gzip_level=0,
        info={"software": "permitcrawl/golden", "isPartOf": CRAWL_ID},
        hostname="golden",
        pid=1,
        record_id=record_ids(id_prefix),
        clock=lambda: STARTED,
    )


def decisions() -> dict[Purpose, Decision]:
    robots = Basis(
        signal="robots",
        verdict=Verdict.ALLOW,
        reason="robots.txt allows /café for permitcrawl",
        source="http://site.test/robots.txt (HTTP 200)",
        sha256="ab" * 32,
        record_id=ROBOTS_ID,
        rule="Allow: /",
    )
    noai = Basis(signal="meta-robots", verdict=Verdict.DENY, reason="<meta name=robots content=noai>")
    return {
        purpose: combine(
            [robots, noai] if purpose is Purpose.AI_TRAIN else [robots],
            url=URL,
            purpose=purpose,
            default_policy=DefaultPolicy.ALLOW,
            decided_at=DECIDED,
            stage=Stage.POST_FETCH,
        )
        for purpose in Purpose
    }


def page_exchange() -> HttpExchange:
    return HttpExchange(
        url=URL,
        request_headers=[("User-Agent", "permitcrawl/0.1.0 (+https://permitcrawl.invalid/contact)")],
        status=200,
        response_headers=[("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "99")],
        body="<html><p>café</p></html>".encode(),
        ip_address="192.0.2.1",
        started_at=STARTED,
    )


def robots_exchange() -> HttpExchange:
    return HttpExchange(
        url="http://site.test/robots.txt",
        request_headers=[("Accept-Encoding", "identity")],
        status=200,
        response_headers=[("Content-Type", "text/plain")],
        body=b"User-agent: *\nAllow: /\n",
        started_at=STARTED,
    )


MANIFEST = {
    "origin": "http://site.test",
    "fetched_at": STARTED.isoformat(),
    "robots.txt": {"url": "http://site.test/robots.txt", "record_id": ROBOTS_ID, "source": "HTTP 200"},
    "rsl": [],
}


def capture() -> Capture:
    judged = decisions()
    return Capture(
        crawl_id=CRAWL_ID,
        exchange=page_exchange(),
        decision=judged[Purpose.AI_TRAIN],
        usage=judged,
        evidence=MANIFEST,
        depth=1,
        referer="http://site.test/",
        redirected_from=["http://site.test/old"],
        content_type="text/html; charset=utf-8",
        fetch_time_ms=12,
    )


def robots_document() -> Document:
    return Document(
        kind="robots.txt",
        url="http://site.test/robots.txt",
        final_url="http://site.test/robots.txt",
        status=200,
        body=b"User-agent: *\nAllow: /\n",
        fetched_at=STARTED,
    )


def write(tmp_path: Path) -> tuple[bytes, bytes]:
    """Write the capture and the evidence document; return each file's bytes after its warcinfo record."""
    pages, evidence = store(tmp_path / "warc", "p", "0000"), store(tmp_path / "evidence", "e", "eeee")
    writer = ArchiveWriter(pages, ProvenanceDB(open_db(tmp_path / "provenance.db")), evidence_warc=evidence)
    writer.db.start_crawl({"id": CRAWL_ID})
    records = writer.record_capture(capture())
    location = writer.record_evidence(
        CRAWL_ID, robots_document(), origin="http://site.test", exchange=robots_exchange()
    )
    assert location is not None
    writer.finish(CRAWL_ID, finished_at=DECIDED, finish_reason="finished", stats={})
    [page_file] = (tmp_path / "warc").iterdir()
    [evidence_file] = (tmp_path / "evidence").iterdir()
    return (
        page_file.read_bytes()[records.response.offset :],
        evidence_file.read_bytes()[location.offset :],
    )


def test_a_capture_and_an_evidence_document_are_written_byte_for_byte_as_pinned(tmp_path: Path) -> None:
    capture, evidence = write(tmp_path)
    if os.environ.get("PERMITCRAWL_REGENERATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        (GOLDEN / "capture.warc").write_bytes(capture)
        (GOLDEN / "evidence.warc").write_bytes(evidence)
    assert capture == (GOLDEN / "capture.warc").read_bytes()
    assert evidence == (GOLDEN / "evidence.warc").read_bytes()


def test_the_file_names_and_warcinfo_come_from_the_injected_clock_and_ids(tmp_path: Path) -> None:
    write(tmp_path)
    [page_file] = (tmp_path / "warc").iterdir()
    assert page_file.name == "p-20261122100000123-00000-1~golden.warc"
    head = page_file.read_bytes().split(b"\r\n\r\n", 1)[0].decode()
    assert "WARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000001>" in head
    assert "WARC-Date: 2026-11-22T10:00:00.123456Z" in head


def test_every_stored_decision_is_the_one_in_the_metadata_record(tmp_path: Path) -> None:
    """The usage rows hold, byte for byte, the decisions the metadata record embeds; rows read back typed."""
    write(tmp_path)
    db = sqlite_utils.Database(tmp_path / "provenance.db")
    [page_file] = (tmp_path / "warc").iterdir()
    archive = WarcArchive(tmp_path)
    [metadata] = [
        r for r in archive.entries.values() if r.rec_type == "metadata" and r.warc_file.startswith("warc/")
    ]
    usage = archive.read(metadata.record_id).json()["usage"]
    rows = {row["purpose"]: row for row in db.query("select * from usage")}
    assert list(rows) == list(usage) == [p.value for p in Purpose]
    for purpose, decision in decisions().items():
        row = rows[purpose.value]
        assert row["decision"] == dumps(usage[purpose.value]) == dumps(decision.as_dict())
        assert read_decision(row["decision"]) == decision
        assert (bool(row["usable"]), row["signal"], row["reason"]) == (
            decision.allowed,
            decision.signal,
            decision.reason,
        )
    [capture_row] = db.query("select * from captures")
    assert capture_row["signal"] == "meta-robots" and capture_row["purpose"] == "ai-train"
    assert capture_row["warc_file"] == page_file.name
    [evidence_row] = db.query("select * from evidence")
    assert (evidence_row["kind"], evidence_row["outcome"], evidence_row["origin"]) == (
        "robots.txt",
        "parsed",
        "http://site.test",
    )
    assert evidence_row["sha256"] == hashlib.sha256(robots_document().body).hexdigest()
