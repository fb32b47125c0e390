"""Audit: re-derive every decision from the WARC files alone and compare it with the database.

For each capture, the metadata record names the evidence documents the decision
rested on; they are read back from the WARC files, the host's evidence and the
page are rebuilt, and the decision engine runs again with the configuration
and ToS rules the crawl recorded (its ``urn:permitcrawl:crawl:`` resource
record). Every purpose's verdict, deciding signal and per-signal verdicts must
match what the WARC metadata record and the database say; every capture row
must point at its record (offset, id, URL, digests). Pre-fetch refusals are
re-derived from their evidence the same way. No Scrapy here.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from policies.aitxt import aitxt_evidence
from policies.contentcoding import ContentCodingError, codings, decode_content
from policies.decision import DefaultPolicy
from policies.document import EVIDENCE_MAX_SIZE, Document
from policies.engine import Page, decide_all
from policies.evidence import HostEvidence
from policies.purpose import Purpose
from policies.readings import Readings
from policies.robots import robots_evidence
from policies.rsl import INLINE, FoundLicence, page_licences, rsl_evidence
from policies.store import PolicyStore, store_from_contents
from policies.tdmrep import tdmrep_evidence
from policies.terms import TermsEvidence, read_terms
from policies.tos import Unreviewed

if TYPE_CHECKING:
    from pathlib import Path

    import sqlite_utils

    from crawler.storage.archive import ReadRecord, WarcArchive

# A crawl recorded before its page bound was: read pages with the add-on's default.
PAGE_MAX_SIZE = 10 * 1024 * 1024


@dataclass
class CrawlSettings:
    """What the engine needs from a crawl's recorded configuration."""

    token: str
    default_policy: DefaultPolicy
    readings: Readings
    unreviewed: Unreviewed
    max_crawl_delay: float | None
    parse_limit: int
    store: PolicyStore | None
    evidence_max_size: int = EVIDENCE_MAX_SIZE
    page_max_size: int = PAGE_MAX_SIZE

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> CrawlSettings:
        config = snapshot["config"]
        rules = snapshot.get("rules") or []
        return cls(
            token=config["robots_token"],
            default_policy=DefaultPolicy(config["default_policy"]),
            readings=Readings(**config["readings"]),
            unreviewed=Unreviewed(config.get("unreviewed", "hold")),
            max_crawl_delay=config.get("max_crawl_delay"),
            parse_limit=config["robots_parse_limit"],
            store=store_from_contents(rules) if config.get("store_dir") else None,
            # Crawls recorded before these bounds existed read with today's defaults.
            evidence_max_size=config.get("evidence_max_size") or EVIDENCE_MAX_SIZE,
            page_max_size=(snapshot.get("scrapy") or {}).get("DOWNLOAD_MAXSIZE") or PAGE_MAX_SIZE,
        )


@dataclass
class AuditReport:
    """What the audit checked and every difference it found."""

    captures: int = 0
    refusals: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def _document(archive: WarcArchive, kind: str, entry: dict[str, Any], settings: CrawlSettings) -> Document:
    """An evidence document as the crawler read it, from its WARC record (or, if none, its manifest entry)."""
    record_id = entry.get("record_id")
    if not record_id:
        return Document(
            kind=kind,
            url=entry.get("url") or "",
            fetched_at=datetime.now(),
            error=entry.get("source"),
            incomplete=entry.get("incomplete"),
        )
    record = archive.read(record_id)
    content_type = record.header_values("content-type")
    return Document.from_raw(
        kind=kind,
        url=entry.get("url") or record.entry.target or "",
        final_url=record.entry.target,
        status=record.status,
        raw=record.raw,
        content_encoding=record.header_values("content-encoding"),
        content_type=",".join(content_type) if content_type else None,
        fetched_at=datetime.fromisoformat(record.headers["WARC-Date"].replace("Z", "+00:00")),
        record_id=record_id,
        cut=record.headers.get("WARC-Truncated"),
        max_size=settings.evidence_max_size,
    )


def _terms(archive: WarcArchive, entry: dict[str, Any], settings: CrawlSettings) -> TermsEvidence:
    if not entry.get("record_id"):
        return TermsEvidence(
            home_url=entry.get("home_url") or "",
            terms_url=None,
            source=entry.get("source") or "",
            problem=entry.get("problem"),
        )
    document = _document(archive, "terms", entry, settings)
    return replace(read_terms(document, entry.get("home_url") or ""), terms_url=entry["url"])


def rebuild_host(
    archive: WarcArchive, manifest: dict[str, Any], settings: CrawlSettings, page: Page | None = None
) -> HostEvidence:
    """The host evidence a decision rested on, from its manifest and the WARC records it names.

    Each document is read by the same functions the crawler used, with the
    bounds the crawl recorded; a page's own licences come with the host's.
    """
    robots = robots_evidence(
        _document(archive, "robots.txt", manifest["robots.txt"], settings),
        settings.token,
        max_crawl_delay=settings.max_crawl_delay,
        parse_limit=settings.parse_limit,
    )
    licences = []
    for entry in manifest.get("rsl", []):
        if entry.get("found_in") == INLINE:
            continue  # rebuilt from the page itself below
        document = _document(archive, "rsl", entry, settings)
        licences.append(FoundLicence(rsl_evidence(document), entry.get("found_in", "")))
    if page is not None and any(e.get("found_in") == INLINE for e in manifest.get("rsl", [])):
        licences += page_licences(page)[1]
    fetched_at = datetime.fromisoformat(manifest["fetched_at"])
    tdmrep = manifest.get("tdmrep.json")
    aitxt = manifest.get("ai.txt")
    return HostEvidence(
        origin=manifest["origin"],
        robots=robots,
        fetched_at=fetched_at,
        expires_at=fetched_at + timedelta(days=1),
        tdmrep=tdmrep_evidence(_document(archive, "tdmrep.json", tdmrep, settings)) if tdmrep else None,
        aitxt=aitxt_evidence(_document(archive, "ai.txt", aitxt, settings), settings.parse_limit)
        if aitxt
        else None,
        licences=tuple(licences),
        terms=_terms(archive, manifest["terms"], settings) if "terms" in manifest else None,
    )


def archived_page(record: ReadRecord, url: str, max_size: int) -> Page:
    """A captured page as the post-fetch signals read it, from its response record.

    The body is decoded with the crawler's own function and bound, and the
    page's tags are read by :func:`policies.html.read_html`, as the gate read
    them: both paths meet in :class:`policies.engine.Page`. Raises
    ContentCodingError if the archived body does not decode.
    """
    headers: dict[str, tuple[str, ...]] = {}
    for name, value in record.http_headers:
        headers[name.lower()] = (*headers.get(name.lower(), ()), value)
    body = decode_content(record.raw, codings(headers.get("content-encoding", ())), max_size)
    return Page(url=url, status=record.status or 0, headers=headers, body=body)


def _shape(decision: dict[str, Any]) -> tuple[bool, str, list[tuple[str, str]]]:
    return (
        bool(decision["allowed"]),
        decision["signal"],
        sorted((b["signal"], b["verdict"]) for b in decision["bases"]),
    )


def _sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def _settings(
    archive: WarcArchive, db: sqlite_utils.Database, crawl_id: str, cache: dict[str, CrawlSettings]
) -> CrawlSettings:
    if crawl_id not in cache:
        row = db["crawls"].get(crawl_id)
        cache[crawl_id] = CrawlSettings.from_snapshot(archive.read(row["config_record_id"]).json())
    return cache[crawl_id]


def audit_capture(
    archive: WarcArchive, db: sqlite_utils.Database, row: dict[str, Any], settings: CrawlSettings
) -> list[str]:
    """Every difference between one capture row, its WARC records, and its re-derived decisions."""
    url, record_id = row["url"], row["warc_record_id"]
    found = []
    entry = archive.entries.get(record_id)
    if entry is None:
        return [f"{url}: response record {record_id} is in no WARC file"]
    if (entry.warc_file, entry.offset) != (row["warc_file"], row["warc_offset"]):
        found.append(f"{url}: the database places {record_id} at {row['warc_file']}@{row['warc_offset']}, "
                     f"the WARC files at {entry.warc_file}@{entry.offset}")  # fmt: skip
    response = archive.read(record_id)
    if response.entry.target != url:
        found.append(f"{url}: the record is for {response.entry.target}")
    if _sha1_b32(response.raw) != response.headers.get("WARC-Payload-Digest"):
        found.append(f"{url}: the stored payload does not match its WARC-Payload-Digest")
    if row["payload_digest"] != response.headers.get("WARC-Payload-Digest"):
        found.append(f"{url}: payload_digest {row['payload_digest']} differs from the WARC's")
    if row["payload_sha256"] != response.payload_sha256:
        found.append(f"{url}: payload_sha256 differs from the stored payload's")
    if row["status"] != response.status:
        found.append(f"{url}: status {row['status']} differs from the WARC's {response.status}")
    metadata_id = row["metadata_record_id"]
    if metadata_id not in archive.entries:
        return [*found, f"{url}: metadata record {metadata_id} is in no WARC file"]
    metadata = archive.read(metadata_id).json()
    try:
        page = archived_page(response, url, settings.page_max_size)
    except ContentCodingError as exc:
        return [
            *found,
            f"{url}: the archived body cannot be decoded ({exc}); the crawl would have refused it",
        ]
    # The page's own licences are rebuilt with the host's: the engine reads both lists alike.
    host = rebuild_host(archive, metadata["evidence"], settings, page)
    derived = decide_all(
        url,
        host=host,
        default_policy=settings.default_policy,
        now=host.fetched_at,
        page=page,
        token=settings.token,
        readings=settings.readings,
        store=settings.store,
        unreviewed=settings.unreviewed,
    )
    stored = {u["purpose"]: u for u in db.query("select * from usage where capture_id = ?", [record_id])}
    for purpose in Purpose:
        again = _shape(derived[purpose].as_dict())
        warc = metadata["usage"].get(purpose.value)
        if warc is None or _shape(warc) != again:
            said = warc and _shape(warc)
            found.append(f"{url} ({purpose}): the WARC metadata record says {said}, re-derived {again}")
        usage = stored.get(purpose.value)
        if usage is None:
            found.append(f"{url} ({purpose}): no usage row")
            continue
        if bool(usage["usable"]) != again[0] or usage["signal"] != again[1]:
            said = f"usable={bool(usage['usable'])} by {usage['signal']}"
            found.append(
                f"{url} ({purpose}): the database says {said}, re-derived usable={again[0]} by {again[1]}"
            )
        if _shape(json.loads(usage["decision"])) != again:
            found.append(f"{url} ({purpose}): the database's recorded bases differ from the re-derived ones")
    return found


def audit(archive: WarcArchive, db: sqlite_utils.Database) -> AuditReport:
    """Check every capture and every pre-fetch refusal of a crawl directory."""
    report = AuditReport()
    cache: dict[str, CrawlSettings] = {}
    captured_ids = set()
    for row in db.query("select * from captures"):
        report.captures += 1
        captured_ids.add(row["warc_record_id"])
        try:
            report.differences += audit_capture(
                archive, db, row, _settings(archive, db, row["crawl_id"], cache)
            )
        except Exception as exc:  # an unreadable record is a finding, not a crash
            report.differences.append(f"{row['url']}: could not be re-derived ({type(exc).__name__}: {exc})")
    for row in db.query("select * from refusals where stage = 'pre-fetch' and evidence is not null"):
        report.refusals += 1
        try:
            settings = _settings(archive, db, row["crawl_id"], cache)
            manifest = json.loads(row["evidence"])
            host = rebuild_host(archive, manifest, settings)
            decision = json.loads(row["decision"])
            again = decide_all(
                row["url"],
                purposes=(Purpose(decision["purpose"]),),
                host=host,
                default_policy=settings.default_policy,
                now=host.fetched_at,
                token=settings.token,
                readings=settings.readings,
                store=settings.store,
                unreviewed=settings.unreviewed,
            )[Purpose(decision["purpose"])]
            if _shape(again.as_dict()) != _shape(decision):
                report.differences.append(
                    f"{row['url']}: refused by {decision['signal']}, re-derived {_shape(again.as_dict())[:2]}"
                )
        except Exception as exc:
            report.differences.append(
                f"{row['url']}: the refusal could not be re-derived ({type(exc).__name__}: {exc})"
            )
    tombstoned = {r[0] for r in db.execute("select capture_id from tombstones")}
    for entry in archive.entries.values():
        if entry.rec_type != "metadata" or not entry.concurrent_to:
            continue
        response_id = entry.concurrent_to[0]
        if response_id in captured_ids or response_id in tombstoned:
            continue
        metadata = archive.read(entry.record_id).json()
        if isinstance(metadata.get("evidence"), dict):  # a capture's metadata, not an evidence document's
            report.differences.append(
                f"{archive.entries[response_id].target}: captured in the WARC files, absent from the database"
            )
    return report


def audit_dir(crawl_dir: Path, db: sqlite_utils.Database) -> AuditReport:
    """Audit a crawl directory (its WARC files against its database)."""
    from crawler.storage.archive import WarcArchive

    return audit(WarcArchive(crawl_dir), db)
