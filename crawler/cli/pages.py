"""``pages`` and ``explain``: what a crawl holds, page by page, and why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crawler.cli.group import open_crawl_dir
from crawler.cli.output import FORMATS, plural, write_rows
from crawler.cli.params import DIR, PURPOSES, distinct_dirs, host_name, iso_time
from policies.decision import SIGNAL_IDS
from policies.purpose import Purpose

if TYPE_CHECKING:
    from collections.abc import Iterator


@click.command()
@click.argument("directories", nargs=-1, required=True, type=DIR, callback=distinct_dirs)
@click.option(
    "--usable/--unusable",
    default=None,
    help="Only usable pages (permitted, 2xx, not revoked), or only the others.",
)
@click.option(
    "--purpose", type=PURPOSES, default=None, help="Purpose to judge usability for [default: the crawl's]."
)
@click.option("--host", default=None, callback=host_name, help="Only pages of this host.")
@click.option(
    "--domain",
    default=None,
    callback=host_name,
    help="Only pages of this domain or host and its subdomains (a public suffix or an IP address: itself).",
)
@click.option("--since", callback=iso_time, help="Only pages fetched on or after this date (UTC).")
@click.option("--until", callback=iso_time, help="Only pages fetched before this date (UTC).")
@click.option("--content-type", default=None, help="Only this content type (a prefix: text/html).")
@click.option(
    "--signal", type=click.Choice(SIGNAL_IDS), default=None, help="Only pages decided by this signal."
)
@click.option(
    "--paid",
    is_flag=True,
    default=False,
    help="Only pages paid for (pay per crawl); each row names the amount.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice([*FORMATS, "parquet"]),
    default="table",
    show_default=True,
    help="Aligned columns for people, or every field as JSON lines or CSV (stdout) or Parquet (--out).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The Parquet file to write, which must not exist (with --format parquet only).",
)
def pages(
    directories: tuple[Path, ...], purpose: str | None, fmt: str, out: Path | None, **filters: Any
) -> None:
    """List the captured pages of one or more crawls: where they are in the WARC files, and why.

    Table, JSON lines and CSV go to stdout. Parquet (pyarrow, the ``parquet``
    extra) goes to the new file ``--out``, with the columns of JSON lines,
    written whole or not at all; ``basis`` is its JSON text there, as in CSV.

    \b
    Example:
        permitcrawl pages crawls/example --usable --format jsonl > usable.jsonl
        permitcrawl pages crawls/a crawls/b --usable --format parquet --out pages.parquet
        permitcrawl pages crawls/a crawls/b --usable --purpose search --domain example.org --format csv
        permitcrawl pages crawls/example --unusable --signal tdmrep --since 2026-11-01
        permitcrawl pages crawls/paid --paid
    """
    from crawler.storage.queries import PAGE_FIELDS

    columns = ["url", "status", "usable", "signal", "where"]
    if filters.get("paid"):
        columns.insert(-1, "charged")
    if len(directories) > 1:
        columns.insert(0, "crawl_dir")
    fields = ["crawl_dir", *PAGE_FIELDS]
    rows = _page_rows(directories, purpose, filters)
    if fmt == "parquet":
        if out is None:
            raise click.UsageError("--format parquet writes a file: give --out FILE")
        from crawler.cli.parquet import write_parquet

        count = write_parquet(rows, out, fields=fields)
        click.echo(f"wrote {plural(count, 'page')} to {out}", err=True)
        return
    if out is not None:
        # Rather than write to stdout what the user asked to go to a file.
        raise click.UsageError(f"--out is for --format parquet; --format {fmt} writes to stdout (use >)")
    write_rows(rows, fmt, fields=fields, columns=columns)


def _page_rows(
    directories: tuple[Path, ...], purpose: str | None, filters: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """The pages of each directory in turn, opened only when its turn comes."""
    from crawler.storage.queries import PageFilter, crawl_purposes
    from crawler.storage.queries import pages as query_pages

    for directory in directories:
        db = open_crawl_dir(directory)
        chosen = purpose
        if chosen is None:
            purposes = crawl_purposes(db)
            chosen = purposes[0] if len(purposes) == 1 else Purpose.AI_TRAIN.value
        for row in query_pages(db, PageFilter(purpose=chosen, **filters)):
            yield {"crawl_dir": str(directory), **row, "where": f"{row['warc_file']}@{row['warc_offset']}"}


def _explain_text(story: dict[str, Any], places: int = 1) -> Iterator[str]:
    yield f"URL: {story['url']}"
    yield f"Outcome: {story['outcome']}"
    if not story["events"]:
        where = "this crawl directory" if places == 1 else f"any of these {places} crawl directories"
        yield f"No capture or refusal of this URL is recorded in {where}."
    for event in story["events"]:
        # The same URL may have been stored under another spelling (a fragment, a default port).
        spelled = f" (recorded as {event['url']})" if event.get("url", story["url"]) != story["url"] else ""
        if "crawl_dir" in event:  # several directories: say which one each event is from
            spelled += f" in {event['crawl_dir']}"
        if event["outcome"] == "revoked":
            scope = f"for {event['purpose']}" if event["purpose"] else "for every purpose"
            yield ""
            yield f"revoked {scope} at {event['at']} by {event['actor']} ({event['source']}){spelled}"
            yield f"  reason: {event['reason']}"
            yield f"  capture: {event['capture_id']}  ledger entry {event['ledger_id']}"
            continue
        if event["outcome"] == "erased":
            yield ""
            ledger = f"ledger entry {event['ledger_id']}"
            yield f"erased from {event['warc_file']} at {event['at']} ({ledger}){spelled}"
            yield f"  capture: {event['capture_id']}  payload {event['payload_digest']}"
            yield f"  reason: {event['reason']}"
            continue
        decision = event["decision"]
        verdict = "allowed" if decision["allowed"] else "refused"
        yield ""
        yield f"{event['outcome']} at {event['at']} (crawl {event['crawl_id']}){spelled}"
        if event["outcome"] == "captured":
            yield f"  WARC: {event['warc_file']} offset {event['warc_offset']} length {event['warc_length']}"
            kind = event.get("content_type") or ""
            yield f"  record: {event['warc_record_id']}  HTTP {event['status']}  {kind}"
        elif event.get("status") is not None:
            yield f"  HTTP {event['status']} (headers recorded; body not archived)"
        yield f"  {decision['purpose']}: {verdict} ({decision['stage']}), decided by {decision['signal']}"
        yield f"  reason: {decision['reason']}"
        yield "  basis:"
        for basis in decision["bases"]:
            yield f"    [{basis['verdict']}] {basis['signal']}: {basis['reason']}"
            for key in ("source", "rule", "sha256", "record_id"):
                if basis.get(key):
                    yield f"        {key}: {basis[key]}"
            if basis.get("payment"):
                yield from _payment_lines(basis["payment"])
            evidence = basis.get("evidence")
            if evidence:
                yield (
                    f"        evidence: {evidence['warc_file']} offset {evidence['warc_offset']}, "
                    f"fetched {evidence['fetched_at']}, HTTP {evidence['status']}"
                )


def _payment_lines(terms: dict[str, Any]) -> Iterator[str]:
    """What a ``payment`` basis recorded: the price or charge (parsed), the error, x402's requirements."""
    for key in ("price", "charged"):
        record = terms.get(key)
        if record:
            parsed = (
                f"{record['currency']} {record['amount']}" if "currency" in record else record.get("problem")
            )
            yield f"        {key}: {record['raw']!r} ({parsed})"
    if terms.get("error"):
        yield f"        crawler-error: {terms['error']}"
    x402 = terms.get("x402")
    if x402:
        yield f"        x402: version {x402.get('version')}, from the {x402.get('source')}"
        order = ("scheme", "network", "amount", "maxAmountRequired", "asset")  # as x402 lists them
        for way in x402.get("accepts", ()):
            yield "          " + ", ".join(f"{name} {way[name]}" for name in order if name in way)
        if x402.get("problem"):
            yield f"          {x402['problem']}"


@click.command()
@click.argument("directories", nargs=-1, required=True, type=DIR, callback=distinct_dirs)
@click.argument("url")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def explain(directories: tuple[Path, ...], url: str, fmt: str) -> None:
    """Explain what happened to one URL: captured, refused before or after fetching, or never seen.

    Every basis is shown with its evidence: which robots.txt, its sha256, the
    WARC record it is archived in, and the matching rule where known. The URL
    is matched however it is spelled (scheme and host case, default port,
    fragment, percent-encoding); it must be an absolute http(s) URL. Given
    several crawl directories (the workers of one distributed crawl), it tells
    the URL's story across them, each event naming its directory.

    \b
    Example:
        permitcrawl explain crawls/example https://example.org/private/page
        permitcrawl explain crawls/example https://example.org/ --format json
        permitcrawl explain crawls/worker-1 crawls/worker-2 https://example.org/
    """
    from crawler.storage.urls import UrlError, url_key

    try:
        url_key(url)
    except UrlError as exc:
        raise click.ClickException(f"URL: {exc}") from exc
    if any(c.isspace() for c in url):  # read as one URL, it would be 'never seen', and mislead
        raise click.ClickException(
            f"URL: {url!r} is not usable (it holds whitespace, as two URLs in one argument would: "
            "explain one URL at a time); expected an absolute http:// or https:// URL"
        )
    try:
        story = _story(directories, url)
    except UrlError as exc:
        raise click.ClickException(f"URL: {exc}") from exc
    if fmt == "json":
        click.echo(json.dumps(story, indent=2, ensure_ascii=False))
    else:
        for line in _explain_text(story, len(directories)):
            click.echo(line)


def _story(directories: tuple[Path, ...], url: str) -> dict[str, Any]:
    """One URL's story in one crawl directory, or across several (each event naming its directory).

    Across several, the events of all are in time order and the latest decides
    the outcome, as within one.
    """
    from crawler.storage.queries import explain as query_explain

    if len(directories) == 1:
        return query_explain(open_crawl_dir(directories[0]), url)
    events: list[dict[str, Any]] = []
    key = url
    for directory in directories:
        story = query_explain(open_crawl_dir(directory), url)
        key = story["url"]
        events += [{**event, "crawl_dir": str(directory)} for event in story["events"]]
    events.sort(key=lambda e: e["at"])
    return {"url": key, "outcome": events[-1]["outcome"] if events else "never seen", "events": events}
