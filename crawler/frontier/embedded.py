"""The embedded frontier: SQLite in the crawl directory (``DIR/frontier.db``), for one worker.

One worker writes a crawl directory at a time (its lock), so this worker
holds every shard; its fencing number (epoch) grows at every run, so rows
written by a run and the run that resumed it can be told apart. Every change
commits at once in WAL mode with ``synchronous=NORMAL``: a process killed at
any moment loses nothing committed (a power cut may lose the last
transactions, never corrupt the file). The seen set, the queue and the count
of URLs scheduled per host (table ``hosts``, for the cap of URLs per host) live
on disk, not in memory. A frontier of schema version 1 (before ``hosts``) is
upgraded when a crawl opens it: its hosts start counted at the URLs still queued.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from crawler.frontier.base import (
    SHARDS,
    Claim,
    Counts,
    FrontierError,
    Lease,
    Pushed,
    Status,
    Taken,
    shard_of,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from crawler.frontier.base import Entry

FILE_NAME = "frontier.db"
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, SCHEMA_VERSION)  # version 1 lacks ``hosts``: upgraded when opened for a crawl
APPLICATION_ID = 0x706D6671  # b"pmfq": a permitcrawl frontier

QUEUED, IN_FLIGHT = 0, 1

# URLs ever scheduled per host against the cap of a push (added in version 2).
HOSTS = "CREATE TABLE hosts (host TEXT PRIMARY KEY, scheduled INTEGER NOT NULL) WITHOUT ROWID;\n"

SCHEMA = (
    """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE seen (fingerprint TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE queue (
    id INTEGER PRIMARY KEY,
    shard INTEGER NOT NULL,
    host TEXT NOT NULL,
    url TEXT NOT NULL,
    priority INTEGER NOT NULL,
    payload TEXT NOT NULL,
    state INTEGER NOT NULL DEFAULT 0,
    epoch INTEGER,
    worker TEXT
);
CREATE INDEX queue_next ON queue (priority DESC, id) WHERE state = 0;
CREATE INDEX queue_in_flight ON queue (state) WHERE state = 1;
CREATE TABLE done (shard INTEGER PRIMARY KEY, count INTEGER NOT NULL);
CREATE TABLE leases (shard INTEGER NOT NULL, epoch INTEGER NOT NULL, worker TEXT NOT NULL,
                     acquired_at TEXT NOT NULL, PRIMARY KEY (shard, epoch));
"""
    + HOSTS
)


def worker_name(out: Path) -> str:
    """This process's worker name: host, process id and crawl directory (no whitespace: a name is a token)."""
    name = f"{socket.gethostname()}:{os.getpid()}:{out.resolve()}"
    return "".join("_" if c.isspace() else c for c in name)


class EmbeddedFrontier:
    """The frontier of one crawl directory (see the module docstring)."""

    backend = "embedded"

    def __init__(self, path: Path, *, worker: str, shards: int = SHARDS) -> None:
        self.path = path
        self.worker = worker
        self.shards = shards
        self.epoch = 0
        self._conn: sqlite3.Connection | None = None
        self._leases: list[Lease] = []
        self.readonly = False

    # -- opening -------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            if not self.path.exists():
                self._create()
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._check(conn)
            self._upgrade(conn)
        except sqlite3.DatabaseError as exc:
            raise FrontierError(
                f"{self.path}: cannot be used as the crawl's frontier ({exc}); expected a permitcrawl "
                "frontier database, as permitcrawl crawl writes it"
            ) from exc
        except OSError as exc:
            raise FrontierError(f"{self.path}: cannot create the crawl's frontier ({exc.strerror})") from exc
        return conn

    def _create(self) -> None:
        # Built beside and renamed into place: a kill mid-creation leaves no half-made frontier.
        partial = self.path.with_name(self.path.name + ".new")
        partial.unlink(missing_ok=True)
        conn = sqlite3.connect(partial, isolation_level=None)
        try:
            conn.executescript(SCHEMA)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("INSERT INTO meta VALUES ('shards', ?)", (str(self.shards),))
        finally:
            conn.close()
        os.replace(partial, self.path)

    def _check(self, conn: sqlite3.Connection) -> None:
        app = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if app != APPLICATION_ID:
            raise FrontierError(
                f"{self.path}: is not a permitcrawl frontier database; expected the frontier "
                "permitcrawl crawl keeps in the crawl directory, or nothing there"
            )
        if version not in READABLE_VERSIONS:
            raise FrontierError(
                f"{self.path}: frontier schema version {version}; this permitcrawl reads versions "
                f"{', '.join(map(str, READABLE_VERSIONS))}"
            )
        shards = conn.execute("SELECT value FROM meta WHERE name = 'shards'").fetchone()
        if shards is not None:
            self.shards = int(shards[0])

    def _upgrade(self, conn: sqlite3.Connection) -> None:
        """Bring a version 1 frontier to version 2, all or none: its hosts counted at the URLs queued."""
        if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        with _transaction(conn):
            conn.execute(HOSTS)
            conn.execute("INSERT INTO hosts SELECT host, count(*) FROM queue GROUP BY host")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise FrontierError(f"{self.path}: the frontier is not open")
        return self._conn

    def open(self, identity: Mapping[str, str]) -> None:
        """Open (or create) the frontier; take every shard under a new epoch.

        ``identity`` is recorded, not checked: one worker owns the directory,
        and a later command may add seeds or change bounds, as a resumed crawl could.
        """
        self._conn = self._connect()
        conn = self.conn
        text = json.dumps(dict(identity), sort_keys=True)
        with _transaction(conn):
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('identity', ?)", (text,))
            epoch = conn.execute("SELECT coalesce(max(epoch), 0) + 1 FROM leases").fetchone()[0]
            now = datetime.now(UTC).isoformat()
            conn.executemany(
                "INSERT INTO leases VALUES (?, ?, ?, ?)",
                [(shard, epoch, self.worker, now) for shard in range(self.shards)],
            )
        self.epoch = epoch
        self._leases = [Lease(shard, epoch, self.worker, now) for shard in range(self.shards)]

    # -- the queue -----------------------------------------------------------------

    def push(self, entries: Sequence[Entry], host_cap: int = 0) -> Pushed:
        """Enqueue the entries not seen before (all the unfiltered ones), in one transaction.

        See :meth:`crawler.frontier.base.Frontier.push` for ``host_cap``.
        """
        conn = self.conn
        pushed = Pushed()
        with _transaction(conn):
            for entry in entries:
                if entry.filtered:
                    cursor = conn.execute("INSERT OR IGNORE INTO seen VALUES (?)", (entry.fingerprint,))
                    if cursor.rowcount == 0:
                        continue
                    if host_cap and entry.capped and not self._count_in(conn, entry.host, host_cap):
                        # Not scheduled: not seen either, so a later link to it is counted again.
                        conn.execute("DELETE FROM seen WHERE fingerprint = ?", (entry.fingerprint,))
                        pushed.over_cap[entry.host] = pushed.over_cap.get(entry.host, 0) + 1
                        continue
                conn.execute(
                    "INSERT INTO queue (shard, host, url, priority, payload) VALUES (?, ?, ?, ?, ?)",
                    (shard_of(entry.host, self.shards), entry.host, entry.url, entry.priority, entry.payload),
                )
                pushed.queued += 1
        return pushed

    @staticmethod
    def _count_in(conn: sqlite3.Connection, host: str, cap: int) -> bool:
        """Count one more URL scheduled for ``host`` if it has fewer than ``cap``; False if it is full."""
        cursor = conn.execute(
            "INSERT INTO hosts VALUES (?, 1) ON CONFLICT (host) DO UPDATE SET scheduled = scheduled + 1 "
            "WHERE scheduled < ?",
            (host, cap),
        )
        return cursor.rowcount == 1

    def scheduled(self, host: str) -> int:
        """URLs of ``host`` ever queued against its cap (see :meth:`push`)."""
        row = self.conn.execute("SELECT scheduled FROM hosts WHERE host = ?", (host,)).fetchone()
        return int(row[0]) if row else 0

    def take(self, limit: int) -> list[Taken]:
        """Take the next ``limit`` queued URLs (highest priority, then oldest): in flight from now."""
        conn = self.conn
        with _transaction(conn):
            rows = conn.execute(
                "SELECT id, shard, url, payload FROM queue WHERE state = 0 "
                "ORDER BY priority DESC, id LIMIT ?",
                (limit,),
            ).fetchall()
            conn.executemany(
                "UPDATE queue SET state = 1, epoch = ?, worker = ? WHERE id = ?",
                [(self.epoch, self.worker, row[0]) for row in rows],
            )
        return [
            Taken(Claim(str(id_), shard, self.epoch, self.worker), url, payload)
            for id_, shard, url, payload in rows
        ]

    def done(self, keys: Sequence[str]) -> None:
        """Drop the entries of ``keys`` (in flight) and count them done, per shard."""
        if not keys:
            return
        conn = self.conn
        with _transaction(conn):
            for key in keys:
                row = conn.execute("DELETE FROM queue WHERE id = ? RETURNING shard", (int(key),)).fetchone()
                if row is not None:
                    conn.execute(
                        "INSERT INTO done VALUES (?, 1) ON CONFLICT (shard) DO UPDATE SET count = count + 1",
                        (row[0],),
                    )

    def stranded(self) -> list[Taken]:
        """The URLs left in flight by an earlier run (killed): each is either done or queued again."""
        rows = self.conn.execute(
            "SELECT id, shard, url, payload, epoch, worker FROM queue WHERE state = 1 AND epoch < ?",
            (self.epoch,),
        ).fetchall()
        return [
            Taken(Claim(str(id_), shard, epoch, worker), url, payload)
            for id_, shard, url, payload, epoch, worker in rows
        ]

    def requeue(self, keys: Sequence[str]) -> None:
        """Put in-flight entries back in the queue, where they were."""
        with _transaction(self.conn):
            self.conn.executemany(
                "UPDATE queue SET state = 0, epoch = NULL, worker = NULL WHERE id = ? AND state = 1",
                [(int(key),) for key in keys],
            )

    # -- leases: one worker holds every shard ---------------------------------------

    def renew(self) -> list[Lease]:
        return list(self._leases)

    def holds(self, claim: Claim) -> bool:
        return claim.epoch == self.epoch and claim.worker == self.worker

    def reserve_page(self, limit: int) -> bool:
        raise FrontierError("the embedded frontier leaves the page budget to the crawl's database")

    def return_page(self) -> None:
        raise FrontierError("the embedded frontier leaves the page budget to the crawl's database")

    # -- reading -------------------------------------------------------------------

    def counts(self) -> Counts:
        conn = self.conn
        queued, in_flight = conn.execute(
            "SELECT count(*) FILTER (WHERE state = 0), count(*) FILTER (WHERE state = 1) FROM queue"
        ).fetchone()
        done = conn.execute("SELECT coalesce(sum(count), 0) FROM done").fetchone()[0]
        return Counts(queued=queued or 0, in_flight=in_flight or 0, done=done)

    def status(self) -> Status:
        conn = self.conn
        shards: dict[int, Counts] = {}
        for shard, state, count in conn.execute(
            "SELECT shard, state, count(*) FROM queue GROUP BY shard, state"
        ):
            counts = shards.setdefault(shard, Counts())
            if state == QUEUED:
                counts.queued = count
            else:
                counts.in_flight = count
        for shard, count in conn.execute("SELECT shard, count FROM done"):
            shards.setdefault(shard, Counts()).done = count
        workers: dict[str, Counts] = {}
        for worker, count in conn.execute(
            "SELECT worker, count(*) FROM queue WHERE state = 1 GROUP BY worker"
        ):
            workers[worker] = Counts(in_flight=count)
        leases = [
            Lease(shard, epoch, worker, at)
            for shard, epoch, worker, at in conn.execute(
                "SELECT shard, epoch, worker, acquired_at FROM leases WHERE epoch = "
                "(SELECT max(epoch) FROM leases) ORDER BY shard"
            )
        ]
        hosts = conn.execute("SELECT count(DISTINCT host) FROM queue").fetchone()[0]
        return Status(
            backend=self.backend,
            total=self.counts(),
            shards=dict(sorted(shards.items())),
            workers=workers,
            leases=leases,
            hosts=hosts,
            details={"file": str(self.path)},
        )

    def close(self) -> None:
        """Put this run's in-flight URLs back in the queue and close the file."""
        if self._conn is None:
            return
        if self.readonly:
            self._conn.close()
            self._conn = None
            return
        try:
            with _transaction(self._conn):
                self._conn.execute(
                    "UPDATE queue SET state = 0, epoch = NULL, worker = NULL WHERE state = 1 AND epoch = ?",
                    (self.epoch,),
                )
        finally:
            self._conn.close()
            self._conn = None


def open_readonly(path: Path) -> EmbeddedFrontier:
    """The frontier at ``path``, for reading its status only (nothing is written)."""
    if not path.is_file():
        raise FrontierError(f"{path}: no frontier there; expected a crawl directory a crawl has run in")
    frontier = EmbeddedFrontier(path, worker="reader")
    frontier.readonly = True
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        frontier._check(conn)
    except sqlite3.DatabaseError as exc:
        raise FrontierError(
            f"{path}: is not a permitcrawl frontier database ({exc}); expected the frontier permitcrawl "
            "crawl keeps in the crawl directory, or nothing there"
        ) from exc
    frontier._conn = conn
    return frontier


def check_file(path: Path) -> None:
    """Raise FrontierError unless ``path`` is absent or a permitcrawl frontier (read only)."""
    if path.exists():
        open_readonly(path).close()


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection; retried while busy."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        for attempt in range(50):
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.Error as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == 49:
                    raise FrontierError(f"the frontier could not be written: {exc}") from exc
                time.sleep(0.1)

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        try:
            if kind is None:
                self.conn.execute("COMMIT")
                return
            self.conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            self.conn.execute("ROLLBACK") if self.conn.in_transaction else None
            raise FrontierError(f"the frontier could not be written: {exc}") from exc
        if isinstance(value, sqlite3.Error):
            raise FrontierError(f"the frontier could not be written: {value}") from value
