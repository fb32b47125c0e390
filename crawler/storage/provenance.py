"""The provenance database (SQLite via sqlite-utils): crawls, evidence, captures, refusals.

No Scrapy here. Writes are buffered and flushed in one transaction per batch
(every ``batch_size`` rows, on :meth:`ProvenanceDB.flush` and on close), so
the hot path costs a list append. The schema is versioned with SQLite's
``user_version`` and migrated forward on open; a database written by a newer
version is refused rather than misread.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from crawler.errors import ProvenanceError
from policies.store import registrable_domain

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

TABLES = ("crawls", "evidence", "captures", "usage", "refusals", "policy_rules")


def _m001_initial(db: sqlite_utils.Database) -> None:
    db["crawls"].create(
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
    db["evidence"].create(
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
    db["captures"].create(
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
    db["usage"].create(
        {"capture_id": str, "purpose": str, "usable": int, "signal": str, "reason": str, "decision": str},
        pk=("capture_id", "purpose"),
        foreign_keys=[("capture_id", "captures", "warc_record_id")],
    )
    db["refusals"].create(
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
    db["captures"].create_index(["url"])
    db["captures"].create_index(["host"])
    db["captures"].create_index(["fetched_at"])
    db["usage"].create_index(["purpose", "usable"])
    db["refusals"].create_index(["url"])
    db["refusals"].create_index(["host"])
    db["refusals"].create_index(["signal"])
    db["evidence"].create_index(["origin"])
    db["evidence"].create_index(["warc_record_id"])


def _m002_terms_and_rules(db: sqlite_utils.Database) -> None:
    # Terms pages are evidence too: their normalised-text digest and the passages that matter.
    db["evidence"].add_column("text_sha256", str)
    db["evidence"].add_column("passages", str)
    # The ToS rules in force during a crawl, each version as it was: decisions cite them.
    db["policy_rules"].create(
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
    db["policy_rules"].create_index(["domain"])


def _m003_downstream(db: sqlite_utils.Database) -> None:
    # Queries by domain, content type and signal go through indexes.
    db["captures"].add_column("domain", str)
    for host in [row[0] for row in db.execute("select distinct host from captures")]:
        db.execute("update captures set domain = ? where host = ?", [registrable_domain(host or ""), host])
    db["captures"].create_index(["domain"])
    db["captures"].create_index(["content_type"])
    db["usage"].create_index(["signal"])
    # The evidence each decision rested on (WARC record ids), to re-derive it offline.
    db["captures"].add_column("evidence", str)
    db["refusals"].add_column("evidence", str)
    db["crawls"].add_column("kind", str)
    db["crawls"].add_column("config_record_id", str)
    # Later opt-outs, takedowns and erasure: nothing is deleted, everything is recorded.
    db["ledger"].create(
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
    db["revocations"].create(
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
    db["revocations"].create_index(["capture_id"])
    db["revocations"].create_index(["url"])
    db["tombstones"].create(
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
    db["tombstones"].create_index(["url"])


def _m004_refusal_domains(db: sqlite_utils.Database) -> None:
    # Refusals by registrable domain, like captures (the training-data summary groups by domain).
    db["refusals"].add_column("domain", str)
    for host in [row[0] for row in db.execute("select distinct host from refusals")]:
        db.execute("update refusals set domain = ? where host = ?", [registrable_domain(host or ""), host])
    db["refusals"].create_index(["domain"])
    db["refusals"].create_index(["decided_at"])


# Forward migrations, in order; position i brings the schema to version i + 1.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _m001_initial,
    _m002_terms_and_rules,
    _m003_downstream,
    _m004_refusal_domains,
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


def open_db(path: Path | str, *, create: bool = True) -> sqlite_utils.Database:
    """Open (and migrate) a provenance database; with ``create=False`` it must exist."""
    path = Path(path)
    if not create and not path.is_file():
        raise ProvenanceError(f"{path}: no provenance database here")
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # One connection, handed to the archive writer's thread once the crawl runs.
        db = sqlite_utils.Database(sqlite3.connect(path, check_same_thread=False))
        db.execute("PRAGMA journal_mode = WAL")
        migrate(db, name=str(path))
    except ProvenanceError:
        raise
    except Exception as exc:
        raise ProvenanceError(f"{path}: cannot open as a provenance database: {exc}") from exc
    return db


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
        # Called before each commit: the WARC writer flushes the records the rows point at.
        self.before_flush: Callable[[], None] = lambda: None
        # Relaxed durability is safe in WAL mode: a crash loses at most the last
        # transactions, never corrupts the file, and the WARC is written first.
        db.execute("PRAGMA synchronous = NORMAL")

    @classmethod
    def open(cls, path: Path | str, *, batch_size: int = 500) -> ProvenanceDB:
        """Open or create the database at ``path``."""
        return cls(open_db(path), batch_size=batch_size)

    def start_crawl(self, row: dict[str, Any]) -> None:
        """Record a crawl's start (written at once, not batched)."""
        with self.db.atomic():
            self.db["crawls"].insert(row, replace=True)

    def finish_crawl(self, crawl_id: str, **fields: Any) -> None:
        """Record a crawl's end: flush everything pending, then update its row."""
        self.flush()
        with self.db.atomic():
            self.db["crawls"].update(crawl_id, fields)

    def _add(self, table: str, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self._pending[table].append(row)
            self._count += 1
        if self._count >= self.batch_size:
            self.flush()

    def add_evidence(self, row: dict[str, Any]) -> None:
        """Queue one evidence document row."""
        self._add("evidence", [row])

    def add_capture(self, row: dict[str, Any], usage: Iterable[dict[str, Any]]) -> None:
        """Queue one capture row and its per-purpose usage rows."""
        self._add("captures", [row])
        self._add("usage", usage)

    def add_rule(self, row: dict[str, Any]) -> None:
        """Queue one ToS rule in force during the crawl."""
        self._add("policy_rules", [row])

    def add_refusal(self, row: dict[str, Any]) -> None:
        """Queue one refusal row."""
        self._add("refusals", [row])

    def flush(self) -> None:
        """Write every queued row in one transaction."""
        if not self._count:
            return
        self.before_flush()
        with self.db.atomic():
            for table in TABLES:
                rows = self._pending[table]
                if rows:
                    self.db[table].insert_all(rows, batch_size=self.batch_size)
                    self._pending[table] = []
        self._count = 0

    def close(self) -> None:
        """Flush and close the connection."""
        self.flush()
        self.db.close()
