"""The ledger of later actions on a crawl, and revocations: who, when, what, why. No Scrapy here.

Nothing is deleted by a revocation: the capture stays, marked revoked (for one
purpose or all), and every listing of usable pages and every export leaves it
out. Physical erasure is ``export --purge``, which leaves a tombstone.
"""

from __future__ import annotations

import getpass
import ipaddress
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crawler.errors import PermitcrawlError
from crawler.storage.provenance import dumps
from crawler.storage.queries import by_url
from crawler.storage.urls import url_key
from policies.urls import canonical_host, host_covers, is_registrable, registrable_domain

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
    table = db.table("ledger")
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
    return int(table.last_pk or 0)  # the row just inserted has a key


class DomainError(PermitcrawlError):
    """A domain given to ``revoke`` is not a domain name."""


_LABEL = re.compile(r"[a-z0-9_-]*[a-z0-9][a-z0-9_-]*")


def domain_name(text: str) -> str:
    """``text`` as a host name compared everywhere (lower case, IDNA, no final dot); raise DomainError
    unless it is one: a name never is a pattern (``%``, ``*`` and ``_`` alone match nothing)."""
    name = canonical_host(text)
    try:
        ipaddress.ip_address(name.strip("[]"))
        return name.strip("[]")
    except ValueError:
        pass
    labels = name.split(".")
    if not name or len(name) > 253 or not all(len(x) <= 63 and _LABEL.fullmatch(x) for x in labels):
        raise DomainError(
            f"{text!r} is not usable; expected a domain or host name such as example.org or blog.example.org"
        )
    return name


def domain_covers(name: str, host: str) -> bool:
    """True if ``host`` falls under ``revoke --domain name``.

    A registrable domain, or a host below one, covers itself and its
    subdomains; a name with no registrable domain (a public suffix such as
    ``com`` or ``co.uk``, an IP address, ``localhost``) covers that host only,
    so that no name can reach every site under a suffix.
    """
    host = canonical_host(host)
    if registrable_domain(name) == name and not is_registrable(name):
        return host == name
    return host_covers(name, host)


def captures_of_domain(db: sqlite_utils.Database, name: str) -> list[dict[str, Any]]:
    """The captures :func:`domain_covers` gives for ``name`` (a :func:`domain_name`), in URL order."""
    rows = db.query(
        "select warc_record_id, url, host from captures where domain = ? order by url",
        [registrable_domain(name)],
    )
    covered = (row for row in rows if domain_covers(name, row["host"] or ""))
    return [{"warc_record_id": row["warc_record_id"], "url": row["url"]} for row in covered]


def captures_of_urls(
    db: sqlite_utils.Database, urls: Iterable[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The captures of ``urls`` (matched by :func:`~crawler.storage.urls.url_key`, so every spelling of a
    URL the crawl stored counts), each once, and the URLs that matched none."""
    wanted = {url: url_key(url) for url in urls}
    found = by_url(
        db,
        "select warc_record_id, url from captures where url >= :low and url < :high order by url",
        wanted.values(),
    )
    captures: dict[str, dict[str, Any]] = {}
    for key in dict.fromkeys(wanted.values()):
        for row in found[key]:
            captures.setdefault(row["warc_record_id"], row)
    missing = [url for url, key in wanted.items() if not found[key]]
    return list(captures.values()), missing


@dataclass
class Revocation:
    """What one revoke request did: its ledger entry, the captures it revoked and those it found revoked."""

    ledger_id: int
    revoked: list[dict[str, Any]] = field(default_factory=list)
    already: list[dict[str, Any]] = field(default_factory=list)


def _already_revoked(db: sqlite_utils.Database, capture_id: str, purpose: str | None) -> bool:
    """True if a revocation already covers ``capture_id`` for ``purpose`` (None: every purpose it has)."""
    revoked = {
        row[0] for row in db.execute("select purpose from revocations where capture_id = ?", [capture_id])
    }
    if None in revoked:
        return True
    if purpose is not None:
        return purpose in revoked
    judged = {row[0] for row in db.execute("select purpose from usage where capture_id = ?", [capture_id])}
    return bool(judged) and judged <= revoked


def revoke(
    db: sqlite_utils.Database,
    captures: list[dict[str, Any]],
    *,
    reason: str,
    who: str,
    scope: str,
    purpose: str | None = None,
) -> Revocation:
    """Revoke captures (for ``purpose``, or every purpose), all or none, under one ledger entry.

    A capture a revocation already covers is left as it is (counted in
    ``already``, not revoked twice); the ledger entry counts the captures
    revoked now, and records the request even when that is none.
    """
    with db.atomic():
        fresh: list[dict[str, Any]] = []
        already: list[dict[str, Any]] = []
        for capture in captures:
            (already if _already_revoked(db, capture["warc_record_id"], purpose) else fresh).append(capture)
        ledger_id = record(
            db,
            action="revoke",
            who=who,
            scope=scope,
            reason=reason,
            count=len(fresh),
            details={"purpose": purpose, "already_revoked": len(already)},
        )
        at = now()
        db.table("revocations").insert_all(
            {
                "capture_id": capture["warc_record_id"],
                "url": capture["url"],
                "purpose": purpose,
                "source": "revoke",
                "reason": reason,
                "actor": who,
                "at": at,
                "ledger_id": ledger_id,
                "decision": None,
            }
            for capture in fresh
        )
    return Revocation(ledger_id, fresh, already)


def record_recheck(
    db: sqlite_utils.Database,
    changes: list[dict[str, Any]],
    *,
    who: str,
    crawl_id: str | None,
    not_rechecked: dict[str, list[str]] | None = None,
) -> int:
    """Revoke what a recheck found reserved since: one ledger entry, one revocation per (capture, purpose).

    Each change holds ``capture_id``, ``url``, ``purpose``, ``reason`` and ``decision`` (the
    :class:`~policies.decision.Decision` that now refuses it, stored as its JSON);
    ``not_rechecked`` (hosts and why) goes into the entry's details.
    """
    with db.atomic():
        ledger_id = record(
            db,
            action="recheck",
            who=who,
            scope="every captured host",
            reason="the sites' current evidence reserves these captures",
            count=len(changes),
            details={"recheck_crawl_id": crawl_id, "not_rechecked": not_rechecked or {}},
        )
        db.table("revocations").insert_all(
            {
                **change,
                "decision": dumps(change["decision"].as_dict()),
                "source": "recheck",
                "actor": who,
                "at": now(),
                "ledger_id": ledger_id,
            }
            for change in changes
        )
    return ledger_id
