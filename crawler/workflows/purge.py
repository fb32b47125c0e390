"""Purge: rewrite a crawl's own WARC files without the captures revoked for every purpose.

No Scrapy here. Erasure is physical: each affected file is rewritten record by
record (raw bytes, so every other record keeps its id and digests) without
the purged captures' response, request and metadata records, and ends with a
``resource`` record (``urn:permitcrawl:purge:<id>``) saying what was removed,
when and why. The database moves every surviving row to its new offset,
drops the purged captures' rows, and keeps a tombstone per capture (URL,
digests, date, reason) and one ledger entry. Evidence documents are host
evidence, not page content, and stay.

Files are rewritten to temporary names and swapped in, all or none, as the
last step of the database transaction, so a failure leaves the crawl as it was.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from io import BytesIO
from typing import TYPE_CHECKING, Any

from warcio.warcwriter import WARCWriter

from crawler.errors import PermitcrawlError
from crawler.storage.archive import WarcArchive
from crawler.storage.queries import REVOKED
from crawler.storage.warc import OPEN_SUFFIX, sha1_digest
from crawler.workflows.ledger import now, record

if TYPE_CHECKING:
    from pathlib import Path

    import sqlite_utils

PURGE_SUFFIX = ".purge"


@dataclass
class PurgeReport:
    """What a purge erased."""

    captures: int = 0
    records: int = 0
    bytes_removed: int = 0
    files: list[str] = field(default_factory=list)
    ledger_id: int | None = None


def purgeable(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """The captures revoked for every purpose they were judged for (no purpose may still use them)."""
    sql = f"""
        select c.* from captures c
        where exists (select 1 from revocations r where r.capture_id = c.warc_record_id)
          and not exists (select 1 from usage u where u.capture_id = c.warc_record_id and not {REVOKED})
        order by c.warc_file, c.warc_offset
    """
    return list(db.query(sql))


def revocation_reasons(db: sqlite_utils.Database, capture_id: str) -> str:
    """The reasons a capture was revoked, in order, joined with ``; ``."""
    rows = db.execute(
        "select distinct reason from revocations where capture_id = ? order by id", [capture_id]
    ).fetchall()
    return "; ".join(r[0] for r in rows if r[0])


def _tombstone_record(path: Path, warcinfo_id: str | None, body: bytes) -> bytes:
    buffer = BytesIO()
    writer = WARCWriter(buffer, gzip=path.name.endswith(".gz"), warc_version="1.1")
    headers = {"WARC-Block-Digest": sha1_digest(body)}
    if warcinfo_id:
        headers["WARC-Warcinfo-ID"] = warcinfo_id
    record_ = writer.create_warc_record(
        f"urn:permitcrawl:purge:{uuid.uuid4()}",
        "resource",
        payload=BytesIO(body),
        length=len(body),
        warc_content_type="application/json",
        warc_headers_dict=headers,
    )
    writer.write_record(record_)
    return buffer.getvalue()


def _swap(pairs: list[tuple[Path, Path]], kept: list[tuple[Path, Path]]) -> None:
    """Put each rewritten file in place of its original; each original is kept (in ``kept``)
    under a second name, for :func:`_restore` to put back if the transaction fails."""
    for target, path in pairs:
        backup = path.with_name(path.name + ".pre-purge")
        os.link(path, backup)
        kept.append((backup, path))
        os.replace(target, path)


def _restore(kept: list[tuple[Path, Path]]) -> None:
    for backup, path in kept:
        os.replace(backup, path)


class PurgeError(PermitcrawlError):
    """What a purge was asked to erase is not where the database says: nothing is erased."""


def _check_present(crawl_dir: Path, archive: WarcArchive, rows: list[dict[str, Any]]) -> None:
    """Raise PurgeError unless every capture's response record is in the WARC files.

    A record not found there (its file moved, renamed or on a volume not
    mounted) cannot be erased; recording it as erased would leave its bytes
    wherever the file is, under a tombstone that says they are gone.
    """
    absent = [row for row in rows if row["warc_record_id"] not in archive.entries]
    if not absent:
        return
    named = "; ".join(f"{row['url']} ({row['warc_file']})" for row in absent[:5])
    more = f" and {len(absent) - 5} more" if len(absent) > 5 else ""
    expected = "the WARC files the database names (put them back)"
    if any((crawl_dir / f"{row['warc_file']}{OPEN_SUFFIX}").exists() for row in absent):
        expected = (
            f"{expected}; a file ending in {OPEN_SUFFIX} was left open by a crawl that stopped abruptly: "
            "run that crawl again (it resumes and closes the file), then purge"
        )
    raise PurgeError(
        f"{crawl_dir}: cannot erase {len(absent)} of {len(rows)} captures: their records are in no WARC "
        f"file here: {named}{more}; expected {expected}; nothing was erased"
    )


def purge(
    crawl_dir: Path, db: sqlite_utils.Database, *, who: str, only: set[str] | None = None
) -> PurgeReport:
    """Erase the captures no purpose may use any more from ``crawl_dir``'s WARC files and database.

    ``only`` (capture ids) limits the purge to the captures a person was shown
    and agreed to: one revoked since is left for the next purge.
    """
    report = PurgeReport()
    rows = [row for row in purgeable(db) if only is None or row["warc_record_id"] in only]
    if not rows:
        return report
    archive = WarcArchive(crawl_dir)
    _check_present(crawl_dir, archive, rows)
    erased: dict[str, dict[str, Any]] = {}  # record id -> the capture row it belongs to
    for row in rows:
        response_id = row["warc_record_id"]
        ids = {response_id, row["request_record_id"], row["metadata_record_id"]}
        ids |= {e.record_id for e in archive.linked(response_id)}
        for record_id in ids - {None}:
            if record_id in archive.entries:
                erased[record_id] = row
    files = sorted({archive.entries[i].warc_file for i in erased})
    at = now()
    db.execute("PRAGMA secure_delete = ON")  # deleted rows are overwritten, not left in free pages
    moved: dict[str, tuple[int, int]] = {}
    temporary: list[tuple[Path, Path]] = []
    kept: list[tuple[Path, Path]] = []
    try:
        with db.atomic():
            ledger_id = record(
                db,
                action="purge",
                who=who,
                scope=", ".join(files),
                reason="erase captures revoked for every purpose",
                count=len(rows),
                details={"captures": [r["warc_record_id"] for r in rows]},
            )
            for warc_file in files:
                path = crawl_dir / warc_file
                target = path.with_name(path.name + PURGE_SUFFIX)
                temporary.append((target, path))
                gone = []
                with open(target, "wb") as out:
                    entries = archive.in_file(warc_file)
                    for entry in entries:
                        if entry.record_id in erased:
                            report.records += 1
                            report.bytes_removed += entry.length
                            gone.append({"id": entry.record_id, "type": entry.rec_type, "url": entry.target})
                            continue
                        moved[entry.record_id] = (out.tell(), entry.length)
                        out.write(archive.raw_bytes(entry))
                    info = next((e.record_id for e in entries if e.rec_type == "warcinfo"), None)
                    body = {"purged_at": at, "ledger_id": ledger_id, "actor": who, "records": gone}
                    out.write(_tombstone_record(path, info, json.dumps(body, sort_keys=True).encode()))
                    out.flush()
                    os.fsync(out.fileno())
                report.files.append(warc_file)
            for table in ("capture_rows", "evidence"):
                db.conn.executemany(
                    f"update {table} set warc_offset = ?, warc_length = ? where warc_record_id = ?",
                    [(offset, length, record_id) for record_id, (offset, length) in moved.items()],
                )
            for row in rows:
                db.table("tombstones").insert(
                    {
                        "capture_id": row["warc_record_id"],
                        "url": row["url"],
                        "payload_digest": row["payload_digest"],
                        "payload_sha256": row["payload_sha256"],
                        "warc_file": row["warc_file"],
                        "purged_at": at,
                        "reason": revocation_reasons(db, row["warc_record_id"]),
                        "ledger_id": ledger_id,
                    },
                    replace=True,
                )
                # Its usage rows go with it (a view); the decisions it shared with others stay.
                db.execute("delete from capture_rows where warc_record_id = ?", [row["warc_record_id"]])
            _swap(temporary, kept)  # the last step: the commit follows at once
    except BaseException:
        _restore(kept)  # the files go back to what the database (rolled back) says
        raise
    finally:
        for target, _ in temporary:
            target.unlink(missing_ok=True)
    for backup, _ in kept:
        backup.unlink()  # committed: the erased bytes go with the originals
    report.captures = len(rows)
    report.ledger_id = ledger_id
    return report
