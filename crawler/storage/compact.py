"""Compact provenance rows: each distinct decision, manifest, verdict set and repeated name stored once.

No Scrapy here. A capture's usage decisions repeat from page to page of a
host but for the page's URL, the time they were made and the URL's path in
some basis reasons ("robots.txt allows /a for ..."). A decision is stored as a
*template*: its text with those three values replaced by control characters
(which never appear raw in JSON text: ``json.dumps`` escapes every control
character), content-addressed by the template's sha256. Restoring is an
exact ``str.replace`` with the row's own values, so the text read back is the
text written, byte for byte; a value whose JSON spelling differs from itself
is simply not replaced (that decision is then stored once for its page, still
exactly). The views ``captures``, ``usage`` and ``refusals`` restore the
old columns in SQL the same way (:func:`restore_sql`).

Evidence manifests are stored once each in ``manifests``; crawl ids, WARC file
names and worker names once each in ``names``; a capture's per-purpose
verdicts (purpose, usable, signal, reason template, decision) once per
distinct set in ``verdicts`` / ``verdict_usage``.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

from crawler.errors import ProvenanceError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    import sqlite_utils

# Placeholders: the URL's path, the decision time, the URL; a body stored as given starts with VERBATIM.
PATH, DECIDED, URL, VERBATIM = "\x1f", "\x1e", "\x1d", "\x1c"
_MARKS = (PATH, DECIDED, URL, VERBATIM)
# A placeholder character written as a JSON escape: parsed, it would read as a placeholder.
ESCAPED_MARKS = re.compile(r"\\u001[c-f]", re.IGNORECASE)

# Columns of the old captures / refusals rows held as ids into ``names``.
NAMED = {"crawl_id": "crawl_ref", "warc_file": "warc_file_ref", "worker": "worker_ref"}

CAPTURE_COLUMNS = (
    "warc_record_id",
    "crawl_ref",
    "url",
    "host",
    "domain",
    "fetched_at",
    "decided_at",
    "status",
    "content_type",
    "payload_length",
    "warc_file_ref",
    "warc_offset",
    "warc_length",
    "request_record_id",
    "metadata_record_id",
    "payload_digest",
    "block_digest",
    "payload_sha256",
    "purpose",
    "signal",
    "reason",
    "redirected_from",
    "depth",
    "referer",
    "manifest_id",
    "verdict_id",
    "shard",
    "epoch",
    "worker_ref",
)
REFUSAL_COLUMNS = (
    "crawl_ref",
    "url",
    "host",
    "domain",
    "decided_at",
    "stage",
    "status",
    "purpose",
    "signal",
    "reason",
    "decision_id",
    "response_headers",
    "manifest_id",
    "shard",
    "epoch",
    "worker_ref",
)
# Old columns the compact rows do not keep: read back through the views.
_DERIVED = {"reason", "evidence", "decision", "id", "verdict_id", "manifest_id", "decision_id"}

# Distinct entries remembered per dictionary table before the memory is emptied (the database
# answers the rest: every dictionary table is keyed by a unique index).
CACHE_LIMIT = 50_000


def url_path(url: str) -> str:
    """The path of ``url`` as the robots reasons print it: everything from the first ``/`` after the host."""
    rest = url.split("://", 1)[-1]
    slash = rest.find("/")
    return rest[slash:] if slash >= 0 else "/"


def _plain(value: str | None) -> bool:
    """Whether ``value`` is spelled the same raw and inside JSON text (so replacing it is exact in both)."""
    return bool(value) and json.dumps(value, ensure_ascii=False)[1:-1] == value


def template(text: str, *, url: str | None, decided_at: str | None) -> str:
    """``text`` with the URL, the decision time and the URL's path replaced by placeholders.

    ``restore(template(t, url=u, decided_at=d), url=u, decided_at=d) == t``
    for every text ``t``: each placeholder is a control character that the
    text cannot hold raw (else it is stored whole, marked VERBATIM).
    """
    if any(mark in text for mark in _MARKS):
        return VERBATIM + text
    # Whole values only: the URL and the time as JSON strings, the path as the reasons print it (a
    # word of its own), so that the URL of a host's root is not taken out of its robots.txt URL.
    if url and _plain(url):
        text = text.replace(f'"{url}"', f'"{URL}"')
    if decided_at and _plain(decided_at):
        text = text.replace(f'"{decided_at}"', f'"{DECIDED}"')
    path = url_path(url) if url else None
    if path and _plain(path):
        text = text.replace(f" {path} ", f" {PATH} ")
    return text


def restore(body: str, *, url: str | None, decided_at: str | None) -> str:
    """The text :func:`template` made ``body`` from, with the same ``url`` and ``decided_at``."""
    if body.startswith(VERBATIM):
        return body[1:]
    if PATH in body:
        body = body.replace(PATH, url_path(url or ""))
    if DECIDED in body:
        body = body.replace(DECIDED, decided_at or "")
    if URL in body:
        body = body.replace(URL, url or "")
    return body


def _path_sql(url: str) -> str:
    rest = f"(case when instr({url}, '://') > 0 then substr({url}, instr({url}, '://') + 3) else {url} end)"
    return f"(case when instr({rest}, '/') > 0 then substr({rest}, instr({rest}, '/')) else '/' end)"


def restore_sql(body: str, url: str, decided_at: str) -> str:
    """SQL giving what :func:`restore` gives, for the column expressions ``body``, ``url``, ``decided_at``."""
    restored = (
        f"replace(replace(replace({body}, char(31), {_path_sql(url)}), "
        f"char(30), coalesce({decided_at}, '')), char(29), coalesce({url}, ''))"
    )
    return f"(case when substr({body}, 1, 1) = char(28) then substr({body}, 2) else {restored} end)"


def sha256(text: str) -> str:
    """The content address of a stored body."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


_UUID = re.compile(r"<urn:uuid:([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})>")
_HEX = re.compile(r"[0-9a-f]{64}")


def pack_record_id(value: Any) -> Any:
    """A WARC record id ``<urn:uuid:...>`` (lower case) as its 16 bytes; any other value as it is."""
    if isinstance(value, str) and (match := _UUID.fullmatch(value)):
        return bytes.fromhex("".join(match.groups()))
    return value


def pack_sha256(value: Any) -> Any:
    """A sha256 in lower-case hex as its 32 bytes; any other value as it is."""
    if isinstance(value, str) and _HEX.fullmatch(value):
        return bytes.fromhex(value)
    return value


def record_id_sql(column: str) -> str:
    """SQL giving back the value :func:`pack_record_id` packed into ``column``."""
    h = f"lower(hex({column}))"
    parts = " || '-' || ".join(f"substr({h}, {start}, {size})" for start, size in PACKED_UUID)
    return f"(case when typeof({column}) = 'blob' then '<urn:uuid:' || {parts} || '>' else {column} end)"


PACKED_UUID = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))


def sha256_sql(column: str) -> str:
    """SQL giving back the value :func:`pack_sha256` packed into ``column``."""
    return f"(case when typeof({column}) = 'blob' then lower(hex({column})) else {column} end)"


def _decided_at(decision: str | None) -> str | None:
    """The ``decided_at`` a stored decision's JSON gives (None if it gives none)."""
    try:
        data = json.loads(decision) if decision else None
    except ValueError:
        return None
    value = data.get("decided_at") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


class Compactor:
    """Turns rows of the old shape into compact rows, adding the dictionary entries they need to ``db``.

    Dictionary entries are inserted at once, so call it inside the
    transaction that inserts the rows using them. Ids are remembered
    (at most :data:`CACHE_LIMIT` per table) so that the hot path rarely
    queries; after a transaction that failed, call :meth:`forget`.
    """

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self._ids: dict[str, dict[str, int]] = {}

    def forget(self) -> None:
        """Drop every remembered id (a rolled-back transaction took some of them back)."""
        self._ids.clear()

    def _intern(self, table: str, key: str, row: Mapping[str, Any]) -> int:
        """The id of the ``table`` entry keyed ``key``, inserting ``row`` if there is none."""
        ids = self._ids.setdefault(table, {})
        found = ids.get(key)
        if found is not None:
            return found
        column = "name" if table == "names" else "sha256"
        hit = self.db.execute(f"select id from {table} where {column} = ?", [key]).fetchone()
        if hit is None:
            columns = ", ".join(row)
            marks = ", ".join("?" * len(row))
            cursor = self.db.execute(f"insert into {table} ({columns}) values ({marks})", list(row.values()))
            found = int(cursor.lastrowid or 0)
        else:
            found = int(hit[0])
        if len(ids) >= CACHE_LIMIT:
            ids.clear()
        ids[key] = found
        return found

    def name(self, value: str | None) -> int | None:
        """The id of a repeated name (crawl id, WARC file, worker)."""
        return None if value is None else self._intern("names", value, {"name": value})

    def body(self, table: str, text: str | None) -> int | None:
        """The id of a decision template or manifest ``text`` in ``table``."""
        if text is None:
            return None
        key = sha256(text)
        return self._intern(table, key, {"sha256": key, "body": text})

    def decision(self, text: str | None, *, url: str | None, decided_at: str | None) -> int | None:
        """The id of a stored decision's template, for a row of ``url`` and ``decided_at``."""
        if text is None:
            return None
        return self.body("decisions", template(text, url=url, decided_at=decided_at))

    def _verdict(self, usage: Sequence[Mapping[str, Any]], url: str | None, decided_at: str | None) -> int:
        entries = [
            {
                "purpose": u["purpose"],
                "usable": u.get("usable"),
                "signal": u.get("signal"),
                "reason": None
                if u.get("reason") is None
                else template(u["reason"], url=url, decided_at=decided_at),
                "decision_id": self.decision(u.get("decision"), url=url, decided_at=decided_at),
            }
            for u in usage
        ]
        key = sha256(json.dumps(entries, ensure_ascii=False, sort_keys=True))
        ids = self._ids.setdefault("verdicts", {})
        if key in ids:
            return ids[key]
        hit = self.db.execute("select id from verdicts where sha256 = ?", [key]).fetchone()
        if hit is not None:
            found = int(hit[0])
        else:
            found = int(self.db.execute("insert into verdicts (sha256) values (?)", [key]).lastrowid or 0)
            self.db.conn.executemany(
                "insert into verdict_usage (verdict_id, purpose, usable, signal, reason, decision_id) "
                "values (?, ?, ?, ?, ?, ?)",
                [
                    (found, e["purpose"], e["usable"], e["signal"], e["reason"], e["decision_id"])
                    for e in entries
                ],
            )
        if len(ids) >= CACHE_LIMIT:
            ids.clear()
        ids[key] = found
        return found

    def _common(self, row: Mapping[str, Any]) -> dict[str, Any]:
        out = {key: value for key, value in row.items() if key not in NAMED and key not in _DERIVED}
        for column, ref in NAMED.items():
            out[ref] = self.name(row.get(column))
        out["manifest_id"] = self.body("manifests", row.get("evidence"))
        for column in ("request_record_id", "metadata_record_id"):
            if column in out:
                out[column] = pack_record_id(out[column])
        if "payload_sha256" in out:
            out["payload_sha256"] = pack_sha256(out["payload_sha256"])
        return out

    def capture(self, row: Mapping[str, Any], usage: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The ``capture_rows`` row of an old-shape captures ``row`` and its usage rows.

        ``decided_at`` (when the row has none) is the applied purpose's
        decision time; ``reason`` is kept only where it is not the applied
        purpose's usage reason (the ``captures`` view gives that one from there).
        """
        record_id = row.get("warc_record_id")
        if any(u.get("capture_id", record_id) != record_id for u in usage):
            raise ProvenanceError(f"usage rows of another capture queued with {record_id}")
        if len({u["purpose"] for u in usage}) != len(usage):
            raise ProvenanceError(f"two usage rows for one purpose of capture {record_id}")
        applied = next((u for u in usage if u["purpose"] == row.get("purpose")), None)
        decided_at = row.get("decided_at")
        if decided_at is None:
            decided_at = _decided_at(applied.get("decision")) if applied else None
        out = dict.fromkeys(CAPTURE_COLUMNS)
        out |= self._common(row)
        out["decided_at"] = decided_at
        out["verdict_id"] = self._verdict(usage, row.get("url"), decided_at) if usage else None
        if row.get("reason") is not None and row["reason"] != (applied or {}).get("reason"):
            out["reason"] = row["reason"]  # said otherwise than its usage row: kept as it was
        return out

    def refusal(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The ``refusal_rows`` row of an old-shape refusals ``row`` (its ``id`` kept when it has one)."""
        out = dict.fromkeys(REFUSAL_COLUMNS)
        if row.get("id") is not None:
            out["id"] = row["id"]
        out |= self._common(row)
        out["reason"] = row.get("reason")
        out["decision_id"] = self.decision(
            row.get("decision"), url=row.get("url"), decided_at=row.get("decided_at")
        )
        return out

    def captures(
        self, rows: Iterable[Mapping[str, Any]], usage: Iterable[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Compact rows of old-shape ``rows``, each with the ``usage`` rows naming it (capture_id)."""
        by_capture: dict[Any, list[Mapping[str, Any]]] = {}
        for u in usage:
            by_capture.setdefault(u["capture_id"], []).append(u)
        out = [self.capture(row, by_capture.pop(row.get("warc_record_id"), [])) for row in rows]
        if by_capture:
            raise ProvenanceError(f"usage rows without their capture: {', '.join(map(str, by_capture))}")
        return out


def capture_view() -> str:
    """The ``captures`` view: the old columns, in their old order, from ``capture_rows``."""
    reason = restore_sql("v.reason", "c.url", "c.decided_at")
    return f"""
        create view captures as select
            c.warc_record_id,
            (select name from names where id = c.crawl_ref) as crawl_id,
            c.url, c.host, c.fetched_at, c.status, c.content_type, c.payload_length,
            (select name from names where id = c.warc_file_ref) as warc_file,
            c.warc_offset, c.warc_length,
            {record_id_sql("c.request_record_id")} as request_record_id,
            {record_id_sql("c.metadata_record_id")} as metadata_record_id,
            c.payload_digest, c.block_digest, {sha256_sql("c.payload_sha256")} as payload_sha256,
            c.purpose, c.signal,
            coalesce(c.reason, (select {reason} from verdict_usage v
             where v.verdict_id = c.verdict_id and v.purpose = c.purpose)) as reason,
            c.redirected_from, c.depth, c.referer, c.domain,
            (select body from manifests where id = c.manifest_id) as evidence,
            c.shard, c.epoch,
            (select name from names where id = c.worker_ref) as worker,
            c.decided_at, c.verdict_id, c.manifest_id
        from capture_rows c
    """


def usage_view() -> str:
    """The ``usage`` view: one row per capture and purpose judged, each with its whole decision."""
    reason = restore_sql("v.reason", "c.url", "c.decided_at")
    decision = restore_sql("d.body", "c.url", "c.decided_at")
    return f"""
        create view usage as select
            c.warc_record_id as capture_id, v.purpose, v.usable, v.signal,
            {reason} as reason,
            (select {decision} from decisions d where d.id = v.decision_id) as decision,
            v.decision_id
        from capture_rows c join verdict_usage v on v.verdict_id = c.verdict_id
    """


def refusal_view() -> str:
    """The ``refusals`` view: the old columns, in their old order, from ``refusal_rows``."""
    decision = restore_sql("d.body", "r.url", "r.decided_at")
    return f"""
        create view refusals as select
            r.id,
            (select name from names where id = r.crawl_ref) as crawl_id,
            r.url, r.host, r.decided_at, r.stage, r.status, r.purpose, r.signal, r.reason,
            (select {decision} from decisions d where d.id = r.decision_id) as decision,
            r.response_headers,
            (select body from manifests where id = r.manifest_id) as evidence,
            r.domain, r.shard, r.epoch,
            (select name from names where id = r.worker_ref) as worker,
            r.decision_id, r.manifest_id
        from refusal_rows r
    """


# Columns of the captures and refusals views an UPDATE may change (their triggers write them through);
# the others are read from the shared tables: update those (decisions, manifests, verdict_usage).
_CAPTURE_PLAIN = tuple(c for c in CAPTURE_COLUMNS if not c.endswith(("_ref", "manifest_id", "verdict_id")))
_REFUSAL_PLAIN = tuple(c for c in REFUSAL_COLUMNS if not c.endswith(("_ref", "_id")))
# A capture's reason is stored only where an update makes it say otherwise than its usage row.
KEEP_REASON = "reason = case when new.reason is old.reason then reason else new.reason end"
_REFUSE = "{view}.{column} is read from the tables it is stored once in (crawler.storage.compact)"


def _triggers(
    view: str, key: str, plain: tuple[str, ...], named: tuple[str, ...], derived: tuple[str, ...]
) -> list[str]:
    table = f"{view[:-1]}_rows"
    sets = [f"{c} = new.{c}" if c != "reason" or view != "captures" else KEEP_REASON for c in plain]
    sets += [f"{NAMED[c]} = (select id from names where name = new.{c})" for c in named]
    steps = [
        f"select raise(abort, '{_REFUSE.format(view=view, column=c)}') where new.{c} is not old.{c}"
        for c in derived
    ]
    steps += [f"insert or ignore into names (name) select new.{c} where new.{c} is not null" for c in named]
    steps.append(f"update {table} set {', '.join(sets)} where {key} = old.{key}")
    return [
        f"create trigger {view}_update instead of update on {view} begin {'; '.join(steps)}; end",
        f"create trigger {view}_delete instead of delete on {view} begin "
        f"delete from {table} where {key} = old.{key}; end",
    ]


def view_triggers() -> list[str]:
    """Triggers that let ad-hoc SQL update and delete rows through the ``captures`` and ``refusals`` views.

    An update writes the stored columns through (names re-mapped); one that
    changes a column read from a shared table (a decision, a manifest, a
    reason) is refused, naming it: change the shared table instead. A
    delete removes the row (a capture's usage goes with it; the decisions
    it shared stay).
    """
    return [
        *_triggers("captures", "warc_record_id", _CAPTURE_PLAIN, tuple(NAMED), ("evidence",)),
        *_triggers("refusals", "id", _REFUSAL_PLAIN, ("crawl_id", "worker"), ("decision", "evidence")),
    ]
