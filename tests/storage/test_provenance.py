"""ProvenanceDB: schema, batching, migrations, and the queries behind pages/explain."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
import sqlite_utils

from crawler.errors import ProvenanceError
from crawler.storage.provenance import (
    APPLICATION_ID,
    MIGRATIONS,
    ProvenanceDB,
    create_db,
    dumps,
    inspect_db,
    migrate,
    open_db,
    open_readonly,
)
from crawler.storage.queries import PageFilter, explain, open_crawl, pages, summary
from policies.decision import Basis, Decision, Stage, Verdict
from policies.purpose import Purpose

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def decision(url: str, purpose: str, allowed: bool, stage: str = "post-fetch") -> dict:
    """A whole recorded decision (as the crawl stores it: the readers read it back typed)."""
    basis = Basis(
        signal="robots",
        verdict=Verdict.ALLOW if allowed else Verdict.DENY,
        reason="r",
        record_id="<urn:uuid:ev>",
    )
    return Decision(
        url=url,
        purpose=Purpose(purpose),
        allowed=allowed,
        bases=(basis,),
        decided_at=datetime(2026, 11, 22, 10, tzinfo=UTC),
        stage=Stage(stage),
    ).as_dict()


def capture(i: int, usable: bool = True) -> tuple[dict, list[dict]]:
    record_id = f"<urn:uuid:{i}>"
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
        usage.append(
            {
                "capture_id": record_id,
                "purpose": purpose,
                "usable": int(allowed),
                "signal": "default",
                "reason": "r",
                "decision": dumps(decision(row["url"], purpose, allowed)),
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
    db.flush()
    assert reader["refusals"].count == 1
    db.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    db = sqlite_utils.Database(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(ProvenanceError, match="newer than this permitcrawl understands"):
        migrate(db, name=str(path))


def test_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "provenance.db").write_text("this is not sqlite")
    with pytest.raises(ProvenanceError, match="is not an SQLite database"):
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
            "decision": dumps(decision("http://h.test/no", "ai-train", False, "pre-fetch")),
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
    writer = open_db(tmp_path / "provenance.db", create=False)  # the reader is read-only
    writer["revocations"].insert(
        {"capture_id": "<urn:uuid:0>", "url": "u", "source": "revoke", "reason": "r"}
    )
    writer.close()
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


def _plan(db: sqlite_utils.Database, selection: PageFilter) -> list[str]:
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)  # the statement as run, parameters bound
    list(pages(db, selection))
    db.conn.set_trace_callback(None)
    (sql,) = [s for s in statements if "from usage u join captures c" in s]
    return [row[3] for row in db.conn.execute("EXPLAIN QUERY PLAN " + sql)]


@pytest.mark.parametrize(
    "filters",
    [
        {"usable": True},
        {"usable": False},
        {"domain": "h1.test"},
        {"domain": "www.h1.test"},
        {"host": "h1.test"},
        {"since": "2026-11-22", "until": "2026-11-23"},
        {"content_type": "text/html"},
        {"signal": "robots"},
        {"usable": True, "domain": "h1.test", "content_type": "text/"},
    ],
    ids=lambda f: ",".join(f),
)
def test_pages_filters_never_scan_a_whole_table(tmp_path: Path, filters: dict) -> None:
    db = ProvenanceDB.open(tmp_path / "provenance.db")
    db.start_crawl({"id": "c1", "purpose": "ai-train"})
    for i in range(200):  # twenty hosts, two content types, two days
        row, usage = capture(i % 60, usable=i % 3 != 0)
        host = f"h{i % 20}.test"
        row |= {
            "warc_record_id": f"<urn:uuid:{i}>",
            "host": host,
            "domain": host,
            "url": f"http://{host}/{i}",
        }
        row |= {"content_type": "text/html" if i % 2 else "image/png", "fetched_at": f"2026-11-{21 + i % 2}"}
        db.add_capture(row, [{**u, "capture_id": row["warc_record_id"]} for u in usage])
    db.flush()
    db.db.execute("ANALYZE")  # before reading: the reader is read-only
    db.close()
    reader = open_crawl(tmp_path)
    plan = _plan(reader, PageFilter(purpose="ai-train", **filters))
    # SQLite says SEARCH when it probes an index, SCAN when it reads a whole table.
    assert not [step for step in plan if step.startswith("SCAN") and "USING" not in step], plan
    assert any("INDEX" in step for step in plan), plan


def test_every_statement_of_pages_and_explain_goes_through_an_index(tmp_path: Path) -> None:
    # Through the views: capture_rows, verdict_usage, decisions, manifests and names by their keys.
    db = ProvenanceDB.open(tmp_path / "provenance.db")
    db.start_crawl({"id": "c1", "purpose": "ai-train"})
    for i in range(60):
        row, usage = capture(i, usable=i % 3 != 0)
        row |= {
            "host": f"h{i % 20}.test",
            "url": f"http://h{i % 20}.test/{i}",
            "evidence": dumps({"i": i % 20}),
        }
        db.add_capture(row, usage)
    db.db.execute("ANALYZE")
    db.close()
    reader = open_crawl(tmp_path)
    statements: list[str] = []
    reader.conn.set_trace_callback(statements.append)
    list(pages(reader, PageFilter(purpose="search", usable=True)))
    explain(reader, "http://h3.test/3")
    reader.conn.set_trace_callback(None)
    assert any("decisions" in s for s in statements)
    for sql in statements:
        plan = [row[3] for row in reader.conn.execute("EXPLAIN QUERY PLAN " + sql)]
        assert not [step for step in plan if step.startswith("SCAN") and "USING" not in step], (sql, plan)


@pytest.mark.parametrize(
    ("name", "hosts"),
    [
        ("example.org", {"example.org", "www.example.org", "a.www.example.org", "blog.example.org"}),
        ("www.example.org", {"www.example.org", "a.www.example.org"}),  # as revoke --domain covers it
        ("a.www.example.org", {"a.www.example.org"}),
        ("xwww.example.org", set()),  # a suffix of labels, never of characters
        ("org", set()),  # a public suffix covers itself only
        ("127.0.0.1", {"127.0.0.1"}),
    ],
)
def test_pages_by_domain_covers_what_revoke_covers(tmp_path: Path, name: str, hosts: set[str]) -> None:
    from policies.urls import registrable_domain

    db = ProvenanceDB.open(tmp_path / "provenance.db")
    db.start_crawl({"id": "c1", "purpose": "ai-train"})
    everywhere = ["example.org", "www.example.org", "a.www.example.org", "blog.example.org", "example.net"]
    for i, host in enumerate([*everywhere, "127.0.0.1"]):
        row, usage = capture(i)
        row |= {"url": f"http://{host}/", "host": host, "domain": registrable_domain(host)}
        db.add_capture(row, usage)
    db.close()
    found = pages(open_crawl(tmp_path), PageFilter(purpose="ai-train", domain=name))
    assert {page["url"] for page in found} == {f"http://{host}/" for host in hosts}


def test_an_older_database_is_migrated_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "provenance.db"
    db = sqlite_utils.Database(path)
    for step in MIGRATIONS[:2]:  # a database as the second schema left it
        step(db)
    db.execute("PRAGMA user_version = 2")
    db["captures"].insert(
        {"warc_record_id": "<r1>", "url": "http://www.example.co.uk/", "host": "www.example.co.uk"}
    )
    db["refusals"].insert(
        {"url": "http://a.b.example.org/x", "host": "a.b.example.org", "stage": "pre-fetch"}
    )
    db.close()
    migrated = open_db(path)
    assert migrated.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert next(migrated.query("select domain from captures where warc_record_id = '<r1>'"))["domain"] == (
        "example.co.uk"
    )
    assert next(migrated.query("select domain from refusals"))["domain"] == "example.org"
    assert {"ledger", "revocations", "tombstones"} <= set(migrated.table_names())


def test_migrating_to_compact_rows_keeps_every_column_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "provenance.db"
    db = sqlite_utils.Database(path)
    for step in MIGRATIONS[:5]:  # a database as schema 5 left it: whole decisions in every row
        step(db)
    db.execute("PRAGMA user_version = 5")
    for i, reason in ((0, "r"), (1, "said otherwise")):
        row, usage = capture(i)
        db["captures"].insert({**row, "reason": reason, "evidence": dumps({"robots.txt": "<urn:uuid:ev>"})})
        db["usage"].insert_all(usage)
    db["refusals"].insert({"url": "http://h.test/no", "decided_at": "t", "decision": "{}", "evidence": None})
    before = {
        t: list(db.query(f"select * from {t} order by 1, 2")) for t in ("captures", "usage", "refusals")
    }
    db.close()
    migrated = open_db(path)
    for table, rows in before.items():
        after = list(migrated.query(f"select * from {table} order by 1, 2"))
        assert [{k: r[k] for k in rows[0]} for r in after] == rows, table
    # The reason its usage row gives is not stored twice; the one that says otherwise is kept.
    stored = [r[0] for r in migrated.execute("select reason from capture_rows order by url")]
    assert stored == [None, "said otherwise"]
    assert migrated.execute("select count(*) from decisions").fetchone()[0] == 3 + 1
    migrated.close()


# -- one capture's rows commit together ----------------------------------------


def _orphans(path: Path) -> list[str]:
    """Committed captures without all three usage rows (read through a connection of its own)."""
    with sqlite3.connect(path) as conn:
        sql = (
            "select warc_record_id from captures c "
            "where (select count(*) from usage u where u.capture_id = c.warc_record_id) != 3"
        )
        return [row[0] for row in conn.execute(sql)]


@pytest.mark.parametrize("batch_size", [1, 2, 3, 4, 5, 7])
def test_a_flush_never_separates_a_capture_from_its_usage_rows(tmp_path: Path, batch_size: int) -> None:
    path = tmp_path / "p.db"
    db = ProvenanceDB.open(path, batch_size=batch_size)
    db.start_crawl({"id": "c1", "purpose": "ai-train"})
    flushes: list[list[str]] = []

    def check_the_last_commit() -> None:
        # Called before every commit: what the previous commits left must be whole.
        flushes.append(_orphans(path))

    db.before_flush = check_the_last_commit
    for i in range(12):
        db.add_capture(*capture(i))
        assert _orphans(path) == []
        if i % 3 == 0:
            db.add_refusal({"crawl_id": "c1", "url": f"http://h.test/r{i}", "stage": "pre-fetch"})
            assert _orphans(path) == []
    db.flush()
    db.close()
    assert flushes and all(found == [] for found in flushes)
    with sqlite3.connect(path) as conn:
        assert conn.execute("select count(*) from captures").fetchone()[0] == 12
        assert conn.execute("select count(*) from usage").fetchone()[0] == 36


def test_a_failed_commit_writes_nothing_and_forgets_nothing(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    db = ProvenanceDB.open(path, batch_size=100)
    db.start_crawl({"id": "c1", "purpose": "ai-train"})
    db.add_capture(*capture(1))
    db.db.execute(
        "create trigger boom before insert on capture_rows begin select raise(abort, 'injected failure'); end"
    )
    with pytest.raises(sqlite3.IntegrityError, match="injected failure"):
        db.flush()
    assert db.db["captures"].count == 0  # the capture row went back with its usage rows
    assert db.db["decisions"].count == 0  # and so did the decisions it was the first to use
    db.db.execute("drop trigger boom")
    db.flush()  # the queued rows were kept, and are written now
    assert db.db["captures"].count == 1 and db.db["usage"].count == 3
    db.close()


# -- what a provenance database is -------------------------------------------------


def _foreign(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("create table foo(x)")
    conn.close()


def _damaged(path: Path) -> None:
    create_db(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
        (lambda p: p.write_bytes(b"\x00garbage" * 500), "is not an SQLite database"),
        (_foreign, "holds another schema (tables foo), not permitcrawl's"),
        (lambda p: sqlite3.connect(p).execute("vacuum"), "holds no tables, not permitcrawl's"),
        (_damaged, "is damaged"),
        (lambda p: p.mkdir(), "is not a regular file"),
    ],
)
def test_what_is_not_a_provenance_database_is_refused_and_left_alone(
    tmp_path: Path, make: Callable[[Path], object], message: str
) -> None:
    path = tmp_path / "provenance.db"
    make(path)
    before = (path.read_bytes(), path.stat().st_mtime_ns) if path.is_file() else None
    for opener in (inspect_db, open_readonly, open_db, lambda p: open_db(p, create=False)):
        with pytest.raises(ProvenanceError, match=re.escape(message)) as raised:
            opener(path)
        assert str(raised.value).startswith(f"{path}: ")
        assert "expected a permitcrawl provenance database" in str(raised.value)
    for write in (False, True):
        with pytest.raises(ProvenanceError, match=re.escape(message)):
            open_crawl(tmp_path, write=write)
    if before is not None:
        assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["provenance.db"]  # no lock file, no journal


def test_another_applications_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "provenance.db"
    create_db(path)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA application_id = 42")
    conn.close()
    with pytest.raises(ProvenanceError, match="belongs to another application"):
        open_readonly(path)


def test_a_missing_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "provenance.db"
    create_db(path)
    with sqlite3.connect(path) as conn:
        conn.execute("drop view usage")
    conn.close()
    with pytest.raises(ProvenanceError, match=f"schema version {len(MIGRATIONS)}: table 'usage' is missing"):
        open_readonly(path)
    with sqlite3.connect(path) as conn:
        conn.execute("drop table decisions")
    conn.close()
    with pytest.raises(ProvenanceError, match=r"is damaged .*no such table: main\.decisions"):
        open_readonly(path)


def test_a_new_database_is_made_whole_with_our_marker(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "provenance.db"
    open_db(path).close()
    assert inspect_db(path) == len(MIGRATIONS)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    conn.close()
    assert sorted(p.name for p in path.parent.iterdir()) == ["provenance.db"]  # no half-made file left


def test_reading_never_writes_even_an_older_database(tmp_path: Path) -> None:
    path = tmp_path / "provenance.db"
    db = sqlite_utils.Database(path)
    for step in MIGRATIONS[:2]:
        step(db)
    db.execute("PRAGMA user_version = 2")
    db["captures"].insert(
        {"warc_record_id": "<r1>", "url": "http://www.example.co.uk/", "host": "www.example.co.uk"}
    )
    db.close()
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    reader = open_readonly(path)
    # Read through a migrated copy: the current schema's columns are there, the file is untouched.
    assert next(reader.query("select domain from captures"))["domain"] == "example.co.uk"
    reader.close()
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()


def test_a_current_database_is_read_through_a_read_only_connection(tmp_path: Path) -> None:
    path = tmp_path / "provenance.db"
    open_db(path).close()
    reader = open_readonly(path)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.execute("insert into ledger(action) values ('x')")
    reader.close()


def test_the_written_out_schema_is_what_the_migrations_build() -> None:
    """Opening a database checks it against crawler/storage/schema.py: it must be what the migrations make."""
    from crawler.storage import provenance, schema

    db = sqlite_utils.Database(memory=True)
    for step in provenance.MIGRATIONS:
        step(db)
    built = {table.name: frozenset(table.columns_dict) for table in [*db.tables, *db.views]}
    assert len(provenance.MIGRATIONS) == schema.VERSION
    assert built == schema.TABLES
