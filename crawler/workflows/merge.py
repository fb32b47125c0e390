"""Merge: one crawl directory from the crawl directories of a distributed crawl's workers. No Scrapy here.

Each worker writes its own crawl directory. A merge puts their WARC files
side by side (hard-linked, never rewritten: ``warc/<n>/`` and
``evidence/<n>/`` for the n-th input, so that names never collide and stay
what the worker wrote) and unions their provenance databases into one, each
URL once:

* a row is **stale** when it was written under a lease its worker had lost:
  another lease of the same shard, with a higher fencing number (epoch), had
  been acquired at or before the row's time (``fetched_at``, ``decided_at``);
* among the rows left, the captures of one URL (compared by
  :func:`~crawler.storage.urls.url_key`), in any input, are **duplicates** (a
  takeover re-fetched what was in flight): the earliest is kept;
* a refused URL refused by several inputs keeps the refusals of the input
  that refused it first.

The WARC records of every dropped capture are named in ``superseded`` with
the reason, so that ``audit`` accounts for every record, and one ledger entry
records the merge (its inputs, and what was kept and dropped, by reason).
The merge is built in a hidden directory beside the destination and renamed
into place at the end: a failure leaves no destination.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler import __version__
from crawler.errors import PermitcrawlError, WarcError
from crawler.storage.archive import WARC_DIRS, WarcArchive, warc_files
from crawler.storage.provenance import insert_rows, open_db
from crawler.storage.queries import DB_NAME
from crawler.storage.urls import UrlError, url_key
from crawler.workflows.ledger import now, record

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    import sqlite_utils

# Why os.link fails where a copy still works: another file system, or one that has no hard links.
NO_LINK = (errno.EXDEV, errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK)
STALE = "stale"
DUPLICATE = "duplicate"


class MergeError(PermitcrawlError):
    """The merge cannot be made: its destination is taken, or an input cannot be merged."""


@dataclass(frozen=True)
class Source:
    """One input of a merge: its crawl directory, its provenance database (read-only), its number."""

    number: int  # 1-based: its files go to warc/<number>/ and evidence/<number>/
    directory: Path
    db: sqlite_utils.Database


@dataclass
class Dropped:
    """One row a merge leaves out, and why (``stale`` or ``duplicate``, with the sentence saying so)."""

    table: str
    row: dict[str, Any]
    reason: str
    why: str


@dataclass
class MergeReport:
    """What a merge made: counts kept, rows dropped by reason, how the WARC files got there."""

    out: Path
    inputs: list[str]
    captures: int = 0
    refusals: int = 0
    warc_files: int = 0
    linked: int = 0
    copied: int = 0  # another file system: copied byte for byte
    moved: bool = False
    revocations_moved: int = 0  # revocations of a dropped capture, carried to the kept one
    dropped: list[Dropped] = field(default_factory=list)
    ledger_id: int = 0

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows dropped, by table and reason: ``{"captures": {"stale": 1, "duplicate": 4}, ...}``."""
        found: dict[str, dict[str, int]] = {
            "captures": {STALE: 0, DUPLICATE: 0},
            "refusals": {STALE: 0, DUPLICATE: 0},
        }
        for drop in self.dropped:
            found[drop.table][drop.reason] += 1
        return found

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "inputs": self.inputs,
            "kept": {"captures": self.captures, "refusals": self.refusals},
            "dropped": self.counts(),
            "warc_files": self.warc_files,
            "linked": self.linked,
            "copied": self.copied,
            "moved": self.moved,
            "revocations_moved": self.revocations_moved,
            "ledger_id": self.ledger_id,
        }


# -- checks before anything is written ----------------------------------------------------


def check_destination(out: Path, inputs: Iterable[Path]) -> None:
    """Raise MergeError unless ``out`` can take the merge: new, or an empty directory, and no input."""
    if os.path.lexists(out) and (not out.is_dir() or out.is_symlink() or any(out.iterdir())):
        raise MergeError(f"{out}: exists and is not empty; expected a new or empty directory for the merge")
    target = out.resolve()
    for directory in inputs:
        source = directory.resolve()
        if target == source or source in target.parents:
            raise MergeError(
                f"{out}: is inside the input {directory}; expected a directory outside every input"
            )


def check_closed(directory: Path) -> None:
    """Raise MergeError if ``directory`` holds WARC files still under their temporary ``.open`` names.

    Rows may point into such a file under its final name: merged as it is, they
    would point at nothing, and the records in it would be left out unsaid.
    """
    from crawler.storage.warc import OPEN_SUFFIX

    left = sorted(p for sub in WARC_DIRS for p in (directory / sub).glob(f"*{OPEN_SUFFIX}"))
    if left:
        names = ", ".join(str(p) for p in left)
        raise MergeError(
            f"{directory}: WARC files still open ({names}): a crawl is writing them, or one stopped "
            "abruptly; resume that crawl (or run any writing command on it: it recovers them), then merge"
        )


# -- the rows: which are kept ----------------------------------------------------------------


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Lease:
    """A lease some worker held: a shard, its fencing number, the worker, when it was acquired."""

    shard: int
    epoch: int
    worker: str | None
    acquired_at: datetime


def leases_of(sources: list[Source]) -> list[Lease]:
    """Every lease any input's worker held; raise MergeError if two inputs give one fencing number twice."""
    found: dict[tuple[int, int], tuple[dict[str, Any], Path]] = {}
    for source in sources:
        for row in source.db.query("select * from leases"):
            key = (row["shard"], row["epoch"])
            seen = found.setdefault(key, (row, source.directory))
            if seen[0]["worker"] != row["worker"]:
                raise MergeError(
                    f"{source.directory}: holds the lease of shard {key[0]} with fencing number {key[1]} for "
                    f"worker {row['worker']!r}, {seen[1]} for worker {seen[0]['worker']!r}; expected one "
                    "holder per fencing number: these directories are not from one crawl's frontier"
                )
    leases = []
    for (shard, epoch), (row, _) in found.items():
        acquired = _when(row["acquired_at"])
        if acquired is not None:
            leases.append(Lease(shard, epoch, row["worker"], acquired))
    return leases


def stale_because(row: dict[str, Any], at: str | None, leases: list[Lease]) -> str | None:
    """Why a row is stale (a later lease of its shard was acquired at or before its time), or None.

    A row written under no lease (no shard or epoch: a crawl without a shared
    frontier) is never stale.
    """
    shard, epoch, when = row.get("shard"), row.get("epoch"), _when(at)
    if shard is None or epoch is None or when is None:
        return None
    later = [x for x in leases if x.shard == shard and x.epoch > epoch and x.acquired_at <= when]
    if not later:
        return None
    lease = min(later, key=lambda x: x.epoch)
    return (
        f"stale: written under fencing number {epoch} of shard {shard} by {row.get('worker')}, after "
        f"worker {lease.worker} acquired fencing number {lease.epoch} at {lease.acquired_at.isoformat()}"
    )


def _key(url: str) -> str:
    try:
        return url_key(url)
    except UrlError:
        return url  # a stored URL that is not one any more: matched as written


@dataclass
class Choice:
    """The rows a merge keeps, per input, and those it drops."""

    captures: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    refusals: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    dropped: list[Dropped] = field(default_factory=list)
    # url_key -> (input number, warc_record_id) of the capture kept
    kept_capture: dict[str, tuple[int, str]] = field(default_factory=dict)


def choose(sources: list[Source]) -> Choice:
    """Which captures and refusals the merge keeps: stale rows out, then each URL once (the earliest)."""
    leases = leases_of(sources)
    choice = Choice()
    fresh: list[tuple[datetime, int, str, dict[str, Any]]] = []
    for source in sources:
        choice.captures[source.number] = []
        for when, row in _fresh(source, "captures", "fetched_at", leases, choice):
            fresh.append((when, source.number, row["warc_record_id"], row))
    fresh.sort(key=lambda item: item[:3])
    for _, number, record_id, row in fresh:
        key = _key(row["url"])
        kept = choice.kept_capture.get(key)
        if kept is not None:
            why = f"duplicate: captured again (a takeover re-fetch); the capture kept is {kept[1]}"
            choice.dropped.append(Dropped("captures", {**row, "_input": number}, DUPLICATE, why))
            continue
        choice.kept_capture[key] = (number, record_id)
        choice.captures[number].append(row)
    _choose_refusals(sources, leases, choice)
    return choice


def _fresh(
    source: Source, table: str, time_column: str, leases: list[Lease], choice: Choice
) -> Iterator[tuple[datetime, dict[str, Any]]]:
    """``table``'s rows of ``source`` not written under a lost lease, with their time; stale ones dropped."""
    for row in source.db.query(f"select * from {table}"):  # table: "captures" or "refusals", ours
        why = stale_because(row, row[time_column], leases)
        if why:
            choice.dropped.append(Dropped(table, {**row, "_input": source.number}, STALE, why))
            continue
        yield _when(row[time_column]) or datetime.max.replace(tzinfo=UTC), row


def _choose_refusals(sources: list[Source], leases: list[Lease], choice: Choice) -> None:
    """Stale refusals out; a URL refused by several inputs keeps the refusals of the first to refuse it."""
    first: dict[str, tuple[datetime, int]] = {}
    fresh: list[tuple[int, dict[str, Any]]] = []
    for source in sources:
        choice.refusals[source.number] = []
        for when, row in _fresh(source, "refusals", "decided_at", leases, choice):
            key = _key(row["url"])
            first[key] = min(first.get(key, (when, source.number)), (when, source.number))
            fresh.append((source.number, row))
    for number, row in fresh:
        owner = first[_key(row["url"])][1]
        if owner != number:
            why = f"duplicate: refused again; the refusals kept are those of input {owner}"
            choice.dropped.append(Dropped("refusals", {**row, "_input": number}, DUPLICATE, why))
            continue
        choice.refusals[number].append(row)


# -- the files -------------------------------------------------------------------------------


def _placed(number: int, warc_file: str | None) -> str | None:
    """Where a file an input names (``warc/x.warc.gz``) is in the merge (``warc/<number>/x.warc.gz``)."""
    if not warc_file:
        return warc_file
    kind, sep, name = warc_file.partition("/")
    return f"{kind}/{number}/{name}" if sep else f"{number}/{warc_file}"


def place_files(sources: list[Source], staging: Path, report: MergeReport) -> dict[Path, Path]:
    """Hard-link every input's WARC files into ``staging`` (copying byte for byte across file systems).

    Returns each placed file with its original: errors name the original, and
    ``--move`` removes the originals once the merge is in place.
    """
    placed: dict[Path, Path] = {}
    for source in sources:
        for path in warc_files(source.directory):
            relative = path.relative_to(source.directory).as_posix()
            target = staging / str(_placed(source.number, relative))
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)
                report.linked += 1
            except OSError as exc:
                if exc.errno not in NO_LINK:
                    raise MergeError(f"{path}: cannot be linked into the merge ({exc.strerror})") from exc
                _copy(path, target)
                report.copied += 1
            placed[target] = path
    report.warc_files = len(placed)
    return placed


def _copy(path: Path, target: Path) -> None:
    try:
        shutil.copyfile(path, target)
    except OSError as exc:
        raise MergeError(f"{path}: cannot be copied into the merge ({exc.strerror or exc})") from exc


def scan(staging: Path, placed: dict[Path, Path]) -> WarcArchive:
    """Read every WARC file of the merge through: a file that cannot be read whole stops the merge.

    The error names the input's file, not its link in the merge being built.
    """
    try:
        return WarcArchive(staging)
    except WarcError as exc:
        message = str(exc)
        for target, original in placed.items():
            message = message.replace(str(target), str(original))
        raise MergeError(f"{message}; nothing was merged") from exc
    except OSError as exc:
        source = placed.get(Path(exc.filename)) if exc.filename else None
        raise MergeError(
            f"{source or 'a WARC file'}: cannot be read ({exc.strerror or exc}); nothing was merged"
        ) from exc


# -- the database ----------------------------------------------------------------------------


def _relocated(number: int, row: dict[str, Any]) -> dict[str, Any]:
    row = {k: v for k, v in row.items() if k != "_input"}
    if "warc_file" in row:
        row["warc_file"] = _placed(number, row["warc_file"])
    return row


@dataclass
class _Writer:
    """Writes the merged database: each input's rows, renumbered and relocated, then the merge's own."""

    new: sqlite_utils.Database
    choice: Choice
    archive: WarcArchive | None  # None: no WARC files to name superseded records in (a report)
    report: MergeReport
    ledger_ids: dict[tuple[int, int], int] = field(default_factory=dict)
    dropped_ids: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.dropped_ids = {d.row["warc_record_id"] for d in self.choice.dropped if d.table == "captures"}

    def source(self, source: Source) -> None:
        """Copy one input's rows that the merge keeps."""
        db, number, new = source.db, source.number, self.new
        new.table("crawls").insert_all(db.query("select * from crawls"), ignore=True)
        new.table("policy_rules").insert_all(db.query("select * from policy_rules"), ignore=True)
        new.table("leases").insert_all(db.query("select * from leases"), ignore=True)
        new.table("evidence").insert_all(
            _relocated(number, {k: v for k, v in row.items() if k != "id"})
            for row in db.query("select * from evidence")
        )
        for row in db.query("select * from ledger order by id"):
            old = row.pop("id")
            new.table("ledger").insert(row)
            self.ledger_ids[(number, old)] = int(new.table("ledger").last_pk or 0)
        # Every charge of every worker is kept: each is money paid, whichever capture the merge keeps.
        for row in db.query("select * from charges order by id"):
            row.pop("id")
            row["ledger_id"] = self.ledger_ids.get((number, row["ledger_id"]))
            new.table("charges").insert(row)
        captures = self.choice.captures[number]
        kept = {row["warc_record_id"] for row in captures}
        # Decisions, manifests and names are looked up in the merged database by content: ids re-mapped.
        insert_rows(
            new,
            captures=[_relocated(number, row) for row in captures],
            usage=(u for u in db.query("select * from usage") if u["capture_id"] in kept),
            refusals=({k: v for k, v in row.items() if k != "id"} for row in self.choice.refusals[number]),
        )
        self._revocations(source)
        for row in db.query("select * from tombstones"):
            row["ledger_id"] = self.ledger_ids.get((number, row["ledger_id"]))
            new.table("tombstones").insert(_relocated(number, row), ignore=True)
        new.table("superseded").insert_all(
            (_relocated(number, row) for row in db.query("select * from superseded")), ignore=True
        )

    def _revocations(self, source: Source) -> None:
        """An input's revocations; one of a capture the merge drops is carried to the capture kept.

        A takedown must not be undone by a merge: the URL it names stays revoked.
        """
        for row in source.db.query("select * from revocations"):
            row.pop("id")
            row["ledger_id"] = self.ledger_ids.get((source.number, row["ledger_id"]))
            kept = self.choice.kept_capture.get(_key(row["url"] or ""))
            if kept is not None and kept[1] != row["capture_id"] and row["capture_id"] in self.dropped_ids:
                row["capture_id"] = kept[1]
                self.report.revocations_moved += 1
            self.new.table("revocations").insert(row)

    def superseded(self) -> None:
        """Name every WARC record of every dropped capture (response, request, metadata), with why."""
        at = now()
        if self.archive is None:
            raise ValueError("superseded() names WARC records: give the _Writer the merge's archive")
        for drop in self.choice.dropped:
            if drop.table != "captures":
                continue
            record_id = drop.row["warc_record_id"]
            entries = [self.archive.entries[record_id]] if record_id in self.archive.entries else []
            entries += self.archive.linked(record_id)
            for entry in entries:
                self.new.table("superseded").insert(
                    {
                        "warc_record_id": entry.record_id,
                        "url": drop.row["url"],
                        "warc_file": entry.warc_file,
                        "warc_offset": entry.offset,
                        "found_at": at,
                        "reason": f"merge: {drop.why}",
                    },
                    replace=True,
                )


def write_db(
    sources: list[Source],
    staging: Path,
    choice: Choice,
    archive: WarcArchive,
    report: MergeReport,
    *,
    who: str,
) -> None:
    """The merge's provenance.db, made by the project's own schema code, in one transaction."""
    new = open_db(staging / DB_NAME)
    try:
        writer = _Writer(new, choice, archive, report)
        with new.atomic():
            for source in sources:
                writer.source(source)
            writer.superseded()
            report.captures = sum(len(rows) for rows in choice.captures.values())
            report.refusals = sum(len(rows) for rows in choice.refusals.values())
            report.dropped = choice.dropped
            _crawl_row(new, report)
            report.ledger_id = record(
                new,
                action="merge",
                who=who,
                scope=", ".join(report.inputs),
                reason=f"merge of {len(sources)} crawl directories, each URL once",
                count=report.captures,
                details={
                    "inputs": {str(s.number): str(s.directory.resolve()) for s in sources},
                    "kept": {"captures": report.captures, "refusals": report.refusals},
                    "dropped": report.counts(),
                    "dropped_rows": [
                        {"table": d.table, "input": d.row["_input"], "url": d.row["url"], "reason": d.why}
                        for d in choice.dropped
                    ],
                    "revocations_moved": report.revocations_moved,
                    "warc_files": {"linked": report.linked, "copied": report.copied, "moved": report.moved},
                },
            )
    finally:
        new.close()


def _crawl_row(new: sqlite_utils.Database, report: MergeReport) -> None:
    stamp = datetime.now(UTC).isoformat()
    new.table("crawls").insert(
        {
            "id": str(uuid.uuid4()),
            "kind": "merge",
            "started_at": stamp,
            "finished_at": stamp,
            "finish_reason": "finished",
            "software": "permitcrawl",
            "version": __version__,
            "settings": json.dumps({"inputs": report.inputs}),
            "stats": json.dumps({"captures": report.captures, "refusals": report.refusals}),
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
        }
    )


def union_db(sources: list[Source]) -> sqlite_utils.Database:
    """The rows a merge of ``sources`` would hold, in a database in memory: nothing is written anywhere.

    What ``report`` reads over several crawl directories, so that its totals
    count each URL once, as a merge would.
    """
    import sqlite_utils

    from crawler.storage.provenance import migrate

    new = sqlite_utils.Database(memory=True)
    migrate(new, name="the crawl directories given")
    report = MergeReport(out=Path(), inputs=[str(s.directory) for s in sources])
    writer = _Writer(new, choose(sources), None, report)
    with new.atomic():
        for source in sources:
            writer.source(source)
    return new


# -- the whole -------------------------------------------------------------------------------


def merge(sources: list[Source], out: Path, *, move: bool, who: str) -> MergeReport:
    """Write ``out`` (new or empty), one crawl directory from ``sources``: all or none.

    Everything is built in a hidden directory beside ``out`` and renamed into
    place at the end; on any failure that directory is removed and ``out`` is
    left as it was. With ``move``, the inputs' WARC files are removed only once
    the merge is in place (they are hard-linked, or copied, first).
    """
    check_destination(out, (s.directory for s in sources))
    report = MergeReport(out=out, inputs=[str(s.directory) for s in sources], moved=move)
    choice = choose(sources)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.merging-{secrets.token_hex(6)}"
    staging.mkdir()
    try:
        placed = place_files(sources, staging, report)
        archive = scan(staging, placed)
        write_db(sources, staging, choice, archive, report, who=who)
        os.rename(staging, out)  # replaces an empty directory; refused (OSError) if one appeared meanwhile
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if move:
        for original in placed.values():
            original.unlink(missing_ok=True)
    return report
