"""A self-contained HTML report of a crawl directory: totals, and charts by signal, by domain, over time.

No Scrapy here. One file with inline CSS and inline SVG: no script, no
external resource, so it opens anywhere, offline, and can be attached to an
email. Every chart has its numbers in a table beside it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from crawler import __version__
from crawler.storage.queries import REVOKED, USABLE

if TYPE_CHECKING:
    from pathlib import Path

    import sqlite_utils

COLOURS = {"captured": "#2f7d4f", "usable": "#2f7d4f", "not usable": "#c9a227", "refused": "#b03a2e"}
TOP_DOMAINS = 20


@dataclass(frozen=True)
class Series:
    """One chart's rows: a label and a count per series name."""

    title: str
    names: tuple[str, ...]
    rows: list[tuple[str, dict[str, int]]]


def _counts(db: sqlite_utils.Database, sql: str) -> dict[str, int]:
    return {str(key): int(count) for key, count in db.execute(sql).fetchall()}


def _merge(names: tuple[str, ...], *columns: dict[str, int]) -> list[tuple[str, dict[str, int]]]:
    def size(key: str) -> tuple[int, str]:
        return -sum(column.get(key, 0) for column in columns), key

    keys = sorted({key for column in columns for key in column}, key=size)
    return [(key, {n: c.get(key, 0) for n, c in zip(names, columns, strict=True)}) for key in keys]


def by_signal(db: sqlite_utils.Database) -> Series:
    """Captures (usable or not, for their crawl's purpose) and refusals, by deciding signal."""
    join = "from captures c join usage u on u.capture_id = c.warc_record_id and u.purpose = c.purpose"
    usable = _counts(db, f"select u.signal, count(*) {join} where {USABLE} group by u.signal")
    other = _counts(db, f"select u.signal, count(*) {join} where not {USABLE} group by u.signal")
    refused = _counts(db, "select signal, count(*) from refusals group by signal")
    names = ("usable", "not usable", "refused")
    return Series("By deciding signal", names, _merge(names, usable, other, refused))


def by_domain(db: sqlite_utils.Database) -> Series:
    """Captures and refusals per registrable domain (the largest first)."""
    captured = _counts(db, "select domain, count(*) from captures group by domain")
    refused = _counts(db, "select coalesce(domain, host), count(*) from refusals group by 1")
    names = ("captured", "refused")
    return Series(f"By domain (top {TOP_DOMAINS})", names, _merge(names, captured, refused)[:TOP_DOMAINS])


def over_time(db: sqlite_utils.Database) -> Series:
    """Captures and refusals per day, hour or minute, whichever gives a readable number of bars."""
    first, last = db.execute(
        "select min(t), max(t) from (select fetched_at as t from captures "
        "union all select decided_at from refusals)"
    ).fetchone()
    width, unit = 10, "day"
    if first and last:
        span = datetime.fromisoformat(last) - datetime.fromisoformat(first)
        if span.total_seconds() < 2 * 3600:
            width, unit = 16, "minute"
        elif span.days < 2:
            width, unit = 13, "hour"
    captured = _counts(db, f"select substr(fetched_at, 1, {width}), count(*) from captures group by 1")
    refused = _counts(db, f"select substr(decided_at, 1, {width}), count(*) from refusals group by 1")
    names = ("captured", "refused")
    keys = sorted(set(captured) | set(refused))
    rows = [(key, {"captured": captured.get(key, 0), "refused": refused.get(key, 0)}) for key in keys]
    return Series(f"Over time (per {unit}, UTC)", names, rows)


def totals(db: sqlite_utils.Database) -> dict[str, int]:
    """Headline numbers: captured, usable, revoked, erased, refused."""
    join = "from captures c join usage u on u.capture_id = c.warc_record_id and u.purpose = c.purpose"
    one = lambda sql: int(db.execute(sql).fetchone()[0] or 0)  # noqa: E731
    return {
        "captured": one("select count(*) from captures"),
        "usable": one(f"select count(*) {join} where {USABLE}"),
        "revoked": one(f"select count(*) {join} where {REVOKED}"),
        "erased": one("select count(*) from tombstones"),
        "refused": one("select count(*) from refusals"),
    }


def _svg(width: float, height: float, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'aria-label="{html.escape(title)}">'
    )


def _hbar(series: Series) -> str:
    """Horizontal grouped bars, one group per row."""
    bar, gap, label_w, chart_w = 12, 8, 230, 420
    peak = max([v for _, counts in series.rows for v in counts.values()] + [1])
    group = bar * len(series.names) + gap
    height = max(group * len(series.rows), group) + 24
    parts = [_svg(label_w + chart_w + 60, height, series.title)]
    for i, (label, counts) in enumerate(series.rows):
        y = i * group
        middle = y + bar * len(series.names) / 2 + 4
        short = html.escape(label[:34])
        parts.append(f'<text x="{label_w - 6}" y="{middle}" text-anchor="end">{short}</text>')
        for j, name in enumerate(series.names):
            value = counts.get(name, 0)
            w = round(chart_w * value / peak, 1)
            yy = y + j * bar
            parts.append(_rect(label_w, yy, w, bar - 2, name, f"{label}: {value} {name}"))
            if value:
                parts.append(f'<text x="{label_w + w + 4}" y="{yy + bar - 3}" class="n">{value}</text>')
    parts.append(_legend(series.names, 0, height - 14))
    parts.append("</svg>")
    return "".join(parts)


def _vbar(series: Series) -> str:
    """Vertical grouped bars along a time axis."""
    chart_h, bar = 180, 10
    peak = max([v for _, counts in series.rows for v in counts.values()] + [1])
    group = bar * len(series.names) + 6
    width = max(group * len(series.rows), 200) + 40
    parts = [_svg(width, chart_h + 60, series.title)]
    for i, (label, counts) in enumerate(series.rows):
        x = 20 + i * group
        for j, name in enumerate(series.names):
            value = counts.get(name, 0)
            h = round(chart_h * value / peak, 1)
            parts.append(_rect(x + j * bar, chart_h - h, bar - 1, h, name, f"{label}: {value} {name}"))
    if series.rows:
        parts.append(f'<text x="20" y="{chart_h + 14}" class="n">{html.escape(series.rows[0][0])}</text>')
        last = html.escape(series.rows[-1][0])
        parts.append(f'<text x="{width - 20}" y="{chart_h + 28}" class="n" text-anchor="end">{last}</text>')
    parts.append(_legend(series.names, 20, chart_h + 48))
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
        xx = x + i * 110
        items.append(_rect(xx, y, 10, 10, name, name))
        items.append(f'<text x="{xx + 14}" y="{y + 9}" class="n">{html.escape(name)}</text>')
    return "".join(items)


def _table(series: Series, first: str) -> str:
    head = "".join(f"<th>{html.escape(n)}</th>" for n in series.names)
    rows = "".join(
        f"<tr><td>{html.escape(label)}</td>"
        + "".join(f"<td class=n>{counts.get(n, 0)}</td>" for n in series.names)
        + "</tr>"
        for label, counts in series.rows
    )
    return f"<table><tr><th>{html.escape(first)}</th>{head}</tr>{rows}</table>"


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em}
.totals{display:flex;gap:1.5em;flex-wrap:wrap}
.totals div{border:1px solid #ddd;padding:.5em 1em;border-radius:4px}
.totals b{display:block;font-size:1.6em}
.chart{display:flex;gap:2em;align-items:flex-start;flex-wrap:wrap}
table{border-collapse:collapse}td,th{border-bottom:1px solid #eee;padding:2px 8px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
svg text{font-size:11px}svg text.n{fill:#444}
"""


def render(db: sqlite_utils.Database, crawl_dir: Path) -> str:
    """The report as one HTML document."""
    crawls = list(
        db.query("select id, kind, purpose, started_at, finished_at from crawls order by started_at")
    )
    counts = totals(db)
    boxes = "".join(f"<div><b>{value}</b>{html.escape(name)}</div>" for name, value in counts.items())
    crawl_rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c[k] or ''))}</td>" for k in c) + "</tr>" for c in crawls
    )
    sections = []
    for series, first, chart in (
        (by_signal(db), "signal", _hbar),
        (by_domain(db), "domain", _hbar),
        (over_time(db), "time", _vbar),
    ):
        body = chart(series) + _table(series, first) if series.rows else "<p>Nothing recorded.</p>"
        sections.append(f'<h2>{html.escape(series.title)}</h2><div class="chart">{body}</div>')
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>permitcrawl report: {html.escape(crawl_dir.name)}</title><style>{STYLE}</style></head><body>"
        f"<h1>Crawl report: {html.escape(str(crawl_dir))}</h1>"
        f"<p>Made {made} by permitcrawl {__version__}. Usable: permitted for the crawl's purpose, "
        "a 2xx status, not revoked since.</p>"
        f'<div class="totals">{boxes}</div>'
        "<h2>Crawls</h2><table><tr><th>id</th><th>kind</th><th>purpose</th><th>started</th><th>finished</th></tr>"
        f"{crawl_rows}</table>" + "".join(sections) + "</body></html>\n"
    )
