"""ArchiveWriter: the one owner of a crawl's WARC files and provenance database.

It turns plain values (exchanges, decisions as data) into WARC records and
database rows, and keeps the two consistent: WARC bytes reach the file before
any row that points at them is committed. After the first write error it
refuses everything else, so that a crawl with broken output stops instead of
going on without a record of what it did.

Writes are synchronous. A writer thread was measured and rejected: on a busy
crawl the GIL hand-overs cost more CPU than the compression they overlapped
(see bench/README.md).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crawler.errors import ProvenanceError
from crawler.storage.provenance import dumps

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from crawler.storage.provenance import ProvenanceDB
    from crawler.storage.warc import CaptureRecords, HttpExchange, WarcLocation, WarcStore


@dataclass
class CaptureJob:
    """A permitted capture: the exchange, its metadata record, and its rows minus WARC locations.

    ``usage`` maps each purpose to its decision (``Decision.as_dict()``);
    ``purpose`` says which of them the crawl applied.
    """

    exchange: HttpExchange
    purpose: str
    usage: dict[str, dict[str, Any]]
    metadata: dict[str, Any]
    row: dict[str, Any] = field(default_factory=dict)


class ArchiveWriter:
    """Writes captures, evidence and refusals; ``warc_path(path)`` gives the path stored in rows.

    Captures go to ``warc``, evidence documents to ``evidence_warc`` (the same
    store when none is given).
    """

    def __init__(
        self,
        warc: WarcStore,
        db: ProvenanceDB,
        *,
        evidence_warc: WarcStore | None = None,
        warc_path: Callable[[Path], str] = lambda path: path.name,
    ) -> None:
        self.warc = warc
        self.evidence_warc = evidence_warc or warc
        self.db = db
        self.warc_path = warc_path
        self.error: BaseException | None = None
        # Rows may only be committed once the records they point at are written out.
        db.before_flush = self._flush_files

    def _flush_files(self) -> None:
        self.warc.flush()
        if self.evidence_warc is not self.warc:
            self.evidence_warc.flush()

    def _guarded(self) -> None:
        if self.error is not None:
            raise ProvenanceError(f"the archive failed earlier and writes nothing more: {self.error}")

    def _locate(self, store: WarcStore, location: WarcLocation) -> dict[str, Any]:
        return {
            "warc_file": self.warc_path(store.directory / location.filename),
            "warc_offset": location.offset,
            "warc_length": location.length,
        }

    def capture(self, job: CaptureJob) -> CaptureRecords:
        """Write three WARC records, the captures row and one usage row per purpose."""
        self._guarded()
        try:
            # Each decision is encoded once; the metadata record embeds the same text.
            encoded = {purpose: dumps(decision) for purpose, decision in job.usage.items()}
            usage_json = "{" + ", ".join(f"{json.dumps(p)}: {text}" for p, text in encoded.items()) + "}"
            block = (
                dumps(job.metadata)[:-1] + f', "purpose": {json.dumps(job.purpose)}, "usage": {usage_json}}}'
            )
            records = self.warc.write_exchange(job.exchange, block.encode("utf-8"))
            record_id = records.response.record_id
            row = {
                **job.row,
                **self._locate(self.warc, records.response),
                "warc_record_id": record_id,
                "request_record_id": records.request.record_id,
                "metadata_record_id": records.metadata.record_id if records.metadata else None,
                "payload_digest": records.payload_digest,
                "block_digest": records.block_digest,
                "payload_sha256": hashlib.sha256(job.exchange.body).hexdigest(),
                "purpose": job.purpose,
            }
            usage = [
                {
                    "capture_id": record_id,
                    "purpose": purpose,
                    "usable": int(bool(decision["allowed"])),
                    "signal": decision["signal"],
                    "reason": decision["reason"],
                    "decision": encoded[purpose],
                }
                for purpose, decision in job.usage.items()
            ]
            self.db.add_capture(row, usage)
        except BaseException as exc:
            self.error = exc
            raise
        return records

    def evidence(
        self, exchange: HttpExchange | None, metadata: dict[str, Any], row: dict[str, Any]
    ) -> WarcLocation | None:
        """Write an evidence document (if anything came back) and its evidence row."""
        self._guarded()
        try:
            location = None
            if exchange is not None:
                store = self.evidence_warc
                location = store.write_exchange(exchange, dumps(metadata).encode("utf-8")).response
                row = {**row, **self._locate(store, location), "warc_record_id": location.record_id}
            self.db.add_evidence(row)
        except BaseException as exc:
            self.error = exc
            raise
        return location

    def refusal(self, row: dict[str, Any]) -> None:
        """Queue a refusal row; ``decision`` and ``response_headers`` are given as data."""
        for key in ("decision", "response_headers", "evidence"):
            if row.get(key) is not None:
                row[key] = dumps(row[key])
        self.db.add_refusal(row)

    def flush(self) -> None:
        """Write out the WARC buffer and commit every queued row."""
        self.db.flush()

    def finish(self, crawl_id: str | None, **fields: Any) -> None:
        """Commit what is queued, close the WARC file (its final name) and record the crawl's end.

        The crawl row is updated even if the last commit failed, so that the
        database says how the crawl ended; the failure is raised afterwards.
        ``crawl_id`` None: the crawl never started (it has no row to update).
        """
        try:
            self.db.flush()
        finally:
            try:
                self.warc.close()
            finally:
                try:
                    self.evidence_warc.close()
                finally:
                    if crawl_id is not None:
                        with self.db.db.atomic():
                            self.db.db["crawls"].update(crawl_id, fields)
                    self.db.close()
