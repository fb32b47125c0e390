"""Reconciling a crawl directory on resume: WARC records whose rows never reached the database.

No Scrapy here. A capture's WARC records reach their file before its rows are
committed (the writer flushes the file first), so a crawl that stops between
the two (``kill -9``, a full disk, power lost) leaves records that no
``captures`` row points at. Resuming does not index them: the URLs whose rows
never committed are fetched again, so each such record is named in the
``superseded`` table instead, and ``audit`` accounts for it rather than
reporting it as a difference.

Which files are read (the cost stays bounded by what unclean runs wrote, not by
the size of the archive): every WARC file starts with a warcinfo record whose
``isPartOf`` is the id of the run that wrote it. A file is skipped only when
that record reads and names a run whose ``crawls`` row records a clean end (a
``finish_reason`` other than ``archive_error``: the writer records it only
after its last commit succeeded, and records ``archive_error`` when a commit
failed). Every other file is read: one recovered from ``.open`` (its run never
closed it), one whose run has no end recorded (killed) or ended on an archive
error, one naming a run the database does not know, one without a readable
warcinfo record or ``isPartOf``. When unsure, the file is read.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from crawler.errors import WarcError
from crawler.storage.archive import warc_files

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

    import sqlite_utils

REASON = "written by a crawl that stopped before its rows were committed; the URL is fetched again"

# The one finish reason that says rows may have been lost although the run ended.
UNCLEAN_END = "archive_error"

_CHUNK = 500  # ids per "in (...)" query: below SQLite's limit on bound parameters


@dataclass(frozen=True)
class Superseded:
    """A capture's response record with no ``captures`` row, as the ``superseded`` table holds it."""

    warc_record_id: str
    url: str
    warc_file: str  # relative to the crawl directory, as captures rows name files
    warc_offset: int
    found_at: str
    reason: str


@dataclass(frozen=True)
class _Response:
    record_id: str
    url: str
    warc_file: str
    offset: int


def _run_of(path: Path) -> str | None:
    """The ``isPartOf`` of the file's leading warcinfo record; None if it has none or cannot be read."""
    try:
        with open(path, "rb") as fh:
            record = next(iter(ArchiveIterator(fh)), None)
            if record is None or record.rec_type != "warcinfo":
                return None
            body = record.content_stream().read().decode("utf-8", "replace")
    except (OSError, ArchiveLoadFailed, zlib.error, EOFError, ValueError):
        return None
    for line in body.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() == "isPartOf":
            return value.strip() or None
    return None


def _clean_runs(db: sqlite_utils.Database) -> set[str]:
    """The runs whose rows are known to have been committed: an end recorded, and not an archive error."""
    rows = db.execute(
        "select id from crawls where finish_reason is not null and finish_reason != ?", [UNCLEAN_END]
    )
    return {row[0] for row in rows}


def files_to_check(crawl_dir: Path, db: sqlite_utils.Database, recovered: Iterable[Path] = ()) -> list[Path]:
    """The WARC files of ``crawl_dir`` that can hold records without rows (the rule is the module's)."""
    clean = _clean_runs(db)
    reopened = {path.resolve() for path in recovered}
    return [
        path for path in warc_files(crawl_dir) if path.resolve() in reopened or _run_of(path) not in clean
    ]


def _capture_responses(crawl_dir: Path, path: Path) -> Iterator[_Response]:
    """The response records of ``path`` that a capture's metadata record (one naming evidence) names.

    Evidence documents have response and metadata records too; their metadata
    holds no ``evidence`` dict, as audit tells them apart. Raises WarcError
    naming the file if it cannot be read whole.
    """
    relative = path.relative_to(crawl_dir).as_posix()
    responses: dict[str, _Response] = {}
    captured: list[str] = []
    good = 0
    try:
        with open(path, "rb") as fh:
            iterator = ArchiveIterator(fh)
            for record in iterator:
                headers = record.rec_headers
                block = record.raw_stream.read()
                good = iterator.get_record_offset() + iterator.get_record_length()
                record_id = headers.get_header("WARC-Record-ID")
                if record.rec_type == "response":
                    url = headers.get_header("WARC-Target-URI") or ""
                    responses[record_id] = _Response(record_id, url, relative, iterator.get_record_offset())
                elif record.rec_type == "metadata" and _names_evidence(block):
                    captured.append(headers.get_header("WARC-Concurrent-To") or "")
    except (ArchiveLoadFailed, zlib.error, EOFError, ValueError) as exc:
        raise WarcError(
            f"{path}: cannot be read past offset {good} ({type(exc).__name__}); the file is damaged "
            "or cut short; expected a WARC file as permitcrawl wrote it"
        ) from exc
    yield from (responses[i] for i in captured if i in responses)


def _names_evidence(block: bytes) -> bool:
    """Whether a metadata record's JSON is a capture's: it names the evidence the decision rested on."""
    try:
        return isinstance(json.loads(block.decode("utf-8")).get("evidence"), dict)
    except (UnicodeDecodeError, ValueError, AttributeError):
        return False


def _accounted(db: sqlite_utils.Database, ids: list[str]) -> set[str]:
    """Those of ``ids`` that a captures row, a tombstone or a superseded row already accounts for."""
    found: set[str] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        for sql in (
            f"select warc_record_id from captures where warc_record_id in ({marks})",
            f"select capture_id from tombstones where capture_id in ({marks})",
            f"select warc_record_id from superseded where warc_record_id in ({marks})",
        ):
            found.update(row[0] for row in db.execute(sql, chunk))
    return found


def reconcile(
    crawl_dir: Path, db: sqlite_utils.Database, *, recovered: Iterable[Path] = (), reason: str = REASON
) -> list[Superseded]:
    """Name in ``superseded`` every capture record of ``crawl_dir`` that nothing in ``db`` accounts for.

    ``recovered``: WARC files just renamed from ``.open`` (always read). The
    rows are inserted in one transaction (all or none) and returned; records
    already accounted for (a captures row, a tombstone, a superseded row) are
    left alone, so calling it again finds nothing new. Raises WarcError if a
    file it must read is damaged: records it cannot see are not guessed at.
    Call only while holding the directory's lock.
    """
    responses: dict[str, _Response] = {}
    for path in files_to_check(crawl_dir, db, recovered):
        for response in _capture_responses(crawl_dir, path):
            responses.setdefault(response.record_id, response)
    accounted = _accounted(db, list(responses))
    found_at = datetime.now(UTC).isoformat()
    superseded = [
        Superseded(r.record_id, r.url, r.warc_file, r.offset, found_at, reason)
        for r in responses.values()
        if r.record_id not in accounted
    ]
    if superseded:
        with db.atomic():
            db.table("superseded").insert_all([_row(s) for s in superseded])
    return superseded


def _row(superseded: Superseded) -> dict[str, Any]:
    return asdict(superseded)
