"""The ledger of later actions on a crawl, and revocations: who, when, what, why. No Scrapy here.

Nothing is deleted by a revocation: the capture stays, marked revoked (for one
purpose or all), and every listing of usable pages and every export leaves it
out. Physical erasure is ``export --purge``, which leaves a tombstone.
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from policies.store import is_registrable

if TYPE_CHECKING:
    from collections.abc import Iterable

    import sqlite_utils


def actor(name: str | None = None) -> str:
    """Who acts: the name given, else the login name."""
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def now() -> str:
    return datetime.now(UTC).isoformat()


def record(
    db: sqlite_utils.Database,
    *,
    action: str,
    who: str,
    scope: str,
    reason: str,
    count: int,
    details: dict[str, Any] | None = None,
) -> int:
    """Add a ledger entry and return its id."""
    table = db["ledger"]
    table.insert(
        {
            "at": now(),
            "actor": who,
            "action": action,
            "scope": scope,
            "reason": reason,
            "count": count,
            "details": json.dumps(details or {}, ensure_ascii=False, sort_keys=True),
        }
    )
    return int(table.last_pk)


def matching_captures(
    db: sqlite_utils.Database, *, urls: Iterable[str] = (), domain: str | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """The captures of the given URLs or of a domain (a registrable domain, or a host and its subdomains).

    Also returns the URLs that matched no capture.
    """
    found: list[dict[str, Any]] = []
    missing: list[str] = []
    for url in urls:
        rows = list(db.query("select warc_record_id, url from captures where url = ?", [url]))
        found += rows
        if not rows:
            missing.append(url)
    if domain:
        domain = domain.strip().rstrip(".").lower()
        if is_registrable(domain):
            found += db.query("select warc_record_id, url from captures where domain = ?", [domain])
        else:
            found += db.query(
                "select warc_record_id, url from captures where host = ? or host like ?",
                [domain, f"%.{domain}"],
            )
    return found, missing


def revoke(
    db: sqlite_utils.Database,
    captures: list[dict[str, Any]],
    *,
    reason: str,
    who: str,
    scope: str,
    purpose: str | None = None,
    source: str = "revoke",
    decisions: dict[str, str] | None = None,
) -> int:
    """Revoke captures (for ``purpose``, or every purpose); return the ledger entry's id."""
    with db.atomic():
        ledger_id = record(
            db,
            action=source,
            who=who,
            scope=scope,
            reason=reason,
            count=len(captures),
            details={"purpose": purpose},
        )
        db["revocations"].insert_all(
            {
                "capture_id": capture["warc_record_id"],
                "url": capture["url"],
                "purpose": purpose,
                "source": source,
                "reason": reason,
                "actor": who,
                "at": now(),
                "ledger_id": ledger_id,
                "decision": (decisions or {}).get(capture["warc_record_id"]),
            }
            for capture in captures
        )
    return ledger_id


def record_recheck(
    db: sqlite_utils.Database, changes: list[dict[str, Any]], *, who: str, crawl_id: str | None
) -> int:
    """Revoke what a recheck found reserved since: one ledger entry, one revocation per (capture, purpose).

    Each change holds ``capture_id``, ``url``, ``purpose``, ``reason`` and ``decision`` (JSON).
    """
    with db.atomic():
        ledger_id = record(
            db,
            action="recheck",
            who=who,
            scope="every captured host",
            reason="the sites' current evidence reserves these captures",
            count=len(changes),
            details={"recheck_crawl_id": crawl_id},
        )
        db["revocations"].insert_all(
            {**change, "source": "recheck", "actor": who, "at": now(), "ledger_id": ledger_id}
            for change in changes
        )
    return ledger_id
