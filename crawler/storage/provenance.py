"""The provenance database (SQLite via sqlite-utils): crawls, evidence, captures, refusals.

No Scrapy here. Writes are buffered and flushed in one transaction per batch
(every ``batch_size`` rows, on :meth:`ProvenanceDB.flush` and on close), so
the hot path costs a list append. A batch holds whole units only: a capture
row and its usage rows (or a refusal) commit together or not at all.

The schema is versioned with SQLite's ``user_version`` and migrated forward
when a writing command opens it; a database written by a newer version is
refused rather than misread. Reading commands open it read-only
(:func:`open_readonly`). Nothing is ever written to a file that is not a
permitcrawl provenance database (missing, empty, foreign, damaged): it is
refused with the file named (:func:`inspect_db`), and only a crawl creates a
database, where there is none.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from crawler.errors import ProvenanceError
from crawler.storage import schema
from crawler.storage.compact import (
    CAPTURE_COLUMNS,
    REFUSAL_COLUMNS,
    Compactor,
    capture_view,
    refusal_view,
    usage_view,
    view_triggers,
)
from policies.urls import registrable_domain

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

TABLES = ("crawls", "evidence", "captures", "usage", "refusals", "policy_rules", "leases", "superseded")
# Views (schema 6 on) giving the old shape of tables now stored compactly (crawler.storage.compact).
VIEWS = ("captures", "usage", "refusals")


def _m001_initial(db: sqlite_utils.Database) -> None:
    db.table("crawls").create(
        {
            "id": str,
            "started_at": str,
            "finished_at": str,
            "finish_reason": str,
            "software": str,
            "version": str,
            "purpose": str,
            "default_policy": str,
            "robots_token": str,
            "user_agent": str,
            "seeds": str,
            "settings": str,
            "stats": str,
            "hostname": str,
            "pid": int,
        },
        pk="id",
    )
    db.table("evidence").create(
        {
            "id": int,
            "crawl_id": str,
            "kind": str,
            "origin": str,
            "url": str,
            "final_url": str,
            "fetched_at": str,
            "status": int,
            "outcome": str,
            "error": str,
            "sha256": str,
            "length": int,
            "truncated": int,
            "warc_file": str,
            "warc_offset": int,
            "warc_length": int,
            "warc_record_id": str,
        },
        pk="id",
        foreign_keys=[("crawl_id", "crawls", "id")],
    )
    db.table("captures").create(
        {
            "warc_record_id": str,
            "crawl_id": str,
            "url": str,
            "host": str,
            "fetched_at": str,
            "status": int,
            "content_type": str,
            "payload_length": int,
            "warc_file": str,
            "warc_offset": int,
            "warc_length": int,
            "request_record_id": str,
            "metadata_record_id": str,
            "payload_digest": str,
            "block_digest": str,
            "payload_sha256": str,
            "purpose": str,
            "signal": str,
            "reason": str,
            "redirected_from": str,
            "depth": int,
            "referer": str,
        },
        pk="warc_record_id",
        foreign_keys=[("crawl_id", "crawls", "id")],
    )
    db.table("usage").create(
        {"capture_id": str, "purpose": str, "usable": int, "signal": str, "reason": str, "decision": str},
        pk=("capture_id", "purpose"),
        foreign_keys=[("capture_id", "captures", "warc_record_id")],
    )
    db.table("refusals").create(
        {
            "id": int,
            "crawl_id": str,
            "url": str,
            "host": str,
            "decided_at": str,
            "stage": str,
            "status": int,
            "purpose": str,
            "signal": str,
            "reason": str,
            "decision": str,
            "response_headers": str,
        },
        pk="id",
        foreign_keys=[("crawl_id", "crawls", "id")],
    )
    db.table("captures").create_index(["url"])
    db.table("captures").create_index(["host"])
    db.table("captures").create_index(["fetched_at"])
    db.table("usage").create_index(["purpose", "usable"])
    db.table("refusals").create_index(["url"])
    db.table("refusals").create_index(["host"])
    db.table("refusals").create_index(["signal"])
    db.table("evidence").create_index(["origin"])
    db.table("evidence").create_index(["warc_record_id"])


def _m002_terms_and_rules(db: sqlite_utils.Database) -> None:
    # Terms pages are evidence too: their normalised-text digest and the passages that matter.
    db.table("evidence").add_column("text_sha256", str)
    db.table("evidence").add_column("passages", str)
    # The ToS rules in force during a crawl, each version as it was: decisions cite them.
    db.table("policy_rules").create(
        {
            "crawl_id": str,
            "domain": str,
            "file": str,
            "line": int,
            "scope": str,
            "path": str,
            "version": str,
            "tos_sha256": str,
            "content": str,
        },
        pk=("crawl_id", "file", "line"),
        foreign_keys=[("crawl_id", "crawls", "id")],
    )
    db.table("policy_rules").create_index(["domain"])


def _m003_downstream(db: sqlite_utils.Database) -> None:
    # Queries by domain, content type and signal go through indexes.
    db.table("captures").add_column("domain", str)
    for host in [row[0] for row in db.execute("select distinct host from captures")]:
        db.execute("update captures set domain = ? where host = ?", [registrable_domain(host or ""), host])
    db.table("captures").create_index(["domain"])
    db.table("captures").create_index(["content_type"])
    db.table("usage").create_index(["signal"])
    # The evidence each decision rested on (WARC record ids), to re-derive it offline.
    db.table("captures").add_column("evidence", str)
    db.table("refusals").add_column("evidence", str)
    db.table("crawls").add_column("kind", str)
    db.table("crawls").add_column("config_record_id", str)
    # Later opt-outs, takedowns and erasure: nothing is deleted, everything is recorded.
    db.table("ledger").create(
        {
            "id": int,
            "at": str,
            "actor": str,
            "action": str,
            "scope": str,
            "reason": str,
            "count": int,
            "details": str,
        },
        pk="id",
    )
    db.table("revocations").create(
        {
            "id": int,
            "capture_id": str,
            "url": str,
            "purpose": str,  # NULL: every purpose
            "source": str,  # recheck | revoke
            "reason": str,
            "actor": str,
            "at": str,
            "ledger_id": int,
            "decision": str,
        },
        pk="id",
        foreign_keys=[("ledger_id", "ledger", "id")],
    )
    db.table("revocations").create_index(["capture_id"])
    db.table("revocations").create_index(["url"])
    db.table("tombstones").create(
        {
            "capture_id": str,
            "url": str,
            "payload_digest": str,
            "payload_sha256": str,
            "warc_file": str,
            "purged_at": str,
            "reason": str,
            "ledger_id": int,
        },
        pk="capture_id",
        foreign_keys=[("ledger_id", "ledger", "id")],
    )
    db.table("tombstones").create_index(["url"])


def _m004_refusal_domains(db: sqlite_utils.Database) -> None:
    # Refusals by registrable domain, like captures (the training-data summary groups by domain).
    db.table("refusals").add_column("domain", str)
    for host in [row[0] for row in db.execute("select distinct host from refusals")]:
        db.execute("update refusals set domain = ? where host = ?", [registrable_domain(host or ""), host])
    db.table("refusals").create_index(["domain"])
    db.table("refusals").create_index(["decided_at"])


def _m005_frontier(db: sqlite_utils.Database) -> None:
    # Which lease each row was written under (shard, fencing number, worker): a merge drops rows a
    # worker wrote for a shard it had lost, and the duplicates a takeover re-fetched.
    for table in ("captures", "refusals"):
        db.table(table).add_column("shard", int)
        db.table(table).add_column("epoch", int)
        db.table(table).add_column("worker", str)
    # The leases this directory's worker held: shard, fencing number, since when.
    db.table("leases").create(
        {"shard": int, "epoch": int, "worker": str, "acquired_at": str, "crawl_id": str},
        pk=("shard", "epoch"),
    )
    # WARC records that reached a file while their rows never committed (a kill, a full disk):
    # found when the crawl resumes, named here so that audit accounts for every record.
    db.table("superseded").create(
        {
            "warc_record_id": str,
            "url": str,
            "warc_file": str,
            "warc_offset": int,
            "found_at": str,
            "reason": str,
        },
        pk="warc_record_id",
    )


def _m006_compact(db: sqlite_utils.Database) -> None:
    # Each distinct decision, evidence manifest, verdict set and repeated name stored once
    # (crawler.storage.compact); captures, usage and refusals become views giving the old columns.
    db.execute("create table names (id integer primary key, name text not null unique)")
    db.execute(
        "create table decisions (id integer primary key, sha256 text not null unique, body text not null)"
    )
    db.execute(
        "create table manifests (id integer primary key, sha256 text not null unique, body text not null)"
    )
    db.execute("create table verdicts (id integer primary key, sha256 text not null unique)")
    db.execute(
        "create table verdict_usage (verdict_id integer not null references verdicts(id), "
        "purpose text not null, usable integer, signal text, reason text, "
        "decision_id integer references decisions(id), "
        "primary key (verdict_id, purpose))"
    )
    db.execute("create index idx_verdict_usage_purpose_usable on verdict_usage (purpose, usable)")
    db.execute("create index idx_verdict_usage_signal on verdict_usage (signal)")
    # The affinities the old columns had (text, integer); ids are integers.
    numbers = {"status", "payload_length", "warc_offset", "warc_length", "depth", "shard", "epoch"}
    numbers |= {"crawl_ref", "warc_file_ref", "worker_ref", "manifest_id", "verdict_id", "decision_id"}

    def typed(columns: tuple[str, ...]) -> str:
        return ", ".join(f"{c} {'integer' if c in numbers else 'text'}" for c in columns)

    columns = typed(CAPTURE_COLUMNS)
    db.execute(f"create table capture_rows (id integer primary key, {columns}, unique (warc_record_id))")
    db.execute(f"create table refusal_rows (id integer primary key, {typed(REFUSAL_COLUMNS)})")
    compactor = Compactor(db)
    _copy_captures(db, compactor)
    insert = _inserter(db, "refusal_rows", ("id", *REFUSAL_COLUMNS))
    insert(compactor.refusal(row) for row in db.query("select * from refusals order by id"))
    for table in ("usage", "captures", "refusals"):
        db.execute(f"drop table {table}")
    for column in ("url", "host", "domain", "fetched_at", "content_type", "verdict_id"):
        db.execute(f"create index idx_capture_rows_{column} on capture_rows ({column})")
    for column in ("url", "host", "domain", "signal", "decided_at"):
        db.execute(f"create index idx_refusal_rows_{column} on refusal_rows ({column})")
    for view in (capture_view(), usage_view(), refusal_view(), *view_triggers()):
        db.execute(view)


# The columns of a charge (pay per crawl), written by crawler.storage.charges.
CHARGE_COLUMNS = (
    "crawl_id",
    "url",
    "host",
    "domain",
    "max_price",
    "currency",
    "reserved",
    "state",
    "charged",
    "amount",
    "status",
    "crawler_error",
    "note",
    "reserved_at",
    "settled_at",
    "ledger_id",
)


def _m007_charges(db: sqlite_utils.Database) -> None:
    # Pay per crawl: one row per paid request, reserved against the budgets before it is sent and
    # settled when its response comes (amounts are decimal text, summed exactly in Python).
    types = {"status": "integer", "ledger_id": "integer"}
    columns = ", ".join(f"{c} {types.get(c, 'text')}" for c in CHARGE_COLUMNS)
    db.execute(f"create table charges (id integer primary key, {columns})")
    for column in ("url", "domain", "state"):
        db.execute(f"create index idx_charges_{column} on charges ({column})")


def _inserter(
    db: sqlite_utils.Database, table: str, columns: tuple[str, ...]
) -> Callable[[Iterable[dict[str, Any]]], None]:
    """A function inserting rows (dicts holding at least ``columns``) into ``table``, by column."""
    sql = f"insert into {table} ({', '.join(columns)}) values ({', '.join('?' * len(columns))})"

    def insert(rows: Iterable[dict[str, Any]]) -> None:
        db.conn.executemany(sql, ([row.get(c) for c in columns] for row in rows))

    return insert


def _copy_captures(db: sqlite_utils.Database, compactor: Compactor, chunk: int = 2000) -> None:
    """Copy the old captures and usage tables into capture_rows, a chunk of captures at a time."""
    insert = _inserter(db, "capture_rows", CAPTURE_COLUMNS)
    last = -1
    while True:
        rows = list(
            db.query(
                "select rowid as _rowid, * from captures where rowid > ? order by rowid limit ?",
                [last, chunk],
            )
        )
        if not rows:
            return
        last = rows[-1].pop("_rowid")
        for row in rows:
            row.pop("_rowid", None)
        ids = [row["warc_record_id"] for row in rows]
        marks = ", ".join("?" * len(ids))
        usage = db.query(
            f"select * from usage where capture_id in ({marks}) order by capture_id, purpose", ids
        )
        insert(compactor.captures(rows, usage))


# Forward migrations, in order; position i brings the schema to version i + 1.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _m001_initial,
    _m002_terms_and_rules,
    _m003_downstream,
    _m004_refusal_domains,
    _m005_frontier,
    _m006_compact,
    _m007_charges,
]


def migrate(db: sqlite_utils.Database, *, name: str = "provenance.db") -> None:
    """Bring ``db`` to the current schema; refuse a database from a newer version."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise ProvenanceError(
            f"{name}: schema version {version} is newer than this permitcrawl understands "
            f"({len(MIGRATIONS)}); upgrade permitcrawl to read it"
        )
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        with db.atomic():
            step(db)
            db.execute(f"PRAGMA user_version = {number}")


# -- what a provenance database is, and opening one ---------------------------------------

# SQLite's header field for "which application's file is this" (sqlite.org/fileformat.html):
# b"pmcr". Databases made before it was set carry 0 and are recognised by their schema.
APPLICATION_ID = 0x706D6372
SQLITE_HEADER = b"SQLite format 3\x00"
EXPECTED = "expected a permitcrawl provenance database, as permitcrawl crawl writes it"


@functools.cache
def expected_schema(version: int) -> dict[str, frozenset[str]]:
    """The tables, and their columns, that a provenance database of schema ``version`` has."""
    if version == schema.VERSION:
        return schema.TABLES  # the newest, written out: checked against the migrations by a test
    db = sqlite_utils.Database(memory=True)
    for step in MIGRATIONS[:version]:
        step(db)
    return {table.name: frozenset(table.columns_dict) for table in [*db.tables, *db.views]}


def _check_file(path: Path) -> None:
    """Refuse what cannot be a provenance database by its bytes: missing, empty, not SQLite, cut short."""
    if not os.path.lexists(path):
        raise ProvenanceError(f"{path}: no provenance database here; {EXPECTED}")
    if not path.is_file():
        raise ProvenanceError(f"{path}: is not a regular file; {EXPECTED}")
    size = path.stat().st_size
    if size == 0:
        raise ProvenanceError(f"{path}: is empty (0 bytes); {EXPECTED}")
    with open(path, "rb") as fh:
        header = fh.read(100)
    if len(header) < 100 or not header.startswith(SQLITE_HEADER):
        raise ProvenanceError(f"{path}: is not an SQLite database (its header is not SQLite's); {EXPECTED}")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise ProvenanceError(f"{path}: is damaged (page size {page_size} in its header); {EXPECTED}")
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size:
        return  # the file alone is not the database: SQLite reads it with its write-ahead log
    pages = int.from_bytes(header[28:32], "big")
    # The header's page count is valid when its change counter matches version-valid-for.
    if pages and header[24:28] == header[92:96] and size < pages * page_size:
        raise ProvenanceError(
            f"{path}: is damaged: {size} bytes, but its header says {pages} pages of {page_size} bytes "
            f"(the file was cut short); {EXPECTED}"
        )


def _check_schema(conn: sqlite3.Connection, path: Path) -> int:
    """Refuse a database that is not a permitcrawl one or cannot be read; return its schema version.

    Reads only: the header fields, the schema, and one row of every table the
    schema version must have (so that a damaged table is found before a command
    starts, not half-way through its output).
    """
    try:
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        found = {
            name: frozenset(row[1] for row in conn.execute(f"PRAGMA table_info({_quote(name)})"))
            for (name,) in conn.execute("select name from sqlite_master where type in ('table', 'view')")
        }
        if application_id not in (0, APPLICATION_ID):
            raise ProvenanceError(
                f"{path}: belongs to another application (SQLite application_id {application_id:#x}); "
                f"{EXPECTED}"
            )
        if version > len(MIGRATIONS):
            raise ProvenanceError(
                f"{path}: schema version {version} is newer than this permitcrawl understands "
                f"({len(MIGRATIONS)}); upgrade permitcrawl to read it"
            )
        if version == 0:
            what = f"another schema (tables {', '.join(sorted(found))})" if found else "no tables"
            raise ProvenanceError(f"{path}: holds {what}, not permitcrawl's; {EXPECTED}")
        for table, columns in expected_schema(version).items():
            if table not in found:
                raise ProvenanceError(
                    f"{path}: does not hold permitcrawl's schema version {version}: "
                    f"table {table!r} is missing; {EXPECTED}"
                )
            if missing := columns - found[table]:
                raise ProvenanceError(
                    f"{path}: does not hold permitcrawl's schema version {version}: "
                    f"table {table!r} lacks columns {', '.join(sorted(missing))}; {EXPECTED}"
                )
            conn.execute(f"select * from {_quote(table)} limit 1").fetchall()
    except sqlite3.DatabaseError as exc:
        raise ProvenanceError(f"{path}: is damaged or not an SQLite database ({exc}); {EXPECTED}") from exc
    return version


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def inspect_db(path: Path | str) -> int:
    """Check, reading only, that ``path`` is a permitcrawl provenance database; return its schema version.

    Raise ProvenanceError naming the file and what is wrong: missing, not a
    file, empty, not SQLite, cut short, another application's, a foreign
    schema, a newer schema, or a table that cannot be read.
    """
    path = Path(path)
    _check_file(path)
    conn = _connect_readonly(path)
    try:
        return _check_schema(conn, path)
    finally:
        conn.close()


def _connect_readonly(path: Path) -> sqlite3.Connection:
    # mode=ro: SQLite itself refuses every write, whatever a query does.
    try:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    except sqlite3.Error as exc:
        raise ProvenanceError(f"{path}: cannot open the provenance database ({exc}); {EXPECTED}") from exc


def open_readonly(path: Path | str) -> sqlite_utils.Database:
    """Open a provenance database for reading only: never created, migrated or written.

    A database that is not a permitcrawl one is refused (see :func:`inspect_db`).
    One written by an older permitcrawl is read through a copy in memory,
    migrated there, so that the queries see the current schema and the file is
    left as it is.
    """
    path = Path(path)
    _check_file(path)
    conn = _connect_readonly(path)
    try:
        version = _check_schema(conn, path)
        if version < len(MIGRATIONS):
            copy = sqlite3.connect(":memory:", check_same_thread=False)
            conn.backup(copy)
            conn.close()
            conn = copy
            migrate(sqlite_utils.Database(conn), name=str(path))
    except BaseException:
        conn.close()
        raise
    return sqlite_utils.Database(conn)


def create_db(path: Path) -> None:
    """Create a provenance database at ``path``, whole or not at all, if there is none there.

    The schema is built in a new file beside it and linked into place only when
    complete, so a crash never leaves a half-made or empty ``provenance.db``,
    and a file that appeared meanwhile is never replaced.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    new = path.with_name(f".{path.name}.{secrets.token_hex(8)}.new")
    # Made with the mode SQLite would give it (the umask applies), never over another file.
    os.close(os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    try:
        conn = sqlite3.connect(new)
        try:
            db = sqlite_utils.Database(conn)
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            migrate(db, name=str(path))
        finally:
            conn.close()
        # Linked, not renamed: a database another process made meanwhile is kept (and checked).
        with contextlib.suppress(FileExistsError):
            os.link(new, path)
    finally:
        new.unlink(missing_ok=True)


def open_db(path: Path | str, *, create: bool = True) -> sqlite_utils.Database:
    """Open a provenance database for writing, and migrate it forward.

    With ``create`` (crawl, demo, a new export) a database is created where
    there is none; otherwise it must exist. Either way an existing file must be
    a permitcrawl provenance database (see :func:`inspect_db`): nothing is
    written to a file that is not one.
    """
    path = Path(path)
    if create and not os.path.lexists(path):
        try:
            create_db(path)
        except ProvenanceError:
            raise
        except Exception as exc:
            raise ProvenanceError(f"{path}: cannot create the provenance database: {exc}") from exc
    _check_file(path)
    try:
        conn = sqlite3.connect(path, check_same_thread=False)
    except sqlite3.Error as exc:
        raise ProvenanceError(f"{path}: cannot open the provenance database ({exc}); {EXPECTED}") from exc
    try:
        _check_schema(conn, path)  # before anything is written to it
        db = sqlite_utils.Database(conn)
        db.execute("PRAGMA journal_mode = WAL")
        if db.execute("PRAGMA application_id").fetchone()[0] == 0:
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        migrate(db, name=str(path))
    except ProvenanceError:
        conn.close()
        raise
    except Exception as exc:
        conn.close()
        raise ProvenanceError(f"{path}: cannot open as a provenance database: {exc}") from exc
    return db


def insert_rows(
    db: sqlite_utils.Database,
    captures: Iterable[dict[str, Any]] = (),
    usage: Iterable[dict[str, Any]] = (),
    refusals: Iterable[dict[str, Any]] = (),
    *,
    compactor: Compactor | None = None,
) -> None:
    """Insert rows of the old shape (as the views give them) into ``db``, compactly, in its transaction.

    For commands that copy rows between databases (export, merge): each
    decision, manifest and name is looked up in ``db`` by its content, so ids
    are re-mapped, and only those the rows use are copied. A command that
    inserts in chunks passes one ``compactor`` for ``db``, so that the ids it
    found are remembered from chunk to chunk.
    """
    compactor = compactor or Compactor(db)
    _inserter(db, "capture_rows", CAPTURE_COLUMNS)(compactor.captures(list(captures), usage))
    _inserter(db, "refusal_rows", ("id", *REFUSAL_COLUMNS))(compactor.refusal(row) for row in refusals)


def dumps(value: Any) -> str:
    """Serialise a JSON column the same way everywhere (stable key order)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class ProvenanceDB:
    """Buffered writer for one crawl's provenance rows."""

    def __init__(self, db: sqlite_utils.Database, *, batch_size: int = 500) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.db = db
        self.batch_size = batch_size
        self._pending: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
        self._count = 0
        # Units held back until their request is processed (see hold and release).
        self._held: dict[str, list[tuple[tuple[str, list[dict[str, Any]]], ...]]] = {}
        # Called before each commit: the WARC writer flushes the records the rows point at.
        self.before_flush: Callable[[], None] = lambda: None
        # Called after each flush, committed or with nothing to commit: every unit queued or
        # released before the flush is in the database now.
        self.after_flush: list[Callable[[], None]] = []
        # Relaxed durability is safe in WAL mode: a crash loses at most the last
        # transactions, never corrupts the file, and the WARC is written first.
        db.execute("PRAGMA synchronous = NORMAL")
        self._compactor = Compactor(db)
        self._insert_captures = _inserter(db, "capture_rows", CAPTURE_COLUMNS)
        self._insert_refusals = _inserter(db, "refusal_rows", ("id", *REFUSAL_COLUMNS))

    @classmethod
    def open(cls, path: Path | str, *, batch_size: int = 500) -> ProvenanceDB:
        """Open or create the database at ``path``."""
        return cls(open_db(path), batch_size=batch_size)

    def start_crawl(self, row: dict[str, Any]) -> None:
        """Record a crawl's start (written at once, not batched)."""
        with self.db.atomic():
            self.db.table("crawls").insert(row, replace=True)

    def _add(self, *unit: tuple[str, list[dict[str, Any]]], hold: str | None = None) -> None:
        """Queue the rows of one unit, (table, rows) pairs that commit together: never split by a flush.

        With ``hold``, the unit waits (uncommitted) until :meth:`release` names
        that key: the frontier commits a page's rows only once everything the
        page led to (its links) is queued, so that a committed row always
        means a page done.
        """
        if hold is not None:
            self._held.setdefault(hold, []).append(unit)
            return
        for table, rows in unit:
            self._pending[table].extend(rows)
            self._count += len(rows)
        if self._count >= self.batch_size:
            self.flush()

    def release(self, keys: Iterable[str]) -> None:
        """Queue the units held under ``keys`` for the next commit (keys holding nothing are ignored)."""
        for key in keys:
            for unit in self._held.pop(key, ()):
                self._add(*unit)

    def holds(self, key: str) -> bool:
        """Whether units are held under ``key`` (its request left rows on the record)."""
        return key in self._held

    def drop_held(self, keys: Iterable[str]) -> None:
        """Forget the units held under ``keys``: their request was never sent (its lease was lost)."""
        for key in keys:
            self._held.pop(key, None)

    @property
    def held(self) -> int:
        """How many keys hold units not yet released."""
        return len(self._held)

    def add_evidence(self, row: dict[str, Any]) -> None:
        """Queue one evidence document row."""
        self._add(("evidence", [row]))

    def add_capture(
        self, row: dict[str, Any], usage: Iterable[dict[str, Any]], *, hold: str | None = None
    ) -> None:
        """Queue one capture row and its per-purpose usage rows, to be committed in one transaction."""
        self._add(("captures", [row]), ("usage", list(usage)), hold=hold)

    def add_rule(self, row: dict[str, Any]) -> None:
        """Queue one ToS rule in force during the crawl."""
        self._add(("policy_rules", [row]))

    def add_refusal(self, row: dict[str, Any], *, hold: str | None = None) -> None:
        """Queue one refusal row."""
        self._add(("refusals", [row]), hold=hold)

    def add_lease(self, row: dict[str, Any]) -> None:
        """Queue one lease this worker took (shard, epoch, worker, acquired_at, crawl_id)."""
        self._add(("leases", [row]))

    def flush(self) -> None:
        """Write every queued row in one transaction.

        The queue is emptied only once the transaction has committed: rows of
        a transaction that failed are neither written nor forgotten.
        """
        if self._count:
            self.before_flush()
            try:
                with self.db.atomic():
                    for table in TABLES:
                        rows = self._pending[table]
                        if table in VIEWS:
                            self._insert_compact(table)
                        elif rows:
                            self.db.table(table).insert_all(
                                rows, batch_size=self.batch_size, replace=table == "leases"
                            )
            except BaseException:
                self._compactor.forget()  # the ids it handed out in the transaction are gone
                raise
            self._pending = {name: [] for name in TABLES}
            self._count = 0
        for hook in self.after_flush:
            hook()

    def _insert_compact(self, table: str) -> None:
        """Insert the queued rows of a table stored compactly (captures with their usage; refusals)."""
        if table == "captures":
            rows = self._compactor.captures(self._pending["captures"], self._pending["usage"])
            self._insert_captures(rows)
        elif table == "refusals":
            self._insert_refusals(self._compactor.refusal(row) for row in self._pending["refusals"])

    def close(self) -> None:
        """Flush and close the connection."""
        self.flush()
        self.db.close()
