"""A self-contained HTML report of a crawl directory: what it was for, totals, and charts.

No Scrapy here. One file with inline CSS and inline SVG: no script, no
external resource, so it opens anywhere, offline, and can be attached to an
email. Every chart has its numbers in a table beside it. The report says what
the crawl collected for and under which default policy, what each signal id
means (``default`` above all: the crawl's own policy, not a site's), and
which captures were revoked since.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crawler import __version__
from crawler.storage.charges import spending
from crawler.storage.queries import REVOKED, USABLE
from crawler.storage.records import read_decision
from policies.decision import SIGNAL_IDS

if TYPE_CHECKING:
    from pathlib import Path

    import sqlite_utils

COLOURS = {
    "captured": "#2f7d4f",
    "usable": "#2f7d4f",
    "revoked": "#7a5ea8",
    "not usable": "#c9a227",
    "refused": "#b03a2e",
}
TOP_PLACES = 20
MAX_BARS = 48  # bars on the time chart: enough to show a shape, few enough to read
# Bin widths for the time chart, in seconds; each up to a day divides a day, so bins start on round times.
BIN_WIDTHS: tuple[float, ...] = (
    *(0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30),
    *(60, 120, 300, 600, 900, 1800),
    *(3600, 7200, 10800, 21600, 43200, 86400),
    *(2 * 86400, 7 * 86400, 30 * 86400, 91 * 86400, 365 * 86400),
)
# Seconds since 1970 from an ISO 8601 timestamp, in SQLite (julianday of the Unix epoch: 2440587.5).
EPOCH_SECONDS = "((julianday({}) - 2440587.5) * 86400.0)"

PURPOSES = {
    "ai-train": "training AI models",
    "ai-input": "AI input: retrieval, grounding, answering with the page as input",
    "search": "building a search index",
}
REGIMES = {
    "allow": (
        "the opt-out regime: a page no signal reserved for the purpose was collected, "
        "although nobody granted it either"
    ),
    "deny": "the opt-in regime: a page was collected only where a signal granted the purpose explicitly",
}
SIGNAL_GLOSSARY: dict[str, str] = {
    "robots": "the site's robots.txt rules for our crawler: access only (a Disallow refuses; "
    "an Allow grants no use)",
    "payment": "HTTP 402 pay per crawl: a page that asks to be paid (crawler-price, x402) is refused, its "
    "price recorded; a page paid for (crawler-charged, with --max-price) names the amount",
    "robots-ai-agents": "robots.txt rules for known AI crawlers (GPTBot, CCBot, Google-Extended, ...): "
    "a path refused to them is read as an AI opt-out",
    "content-signal": "Content-Signal (ai-train=, ai-input=, search=) in robots.txt or an HTTP header",
    "content-usage": "IETF AIPREF Content-Usage (train-ai=, ai-use=, search=) in robots.txt "
    "or an HTTP header",
    "tdmrep": "the TDM Reservation Protocol: /.well-known/tdmrep.json, tdm-reservation headers and meta tags",
    "ai-txt": "the site's /ai.txt (Spawning's format)",
    "rsl": "an RSL licence named by robots.txt, a Link header or the page: a free licence for the "
    "purpose grants it; any other refuses",
    "x-robots-tag": "the X-Robots-Tag header (noai, noimageai, noarchive; noindex for search)",
    "meta-robots": "the page's robots meta tags, read as X-Robots-Tag",
    "tos-policy": "the site's Terms of Service: a rule the policy maintainers reviewed, or terms "
    "nobody reviewed yet (held for review)",
    "incomplete": "the page could not be read whole (cut short, too large, an undecodable content-coding): "
    "refused, never archived",
    "exclusion-list": "an exclusion list the crawl was given (crawl --exclude-list, or the policy store's "
    "exclude/ directory): listed hosts and URL prefixes are never requested",
    "default": "no signal said anything about the purpose, so the crawl's default policy decided "
    "(not a signal from the site)",
}
UNKNOWN_SIGNAL = "a signal id this version of permitcrawl does not know"
REVOCATION_SOURCES = {
    "revoke": "revoke: a takedown or erasure request",
    "recheck": "recheck: the site's evidence, fetched again, now reserves it",
}


@dataclass(frozen=True)
class Series:
    """One chart's rows: a label and a count per series name."""

    title: str
    names: tuple[str, ...]
    rows: list[tuple[str, dict[str, int]]]


# -- data ------------------------------------------------------------------------


def _counts(db: sqlite_utils.Database, sql: str) -> dict[str, int]:
    return {str(key): int(count) for key, count in db.execute(sql).fetchall()}


def _merge(names: tuple[str, ...], *columns: dict[str, int]) -> list[tuple[str, dict[str, int]]]:
    def size(key: str) -> tuple[int, str]:
        return -sum(column.get(key, 0) for column in columns), key

    keys = sorted({key for column in columns for key in column}, key=size)
    return [(key, {n: c.get(key, 0) for n, c in zip(names, columns, strict=True)}) for key in keys]


CAPTURE_JOIN = "from captures c join usage u on u.capture_id = c.warc_record_id and u.purpose = c.purpose"
# What became of a capture, for its crawl's purpose: revoked since, usable, or neither.
STANDING = f"case when {REVOKED} then 'revoked' when {USABLE} then 'usable' else 'not usable' end"


def by_signal(db: sqlite_utils.Database) -> Series:
    """Captures by the signal that permitted them (usable, revoked since, or not usable) and refusals."""
    columns: dict[str, dict[str, int]] = {"usable": {}, "revoked": {}, "not usable": {}}
    for signal, standing, count in db.execute(
        f"select u.signal, {STANDING}, count(*) {CAPTURE_JOIN} group by 1, 2"
    ):
        columns[standing][str(signal)] = int(count)
    refused = _counts(db, "select signal, count(*) from refusals group by signal")
    names = ("usable", "revoked", "not usable", "refused")
    return Series("By deciding signal", names, _merge(names, *columns.values(), refused))


def domains(db: sqlite_utils.Database) -> list[str]:
    """The registrable domains of every capture and refusal."""
    sql = "select domain from captures union select coalesce(domain, host) from refusals"
    return sorted(str(d) for (d,) in db.execute(sql) if d)


def by_place(db: sqlite_utils.Database) -> Series:
    """Captures and refusals per registrable domain, or per host when they all share one domain."""
    names = ("captured", "refused")
    found = domains(db)
    if len(found) == 1:
        captured = _counts(db, "select host, count(*) from captures group by host")
        refused = _counts(db, "select host, count(*) from refusals group by host")
        title = f"By host (all under {found[0]}; top {TOP_PLACES})"
    else:
        captured = _counts(db, "select domain, count(*) from captures group by domain")
        refused = _counts(db, "select coalesce(domain, host), count(*) from refusals group by 1")
        title = f"By domain (top {TOP_PLACES})"
    return Series(title, names, _merge(names, captured, refused)[:TOP_PLACES])


def bin_width(first: float, last: float) -> float:
    """The narrowest bin width (seconds) that shows ``first``..``last`` in at most MAX_BARS bars."""
    for width in BIN_WIDTHS:
        if math.floor(last / width) - math.floor(first / width) < MAX_BARS:
            return width
    return BIN_WIDTHS[-1]


def _bin_label(start: float, width: float, same_day: bool) -> str:
    moment = datetime.fromtimestamp(start, UTC)
    if width >= 86400:
        return moment.strftime("%Y-%m-%d")
    day = "" if same_day else moment.strftime("%Y-%m-%d ")
    if width >= 60:
        return day + moment.strftime("%H:%M")
    if width >= 1:
        return day + moment.strftime("%H:%M:%S")
    return day + moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 100000}"


def _unit(width: float) -> str:
    for size, name in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if width >= size and width % size == 0:
            count = int(width // size)
            return name if count == 1 else f"{count} {name}s"
    return f"{width:g} seconds"


def _span(db: sqlite_utils.Database) -> tuple[float, float] | None:
    row = db.execute(
        f"select min(s), max(s) from (select {EPOCH_SECONDS.format('min(fetched_at)')} as s from captures "
        f"union all select {EPOCH_SECONDS.format('max(fetched_at)')} from captures "
        f"union all select {EPOCH_SECONDS.format('min(decided_at)')} from refusals "
        f"union all select {EPOCH_SECONDS.format('max(decided_at)')} from refusals)"
    ).fetchone()
    return None if row[0] is None else (float(row[0]), float(row[1]))


def over_time(db: sqlite_utils.Database) -> Series:
    """Captures and refusals per time bin, the bins as narrow as MAX_BARS bars allow; empty bins shown."""
    names = ("captured", "refused")
    span = _span(db)
    if span is None:
        return Series("Over time", names, [])
    width = bin_width(*span)
    first, last = (math.floor(s / width) for s in span)

    def binned(table: str, column: str) -> dict[int, int]:
        expression = f"cast({EPOCH_SECONDS.format(column)} / {width!r} as integer)"
        sql = f"select {expression}, count(*) from {table} group by 1"
        return {int(b): int(n) for b, n in db.execute(sql) if b is not None}

    captured, refused = binned("captures", "fetched_at"), binned("refusals", "decided_at")
    same_day = _bin_label(first * width, 86400, True) == _bin_label(last * width, 86400, True)
    rows = [
        (
            _bin_label(b * width, width, same_day),
            {"captured": captured.get(b, 0), "refused": refused.get(b, 0)},
        )
        for b in range(first, last + 1)
    ]
    day = "" if not same_day else f", {datetime.fromtimestamp(first * width, UTC):%Y-%m-%d}"
    return Series(f"Over time (per {_unit(width)}, UTC{day})", names, rows)


def totals(db: sqlite_utils.Database) -> dict[str, int]:
    """Headline numbers: captured, usable, revoked, erased, refused."""
    one = lambda sql: int(db.execute(sql).fetchone()[0] or 0)  # noqa: E731
    return {
        "captured": one("select count(*) from captures"),
        "usable": one(f"select count(*) {CAPTURE_JOIN} where {USABLE}"),
        "revoked": one(f"select count(*) {CAPTURE_JOIN} where {REVOKED}"),
        "erased": one("select count(*) from tombstones"),
        "refused": one("select count(*) from refusals"),
    }


def revocations(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Revoked captures by how (revoke or recheck), for which purpose, the signal now deciding, and why.

    Takedowns are grouped by their stated reason; a recheck's reasons differ page by page
    (each names its rule), so they are grouped by signal, with one reason as an example.
    The signal now deciding is that of the decision a recheck recorded, read back typed
    (a takedown records none). Largest groups first.
    """
    groups: dict[tuple[str, str, str, str], tuple[set[str], set[str]]] = {}
    for row in db.query("select source, purpose, reason, capture_id, decision from revocations"):
        signal = read_decision(row["decision"]).signal if row["decision"] else ""
        reason = row["reason"] or ""
        key = (
            row["source"] or "",
            row["purpose"] or "every purpose",
            signal,
            "" if row["source"] == "recheck" else reason,
        )
        reasons, captures = groups.setdefault(key, (set(), set()))
        reasons.add(reason)
        captures.add(row["capture_id"])
    rows = [
        {
            "source": source,
            "purpose": purpose,
            "signal": signal,
            "grouped": grouped,
            "reason": min(reasons),
            "reasons": len(reasons),
            "captures": len(captures),
        }
        for (source, purpose, signal, grouped), (reasons, captures) in sorted(groups.items())
    ]
    return sorted(rows, key=lambda row: (-row["captures"], row["source"]))


def regimes(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """The (purpose, default policy) pairs the crawls ran under, with how many crawls each."""
    sql = (
        "select purpose, default_policy, count(*) as crawls from crawls "
        "where coalesce(kind, 'crawl') = 'crawl' group by 1, 2 order by 3 desc"
    )
    rows = list(db.query(sql))
    return rows or list(db.query(sql.replace("where coalesce(kind, 'crawl') = 'crawl' ", "")))


# -- drawing ---------------------------------------------------------------------


def _svg(width: float, height: float, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'aria-label="{html.escape(title)}">'
    )


def _hbar(series: Series) -> str:
    """Horizontal grouped bars, one group per row (bars with no count take no room)."""
    bar, gap, label_w, chart_w = 12, 10, 150, 400
    peak = max([v for _, counts in series.rows for v in counts.values()] + [1])
    groups = [
        (label, [(n, counts[n]) for n in series.names if counts.get(n)]) for label, counts in series.rows
    ]
    height = sum(bar * max(len(bars), 1) + gap for _, bars in groups) + 30
    parts = [_svg(label_w + chart_w + 50, height, series.title)]
    y = 0
    for label, bars in groups:
        middle = y + bar * max(len(bars), 1) / 2 + 4
        short = html.escape(label if len(label) <= 24 else label[:23] + "…")
        parts.append(f'<text x="{label_w - 6}" y="{middle}" text-anchor="end">{short}</text>')
        for name, value in bars:
            w = max(round(chart_w * value / peak, 1), 1)
            parts.append(_rect(label_w, y, w, bar - 2, name, f"{label}: {value} {name}"))
            parts.append(f'<text x="{label_w + w + 4}" y="{y + bar - 3}" class="n">{value}</text>')
            y += bar
        y += gap if bars else bar + gap
    parts.append(_legend(series.names, 0, height - 14))
    parts.append("</svg>")
    return "".join(parts)


def _vbar(series: Series) -> str:
    """Vertical grouped bars along a time axis, as many bins labelled below it as fit without overlap."""
    chart_h, left, plot_w = 160, 36, 640
    peak = max([v for _, counts in series.rows for v in counts.values()] + [1])
    group = plot_w / max(len(series.rows), 1)
    bar = min(14.0, (group - 2) / len(series.names))
    label_w = 6.5 * max(len(label) for label, _ in series.rows) + 12  # 11px text: about 6.5px a character
    step = max(1, math.ceil(label_w / group))
    width = left + plot_w + 40
    parts = [_svg(width, chart_h + 66, series.title)]
    parts.append(f'<text x="{left - 4}" y="10" class="n" text-anchor="end">{peak}</text>')
    parts.append(f'<text x="{left - 4}" y="{chart_h}" class="n" text-anchor="end">0</text>')
    parts.append(
        f'<line x1="{left}" y1="{chart_h + 0.5}" x2="{left + plot_w}" y2="{chart_h + 0.5}" stroke="#999"/>'
    )
    for i, (label, counts) in enumerate(series.rows):
        x = left + i * group
        for j, name in enumerate(series.names):
            value = counts.get(name, 0)
            h = round(chart_h * value / peak, 1)
            xx = round(x + 1 + j * bar, 1)
            parts.append(_rect(xx, chart_h - h, round(bar - 1, 1), h, name, f"{label}: {value} {name}"))
        if i % step == 0:
            x = round(x, 1)
            parts.append(f'<line x1="{x}" y1="{chart_h}" x2="{x}" y2="{chart_h + 5}" stroke="#999"/>')
            parts.append(f'<text x="{x}" y="{chart_h + 18}" class="n">{html.escape(label)}</text>')
    parts.append(_legend(series.names, left, chart_h + 44))
    parts.append("</svg>")
    return "".join(parts)


def _rect(x: float, y: float, w: float, h: float, name: str, tip: str) -> str:
    return (
        f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{COLOURS[name]}">'
        f"<title>{html.escape(tip)}</title></rect>"
    )


def _legend(names: tuple[str, ...], x: int, y: int) -> str:
    items = []
    for i, name in enumerate(names):
        xx = x + i * 100
        items.append(_rect(xx, y, 10, 10, name, name))
        items.append(f'<text x="{xx + 14}" y="{y + 9}" class="n">{html.escape(name)}</text>')
    return "".join(items)


def _table(series: Series, first: str, *, skip_empty: bool = False) -> str:
    head = "".join(f"<th>{html.escape(n)}</th>" for n in series.names)
    rows = "".join(
        f"<tr><td>{html.escape(label)}</td>"
        + "".join(f"<td class=n>{counts.get(n, 0)}</td>" for n in series.names)
        + "</tr>"
        for label, counts in series.rows
        if not (skip_empty and not any(counts.values()))
    )
    return f"<table><tr><th>{html.escape(first)}</th>{head}</tr>{rows}</table>"


def _rows_table(headers: tuple[str, ...], rows: list[tuple[Any, ...]], numeric: tuple[int, ...] = ()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=n' if i in numeric else ''}>{html.escape(str(cell))}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


# -- sections --------------------------------------------------------------------


def _when(value: str | None) -> str:
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return value


def _purpose_section(db: sqlite_utils.Database) -> str:
    items = []
    for row in regimes(db):
        purpose, policy = str(row["purpose"]), str(row["default_policy"] or "allow")
        several = "" if row["crawls"] == 1 else f" ({row['crawls']} crawls)"
        meaning = html.escape(PURPOSES.get(purpose, purpose))
        items.append(
            f"<li>Purpose <code>{html.escape(purpose)}</code> ({meaning}); "
            f"default policy <code>{html.escape(policy)}</code>: {html.escape(REGIMES.get(policy, policy))}"
            f"{several}.</li>"
        )
    body = f"<ul>{''.join(items)}</ul>" if items else "<p>No crawl recorded.</p>"
    return (
        '<h2 id="purpose">What the crawl collected for</h2>'
        + body
        + "<p><b>Usable</b> means permitted for the crawl's purpose, a 2xx status, and not revoked since. "
        "<b>Revoked</b>: permitted when captured, withdrawn since (a takedown, or the site's evidence "
        "fetched again by <code>recheck</code>). <b>Not usable</b>: captured, but with an error status "
        "or not permitted for the purpose. <b>Refused</b>: never archived.</p>"
    )


def _crawls_section(db: sqlite_utils.Database) -> str:
    rows = [
        (
            c["id"],
            c["kind"] or "crawl",
            c["purpose"] or "",
            c["default_policy"] or "",
            _when(c["started_at"]),
            _when(c["finished_at"]),
        )
        for c in db.query(
            "select id, kind, purpose, default_policy, started_at, finished_at from crawls order by 5"
        )
    ]
    headers = ("id", "kind", "purpose", "default policy", "started", "finished")
    return "<h2>Crawls</h2>" + _rows_table(headers, rows)


DEFAULT_NOTE = (
    '<p class="note" id="default-note"><b>The <code>default</code> bar</b> is the crawl\'s own policy, '
    "not a site's signal. A capture by <code>default</code> was collected because no signal said "
    "anything about the purpose and the default policy is <code>allow</code> (the opt-out regime): "
    "nobody reserved the page, and nobody granted it either. A refusal by <code>default</code> "
    "happens only under <code>--default-policy deny</code> (the opt-in regime): no signal granted "
    "the purpose.</p>"
)


def _glossary(present: set[str]) -> str:
    known = [s for s in SIGNAL_IDS if s in SIGNAL_GLOSSARY]
    unknown = sorted(present - set(known))
    items = "".join(
        f"<dt><code>{html.escape(s)}</code>{' <small>(in this report)</small>' if s in present else ''}</dt>"
        f"<dd>{html.escape(SIGNAL_GLOSSARY.get(s, UNKNOWN_SIGNAL))}</dd>"
        for s in known + unknown
    )
    return f'<h3 id="glossary">Signal ids</h3><dl class="glossary">{items}</dl>'


def _signal_section(db: sqlite_utils.Database) -> str:
    series = by_signal(db)
    body = _chart(series, "signal", _hbar)
    return (
        f"<h2>{html.escape(series.title)}</h2>"
        "<p>Each page is counted under the signal that decided it: for a capture, the one that "
        "permitted it for the crawl's purpose; for a refusal, the one that refused it.</p>"
        f"{body}{DEFAULT_NOTE}{_glossary({label for label, _ in series.rows})}"
    )


def priced_pages(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Per domain, the pages refused because they asked to be paid (HTTP 402), and the prices they named."""
    found: dict[str, dict[str, Any]] = {}
    for row in db.query("select domain, decision from refusals where signal = 'payment'"):
        entry = found.setdefault(
            row["domain"] or "", {"domain": row["domain"] or "", "pages": 0, "prices": set()}
        )
        entry["pages"] += 1
        try:
            bases = json.loads(row["decision"])["bases"]
        except (TypeError, ValueError, KeyError):
            continue
        for basis in bases:
            price = (basis.get("payment") or {}).get("price")
            if basis.get("signal") == "payment" and price:
                entry["prices"].add(price["raw"])
    return sorted(found.values(), key=lambda e: (-e["pages"], e["domain"]))


def _budgets(db: sqlite_utils.Database) -> list[str]:
    """The max-price and budgets each crawl ran under, as recorded in its settings."""
    said = []
    for row in db.query("select id, settings from crawls order by started_at"):
        try:
            scrapy = json.loads(row["settings"] or "{}").get("scrapy", {})
        except ValueError:
            continue
        if scrapy.get("PERMITCRAWL_MAX_PRICE"):
            parts = [f"--max-price {scrapy['PERMITCRAWL_MAX_PRICE']}"]
            parts += [
                f"{option} {scrapy[name]}"
                for option, name in (
                    ("--budget", "PERMITCRAWL_BUDGET"),
                    ("--domain-budget", "PERMITCRAWL_DOMAIN_BUDGET"),
                )
                if scrapy.get(name)
            ]
            said.append(f"crawl {row['id']}: {', '.join(parts)}")
    return said


def _payment_section(db: sqlite_utils.Database) -> str:
    spent = spending(db)
    priced = priced_pages(db)
    if not spent["domains"] and not priced:
        return ""  # no page asked to be paid, and nothing was paid for: nothing to say
    body = ""
    budgets = _budgets(db)
    if budgets:
        body += "<ul>" + "".join(f"<li>{html.escape(b)}</li>" for b in budgets) + "</ul>"
    if spent["domains"]:
        rows: list[tuple[Any, ...]] = [
            (e["domain"], e["currency"], e["pages"], e["charged"], e["unsettled"], e["reserved"])
            for e in spent["domains"]
        ]
        rows += [
            ("(all)", currency, "", t["charged"], t["unsettled"], t["reserved"])
            for currency, t in spent["totals"].items()
        ]
        headers = ("domain", "currency", "pages paid", "charged", "unsettled", "reserved, not settled")
        body += _rows_table(headers, rows, numeric=(2, 3, 4, 5))
        body += (
            "<p><b>Unsettled</b>: paid requests whose response never came (a crawl killed, a download that "
            "failed); they may have been charged, so they count at their max-price against the budgets "
            "(fail closed). <b>Reserved</b>: requests in flight when this report was made.</p>"
        )
    if priced:
        asked = [(e["domain"], e["pages"], ", ".join(sorted(e["prices"])) or "none named") for e in priced]
        body += "<h3>Pages that asked to be paid (refused)</h3>"
        body += _rows_table(("domain", "pages", "prices asked"), list(asked), numeric=(1,))
    return f'<h2 id="payment">Pay per crawl</h2>{body}'


def _revocation_section(db: sqlite_utils.Database) -> str:
    rows = revocations(db)
    if not rows:
        return "<h2>Revoked since</h2><p>No capture has been revoked.</p>"

    def reason(row: dict[str, Any]) -> str:
        text = str(row["reason"] or "")
        return text if row["reasons"] <= 1 else f"{row['reasons']} reasons, such as: {text}"

    table = _rows_table(
        ("how", "for", "signal now", "reason", "captures"),
        [
            (
                REVOCATION_SOURCES.get(r["source"], r["source"]),
                r["purpose"],
                r["signal"] or "",
                reason(r),
                r["captures"],
            )
            for r in rows
        ],
        numeric=(4,),
    )
    return (
        "<h2>Revoked since</h2><p>Captures withdrawn after the crawl: they stay in the record, "
        "and are never exported for the purpose.</p>" + table
    )


def _chart(series: Series, first: str, draw: Any, *, skip_empty: bool = False) -> str:
    if not series.rows:
        return "<p>Nothing recorded.</p>"
    return f'<div class="chart">{draw(series)}{_table(series, first, skip_empty=skip_empty)}</div>'


STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}h3{font-size:1em}
.totals{display:flex;gap:1.5em;flex-wrap:wrap}
.totals div{border:1px solid #ddd;padding:.5em 1em;border-radius:4px}
.totals b{display:block;font-size:1.6em}
.chart{display:flex;gap:2em;align-items:flex-start;flex-wrap:wrap}
table{border-collapse:collapse}td,th{border-bottom:1px solid #eee;padding:2px 8px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
svg text{font-size:11px}svg text.n{fill:#444}
.note{background:#f6f6f0;border-left:3px solid #c9a227;padding:.5em 1em}
dl.glossary{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}
dl.glossary dd{margin:0}code{font-size:.95em}
"""


def render(db: sqlite_utils.Database, *crawl_dirs: Path) -> str:
    """The report as one HTML document, of the crawl directories ``db`` holds the rows of (one or more)."""
    names = ", ".join(d.name for d in crawl_dirs)
    where = ", ".join(str(d) for d in crawl_dirs)
    counts = totals(db)
    boxes = "".join(f"<div><b>{value}</b>{html.escape(name)}</div>" for name, value in counts.items())
    place, time = by_place(db), over_time(db)
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>permitcrawl report: {html.escape(names)}</title><style>{STYLE}</style></head><body>"
        f"<h1>Crawl report: {html.escape(where)}</h1>"
        f"<p>Made {made} by permitcrawl {__version__}.</p>"
        f'<div class="totals">{boxes}</div>'
        + _purpose_section(db)
        + _crawls_section(db)
        + _signal_section(db)
        + f"<h2>{html.escape(place.title)}</h2>{_chart(place, place.title.split()[1], _hbar)}"
        + _payment_section(db)
        + _revocation_section(db)
        + f"<h2>{html.escape(time.title)}</h2>{_chart(time, 'from', _vbar, skip_empty=True)}"
        + "</body></html>\n"
    )
