"""Recheck: under which regime a crawl judged its URLs, and which captures its sites reserve since.

The fetching is done by the Scrapy adapters (the recheck spider and the gate);
this module says what to ask them and what their answers revoke. A capture is
revoked for a purpose only when a document read whole reserves it now: a
failed fetch is not new evidence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from crawler.errors import PermitcrawlError
from crawler.workflows.ledger import record_recheck
from policies.purpose import Purpose
from policies.readings import Readings

if TYPE_CHECKING:
    import sqlite_utils

    from policies.decision import Basis, Decision

# Recorded configuration key -> the setting that gives it back.
JUDGING_SETTINGS = {
    "default_policy": "POLICY_DEFAULT",
    "unreviewed": "POLICY_UNREVIEWED",
    "robots_token": "POLICY_ROBOTS_TOKEN",
    "max_crawl_delay": "POLICY_MAX_CRAWL_DELAY",
    "robots_parse_limit": "POLICY_ROBOTS_PARSE_LIMIT",
    "evidence_max_size": "POLICY_EVIDENCE_MAX_SIZE",
}


class Reservations(Protocol):
    """What a recheck learnt: the reservation a document read whole makes now, if any."""

    def reservation(self, url: str, purpose: Purpose) -> tuple[Decision, Basis] | None: ...


@dataclass(frozen=True)
class RecheckPlan:
    """What to recheck: the captured URLs, under the last crawl's purpose, regime and ToS store."""

    purpose: str
    settings: dict[str, Any]
    store_dir: Path | None
    urls: list[str]


def plan_recheck(db: sqlite_utils.Database, directory: Path, store_dir: Path | None) -> RecheckPlan:
    """Read what the last crawl of ``directory`` was judged under, and what it captured.

    ``store_dir`` is the ToS store to apply; None means the crawl's own, if it
    is still there. Raise PermitcrawlError when no crawl is recorded.
    """
    crawls = list(
        db.query(
            "select purpose, settings from crawls where coalesce(kind, 'crawl') = 'crawl' order by started_at"
        )
    )
    if not crawls:
        raise PermitcrawlError(f"{directory}: no crawl recorded here")
    recorded = json.loads(crawls[-1]["settings"] or "{}").get("permitcrawl", {})
    if store_dir is None and recorded.get("store_dir") and Path(recorded["store_dir"]).is_dir():
        store_dir = Path(recorded["store_dir"])
    urls = [row[0] for row in db.execute("select distinct url from captures order by url")]
    return RecheckPlan(
        purpose=crawls[-1]["purpose"], settings=judged_as_crawled(recorded), store_dir=store_dir, urls=urls
    )


def judged_as_crawled(recorded: dict[str, Any]) -> dict[str, Any]:
    """The settings under which the crawl judged its URLs, from its recorded configuration.

    A recheck judges under the same regime (default policy, readings, token,
    what unreviewed terms mean), so that a capture is revoked for what its
    site says now, never for a rule the crawl did not apply.
    """
    settings = {
        setting: recorded[key] for key, setting in JUDGING_SETTINGS.items() if recorded.get(key) is not None
    }
    readings = recorded.get("readings") or {}
    if readings:
        # A crawl recorded before the vocab-08 reading existed read Content-Usage by vocab-07.
        readings = {"aipref_vocab": "07", **readings}
    for key, value in readings.items():
        settings["POLICY_" + ("READ_" if key in Readings.switches() else "") + key.upper()] = value
    return settings


def reserved_since(db: sqlite_utils.Database, found: Reservations) -> list[dict[str, Any]]:
    """The (capture, purpose) pairs usable until now that a document read whole now reserves."""
    changes = []
    for capture in db.query("select warc_record_id, url from captures order by url"):
        for usage in db.query(
            "select purpose from usage u where capture_id = ? and usable = 1 and not exists "
            "(select 1 from revocations r where r.capture_id = u.capture_id "
            "and (r.purpose is null or r.purpose = u.purpose)) order by purpose",
            [capture["warc_record_id"]],
        ):
            reserved = found.reservation(capture["url"], Purpose(usage["purpose"]))
            if reserved is None:
                continue
            decision, basis = reserved
            changes.append(
                {
                    "capture_id": capture["warc_record_id"],
                    "url": capture["url"],
                    "purpose": usage["purpose"],
                    "reason": basis.reason,
                    "decision": decision,
                    "signal": basis.signal,
                }
            )
    return changes


def revoke_reserved(
    db: sqlite_utils.Database,
    changes: list[dict[str, Any]],
    *,
    who: str,
    crawl_id: str | None,
    not_rechecked: dict[str, list[str]],
) -> int:
    """Revoke the ``changes`` of :func:`reserved_since` in one ledger entry; return its id."""
    revocations = [{k: v for k, v in change.items() if k != "signal"} for change in changes]
    return record_recheck(db, revocations, who=who, crawl_id=crawl_id, not_rechecked=not_rechecked)
