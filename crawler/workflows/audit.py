"""Audit: re-derive every decision from the WARC files alone and compare it with the database.

For each capture, the metadata record names the evidence documents the decision
rested on; they are read back from the WARC files, the host's evidence and the
page are rebuilt, and the decision engine runs again with the configuration
and ToS rules the crawl recorded (its ``urn:permitcrawl:crawl:`` resource
record, rebuilt as the :class:`~crawler.judging.judge.JudgeConfig` the crawl applied).
Every purpose's verdict, deciding signal and per-signal verdicts must match
what the WARC metadata record and the database say (each stored decision read
back typed); every capture row must point at its record (offset, id, URL,
digests). Pre-fetch refusals are re-derived from their evidence the same way.
No Scrapy here.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from crawler.errors import DecisionRecordError
from crawler.judging.judge import JudgeConfig
from crawler.judging.reading import (
    archived_terms,
    read_aitxt,
    read_licence,
    read_page,
    read_robots,
    read_tdmrep,
    read_terms_page,
)
from crawler.storage.records import misstatements, read_decision
from policies.contentcoding import ContentCodingError, codings, decode_content
from policies.decision import Stage
from policies.document import Document
from policies.evidence import HostEvidence
from policies.exclusion import SIGNAL as EXCLUSION_SIGNAL
from policies.exclusion import ExclusionList, exclusion_basis, find_exclusion, parse_exclusion_list
from policies.page import Page, page_licences
from policies.purpose import Purpose
from policies.rsl import INLINE, LicenceToken
from policies.terms import TermsEvidence
from policies.urls import registrable_domain

if TYPE_CHECKING:
    from pathlib import Path

    import sqlite_utils

    from crawler.storage.archive import ReadRecord, WarcArchive
    from policies.decision import Decision
    from policies.page import Page


@dataclass
class AuditReport:
    """What the audit checked and every difference it found."""

    captures: int = 0
    refusals: int = 0
    # Records a crawl wrote whose rows never committed, named on resume: accounted for, not differences.
    superseded: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def _document(archive: WarcArchive, kind: str, entry: dict[str, Any], judge: JudgeConfig) -> Document:
    """An evidence document as the crawler read it, from its WARC record (or, if none, its manifest entry)."""
    record_id = entry.get("record_id")
    if not record_id:
        url = entry.get("url") or ""
        # The manifest keeps the document's describe() ("URL: why") and the reader's sentence
        # ("tdmrep.json was not read whole (why)"): the document said only the why.
        source = entry.get("source") or ""
        incomplete = entry.get("incomplete")
        said = f"{kind} was not read whole ("
        if incomplete and incomplete.startswith(said) and incomplete.endswith(")"):
            incomplete = incomplete[len(said) : -1]
        return Document(
            kind=kind,
            url=url,
            fetched_at=datetime.now(),
            error=source.removeprefix(f"{url}: ") or None,
            incomplete=incomplete,
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
        max_size=judge.evidence_max_size,
    )


def _terms(archive: WarcArchive, entry: dict[str, Any], judge: JudgeConfig) -> TermsEvidence:
    if not entry.get("record_id"):
        return TermsEvidence(
            home_url=entry.get("home_url") or "",
            terms_url=None,
            source=entry.get("source") or "",
            problem=entry.get("problem"),
        )
    document = _document(archive, "terms", entry, judge)
    return archived_terms(read_terms_page(document, entry.get("home_url") or ""), document)


def rebuild_host(
    archive: WarcArchive, manifest: dict[str, Any], judge: JudgeConfig, page: Page | None = None
) -> HostEvidence:
    """The host evidence a decision rested on, from its manifest and the WARC records it names.

    Each document is read by the same functions the crawler used, with the
    bounds the crawl recorded; a page's own licences come with the host's.
    """
    robots = read_robots(_document(archive, "robots.txt", manifest["robots.txt"], judge), judge)
    licences = []
    for entry in manifest.get("rsl", []):
        if entry.get("found_in") == INLINE:
            continue  # rebuilt from the page itself below
        licences.append(read_licence(_document(archive, "rsl", entry, judge), entry.get("found_in", "")))
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
        tdmrep=read_tdmrep(_document(archive, "tdmrep.json", tdmrep, judge)) if tdmrep else None,
        aitxt=read_aitxt(_document(archive, "ai.txt", aitxt, judge), judge) if aitxt else None,
        licences=tuple(licences),
        terms=_terms(archive, manifest["terms"], judge) if "terms" in manifest else None,
        licence_tokens=tuple(LicenceToken.from_dict(t) for t in manifest.get("licence_tokens", [])),
    )


# Rebuilt host evidence kept during an audit (the least recently used goes first): a crawl's
# captures come host by host in bursts, as the crawl fetched them.
HOSTS_KEPT = 1024


class RebuiltHosts:
    """Host evidence rebuilt from a manifest, kept for the next capture or refusal naming the same one.

    Every page of a host names the same evidence documents; reading and parsing
    them again for each page is most of an audit's work. The WARC records do not
    change during an audit, and the same records read under the same
    configuration give the same evidence, so a manifest equal to one seen (as
    JSON, keys sorted) under the very same configuration object gets the
    evidence rebuilt then. A manifest naming licences inline in the page is
    rebuilt each time (its evidence holds the page's own). At most ``kept``
    manifests are kept.
    """

    def __init__(self, kept: int = HOSTS_KEPT) -> None:
        self.kept = kept
        self._hosts: OrderedDict[str, tuple[JudgeConfig, HostEvidence]] = OrderedDict()

    def get(
        self, archive: WarcArchive, manifest: dict[str, Any], judge: JudgeConfig, page: Page | None = None
    ) -> HostEvidence:
        """:func:`rebuild_host`'s answer, rebuilt only if this manifest was not seen under ``judge``."""
        if any(entry.get("found_in") == INLINE for entry in manifest.get("rsl", [])):
            return rebuild_host(archive, manifest, judge, page)
        key = json.dumps(manifest, sort_keys=True)
        found = self._hosts.get(key)
        if found is not None and found[0] is judge:
            self._hosts.move_to_end(key)
            return found[1]
        host = rebuild_host(archive, manifest, judge)
        self._hosts[key] = (judge, host)
        self._hosts.move_to_end(key)
        if len(self._hosts) > self.kept:
            self._hosts.popitem(last=False)
        return host


def archived_page(record: ReadRecord, url: str, max_size: int) -> Page:
    """A captured page as the post-fetch signals read it, from its response record.

    The body is decoded with the crawler's own function and bound, and the
    page's tags are read by :func:`policies.html.read_html`, as the gate read
    them: both paths meet in :class:`policies.engine.Page`. Raises
    ContentCodingError if the archived body does not decode.
    """
    body = decode_content(record.raw, codings(record.header_values("content-encoding")), max_size)
    return read_page(url, record.status or 0, record.http_headers, body)


def _shape(decision: Decision) -> tuple[bool, str, list[tuple[str, str]]]:
    return (
        decision.allowed,
        decision.signal,
        sorted((b.signal, b.verdict.value) for b in decision.bases),
    )


def _derivable(decision: Decision) -> dict[str, Any]:
    """Everything a decision says that re-deriving it must reproduce: all but when it was taken."""
    return {key: value for key, value in decision.as_dict().items() if key != "decided_at"}


def _recorded(where: str, stored: Any) -> tuple[Decision | None, list[str]]:
    """The typed decision a row or record holds (None if it holds none), and every field its stored
    text says otherwise (a signal or reason its bases do not give: it was not written from them)."""
    try:
        decision = read_decision(stored)
    except DecisionRecordError as exc:
        return None, [f"{where}: {exc}"]
    found = [
        f"{where}: {key} is stored as {said!r}, but its bases give {typed!r}"
        for key, (said, typed) in misstatements(stored, decision).items()
    ]
    return decision, found


def _basis_difference(said: list[dict[str, Any]], derived: list[dict[str, Any]]) -> str:
    """The first basis that differs, and how (field by field where both exist)."""
    pairs = list(zip(said, derived, strict=False))
    index = next((i for i, (a, b) in enumerate(pairs) if a != b), len(pairs))
    if index == len(pairs):
        return f"{len(said)} bases, re-derived {len(derived)}"
    a, b = pairs[index]
    fields = [
        f"{k} is {a.get(k)!r}, re-derived {b.get(k)!r}"
        for k in sorted(set(a) | set(b))
        if a.get(k) != b.get(k)
    ]
    return f"basis {index + 1} ({b.get('signal')}): " + "; ".join(fields)


def _decision_differences(where: str, recorded: Decision, again: Decision) -> list[str]:
    """Each field of a recorded decision that differs from the re-derived one (bases: the first that does)."""
    said_all, derived_all = _derivable(recorded), _derivable(again)
    found = []
    for key in sorted(set(said_all) | set(derived_all)):
        said, derived = said_all.get(key), derived_all.get(key)
        if said == derived:
            continue
        if key == "bases" and isinstance(said, list) and isinstance(derived, list):
            found.append(f"{where}: {_basis_difference(said, derived)}")
        else:
            found.append(f"{where}: {key} is {said!r}, re-derived {derived!r}")
    return found


def _sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def _judge_of(
    archive: WarcArchive, db: sqlite_utils.Database, crawl_id: str, cache: dict[str, JudgeConfig]
) -> JudgeConfig:
    """The configuration crawl ``crawl_id`` judged with, rebuilt from its configuration record."""
    if crawl_id not in cache:
        row = db.table("crawls").get(crawl_id)
        cache[crawl_id] = JudgeConfig.from_record(archive.read(row["config_record_id"]).json())
    return cache[crawl_id]


def _json(text: str | None) -> Any:
    return json.loads(text) if text else None


def _same_time(a: str | None, b: str | None) -> bool:
    try:
        return a is not None and b is not None and datetime.fromisoformat(a) == datetime.fromisoformat(b)
    except ValueError:
        return False


def _url_columns(url: str) -> dict[str, Any]:
    """The columns of a captures or refusals row that its URL decides."""
    host = urlsplit(url).hostname
    return {"host": host, "domain": registrable_domain(host or "")}


def _record_differences(archive: WarcArchive, row: dict[str, Any], response: ReadRecord) -> list[str]:
    """Every column of a capture row that differs from its response record and the records linked to it."""
    url, record_id, entry = row["url"], row["warc_record_id"], response.entry
    found = []
    if (entry.warc_file, entry.offset) != (row["warc_file"], row["warc_offset"]):
        found.append(f"{url}: the database places {record_id} at {row['warc_file']}@{row['warc_offset']}, "
                     f"the WARC files at {entry.warc_file}@{entry.offset}")  # fmt: skip
    if entry.target != url:
        found.append(f"{url}: the record is for {entry.target}")
    if _sha1_b32(response.raw) != response.headers.get("WARC-Payload-Digest"):
        found.append(f"{url}: the stored payload does not match its WARC-Payload-Digest")
    content_types = response.header_values("content-type")
    stored = {
        "warc_length": entry.length,
        "payload_digest": response.headers.get("WARC-Payload-Digest"),
        "block_digest": response.headers.get("WARC-Block-Digest"),
        "payload_sha256": response.payload_sha256,
        "payload_length": len(response.raw),
        "status": response.status,
        "content_type": content_types[-1] if content_types else None,  # the value the crawler read
        **_url_columns(url),
    }
    for column, value in stored.items():
        if row[column] != value:
            found.append(f"{url}: {column} {row[column]} differs from the WARC's {value}")
    if not _same_time(row["fetched_at"], response.headers.get("WARC-Date")):
        found.append(f"{url}: fetched_at {row['fetched_at']} differs from the WARC-Date")
    linked = {e.record_id: e.rec_type for e in archive.linked(record_id)}
    for column, kind in (("request_record_id", "request"), ("metadata_record_id", "metadata")):
        if linked.get(row[column]) != kind:
            found.append(f"{url}: {column} {row[column]} is not the {kind} record of {record_id}")
    return found


def _metadata_differences(row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """Every column of a capture row that differs from what its metadata record says."""
    recorded = {
        "crawl_id": (row["crawl_id"], metadata.get("crawl_id")),
        "purpose": (row["purpose"], metadata.get("purpose")),
        "evidence": (_json(row["evidence"]), metadata.get("evidence")),
        "depth": (row["depth"], metadata.get("hopsFromSeed")),
        "referer": (row["referer"], metadata.get("via")),
        "redirected_from": (_json(row["redirected_from"]), metadata.get("redirected_from") or None),
    }
    return [
        f"{row['url']}: {column} {said!r} differs from the metadata record's {warc!r}"
        for column, (said, warc) in recorded.items()
        if said != warc
    ]


def _usage_differences(
    url: str, derived: Decision, warc: dict[str, Any] | None, usage: dict[str, Any] | None, purpose: str
) -> list[str]:
    """One purpose of a capture: the metadata record and the usage row against the re-derived decision."""
    again = _shape(derived)
    where = f"{url} ({purpose})"
    in_warc, found = _recorded(f"{where}: the WARC metadata record", warc) if warc else (None, [])
    if in_warc is None or _shape(in_warc) != again:
        found.append(
            f"{where}: the WARC metadata record says {in_warc and _shape(in_warc)}, re-derived {again}"
        )
    else:
        found += _decision_differences(f"{where}: the WARC metadata record", in_warc, derived)
    if usage is None:
        return [*found, f"{where}: no usage row"]
    if bool(usage["usable"]) != again[0] or usage["signal"] != again[1]:
        said = f"usable={bool(usage['usable'])} by {usage['signal']}"
        found.append(f"{where}: the database says {said}, re-derived usable={again[0]} by {again[1]}")
    if usage["reason"] != derived.reason:
        found.append(
            f"{where}: the database gives the reason {usage['reason']!r}, re-derived {derived.reason!r}"
        )
    recorded, misstated = _recorded(f"{where}: the database's recorded decision", usage["decision"])
    found += misstated
    if recorded is None or _shape(recorded) != again:
        found.append(f"{where}: the database's recorded bases differ from the re-derived ones")
    elif recorded != in_warc:
        # Both were written from one decision: the database must say what the WARC file says.
        found += _decision_differences(f"{where}: the database's recorded decision", recorded, derived) or [
            f"{where}: the database's recorded decision differs from the WARC metadata record's"
        ]
    return found


def audit_capture(
    archive: WarcArchive,
    db: sqlite_utils.Database,
    row: dict[str, Any],
    judge: JudgeConfig,
    hosts: RebuiltHosts | None = None,
) -> list[str]:
    """Every difference between one capture row, its WARC records, and its re-derived decisions.

    Each column is compared with what the WARC records say (the response and
    its request and metadata records) or with what the decision engine
    re-derives from the archived evidence and page: the usage rows' verdict,
    signal, reason and whole decision, the capture row's signal and reason.
    ``hosts`` keeps the evidence rebuilt for earlier captures (the same answers, sooner).
    """
    url, record_id = row["url"], row["warc_record_id"]
    if record_id not in archive.entries:
        return [f"{url}: response record {record_id} is in no WARC file"]
    response = archive.read(record_id)
    found = _record_differences(archive, row, response)
    metadata_id = row["metadata_record_id"]
    if metadata_id not in archive.entries:
        return [*found, f"{url}: metadata record {metadata_id} is in no WARC file"]
    metadata = archive.read(metadata_id).json()
    found += _metadata_differences(row, metadata)
    try:
        page = archived_page(response, url, judge.page_max_size)
    except ContentCodingError as exc:
        return [
            *found,
            f"{url}: the archived body cannot be decoded ({exc}); the crawl would have refused it",
        ]
    # The page's own licences are rebuilt with the host's: the engine reads both lists alike.
    host = (hosts or RebuiltHosts(kept=1)).get(archive, metadata["evidence"], judge, page)
    derived = judge.decide_all(url, host=host, now=host.fetched_at, page=page)
    stored = {u["purpose"]: u for u in db.query("select * from usage where capture_id = ?", [record_id])}
    for purpose in Purpose:
        warc = metadata["usage"].get(purpose.value)
        found += _usage_differences(url, derived[purpose], warc, stored.get(purpose.value), purpose.value)
    crawled = next((d for p, d in derived.items() if p.value == row["purpose"]), None)
    if crawled is None:
        found.append(f"{url}: purpose {row['purpose']!r} is not one a decision was taken for")
    else:
        for column in ("signal", "reason"):
            again = getattr(crawled, column)
            if row[column] != again:
                found.append(f"{url}: the capture row's {column} is {row[column]!r}, re-derived {again!r}")
    return found


def _refusal_differences(row: dict[str, Any], decision: Decision) -> list[str]:
    """Every column of a refusal row that differs from the decision it records (or its URL)."""
    url = row["url"]
    expected = {
        "url": decision.url,
        "purpose": decision.purpose.value,
        "stage": decision.stage.value,
        "signal": decision.signal,
        "reason": decision.reason,
        **_url_columns(url),
    }
    found = [
        f"{url}: the refusal row's {column} is {row[column]!r}, its decision says {value!r}"
        for column, value in expected.items()
        if row[column] != value
    ]
    if not _same_time(row["decided_at"], decision.decided_at.isoformat()):
        found.append(f"{url}: the refusal row's decided_at {row['decided_at']} differs from its decision's")
    if decision.allowed:
        found.append(f"{url}: a refusal whose decision does not refuse")
    return found


def audit_refusal(
    archive: WarcArchive, row: dict[str, Any], judge: JudgeConfig | None, hosts: RebuiltHosts | None = None
) -> list[str]:
    """Every difference in one refusal row: its columns against its decision, and a pre-fetch decision
    against the one re-derived from the evidence it names (``judge`` None: it names none).
    ``hosts`` keeps the evidence rebuilt for earlier rows.

    A post-fetch refusal's page was never archived, so its decision can be
    checked for consistency only.
    """
    decision, found = _recorded(f"{row['url']}: the refusal's decision", row["decision"])
    if decision is None:
        return found
    found += _refusal_differences(row, decision)
    if judge is None:
        return found
    manifest = json.loads(row["evidence"])
    if EXCLUSION_SIGNAL in manifest:
        return found + _exclusion_differences(
            archive, row["url"], manifest[EXCLUSION_SIGNAL], decision, judge
        )
    host = (hosts or RebuiltHosts(kept=1)).get(archive, manifest, judge)
    purpose = decision.purpose
    again = judge.decide_all(row["url"], purposes=(purpose,), host=host, now=host.fetched_at)[purpose]
    if _shape(again) != _shape(decision):
        return [*found, f"{row['url']}: refused by {decision.signal}, re-derived {_shape(again)[:2]}"]
    return found + _decision_differences(f"{row['url']}: the refusal's decision", decision, again)


def archived_exclusion_list(archive: WarcArchive, entry: dict[str, Any]) -> ExclusionList:
    """An exclusion list as the crawl applied it, from the resource record ``entry`` names.

    Raise DecisionRecordError if the record's bytes do not hash to the sha256 recorded.
    """
    record = archive.read(entry["record_id"])
    listing = replace(parse_exclusion_list(entry["name"], record.raw), record_id=entry["record_id"])
    if listing.sha256 != entry["sha256"]:
        raise DecisionRecordError(
            f"the exclusion list {entry['name']} archived in {entry['record_id']} has sha256 "
            f"{listing.sha256}, the crawl recorded {entry['sha256']}"
        )
    return listing


def _exclusion_differences(
    archive: WarcArchive, url: str, entry: dict[str, Any], decision: Decision, judge: JudgeConfig
) -> list[str]:
    """A refusal by an exclusion list, judged again against the list's archived bytes."""
    listing = archived_exclusion_list(archive, entry)
    match = find_exclusion(url, [listing])
    if match is None:
        return [
            f"{url}: refused by {EXCLUSION_SIGNAL}, but the archived list {listing.name} does not name it"
        ]
    again = judge.refusal(url, exclusion_basis(match), stage=Stage.PRE_FETCH, now=decision.decided_at)
    return _decision_differences(f"{url}: the refusal's decision", decision, again)


def _exclusions_of(
    archive: WarcArchive, db: sqlite_utils.Database, crawl_id: str, cache: dict[str, list[ExclusionList]]
) -> list[ExclusionList]:
    """The exclusion lists crawl ``crawl_id`` applied (none recorded before they existed)."""
    if crawl_id not in cache:
        row = db.table("crawls").get(crawl_id)
        described = archive.read(row["config_record_id"]).json().get("exclusion_lists") or []
        cache[crawl_id] = [archived_exclusion_list(archive, entry) for entry in described]
    return cache[crawl_id]


def superseded_records(db: sqlite_utils.Database) -> set[str]:
    """The response record ids the ``superseded`` table names (none before schema 5 had the table)."""
    if "superseded" not in db.table_names():
        return set()
    return {row[0] for row in db.execute("select warc_record_id from superseded")}


def audit(archive: WarcArchive, db: sqlite_utils.Database) -> AuditReport:
    """Check every capture and every pre-fetch refusal of a crawl directory.

    A capture record in the WARC files without a captures row is a difference
    unless it is marked superseded (its rows never committed, its URL fetched
    again: see :mod:`crawler.storage.reconcile`); superseded records are
    counted. A record marked superseded that has a captures row is a
    difference: the database says two things about it.
    """
    report = AuditReport()
    cache: dict[str, JudgeConfig] = {}
    lists: dict[str, list[ExclusionList]] = {}
    hosts = RebuiltHosts()
    captured_ids = set()
    superseded = superseded_records(db)
    report.superseded = len(superseded)
    for row in db.query("select * from captures"):
        report.captures += 1
        captured_ids.add(row["warc_record_id"])
        if row["warc_record_id"] in superseded:
            report.differences.append(
                f"{row['url']}: {row['warc_record_id']} is marked superseded, yet it has a captures row"
            )
        try:
            excluded = find_exclusion(row["url"], _exclusions_of(archive, db, row["crawl_id"], lists))
            if excluded is not None:
                report.differences.append(
                    f"{row['url']}: captured, yet the exclusion list {excluded.listing.name} names it "
                    f"(line {excluded.entry.line})"
                )
            report.differences += audit_capture(
                archive, db, row, _judge_of(archive, db, row["crawl_id"], cache), hosts
            )
        except Exception as exc:  # an unreadable record is a finding, not a crash
            report.differences.append(f"{row['url']}: could not be re-derived ({type(exc).__name__}: {exc})")
    for row in db.query("select * from refusals"):
        report.refusals += 1
        try:
            derivable = row["stage"] == "pre-fetch" and row["evidence"] is not None
            judge = _judge_of(archive, db, row["crawl_id"], cache) if derivable else None
            report.differences += audit_refusal(archive, row, judge, hosts)
        except Exception as exc:
            report.differences.append(
                f"{row['url']}: the refusal could not be re-derived ({type(exc).__name__}: {exc})"
            )
    tombstoned = {r[0]: r[1] for r in db.execute("select capture_id, ledger_id from tombstones")}
    # Records whose rows were dropped on purpose (a merge's duplicates and stale rows) or never
    # committed (found on resume): named there with why, so they are accounted for.
    superseded = {r[0] for r in db.execute("select warc_record_id from superseded")}
    for entry in archive.entries.values():
        if entry.rec_type != "metadata" or not entry.concurrent_to:
            continue
        response_id = entry.concurrent_to[0]
        if response_id in captured_ids or response_id in superseded:
            continue
        if response_id in tombstoned:  # an erasure on record whose bytes are still there
            report.differences.append(
                f"{entry.target}: erased by the purge of ledger entry {tombstoned[response_id]}, yet its "
                f"records are still in {entry.warc_file}"
            )
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
