"""ArchiveWriter: the one owner of a crawl's WARC files and provenance database.

It turns typed values (a :class:`~crawler.storage.records.Capture`, a
refusal's decision, an evidence document) into WARC records and database
rows, through the shapes :mod:`crawler.storage.records` defines, and keeps
the two consistent: WARC bytes reach the file before
any row that points at them is committed. After the first write error it
refuses everything else, so that a crawl with broken output stops instead of
going on without a record of what it did.

Writes are synchronous. A writer thread was measured and rejected: on a busy
crawl the GIL hand-overs cost more CPU than the compression they overlapped
(see bench/README.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crawler.errors import ProvenanceError
from crawler.storage.records import (
    capture_metadata,
    capture_row,
    configuration_record,
    crawl_end,
    crawl_row,
    evidence_metadata,
    evidence_row,
    exclusion_list_uri,
    refusal_row,
    rule_rows,
    usage_rows,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime
    from pathlib import Path

    from crawler.storage.provenance import ProvenanceDB
    from crawler.storage.records import Capture, CrawlStart, Fence
    from crawler.storage.warc import CaptureRecords, HttpExchange, WarcLocation, WarcStore
    from policies.decision import Decision
    from policies.document import Document


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

    def record_capture(self, capture: Capture) -> CaptureRecords:
        """Write the capture's three WARC records, then queue its captures row and its usage rows."""
        self._guarded()
        try:
            records = self.warc.write_exchange(capture.exchange, capture_metadata(capture))
            row = capture_row(capture, records, self._locate(self.warc, records.response))
            hold = capture.fence.key if capture.fence else None
            self.db.add_capture(row, usage_rows(capture, records.response.record_id), hold=hold)
        except BaseException as exc:
            self.error = exc
            raise
        return records

    def record_evidence(
        self,
        crawl_id: str,
        document: Document,
        *,
        origin: str,
        exchange: HttpExchange | None,
        details: Mapping[str, Any] | None = None,
    ) -> WarcLocation | None:
        """Write an evidence document (if anything came back: ``exchange``) and queue its evidence row.

        ``origin`` is the origin whose decisions it is evidence for; ``details``
        what reading it found (a terms page's digest and passages).
        """
        self._guarded()
        try:
            row = evidence_row(crawl_id, document, origin, details)
            location = None
            if exchange is not None:
                store = self.evidence_warc
                metadata = evidence_metadata(crawl_id, document, origin, details)
                location = store.write_exchange(exchange, metadata).response
                row = {**row, **self._locate(store, location), "warc_record_id": location.record_id}
            self.db.add_evidence(row)
        except BaseException as exc:
            self.error = exc
            raise
        return location

    def record_refusal(
        self,
        crawl_id: str,
        decision: Decision,
        *,
        status: int | None = None,
        response_headers: list[tuple[str, str]] | None = None,
        evidence: Mapping[str, Any] | None = None,
        fence: Fence | None = None,
    ) -> None:
        """Queue a refusal row; ``status`` and ``response_headers`` when the URL was fetched.

        Under a ``fence`` (a URL taken from the frontier) the row is held until the request is done.
        """
        row = refusal_row(
            crawl_id,
            decision,
            status=status,
            response_headers=response_headers,
            evidence=evidence,
            fence=fence,
        )
        self.db.add_refusal(row, hold=fence.key if fence else None)

    def record_configuration(self, start: CrawlStart) -> str:
        """Write the crawl's configuration record (with the evidence); return its record id.

        Each exclusion list the crawl applies is written first, whole, in a resource
        record of its own, with the record id the crawl gave it (its refusals cite it).
        """
        for listing in start.exclusions:
            self.evidence_warc.write_resource(
                exclusion_list_uri(listing.sha256),
                listing.raw,
                "text/plain; charset=utf-8",
                start.started_at,
                record_id=listing.record_id,
            )
        return self.evidence_warc.write_resource(
            f"urn:permitcrawl:crawl:{start.crawl_id}",
            configuration_record(start),
            "application/json",
            start.started_at,
        ).record_id

    def record_start(self, start: CrawlStart, config_record_id: str | None) -> None:
        """Record the crawl's start (written at once) and queue the ToS rules in force."""
        self.db.start_crawl(crawl_row(start, config_record_id))
        for row in rule_rows(start.crawl_id, start.rules):
            self.db.add_rule(row)

    def flush(self) -> None:
        """Write out the WARC buffer and commit every queued row."""
        self.db.flush()

    def finish(
        self, crawl_id: str | None, *, finished_at: datetime, finish_reason: str, stats: Mapping[str, Any]
    ) -> None:
        """Commit what is queued, close the WARC files (their final names) and record the crawl's end.

        The crawl row is updated even if the last commit failed, so that the
        database says how the crawl ended (``archive_error``: rows were lost,
        see :mod:`crawler.storage.reconcile`); the failure is raised afterwards.
        ``stats`` are the crawl's final stats (a value that is not a number or
        text is recorded as its text). ``crawl_id`` None: the crawl never
        started (it has no row to update).
        """
        fields = crawl_end(finished_at=finished_at, finish_reason=finish_reason, stats=stats)
        try:
            self.db.flush()
        except BaseException:
            # Rows were lost, whatever Scrapy's reason says: the next run reconciles this one's files.
            fields["finish_reason"] = "archive_error"
            raise
        finally:
            try:
                self.warc.close()
            finally:
                try:
                    self.evidence_warc.close()
                finally:
                    if crawl_id is not None:
                        with self.db.db.atomic():
                            self.db.db.table("crawls").update(crawl_id, fields)
                    self.db.close()
