"""Export: a new crawl directory holding only the usable captures and the records they rest on.

No Scrapy here. Records are copied byte for byte (one gzip member each), so
record ids, digests and dates stay what the crawl wrote, and the copy can be
audited like the original: each capture brings its request and metadata
records, the evidence documents its decision cites (with theirs), its crawl's
configuration record, and the warcinfo records all of them name. The new WARC
files start with a warcinfo record saying what the export is.
"""

from __future__ import annotations

import gzip
import json
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crawler import __version__
from crawler.errors import PermitcrawlError
from crawler.storage.archive import RecordEntry, WarcArchive
from crawler.storage.compact import Compactor
from crawler.storage.provenance import insert_rows, open_db
from crawler.storage.queries import DB_NAME, USABLE
from crawler.storage.warc import WarcStore
from crawler.workflows.ledger import record
from policies.evidence import manifest_record_ids

if TYPE_CHECKING:
    from pathlib import Path

    import sqlite_utils

PREFIX = "permitcrawl-export"


class ExportError(PermitcrawlError):
    """The export cannot be made (its destination is taken, or the source is unreadable)."""


@dataclass
class ExportReport:
    """What an export copied, and the usable captures it could not copy (with why)."""

    out: Path
    purpose: str | None
    captures: int = 0
    evidence: int = 0
    records: int = 0
    warc_files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def usable_captures(db: sqlite_utils.Database, purpose: str | None) -> list[dict[str, Any]]:
    """The captures usable for ``purpose`` (None: each for its own crawl's purpose), in file order."""
    sql = f"""
        select c.* from captures c
        join usage u on u.capture_id = c.warc_record_id and u.purpose = coalesce(:purpose, c.purpose)
        where {USABLE}
        order by c.warc_file, c.warc_offset
    """
    return list(db.query(sql, {"purpose": purpose}))


class _Copier:
    """Copies records into an export's WARC files once each, each file carrying the warcinfo it cites.

    Records keep their kind of file: page records go to the export's
    ``warc/``, evidence records (and configuration records) to its
    ``evidence/``, as in the crawl they come from.
    """

    def __init__(self, archive: WarcArchive, stores: dict[str, WarcStore]) -> None:
        self.archive = archive
        self.stores = stores
        # record id -> (file, relative to the export directory; offset; length)
        self.placed: dict[str, tuple[str, int, int]] = {}
        self._file: dict[str, str] = {}
        self._infos_here: dict[str, set[str]] = {}

    def _raw(self, entry: RecordEntry) -> bytes:
        data = self.archive.raw_bytes(entry)
        # Records from uncompressed files become gzip members like the rest.
        return data if entry.warc_file.endswith(".gz") else gzip.compress(data, compresslevel=6)

    def _put(self, kind: str, entry: RecordEntry) -> None:
        location = self.stores[kind].copy_record(self._raw(entry), entry.record_id)
        self.placed.setdefault(
            entry.record_id, (f"{kind}/{location.filename}", location.offset, location.length)
        )

    def copy(self, record_ids: list[str]) -> None:
        """Copy a unit of records (and the warcinfo they name) into one file; skip those already copied."""
        wanted = [self.archive.entries[i] for i in record_ids if i not in self.placed]
        if not wanted:
            return
        kind = wanted[0].warc_file.split("/", 1)[0]
        kind = kind if kind in self.stores else "warc"
        name = self.stores[kind].begin_unit()
        if name != self._file.get(kind):
            self._file[kind], self._infos_here[kind] = name, set()
        for entry in wanted:
            info = entry.warcinfo_id
            if info and info not in self._infos_here[kind] and info in self.archive.entries:
                self._put(kind, self.archive.entries[info])
                self._infos_here[kind].add(info)
            if entry.record_id not in self.placed:
                self._put(kind, entry)


def _with_links(archive: WarcArchive, record_id: str) -> list[str]:
    return [record_id, *(e.record_id for e in archive.linked(record_id))]


def exclusion_list_ids(archive: WarcArchive, config_id: str | None) -> list[str]:
    """The records of the exclusion lists a crawl's configuration record names (audit reads them)."""
    if not config_id or config_id not in archive.entries:
        return []
    return [entry["record_id"] for entry in archive.read(config_id).json().get("exclusion_lists") or []]


def _capture_units(
    archive: WarcArchive, row: dict[str, Any], config_id: str | None, lists: list[str]
) -> list[list[str]]:
    """The record units one capture needs: its crawl's config and exclusion lists, each evidence document,
    itself."""
    units = [[config_id, *lists]] if config_id else []
    manifest = json.loads(row["evidence"] or "{}")
    units += [_with_links(archive, i) for i in manifest_record_ids(manifest)]
    units.append(_with_links(archive, row["warc_record_id"]))
    return units


@dataclass
class _Job:
    """One export's context: where from, where to, for what, by whom."""

    crawl_dir: Path
    db: sqlite_utils.Database
    out: Path
    purpose: str | None
    who: str
    export_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def what(self) -> str:
        return f"captures usable for {self.purpose or 'their crawl purpose'}"


def check_destination(crawl_dir: Path, out: Path) -> None:
    """Raise ExportError unless ``out`` can take an export of ``crawl_dir`` (new, or an empty directory)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out}: exists and is not empty; choose a new directory for the export")
    if out.resolve() == crawl_dir.resolve():
        raise ExportError(f"{out}: is the crawl directory itself; choose a new directory for the export")


def export(
    crawl_dir: Path, db: sqlite_utils.Database, out: Path, *, purpose: str | None, who: str
) -> ExportReport:
    """Write ``out`` (a new crawl directory) with the captures of ``crawl_dir`` usable for ``purpose``.

    ``out`` must not exist or be empty. A usable capture whose records cannot
    be found is left out and reported, never exported half-proven.
    """
    check_destination(crawl_dir, out)
    job = _Job(crawl_dir, db, out, purpose, who)
    report = ExportReport(out=out, purpose=purpose)
    crawls = {row["id"]: row for row in db.query("select * from crawls")}
    exported, placed = _copy_records(job, crawls, report)
    report.captures = len(exported)
    report.records = len(placed)
    _write_db(job, exported, placed, crawls, report)
    record(
        db,
        action="export",
        who=who,
        scope=str(out),
        reason=job.what,
        count=report.captures,
        details={
            "export_id": job.export_id,
            "warc_files": report.warc_files,
            "problems": len(report.problems),
        },
    )
    return report


def _copy_records(
    job: _Job, crawls: dict[str, dict[str, Any]], report: ExportReport
) -> tuple[list[dict[str, Any]], dict[str, tuple[str, int, int]]]:
    """Copy every usable capture's records; return the captures copied and where each record went."""
    archive = WarcArchive(job.crawl_dir)
    info = {
        "software": f"permitcrawl {__version__}",
        "description": f"export of the {job.what}",
        "isPartOf": job.export_id,
        "source": str(job.crawl_dir.resolve()),
        "operator": job.who,
    }
    stores = {
        "warc": WarcStore(job.out / "warc", prefix=PREFIX, info=info),
        "evidence": WarcStore(
            job.out / "evidence",
            prefix=f"{PREFIX}-evidence",
            info={**info, "description": f"export of the {job.what}: evidence documents"},
        ),
    }
    copier = _Copier(archive, stores)
    exported: list[dict[str, Any]] = []
    lists: dict[str, list[str]] = {}  # per configuration record: its exclusion lists' records
    try:
        for row in usable_captures(job.db, job.purpose):
            config_id: str | None = (crawls.get(row["crawl_id"]) or {}).get("config_record_id")
            if config_id and config_id not in lists:
                lists[config_id] = exclusion_list_ids(archive, config_id)
            units = _capture_units(archive, row, config_id, lists.get(config_id or "") or [])
            missing = [i for unit in units for i in unit if i not in archive.entries]
            if missing or not row["metadata_record_id"] or row["metadata_record_id"] not in archive.entries:
                absent = ", ".join(missing) or str(row["metadata_record_id"])
                report.problems.append(f"{row['url']}: not exported, missing from the WARC files: {absent}")
                continue
            for unit in units:
                copier.copy(unit)
            exported.append(row)
    finally:
        for store in stores.values():
            store.close()
    report.warc_files = [f"{kind}/{name}" for kind, store in stores.items() for name in store.closed_files]
    return exported, copier.placed


def _write_db(
    job: _Job,
    exported: list[dict[str, Any]],
    placed: dict[str, tuple[str, int, int]],
    crawls: dict[str, dict[str, Any]],
    report: ExportReport,
) -> None:
    """The export's provenance.db: the copied captures' rows at their new places, and nothing else."""
    db = job.db
    new = open_db(job.out / DB_NAME)

    def locate(row: dict[str, Any]) -> dict[str, Any]:
        path, offset, length = placed[row["warc_record_id"]]
        return {**row, "warc_file": path, "warc_offset": offset, "warc_length": length}

    capture_ids = [row["warc_record_id"] for row in exported]
    crawl_ids = sorted({row["crawl_id"] for row in exported})
    with new.atomic():
        new.table("crawls").insert_all([crawls[i] for i in crawl_ids if i in crawls])
        new.table("crawls").insert(
            {
                "id": job.export_id,
                "kind": "export",
                "started_at": job.started.isoformat(),
                "finished_at": datetime.now(UTC).isoformat(),
                "finish_reason": "finished",
                "software": "permitcrawl",
                "version": __version__,
                "purpose": job.purpose or (crawls[crawl_ids[0]]["purpose"] if len(crawl_ids) == 1 else None),
                "settings": json.dumps({"source": str(job.crawl_dir.resolve()), "purpose": job.purpose}),
                "stats": json.dumps({"captures": len(exported), "records": len(placed)}),
                "hostname": socket.gethostname(),
            }
        )
        compactor = Compactor(new)  # one for the whole export: ids found once, not per chunk
        for start in range(0, len(capture_ids), 500):
            rows = exported[start : start + 500]
            chunk = capture_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            # Only the decisions, manifests and names these rows use reach the new database.
            insert_rows(
                new,
                captures=[locate(row) for row in rows],
                usage=db.query(f"select * from usage where capture_id in ({marks})", chunk),
                compactor=compactor,
            )
            # Revocations for other purposes travel with the capture, and the ledger entries they cite.
            revocations = list(db.query(f"select * from revocations where capture_id in ({marks})", chunk))
            ledger_ids = sorted({r["ledger_id"] for r in revocations if r["ledger_id"] is not None})
            if ledger_ids:
                marks_l = ",".join("?" * len(ledger_ids))
                new.table("ledger").insert_all(
                    db.query(f"select * from ledger where id in ({marks_l})", ledger_ids), ignore=True
                )
            new.table("revocations").insert_all(revocations, ignore=True)
        for row in db.query("select * from evidence where warc_record_id is not null"):
            if row["warc_record_id"] in placed:
                new.table("evidence").insert(locate(row), ignore=True)
                report.evidence += 1
        for chunk in _chunks(crawl_ids):
            marks = ",".join("?" * len(chunk))
            rules = db.query(f"select * from policy_rules where crawl_id in ({marks})", chunk)
            new.table("policy_rules").insert_all(rules)
        record(
            new,
            action="export",
            who=job.who,
            scope=str(job.crawl_dir.resolve()),
            reason=job.what,
            count=len(exported),
            details={"export_id": job.export_id},
        )
    new.close()


def _chunks(items: list[str], size: int = 500) -> list[list[str]]:
    # SQLite caps the number of parameters in one statement.
    return [items[i : i + size] for i in range(0, len(items), size)]
