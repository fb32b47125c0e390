"""ProvenanceDB: schema, batching, migrations, and the queries behind pages/explain."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
import sqlite_utils

from crawler.errors import ProvenanceError
from crawler.storage.provenance import MIGRATIONS, ProvenanceDB, dumps, migrate, open_db
from crawler.storage.queries import PageFilter, explain, open_crawl, pages, summary

if TYPE_CHECKING:
    from pathlib import Path


def capture(i: int, usable: bool = True) -> tuple[dict, list[dict]]:
    record_id = f"<urn:uuid:{i}>"
    bases = [{"signal": "robots", "verdict": "none", "reason": "r", "record_id": "<urn:uuid:ev>"}]
    row = {
        "warc_record_id": record_id,
        "crawl_id": "c1",
        "url": f"http://h.test/{i}",
        "host": "h.test",
        "fetched_at": f"2026-11-22T10:00:{i:02d}+00:00",
        "status": 200,
        "warc_file": "warc/x.warc.gz",
        "warc_offset": i * 100,
        "warc_length": 100,
        "purpose": "ai-train",
    }
    usage = []
    for purpose in ("ai-train", "ai-input", "search"):
        allowed = usable or purpose == "search"
        decision = {"url": row["url"], "purpose": purpose, "allowed": allowed, "bases": bases}
        usage.append(
            {
                "capture_id": record_id,
                "purpose": purpose,
                "usable": int(allowed),
                "signal": "default",
                "reason": "r",
                "decision": dumps(decision),
            }
        )
    return row, usage


def test_batched_writes(tmp_path: Path) -> None:
    db = ProvenanceDB.open(tmp_path / "p.db", batch_size=4)
    db.start_crawl({"id": "c1", "purpose": "ai-train"})
    row, usage = capture(1)
    db.add_capture(row, usage)  # 4 rows queued: the batch is full and flushed
    reader = sqlite_utils.Database(tmp_path / "p.db")
    assert reader["captures"].count == 1
    db.add_refusal(
        {
            "crawl_id": "c1",
            "url": "http://h.test/x",
            "stage": "pre-fetch",
            "signal": "robots",
            "decision": "{}",
        }
    )
    assert reader["refusals"].count == 0  # still queued
    db.finish_crawl("c1", finish_reason="finished")
    assert reader["refusals"].count == 1
    assert reader["crawls"].get("c1")["finish_reason"] == "finished"
    db.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    db = sqlite_utils.Database(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(ProvenanceError, match="newer than this permitcrawl understands"):
        migrate(db, name=str(path))


def test_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "provenance.db").write_text("this is not sqlite")
    with pytest.raises(ProvenanceError, match="cannot open as a provenance database"):
        open_crawl(tmp_path)
    with pytest.raises(ProvenanceError, match="not a directory"):
        open_crawl(tmp_path / "missing")
    with pytest.raises(ProvenanceError, match="no provenance database"):
        open_db(tmp_path / "none.db", create=False)


def test_queries(tmp_path: Path) -> None:
    db = ProvenanceDB.open(tmp_path / "provenance.db")
    db.start_crawl({"id": "c1", "purpose": "ai-train"})
    for i in range(3):
        db.add_capture(*capture(i, usable=i != 1))
    db.add_refusal(
        {
            "crawl_id": "c1",
            "url": "http://h.test/no",
            "host": "h.test",
            "decided_at": "2026-11-22T11:00:00+00:00",
            "stage": "pre-fetch",
            "signal": "robots",
            "decision": dumps({"allowed": False, "bases": []}),
        }
    )
    db.add_evidence(
        {
            "crawl_id": "c1",
            "origin": "http://h.test",
            "warc_record_id": "<urn:uuid:ev>",
            "status": 200,
            "warc_file": "warc/x.warc.gz",
            "warc_offset": 0,
            "fetched_at": "t",
        }
    )
    db.close()
    reader = open_crawl(tmp_path)
    assert [p["url"] for p in pages(reader, PageFilter(purpose="ai-train", usable=True))] == [
        "http://h.test/0",
        "http://h.test/2",
    ]
    assert [p["url"] for p in pages(reader, PageFilter(purpose="ai-train", usable=False))] == [
        "http://h.test/1"
    ]
    assert len(list(pages(reader, PageFilter(purpose="search", usable=True)))) == 3
    assert len(list(pages(reader, PageFilter(purpose="ai-train", host="other.test")))) == 0
    reader["revocations"].insert(
        {"capture_id": "<urn:uuid:0>", "url": "u", "source": "revoke", "reason": "r"}
    )
    usable = [p["url"] for p in pages(reader, PageFilter(purpose="search", usable=True))]
    assert usable == ["http://h.test/1", "http://h.test/2"]  # a revocation takes a page out
    revoked = next(p for p in pages(reader, PageFilter(purpose="search")) if p["url"] == "http://h.test/0")
    assert revoked["revoked"] and not revoked["usable"]
    story = explain(reader, "http://h.test/0")
    assert story["outcome"] == "captured"
    assert story["events"][0]["decision"]["bases"][0]["evidence"]["status"] == 200
    assert explain(reader, "http://h.test/no")["outcome"] == "refused before fetching"
    assert explain(reader, "http://h.test/zzz") == {
        "url": "http://h.test/zzz",
        "outcome": "never seen",
        "events": [],
    }
    counts = summary(reader)
    assert counts["captured"] == 3 and counts["refused_by"] == {"pre-fetch robots": 1}
    assert counts["hosts"] == {"h.test": {"captured": 3, "refused": 1}}


def test_usable_query_uses_an_index(tmp_path: Path) -> None:
    db = open_db(tmp_path / "p.db")
    plan = " ".join(
        str(row)
        for row in db.execute(
            "explain query plan select * from usage u join captures c on c.warc_record_id = u.capture_id "
            "where u.purpose = 'ai-train' and u.usable = 1"
        )
    )
    assert "idx_usage_purpose_usable" in plan or "USING INDEX" in plan
    assert json.loads(dumps({"b": 1, "a": 2})) == {"a": 2, "b": 1}
