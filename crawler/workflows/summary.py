"""The web-crawl part of the EU training-content summary, from provenance databases alone.

The Commission's "Template for the Public Summary of Training Content" (Annex
to C(2025) 5235 final, 24 July 2025; Art. 53(1)(d) AI Act) has a section 2.3,
"Data crawled and scraped from online sources", items (i)-(viii). This module
fills what a crawl's own record can answer: who crawled (i), for what (ii),
how reservations were honoured (iii), when (iv), what was collected (v, vi)
and the most relevant domains by size of content collected (vii). Everything
else in the template (the provider, the model, the other data sources, the
comments) is the provider's to write: :data:`TEMPLATE` lists those fields as
blanks, in the template's order and numbering.

*Collected* means usable for the capture's crawl's purpose (permitted, a 2xx
status, not revoked since): what ``pages --usable`` lists. Sizes are payload
bytes (``captures.payload_length``: the HTTP body as received, before any
content-coding is undone). No Scrapy here; nothing is written.
"""

from __future__ import annotations

import html
import re
import sqlite3
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crawler.errors import ProvenanceError
from crawler.storage.queries import REVOKED, USABLE
from crawler.workflows.report import PURPOSES, REGIMES, SIGNAL_GLOSSARY, UNKNOWN_SIGNAL, regimes
from policies.decision import SIGNAL_IDS

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import sqlite_utils

FORMAT = "permitcrawl-training-summary/1"
TEMPLATE_ID = (
    "Template for the Public Summary of Training Content for general-purpose AI models, "
    "Annex to C(2025) 5235 final (European Commission, 24 July 2025), Art. 53(1)(d) AI Act"
)
TO_FILL = "[provider to fill]"

# The template's share of domains: 10 % of all domain names; for SMEs 5 % or 1,000, whichever is lower.
SHARE_PERCENT = 10
SME_SHARE_PERCENT = 5
SME_CAP = 1000

# The template's fields the database cannot know, in its order: (number, title). "2.3" stands for
# the crawl part this module fills; the rest is left blank for the provider.
TEMPLATE: tuple[tuple[str, str], ...] = (
    ("header", "Version of the Summary (with links to previous versions) and date of last update"),
    ("1.1.(i)", "Provider name and contact details"),
    ("1.1.(ii)", "Authorised representative name and contact details (providers outside the Union)"),
    ("1.2.(i)", "Versioned model name(s)"),
    ("1.2.(ii)", "Model dependencies"),
    ("1.2.(iii)", "Date of placement of the model on the Union market"),
    ("1.3", "Modalities, overall training data size and other characteristics"),
    ("2.1", "Publicly available datasets"),
    ("2.2", "Private non-publicly available datasets obtained from third parties"),
    ("2.3", "Data crawled and scraped from online sources"),
    ("2.4", "User data"),
    ("2.5", "Synthetic data"),
    ("2.6", "Other sources of data"),
    ("3.1", "Respect of reservation of rights from text and data mining exception or limitation"),
    ("3.2", "Removal of illegal content"),
    ("3.3", "Other information (optional)"),
)
SECTIONS = {"1": "General information", "2": "List of data sources", "3": "Data processing aspects"}
# What the database says towards 3.1 (the rest of 3.1 is the provider's).
SECTION_3_1_NOTE = (
    "From the crawl record: the reservations honoured while crawling, and the refusals each caused, "
    "are in 2.3.(iii)."
)

# What the crawler does with reservations (2.3.(iii)): true of every crawl; the counts are each crawl's.
BEHAVIOUR = (
    "Before any page of a host, the crawler read the host's robots.txt (RFC 9309) and its other "
    "site-wide reservations (tdmrep.json, ai.txt and, where named, RSL licences and terms of service), "
    "each archived as evidence; it read each page's own headers and meta tags as well. A page the site "
    "reserved for the crawl's purpose was not requested (refused before fetching); one reserved by its "
    "own headers or meta tags was not archived (refused after fetching). Each refusal is recorded with "
    "the signal that decided it; the reservations honoured, and the refusals each caused, are below."
)
# Signal ids that are no reservation of a site's: an unreadable page, and the crawl's own default.
NOT_RESERVATIONS = ("incomplete", "default")
MODALITY_TEXT = ("application/xhtml+xml", "application/xml", "application/json", "application/pdf")


# -- data ------------------------------------------------------------------------


def listed_count(domains: int, *, sme: bool) -> int:
    """How many of ``domains`` ranked domain names the template's share lists (rounded up).

    The share is 10 % of all domain names; with ``sme``, 5 % or 1,000,
    whichever is lower. A share that is not a whole number is rounded up, so
    that at least the share is listed (and at least one domain, if any).
    """
    percent = SME_SHARE_PERCENT if sme else SHARE_PERCENT
    count = -(-domains * percent // 100)  # ceil in integers: no float rounding at any size
    return min(count, SME_CAP) if sme else count


def mime_type(content_type: str | None) -> str:
    """The MIME type of a Content-Type value: lower case, without parameters; ``(none)`` when absent."""
    found = (content_type or "").split(";", 1)[0].strip().lower()
    return found or "(none)"


def modality(mime: str) -> str:
    """The template's modality (text, image, audio, video, other) of a MIME type."""
    major = mime.split("/", 1)[0]
    if major in ("image", "audio", "video"):
        return major
    if major == "text" or mime in MODALITY_TEXT or mime.endswith(("+xml", "+json")):
        return "text"
    return "other"


def signal_meaning(signal: str) -> str:
    """A sentence saying what ``signal`` is, for a reader of the summary."""
    return SIGNAL_GLOSSARY.get(signal, UNKNOWN_SIGNAL)


# Each capture with its usage for its own crawl's purpose; USABLE and REVOKED read ``c`` and ``u``.
COLLECTED = "from captures c join usage u on u.capture_id = c.warc_record_id and u.purpose = c.purpose"

Crawl = tuple[str, "sqlite_utils.Database"]  # a directory, as given, and its database


@contextmanager
def _reading(directory: str) -> Iterator[None]:
    # Damage deep in a file shows only when a query reaches it: say which of the directories it was.
    try:
        yield
    except sqlite3.DatabaseError as exc:
        raise ProvenanceError(
            f"{directory}: its provenance database could not be read ({exc}); the database may be damaged"
        ) from exc


def _sums(crawls: Sequence[Crawl], sql: str, numbers: int = 1) -> dict[tuple[Any, ...], list[int]]:
    """``sql``'s rows summed over every database, by key: ``{key columns: [count columns]}``.

    ``sql`` selects key columns, then ``numbers`` count columns (a NULL sum is 0).
    """
    found: dict[tuple[Any, ...], list[int]] = {}
    for directory, db in crawls:
        with _reading(directory):
            rows = db.execute(sql).fetchall()
        for row in rows:
            key, counts = tuple(row[:-numbers]), row[-numbers:]
            total = found.setdefault(key, [0] * numbers)
            for i, count in enumerate(counts):
                total[i] += int(count or 0)
    return found


def _one(crawls: Sequence[Crawl], sql: str) -> int:
    total = 0
    for directory, db in crawls:
        with _reading(directory):
            total += int(db.execute(sql).fetchone()[0] or 0)
    return total


def _crawlers(crawls: Sequence[Crawl]) -> list[dict[str, Any]]:
    found = _sums(crawls, "select user_agent, robots_token, count(*) from crawls group by 1, 2")
    return [
        {"user_agent": agent, "robots_token": token, "crawls": counts[0]}
        for (agent, token), counts in sorted(found.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1])))
    ]


def _purposes(crawls: Sequence[Crawl]) -> list[dict[str, Any]]:
    collected = _sums(
        crawls,
        f"select c.purpose, count(*), sum(c.payload_length) {COLLECTED} where {USABLE} group by 1",
        2,
    )
    runs: dict[tuple[str, str], int] = {}
    for directory, db in crawls:
        with _reading(directory):
            found = regimes(db)
        for row in found:
            key = (str(row["purpose"]), str(row["default_policy"] or "allow"))
            runs[key] = runs.get(key, 0) + int(row["crawls"])
    rows = []
    for (purpose, policy), count in sorted(runs.items(), key=lambda kv: (-kv[1], kv[0])):
        pages, size = collected.get((purpose,), [0, 0])
        rows.append(
            {
                "purpose": purpose,
                "meaning": PURPOSES.get(purpose, purpose),
                "default_policy": policy,
                "default_policy_meaning": REGIMES.get(policy, policy),
                "crawls": count,
                "collected_pages": pages,
                "collected_bytes": size,
            }
        )
    return rows


def _month(value: str | None) -> str | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC).strftime("%m/%Y")


PERIOD_SQL = (
    "select k.id as crawl_id, coalesce(k.kind, 'crawl') as kind, k.purpose, k.started_at, k.finished_at, "
    "(select min(fetched_at) from captures c where c.crawl_id = k.id) as first_capture, "
    "(select max(fetched_at) from captures c where c.crawl_id = k.id) as last_capture, "
    "(select min(decided_at) from refusals r where r.crawl_id = k.id) as first_refusal, "
    "(select max(decided_at) from refusals r where r.crawl_id = k.id) as last_refusal "
    "from crawls k"
)


def _period(crawls: Sequence[Crawl]) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    for directory, db in crawls:
        with _reading(directory):
            rows = list(db.query(PERIOD_SQL))
        runs += [{"directory": directory, **row} for row in rows]
    runs.sort(key=lambda r: (str(r["started_at"] or ""), str(r["crawl_id"])))
    first = [r[k] for r in runs for k in ("first_capture", "first_refusal") if r[k]]
    last = [r[k] for r in runs for k in ("last_capture", "last_refusal") if r[k]]
    start, end = (min(first) if first else None), (max(last) if last else None)
    return {"first": start, "last": end, "from": _month(start), "to": _month(end), "crawls": runs}


def _behaviour(crawls: Sequence[Crawl]) -> dict[str, Any]:
    found = _sums(crawls, "select signal, purpose, stage, count(*) from refusals group by 1, 2, 3")
    rows: list[dict[str, Any]] = [
        {"signal": str(signal), "purpose": str(purpose), "stage": str(stage), "refusals": counts[0]}
        for (signal, purpose, stage), counts in sorted(found.items(), key=lambda kv: tuple(map(str, kv[0])))
    ]
    by_signal: dict[str, int] = {}
    by_purpose: dict[str, int] = {}
    for row in rows:
        by_signal[row["signal"]] = by_signal.get(row["signal"], 0) + row["refusals"]
        by_purpose[row["purpose"]] = by_purpose.get(row["purpose"], 0) + row["refusals"]
    evidence = _sums(crawls, "select kind, outcome, count(*) from evidence group by 1, 2")
    present = set(by_signal)
    # Every reservation the crawler honours, then any other signal the refusals name (a newer one).
    honoured = [s for s in SIGNAL_IDS if s not in NOT_RESERVATIONS]
    shown = [*honoured, *sorted(present - set(honoured))]
    return {
        "description": BEHAVIOUR,
        "refused": sum(by_signal.values()),
        "refusals_by_signal": dict(sorted(by_signal.items(), key=lambda kv: (-kv[1], kv[0]))),
        "refusals_by_purpose": dict(sorted(by_purpose.items())),
        "refusals": rows,
        "signals": [
            {"signal": s, "meaning": signal_meaning(s), "refusals": by_signal.get(s, 0)} for s in shown
        ],
        "evidence": [
            {"kind": str(kind), "outcome": outcome, "documents": counts[0]}
            for (kind, outcome), counts in sorted(evidence.items(), key=lambda kv: tuple(map(str, kv[0])))
        ],
    }


def _content(crawls: Sequence[Crawl]) -> dict[str, Any]:
    standing = _sums(
        crawls,
        f"select case when {REVOKED} then 'revoked' when {USABLE} then 'collected' else 'not_usable' end, "
        f"count(*), sum(c.payload_length) {COLLECTED} group by 1",
        2,
    )
    types: dict[str, list[int]] = {}
    for (content_type,), (pages, size) in _sums(
        crawls,
        f"select c.content_type, count(*), sum(c.payload_length) {COLLECTED} where {USABLE} group by 1",
        2,
    ).items():
        counts = types.setdefault(mime_type(content_type), [0, 0])
        counts[0] += pages
        counts[1] += size
    by_type = sorted(types.items(), key=lambda kv: (-kv[1][1], kv[0]))
    hosts = _sums(crawls, f"select c.host, count(*) {COLLECTED} where {USABLE} group by 1")

    def part(name: str, index: int) -> int:
        return standing.get((name,), [0, 0])[index]

    return {
        "captured": _one(crawls, "select count(*) from captures"),
        "collected_pages": part("collected", 0),
        "collected_bytes": part("collected", 1),
        "revoked_pages": part("revoked", 0),
        "revoked_bytes": part("revoked", 1),
        "not_usable_pages": part("not_usable", 0),
        "erased_pages": _one(crawls, "select count(*) from tombstones"),
        "collected_hosts": len(hosts),
        "types": [
            {"mime_type": mime, "modality": modality(mime), "pages": pages, "bytes": size}
            for mime, (pages, size) in by_type
        ],
    }


def _modalities(types: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The collected content by the template's modality, from its MIME types (largest first)."""
    found: dict[str, list[int]] = {}
    for entry in types:
        counts = found.setdefault(entry["modality"], [0, 0])
        counts[0] += entry["pages"]
        counts[1] += entry["bytes"]
    return [
        {"modality": name, "pages": pages, "bytes": size}
        for name, (pages, size) in sorted(found.items(), key=lambda kv: (-kv[1][1], kv[0]))
    ]


def _domains(crawls: Sequence[Crawl], *, sme: bool) -> dict[str, Any]:
    per_host = _sums(
        crawls,
        "select coalesce(c.domain, c.host), c.host, count(*), sum(c.payload_length) "
        f"{COLLECTED} where {USABLE} group by 1, 2",
        2,
    )
    sizes: dict[str, dict[str, Any]] = {}
    for (domain, host), (pages, size) in per_host.items():
        entry = sizes.setdefault(str(domain), {"domain": str(domain), "pages": 0, "bytes": 0, "hosts": set()})
        entry["pages"] += pages
        entry["bytes"] += size
        entry["hosts"].add(host)
    ranked = [{**entry, "hosts": len(entry["hosts"])} for entry in sizes.values()]
    # Largest first; equal sizes by more pages, then by name, so that the list is the same every time.
    ranked.sort(key=lambda d: (-d["bytes"], -d["pages"], d["domain"]))
    listed = listed_count(len(ranked), sme=sme)
    top = [{"rank": n, **d} for n, d in enumerate(ranked[:listed], start=1)]
    tied = 0 < listed < len(ranked) and ranked[listed]["bytes"] == ranked[listed - 1]["bytes"]
    rule = (
        f"top {SME_SHARE_PERCENT}% or {SME_CAP:,} domain names, whichever is lower (SME)"
        if sme
        else f"top {SHARE_PERCENT}% of all domain names"
    )
    return {
        "rule": rule + ", ranked by payload bytes collected; a share that is not whole is rounded up",
        "sme": sme,
        "domains": len(ranked),
        "listed": listed,
        "listed_bytes": sum(d["bytes"] for d in top),
        "tie_at_cutoff": tied,
        "top": top,
    }


def build(crawls: Sequence[Crawl], *, sme: bool = False) -> dict[str, Any]:
    """The summary of ``crawls`` (each a directory, as given, and its database), as JSON-ready data.

    Several crawls add up, each directory's rows as ``pages DIR...`` lists
    them: a URL captured in two of them counts twice (it was collected twice).
    Keys are stable (README, "Training-content summary"); each part of 2.3 is
    under the template's item number. The databases are only read.
    """
    crawlers, content = _crawlers(crawls), _content(crawls)
    return {
        "format": FORMAT,
        "template": TEMPLATE_ID,
        "directories": [directory for directory, _ in crawls],
        "to_fill": [{"field": field, "title": title} for field, title in TEMPLATE if field != "2.3"],
        "crawlers_used": bool(crawlers),
        "2.3.(i)": crawlers,
        "2.3.(ii)": _purposes(crawls),
        "2.3.(iii)": _behaviour(crawls),
        "2.3.(iv)": _period(crawls),
        "2.3.(v)": content,
        "2.3.(vi)": _modalities(content["types"]),
        "2.3.(vii)": _domains(crawls, sme=sme),
    }


# -- text ------------------------------------------------------------------------


def _size(count: int) -> str:
    """Bytes for people: exact, and in kB/MB/GB (decimal) past 1,000."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if count >= scale:
            return f"{count:,} bytes ({count / scale:.1f} {unit})"
    return f"{count:,} bytes"


def _when(value: str | None) -> str:
    """A stored time for people: to the second, in UTC (JSON keeps the stored ISO 8601 text)."""
    if not value:
        return ""
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _cell(value: Any) -> str:
    """A Markdown table cell: pipes escaped, line breaks flattened."""
    return re.sub(r"\s+", " ", str(value if value is not None else "")).replace("|", "\\|")


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> Iterator[str]:
    yield "| " + " | ".join(headers) + " |"
    yield "|" + "|".join(" --- " for _ in headers) + "|"
    for row in rows:
        yield "| " + " | ".join(_cell(v) for v in row) + " |"
    yield ""


def _code(value: str | None) -> str:
    """A recorded name as code, or a note that the crawl did not record one (an older permitcrawl)."""
    return f"`{value}`" if value else "(not recorded)"


def _blank(field: str, title: str) -> str:
    return f"- **{field}** {title}: *{TO_FILL}*"


def markdown(summary: dict[str, Any]) -> str:
    """The summary as Markdown, in the template's order; the provider's blanks marked."""
    return "\n".join(_markdown_lines(summary)) + "\n"


def _markdown_lines(summary: dict[str, Any]) -> Iterator[str]:
    yield "# Public summary of training content: data crawled and scraped from online sources"
    yield ""
    yield (
        f"Following the {summary['template']}. Filled from the provenance databases of "
        f"{', '.join(f'`{d}`' for d in summary['directories'])} by `permitcrawl summary`; "
        f"fields marked *{TO_FILL}* are not in any crawl record."
    )
    yield ""
    blanks = {b["field"]: b["title"] for b in summary["to_fill"]}
    yield _blank("Header", blanks["header"])
    section = ""
    for field, title in TEMPLATE[1:]:
        if field[0] != section:
            section = field[0]
            yield ""
            yield f"## {section}. {SECTIONS[section]}"
            yield ""
        if field == "2.3":
            yield ""
            yield from _crawl_section(summary)
            continue
        yield _blank(field, title)
        if field == "3.1":
            yield f"  {SECTION_3_1_NOTE}"


def _crawl_section(s: dict[str, Any]) -> Iterator[str]:
    yield "### 2.3 Data crawled and scraped from online sources"
    yield ""
    yield f"Crawlers used for data collection: **{'yes' if s['crawlers_used'] else 'no'}**."
    yield ""
    yield "#### 2.3.(i) Crawler name(s)/identifier(s)"
    yield ""
    yield from _md_table(
        ("User-Agent", "robots.txt token", "crawls"),
        [(_code(c["user_agent"]), _code(c["robots_token"]), c["crawls"]) for c in s["2.3.(i)"]],
    )
    yield "#### 2.3.(ii) Purposes of the crawler(s)"
    yield ""
    yield from _md_table(
        ("purpose", "meaning", "default policy", "crawls", "pages collected", "bytes collected"),
        [
            (
                f"`{p['purpose']}`",
                p["meaning"],
                f"`{p['default_policy']}`: {p['default_policy_meaning']}",
                p["crawls"],
                p["collected_pages"],
                p["collected_bytes"],
            )
            for p in s["2.3.(ii)"]
        ],
    )
    yield from _behaviour_md(s["2.3.(iii)"])
    yield from _period_md(s["2.3.(iv)"])
    yield from _content_md(s["2.3.(v)"])
    yield "#### 2.3.(vi) Type of modality covered"
    yield ""
    yield from _md_table(
        ("modality", "pages", "bytes"), [(m["modality"], m["pages"], m["bytes"]) for m in s["2.3.(vi)"]]
    )
    yield from _domains_md(s["2.3.(vii)"])
    yield "#### 2.3.(viii) Additional comments (optional)"
    yield ""
    yield f"*{TO_FILL}*"
    yield ""


def _behaviour_md(b: dict[str, Any]) -> Iterator[str]:
    yield "#### 2.3.(iii) General description of crawler behaviour"
    yield ""
    yield b["description"]
    yield ""
    yield f"Refusals in all: **{b['refused']}**. Per signal and purpose:"
    yield ""
    yield from _md_table(
        ("signal", "purpose", "stage", "refusals"),
        [(f"`{r['signal']}`", r["purpose"], r["stage"], r["refusals"]) for r in b["refusals"]],
    )
    yield "The reservations the crawler honours, and the refusals each caused:"
    yield ""
    yield from _md_table(
        ("signal", "what it is", "refusals"),
        [(f"`{x['signal']}`", x["meaning"], x["refusals"]) for x in b["signals"]],
    )
    yield "Evidence documents read (each archived):"
    yield ""
    yield from _md_table(
        ("document", "outcome", "documents"),
        [(e["kind"], e["outcome"] or "", e["documents"]) for e in b["evidence"]],
    )


def _period_md(p: dict[str, Any]) -> Iterator[str]:
    yield "#### 2.3.(iv) Period of data collection"
    yield ""
    if p["first"] is None:
        yield "Nothing was captured or refused."
    else:
        yield (
            f"**{p['from']} to {p['to']}** (first capture or decision {_when(p['first'])}, "
            f"last {_when(p['last'])})."
        )
    yield ""
    yield from _md_table(
        ("crawl", "kind", "purpose", "started", "finished", "first capture or refusal", "last"),
        [
            (
                _code(c["crawl_id"]),
                c["kind"],
                c["purpose"],
                _when(c["started_at"]),
                _when(c["finished_at"]),
                _when(min(filter(None, (c["first_capture"], c["first_refusal"])), default=None)),
                _when(max(filter(None, (c["last_capture"], c["last_refusal"])), default=None)),
            )
            for c in p["crawls"]
        ],
    )


def _content_md(c: dict[str, Any]) -> Iterator[str]:
    yield "#### 2.3.(v) Type of content and online sources crawled"
    yield ""
    yield (
        f"Collected: **{c['collected_pages']} pages, {_size(c['collected_bytes'])}** of payload, "
        f"from {c['collected_hosts']} hosts (usable for the crawl's purpose: permitted, a 2xx status, "
        f"not revoked). Of {c['captured']} captures, {c['revoked_pages']} "
        f"({_size(c['revoked_bytes'])}) were revoked since and {c['not_usable_pages']} are not usable "
        f"(an error status, or not permitted for the purpose); {c['erased_pages']} were erased from the "
        "archive. None of these count below."
    )
    yield ""
    yield from _md_table(
        ("MIME type", "modality", "pages", "bytes"),
        [(f"`{t['mime_type']}`", t["modality"], t["pages"], t["bytes"]) for t in c["types"]],
    )


def _domains_md(d: dict[str, Any]) -> Iterator[str]:
    yield "#### 2.3.(vii) Summary of the most relevant domain names crawled"
    yield ""
    yield (
        f"The {d['rule']}: **{d['listed']} of {d['domains']}** registrable domains, "
        f"{_size(d['listed_bytes'])} of payload."
        + (
            " The next domain has the same size as the last listed (ties broken by pages, then name)."
            if d["tie_at_cutoff"]
            else ""
        )
    )
    yield ""
    yield from _md_table(
        ("rank", "domain", "hosts", "pages", "bytes"),
        [(t["rank"], t["domain"], t["hosts"], t["pages"], t["bytes"]) for t in d["top"]],
    )


# -- HTML ------------------------------------------------------------------------

STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:2em auto;max-width:980px;color:#222;padding:0 1em}
h1{font-size:1.45em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ccc}
h3{font-size:1.05em;margin-top:1.5em}h4{font-size:1em;margin:1.4em 0 .4em}
table{border-collapse:collapse;margin:.4em 0 1em}td,th{border-bottom:1px solid #e4e4e4;padding:3px 9px;
text-align:left;vertical-align:top}th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.fill{color:#8a5a00;background:#fff6dd;border:1px dashed #d9a400;padding:0 .4em;font-style:italic}
.field{font-weight:600;color:#444}.lead{color:#555}code{font-size:.92em}
"""


def _h(value: Any) -> str:
    return html.escape(str(value if value is not None else ""))


def html_document(summary: dict[str, Any]) -> str:
    """The summary as one self-contained HTML page (inline CSS, no script, no external resource)."""
    fill = f'<span class="fill">{_h(TO_FILL)}</span>'
    blanks = {b["field"]: b["title"] for b in summary["to_fill"]}
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        "<title>Public summary of training content: data crawled and scraped from online sources</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Public summary of training content: data crawled and scraped from online sources</h1>",
        f'<p class="lead">Following the {_h(summary["template"])}. Filled from the provenance databases of '
        + ", ".join(f"<code>{_h(d)}</code>" for d in summary["directories"])
        + f" by <code>permitcrawl summary</code>; fields marked {fill} are not in any crawl record.</p>",
        f'<p><span class="field">Header</span> {_h(blanks["header"])}: {fill}</p>',
    ]
    section = ""
    for field, title in TEMPLATE[1:]:
        if field[0] != section:
            section = field[0]
            parts.append(f"<h2>{section}. {_h(SECTIONS[section])}</h2>")
        if field == "2.3":
            parts.append(_crawl_html(summary))
            continue
        note = f"<br>{_h(SECTION_3_1_NOTE)}" if field == "3.1" else ""
        parts.append(f'<p><span class="field">{_h(field)}</span> {_h(title)}: {fill}{note}</p>')
    parts.append("</body></html>\n")
    return "".join(parts)


def _crawl_html(s: dict[str, Any]) -> str:
    """Section 2.3 as HTML, from the Markdown lines' data (same tables, same order)."""
    out = []
    table: list[str] = []
    for line in _crawl_section(s):
        if line.startswith("|"):
            table.append(line)
            continue
        if table:
            out.append(_md_table_to_html(table))
            table = []
        if line.startswith("#### "):
            out.append(f"<h4>{_inline(line[5:])}</h4>")
        elif line.startswith("### "):
            out.append(f"<h3>{_inline(line[4:])}</h3>")
        elif line == f"*{TO_FILL}*":
            out.append(f'<p><span class="fill">{_h(TO_FILL)}</span></p>')
        elif line:
            out.append(f"<p>{_inline(line)}</p>")
    if table:
        out.append(_md_table_to_html(table))
    return "".join(out)


def _inline(text: str) -> str:
    """The little Markdown our lines use (``code``, **bold**, *italic*) as HTML, everything escaped."""
    escaped = _h(text)
    escaped = re.sub(r"`([^`]*)`", r"<code>\1</code>", escaped)
    escaped = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", escaped)
    return escaped.replace(f"*{_h(TO_FILL)}*", f'<span class="fill">{_h(TO_FILL)}</span>')


def _md_table_to_html(lines: list[str]) -> str:
    def cells(line: str) -> list[str]:
        return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]

    head = "".join(f"<th>{_h(c)}</th>" for c in cells(lines[0]))
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class=n>{_h(c)}</td>" if re.fullmatch(r"\d+", c) else f"<td>{_inline(c)}</td>"
            for c in cells(line)
        )
        + "</tr>"
        for line in lines[2:]
    )
    return f"<table><tr>{head}</tr>{body}</table>"
