"""Reading a crawl directory back: pages, one URL's story, and a crawl summary.

No Scrapy here. Every query goes through an index (captures.url, captures.host,
usage(purpose, usable), refusals.url, evidence.warc_record_id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.errors import DecisionRecordError, ProvenanceError
from crawler.storage.compact import ESCAPED_MARKS, VERBATIM, restore
from crawler.storage.lock import lock_directory
from crawler.storage.provenance import inspect_db, open_db, open_readonly
from crawler.storage.records import read_decision
from crawler.storage.urls import UrlError, origin_prefix, url_key
from policies.decision import Basis
from policies.urls import is_registrable, registrable_domain

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    import sqlite_utils

DB_NAME = "provenance.db"

# Stats keys of the crawl bounds (crawler.adapters.bounds): the URLs not fetched, per host.
BUDGET_STAT = "bounds/host_budget/"
QUEUE_STAT = "bounds/host_queue/"
DEPTH_STAT = "bounds/depth/"
LINKS_STAT = "bounds/page_links/"
SITEMAP_STAT = "bounds/sitemap/"
# The crawl bounds the summary reports, by name: the stats prefix each counts its hosts under.
BOUND_STATS = {
    "host_budget": BUDGET_STAT,
    "host_queue": QUEUE_STAT,
    "depth": DEPTH_STAT,
    "page_links": LINKS_STAT,
    "sitemap": SITEMAP_STAT,
}

# The fields `pages` gives for every capture, in output order.
PAGE_FIELDS = (
    "url",
    "warc_file",
    "warc_offset",
    "warc_length",
    "warc_record_id",
    "fetched_at",
    "status",
    "content_type",
    "payload_digest",
    "payload_sha256",
    "purpose",
    "usable",
    "revoked",
    "signal",
    "reason",
    "crawl_id",
    "charged",
    "basis",
)


def open_crawl(directory: Path | str, *, write: bool = False) -> sqlite_utils.Database:
    """Open the provenance database of a crawl directory, which must exist and be a permitcrawl one.

    By default for reading only: the file is opened read-only, never created,
    migrated or written. With ``write`` (revoke, recheck, export), the
    directory's lock is taken for the rest of the process first (another
    writer is refused, naming it), then the database is opened for writing;
    it is never created. Either way a file that is not a permitcrawl
    provenance database is refused before anything is written anywhere.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ProvenanceError(
            f"{directory}: not a directory; expected a crawl directory made by permitcrawl crawl"
        )
    path = directory / DB_NAME
    if not write:
        return open_readonly(path)
    inspect_db(path)  # a directory that is not a crawl's gets no lock file either
    lock_directory(directory)
    return open_db(path, create=False)


def crawl_purposes(db: sqlite_utils.Database) -> list[str]:
    """The purposes the crawls in ``db`` were made for."""
    return [row[0] for row in db.execute("select distinct purpose from crawls order by purpose")]


@dataclass(frozen=True, kw_only=True)
class PageFilter:
    """Which captures ``pages`` lists. ``usable``: True for usable only, False for not usable only, None all.

    Usable means: permitted for ``purpose``, a 2xx status, and not revoked since
    (for that purpose or for all).
    """

    purpose: str
    usable: bool | None = None
    host: str | None = None  # canonical (policies.store.canonical_host), as stored
    domain: str | None = None  # canonical: a registrable domain, a host below one, or a name with none
    since: str | None = None  # ISO time in UTC, as fetched_at is stored (+00:00); inclusive
    until: str | None = None  # ISO time in UTC, as fetched_at is stored (+00:00); exclusive
    content_type: str | None = None  # a prefix: "text/html"
    signal: str | None = None  # the deciding signal
    paid: bool = False  # only captures paid for (pay per crawl: a settled charge of their URL)


REVOKED = (
    "exists (select 1 from revocations r where r.capture_id = c.warc_record_id "
    "and (r.purpose is null or r.purpose = u.purpose))"
)
USABLE = f"(u.usable = 1 and c.status between 200 and 299 and not {REVOKED})"
# What a capture's URL was charged (pay per crawl's crawler-charged, as sent), by the charges index on url.
CHARGED = (
    "(select ch.charged from charges ch where ch.url = c.url and ch.state = 'charged' "
    "and ch.crawl_id = c.crawl_id order by ch.id desc limit 1)"
)


def _domain_condition(name: str, params: dict[str, Any]) -> list[str]:
    """SQL conditions for the captures under ``name``, as ``revoke --domain`` covers them.

    A registrable domain covers itself and its subdomains; a host below one,
    itself and its subdomains; a name with no registrable domain (a public
    suffix, an IP address) itself only. Every case goes through the domain index.
    """
    params["domain"] = registrable_domain(name)
    conditions = ["c.domain = :domain"]
    if name == params["domain"] and is_registrable(name):
        return conditions
    params["domain_host"] = name
    if name != params["domain"]:  # a host below a registrable domain: its subdomains too
        params["domain_suffix"] = "." + name
        conditions.append(
            "(c.host = :domain_host or substr(c.host, -length(:domain_suffix)) = :domain_suffix)"
        )
    else:
        conditions.append("c.host = :domain_host")
    return conditions


def pages(db: sqlite_utils.Database, selection: PageFilter) -> Iterator[dict[str, Any]]:
    """Yield one row per capture matching ``selection``, with its usability and basis for the purpose.

    Every filter goes through an index (usage by purpose, captures by host,
    domain, date and content type); the revocation check is a primary-key probe.
    """
    where = ["u.purpose = :purpose"]
    params: dict[str, Any] = {"purpose": selection.purpose}
    if selection.usable is True:
        where.append(USABLE)
    elif selection.usable is False:
        where.append(f"not {USABLE}")
    if selection.host:
        where.append("c.host = :host")
        params["host"] = selection.host
    if selection.domain:
        where += _domain_condition(selection.domain, params)
    if selection.since:
        where.append("c.fetched_at >= :since")
        params["since"] = selection.since
    if selection.until:
        where.append("c.fetched_at < :until")
        params["until"] = selection.until
    if selection.content_type:
        # A range rather than LIKE, so that the index on content_type is used.
        where.append("c.content_type >= :ct and c.content_type < :ct_end")
        params["ct"] = selection.content_type
        params["ct_end"] = selection.content_type + "\uffff"
    if selection.signal:
        where.append("u.signal = :signal")
        params["signal"] = selection.signal
    if selection.paid:
        where.append(f"{CHARGED} is not null")
    sql = f"""
        select c.url, c.warc_file, c.warc_offset, c.warc_length, c.warc_record_id, c.fetched_at,
               c.status, c.content_type, c.payload_digest, c.payload_sha256, u.purpose,
               {USABLE} as usable, {REVOKED} as revoked,
               u.signal, u.reason, c.crawl_id, {CHARGED} as charged, u.decision_id, c.decided_at
        from usage u join captures c on c.warc_record_id = u.capture_id
        where {" and ".join(where)}
        order by c.fetched_at, c.url
    """
    bases = _Bases(db)
    for row in db.query(sql, params):
        row["usable"] = bool(row["usable"])
        row["revoked"] = bool(row["revoked"])
        row["basis"] = bases(row.pop("decision_id"), row["url"], row.pop("decided_at"))
        yield row


class _Bases:
    """The bases of stored decisions, each decision read (and checked) once, then filled in per row.

    A decision template (crawler.storage.compact) holds placeholders for its
    row's URL, time and path; the bases are parsed from it once, and each row
    gets them with its own values put back, as restoring the text would.
    """

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        # decision id -> (bases with placeholders, whether to fill them in), or None: read each row whole
        self.cache: dict[int, tuple[list[dict[str, Any]], bool] | None] = {}

    def __call__(self, decision_id: int | None, url: str, decided_at: str | None) -> list[dict[str, Any]]:
        """The bases, as data, of decision ``decision_id`` for the row of ``url`` and ``decided_at``."""
        if decision_id is None:
            return []
        if decision_id not in self.cache:
            self.cache[decision_id] = self._read(decision_id, url, decided_at)
        cached = self.cache[decision_id]
        if cached is None:
            return [b.as_dict() for b in read_decision(self._restored(decision_id, url, decided_at)).bases]
        found, fill = cached
        if not fill:
            return [dict(b) for b in found]
        return [
            {k: restore(v, url=url, decided_at=decided_at) if isinstance(v, str) else v for k, v in b.items()}
            for b in found
        ]

    def _body(self, decision_id: int) -> str:
        row = self.db.execute("select body from decisions where id = ?", [decision_id]).fetchone()
        if row is None:
            raise DecisionRecordError(f"not a recorded decision (decision {decision_id} is missing)")
        return row[0]

    def _restored(self, decision_id: int, url: str, decided_at: str | None) -> str:
        return restore(self._body(decision_id), url=url, decided_at=decided_at)

    def _read(
        self, decision_id: int, url: str, decided_at: str | None
    ) -> tuple[list[dict[str, Any]], bool] | None:
        body = self._body(decision_id)
        read_decision(restore(body, url=url, decided_at=decided_at))  # damage is found here, as before
        if body.startswith(VERBATIM):
            return [b.as_dict() for b in read_decision(body[1:]).bases], False
        if ESCAPED_MARKS.search(body):
            return None  # a placeholder spelled as an escape in the text: restore each row's text whole
        data = json.loads(body, strict=False)  # placeholders are control characters, inside strings
        return [Basis.from_dict(b).as_dict() for b in data["bases"]], True


def _evidence_for(db: sqlite_utils.Database, record_id: str | None) -> dict[str, Any] | None:
    if not record_id:
        return None
    rows = list(
        db.query(
            "select url, final_url, fetched_at, status, sha256, warc_file, warc_offset, warc_length "
            "from evidence where warc_record_id = ? limit 1",
            [record_id],
        )
    )
    return rows[0] if rows else None


def _with_evidence(db: sqlite_utils.Database, stored: str) -> dict[str, Any]:
    """A stored decision, read back typed, as data, each basis with the evidence row its record id names."""
    decision = read_decision(stored).as_dict()
    for basis in decision["bases"]:
        evidence = _evidence_for(db, basis.get("record_id"))
        if evidence is not None:
            basis["evidence"] = evidence
    return decision


def by_url(db: sqlite_utils.Database, sql: str, keys: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """The rows ``sql`` selects for the URLs whose :func:`~crawler.storage.urls.url_key` is one of ``keys``.

    ``sql`` selects a ``url`` column and bounds an indexed URL column with
    ``>= :low and < :high``; it runs once per scheme and host, over every
    spelling stored there, and each row's URL is keyed as the wanted ones are.
    Returns ``{key: rows}`` with an entry for every key.
    """
    found: dict[str, list[dict[str, Any]]] = {}
    by_origin: dict[str, set[str]] = {}
    for key in keys:
        found.setdefault(key, [])
        by_origin.setdefault(origin_prefix(key), set()).add(key)
    for prefix, wanted in by_origin.items():
        # A range on the index: the stored URLs of this scheme and host, however spelled.
        for row in db.query(sql, {"low": prefix, "high": prefix + "\uffff"}):
            try:
                key = url_key(row["url"])
            except UrlError:
                continue  # a URL we would not have fetched: no key can match it
            if key in wanted:
                found[key].append(row)
    return found


def explain(db: sqlite_utils.Database, url: str) -> dict[str, Any]:
    """Return everything recorded about ``url``: captures, refusals, and the evidence each basis cites.

    ``url`` is matched by :func:`~crawler.storage.urls.url_key` (raises
    UrlError unless it is an absolute http(s) URL): every spelling of it the
    crawl stored counts, and each event says which it was (``url``).
    ``outcome`` is ``captured``, ``refused before fetching``, ``refused after
    fetching``, ``revoked`` (since, for a purpose or all), ``erased`` (purged
    from the WARC files) or ``never seen``; the latest event decides it.
    """
    key = url_key(url)

    def rows(sql: str) -> list[dict[str, Any]]:
        return by_url(db, sql, [key])[key]

    events: list[dict[str, Any]] = []
    for row in rows(
        "select c.url, c.warc_record_id, c.crawl_id, c.fetched_at, c.status, c.content_type, c.warc_file, "
        "c.warc_offset, c.warc_length, u.decision from captures c "
        "join usage u on u.capture_id = c.warc_record_id and u.purpose = c.purpose "
        "where c.url >= :low and c.url < :high"
    ):
        decision = _with_evidence(db, row.pop("decision"))
        events.append({"outcome": "captured", "at": row["fetched_at"], **row, "decision": decision})
    for row in rows(
        "select url, crawl_id, decided_at, stage, status, decision from refusals "
        "where url >= :low and url < :high"
    ):
        decision = _with_evidence(db, row.pop("decision"))
        outcome = "refused before fetching" if row["stage"] == "pre-fetch" else "refused after fetching"
        events.append({"outcome": outcome, "at": row["decided_at"], **row, "decision": decision})
    for row in rows(
        "select url, capture_id, payload_digest, payload_sha256, warc_file, purged_at, reason, ledger_id "
        "from tombstones where url >= :low and url < :high"
    ):
        events.append({"outcome": "erased", "at": row["purged_at"], "crawl_id": None, **row})
    for row in rows(
        "select url, capture_id, purpose, source, reason, actor, at, ledger_id from revocations "
        "where url >= :low and url < :high"
    ):
        events.append({"outcome": "revoked", "crawl_id": None, **row})
    events.sort(key=lambda e: e["at"])
    return {
        "url": key,
        "outcome": events[-1]["outcome"] if events else "never seen",
        "events": events,
    }


def summary(db: sqlite_utils.Database, crawl_id: str | None = None) -> dict[str, Any]:
    """Count captures and refusals, overall, by signal and by host (one crawl, or all)."""
    where, params = ("where crawl_id = ?", [crawl_id]) if crawl_id else ("", [])
    captured = db.execute(f"select count(*) from captures {where}", params).fetchone()[0]
    refused = {
        f"{stage} {signal}": count
        for stage, signal, count in db.execute(
            f"select stage, signal, count(*) from refusals {where} group by stage, signal order by 3 desc",
            params,
        )
    }
    hosts: dict[str, dict[str, int]] = {}
    for host, count in db.execute(f"select host, count(*) from captures {where} group by host", params):
        hosts.setdefault(host, {"captured": 0, "refused": 0})["captured"] = count
    for host, count in db.execute(f"select host, count(*) from refusals {where} group by host", params):
        hosts.setdefault(host, {"captured": 0, "refused": 0})["refused"] = count
    bounds: dict[str, dict[str, int]] = {name: {} for name in BOUND_STATS}
    for (stats,) in db.execute(f"select stats from crawls {where.replace('crawl_id', 'id')}", params):
        for name, hits in bound_hits(json.loads(stats or "{}")).items():
            for host, count in hits.items():
                bounds[name][host] = bounds[name].get(host, 0) + count
    return {
        "captured": captured,
        "refused": sum(refused.values()),
        "refused_by": refused,
        "hosts": dict(sorted(hosts.items())),
        "bounds": {name: dict(sorted(hits.items())) for name, hits in bounds.items()},
    }


def bound_hits(stats: dict[str, Any]) -> dict[str, dict[str, int]]:
    """The hosts that reached a crawl bound, from a crawl's stats.

    ``{"host_budget": {host: n}, "depth": {host: n}, ...}``, where ``n`` counts
    the URLs of that host not fetched (or links not followed) because of the bound.
    """
    found: dict[str, dict[str, int]] = {name: {} for name in BOUND_STATS}
    for key, value in stats.items():
        for name, prefix in BOUND_STATS.items():
            if key.startswith(prefix) and isinstance(value, int):
                found[name][key.removeprefix(prefix)] = value
    return found
