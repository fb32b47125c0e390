"""The shapes storage writes and reads back: WARC metadata records and database rows, from typed values.

No Scrapy here. The archive extension hands over typed values (a
:class:`Capture`, a refusal's :class:`~policies.decision.Decision`, an evidence
:class:`~policies.document.Document`); this module alone knows the columns
and the JSON they become, and each stored text is one ``json.dumps`` of data
built from them. Decisions are read back the one way too: :func:`read_decision`
gives the typed :class:`~policies.decision.Decision` a row or record holds, and
:func:`misstatements` what the stored text says that its decision does not
(audit reports those).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from crawler.errors import DecisionRecordError
from crawler.storage.provenance import dumps
from policies.decision import Decision
from policies.robots import classify
from policies.urls import registrable_domain

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from crawler.judging.config import CrawlConfig
    from crawler.storage.warc import CaptureRecords, HttpExchange
    from policies.document import Document
    from policies.exclusion import ExclusionList
    from policies.purpose import Purpose
    from policies.rules import Rule


@dataclass(frozen=True)
class Fence:
    """The frontier lease a URL was taken under: its entry ``key``, ``shard``, fencing ``epoch``, ``worker``.

    Rows carry shard, epoch and worker, so that a merge can drop what a worker
    wrote for a shard it had lost; the key holds a row back until the page is done.
    """

    key: str
    shard: int
    epoch: int
    worker: str


def fence_columns(fence: Fence | None) -> dict[str, Any]:
    """The shard, epoch and worker columns of a row written under ``fence`` (all None without one)."""
    if fence is None:
        return {"shard": None, "epoch": None, "worker": None}
    return {"shard": fence.shard, "epoch": fence.epoch, "worker": fence.worker}


@dataclass(frozen=True, kw_only=True)
class Capture:
    """A permitted capture, as the crawl saw it.

    ``decision`` is the decision the crawl applied (its purpose's);
    ``usage`` the decision for every purpose judged, in the order they are
    recorded; ``evidence`` the manifest of the evidence they rest on
    (:func:`policies.evidence.evidence_manifest`).
    """

    crawl_id: str
    exchange: HttpExchange
    decision: Decision
    usage: Mapping[Purpose, Decision]
    evidence: Mapping[str, Any] | None
    depth: int
    referer: str | None
    redirected_from: list[str] | None
    content_type: str | None
    fetch_time_ms: int
    fence: Fence | None = None


def _sorted(value: Any) -> Any:
    """``value`` with every mapping's keys in sorted order, at every depth (as ``sort_keys`` writes them)."""
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list | tuple):
        return [_sorted(item) for item in value]
    return value


def capture_metadata(capture: Capture) -> bytes:
    """The JSON of a capture's ``metadata`` record: where it was found, the evidence, every decision.

    The keys keep the order these records have always had: the capture's own
    fields sorted, then the purpose applied and the decision for each
    purpose (each sorted), so that the record's bytes do not change.
    """
    fields = {
        "crawl_id": capture.crawl_id,
        "evidence": capture.evidence,
        "hopsFromSeed": capture.depth,
        "via": capture.referer,
        "redirected_from": capture.redirected_from,
        "fetchTimeMs": capture.fetch_time_ms,
    }
    block = {
        **_sorted(fields),
        "purpose": capture.decision.purpose.value,
        "usage": {purpose.value: _sorted(d.as_dict()) for purpose, d in capture.usage.items()},
    }
    return json.dumps(block, ensure_ascii=False).encode("utf-8")


def _url_columns(url: str) -> dict[str, Any]:
    host = urlsplit(url).hostname
    return {"host": host, "domain": registrable_domain(host or "")}


def capture_row(capture: Capture, records: CaptureRecords, location: Mapping[str, Any]) -> dict[str, Any]:
    """The ``captures`` row of a capture written as ``records``; ``location`` gives its warc_* columns."""
    exchange, decision = capture.exchange, capture.decision
    return {
        "crawl_id": capture.crawl_id,
        "url": exchange.url,
        **_url_columns(exchange.url),
        "evidence": dumps(capture.evidence) if capture.evidence else None,
        "fetched_at": exchange.started_at.isoformat(),
        # The applied decision's time: the stored decisions refer to it (crawler.storage.compact).
        "decided_at": decision.decided_at.isoformat(),
        "status": exchange.status,
        "content_type": capture.content_type,
        "payload_length": len(exchange.body),
        "signal": decision.signal,
        "reason": decision.reason,
        "redirected_from": dumps(capture.redirected_from) if capture.redirected_from else None,
        "depth": capture.depth,
        "referer": capture.referer,
        **location,
        "warc_record_id": records.response.record_id,
        "request_record_id": records.request.record_id,
        "metadata_record_id": records.metadata.record_id if records.metadata else None,
        "payload_digest": records.payload_digest,
        "block_digest": records.block_digest,
        "payload_sha256": hashlib.sha256(exchange.body).hexdigest(),
        "purpose": decision.purpose.value,
        **fence_columns(capture.fence),
    }


def usage_rows(capture: Capture, capture_id: str) -> list[dict[str, Any]]:
    """One ``usage`` row per purpose judged: usable or not, and the whole decision."""
    return [
        {
            "capture_id": capture_id,
            "purpose": purpose.value,
            "usable": int(decision.allowed),
            "signal": decision.signal,
            "reason": decision.reason,
            "decision": dumps(decision.as_dict()),
        }
        for purpose, decision in capture.usage.items()
    ]


def refusal_row(
    crawl_id: str,
    decision: Decision,
    *,
    status: int | None,
    response_headers: list[tuple[str, str]] | None,
    evidence: Mapping[str, Any] | None,
    fence: Fence | None = None,
) -> dict[str, Any]:
    """The ``refusals`` row of a refused URL (``status`` and ``response_headers``: if it was fetched)."""
    return {
        "crawl_id": crawl_id,
        "url": decision.url,
        **_url_columns(decision.url),
        "decided_at": decision.decided_at.isoformat(),
        "stage": decision.stage.value,
        "status": status,
        "purpose": decision.purpose.value,
        "signal": decision.signal,
        "reason": decision.reason,
        "decision": dumps(decision.as_dict()),
        "response_headers": dumps(response_headers) if response_headers is not None else None,
        "evidence": dumps(evidence) if evidence is not None else None,
        **fence_columns(fence),
    }


def evidence_metadata(
    crawl_id: str, document: Document, origin: str, details: Mapping[str, Any] | None
) -> bytes:
    """The JSON of an evidence document's ``metadata`` record (what it is evidence of, and its details)."""
    return dumps(
        {"crawl_id": crawl_id, "evidence": document.kind, "applies_to": origin, **(details or {})}
    ).encode("utf-8")


def evidence_row(
    crawl_id: str, document: Document, origin: str, details: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The ``evidence`` row of a document fetched (or not) to decide, before its WARC location."""
    robots = document.kind == "robots.txt"
    row = {
        "crawl_id": crawl_id,
        "kind": document.kind,
        "origin": origin,
        "url": document.url,
        "final_url": document.final_url,
        "fetched_at": document.fetched_at.isoformat(),
        "status": document.status,
        "outcome": classify(document.status if document.error is None else None).value if robots else None,
        "error": document.error,
        "sha256": document.sha256,
        "length": len(document.body) if document.status is not None else None,
        "truncated": int(document.truncated),
    }
    if details:
        row["text_sha256"] = details.get("text_sha256")
        row["passages"] = dumps(list(details.get("passages", ())))
    return row


@dataclass(frozen=True, kw_only=True)
class CrawlStart:
    """What a crawl records as it starts: its configuration as applied, and the ToS rules in force.

    ``scrapy`` holds the Scrapy settings recorded with the configuration;
    ``signing`` how the crawl signs its requests (key id, Signature-Agent,
    covered components, expiry, library; never key material), None if it
    does not. ``exclusions`` the exclusion lists applied, each archived whole
    in a resource record of its own (the id it carries) beside the configuration.
    """

    crawl_id: str
    kind: str
    started_at: datetime
    software: str
    version: str
    config: CrawlConfig
    scrapy: Mapping[str, Any]
    rules: tuple[Rule, ...]
    seeds: tuple[str, ...]
    signing: Mapping[str, Any] | None = None
    exclusions: tuple[ExclusionList, ...] = ()


def exclusion_list_uri(sha256: str) -> str:
    """The WARC-Target-URI of the resource record holding an exclusion list whose bytes hash to ``sha256``."""
    return f"urn:permitcrawl:exclusion-list:sha256:{sha256}"


def configuration_record(start: CrawlStart) -> bytes:
    """The JSON of the crawl's ``urn:permitcrawl:crawl:`` resource record, which audit judges again with."""
    return dumps(
        {
            "crawl_id": start.crawl_id,
            "software": f"{start.software}/{start.version}",
            "config": start.config.summary(),
            "scrapy": start.scrapy,
            "signing": start.signing,
            "rules": [{"where": rule.where, **rule.content()} for rule in start.rules],
            "exclusion_lists": [listing.describe() for listing in start.exclusions],
        }
    ).encode("utf-8")


def crawl_row(start: CrawlStart, config_record_id: str | None) -> dict[str, Any]:
    """The ``crawls`` row written as a crawl starts (its end is filled in when it finishes)."""
    config = start.config
    return {
        "id": start.crawl_id,
        "kind": start.kind,
        "started_at": start.started_at.isoformat(),
        "software": start.software,
        "version": start.version,
        "purpose": config.purpose.value,
        "default_policy": config.default_policy.value,
        "robots_token": config.robots_token,
        "user_agent": config.user_agent,
        "seeds": dumps(list(start.seeds)),
        "settings": dumps(
            {"permitcrawl": config.summary(), "scrapy": start.scrapy, "signing": start.signing}
        ),
        "config_record_id": config_record_id,
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
    }


def crawl_end(*, finished_at: datetime, finish_reason: str, stats: Mapping[str, Any]) -> dict[str, Any]:
    """The columns of the ``crawls`` row filled in when the crawl ends."""
    recorded = {key: (v if isinstance(v, int | float | str) else str(v)) for key, v in stats.items()}
    return {"finished_at": finished_at.isoformat(), "finish_reason": finish_reason, "stats": dumps(recorded)}


def rule_rows(crawl_id: str, rules: tuple[Rule, ...]) -> list[dict[str, Any]]:
    """One ``policy_rules`` row per ToS rule in force during the crawl."""
    return [
        {
            "crawl_id": crawl_id,
            "domain": rule.domain,
            "file": rule.file,
            "line": rule.line,
            "scope": rule.scope,
            "path": rule.path,
            "version": rule.version,
            "tos_sha256": rule.tos_sha256,
            "content": dumps(rule.content()),
        }
        for rule in rules
    ]


# -- reading decisions back ------------------------------------------------------------


def decision_data(stored: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """The data of a stored decision: a row's JSON column (text) or a metadata record's entry (data).

    Raise :class:`~crawler.errors.DecisionRecordError` for anything that is not a JSON object.
    """
    try:
        data = json.loads(stored) if isinstance(stored, str) else stored
    except ValueError as exc:
        raise DecisionRecordError(f"not a recorded decision ({exc})") from None
    if not isinstance(data, dict):
        raise DecisionRecordError(f"not a recorded decision (expected a JSON object, found {data!r:.40})")
    return data


def read_decision(stored: str | Mapping[str, Any] | None) -> Decision:
    """The decision a row's JSON column (text) or a metadata record's entry (data) holds.

    Raise DecisionRecordError, saying what is missing or wrong, for anything
    that is not a recorded decision.
    """
    data = decision_data(stored)
    try:
        return Decision.from_dict(data)
    except KeyError as exc:
        raise DecisionRecordError(f"not a recorded decision (no {exc})") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise DecisionRecordError(f"not a recorded decision ({exc})") from None


def misstatements(stored: str | Mapping[str, Any], decision: Decision) -> dict[str, tuple[Any, Any]]:
    """Each field a stored decision says otherwise than its typed ``decision``, as (stored, typed).

    A decision's ``signal`` and ``reason`` follow from its bases; a stored
    decision that names others (or lacks a field, or adds one) was not
    written from the decision it holds.
    """
    data, canonical = decision_data(stored), decision.as_dict()
    return {
        key: (data.get(key), canonical.get(key))
        for key in sorted(set(data) | set(canonical))
        if data.get(key) != canonical.get(key)
    }
