"""The ``permitcrawl`` command line: crawl, demo, pages, explain; policy and downstream commands.

Data goes to stdout, messages to stderr. Exit codes: 0 when the command ran
(a refusal is a result, not an error); 1 with ``Error: ...`` when it could not
(bad settings, a crawl that could not start or could not write its output);
2 for bad usage (click's default).
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crawler import __version__
from crawler.downstream import DATABASE_META, audit, datasette, export, index, recheck, report, revoke
from crawler.errors import PermitcrawlError
from crawler.policycli import policy
from policies.decision import SIGNAL_IDS
from policies.errors import PolicyError
from policies.purpose import Purpose

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from scrapy.settings import Settings

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
PURPOSES = click.Choice([p.value for p in Purpose])


class CommandGroup(click.Group):
    """The command group: the one place that turns failures of any command into a normal end.

    A reader that stops reading our output (``permitcrawl pages DIR | head -1``):
    once ``head`` has its line, the rest goes nowhere and the exit status is 0,
    without a word (click itself would exit 1). A database failing half-way
    through a command is an error naming it, not a traceback: commands check a
    database when they open it (crawler.storage.provenance); damage deeper in
    the file shows only when a query reaches it. Any other error about our own
    inputs (a damaged WARC file, say) is printed as ``Error: ...``, exit 1.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        except BrokenPipeError:
            _discard_stdout()
            ctx.exit(0)
        except (
            PermitcrawlError
        ) as exc:  # one of our inputs a command did not check itself: said, not a traceback
            raise click.ClickException(str(exc)) from exc
        except sqlite3.DatabaseError as exc:
            where = ctx.meta.get(DATABASE_META, "the provenance database")
            raise click.ClickException(
                f"{where}: could not be read or written ({exc}); the database may be damaged"
            ) from exc
        return result


def _discard_stdout() -> None:
    # Python flushes stdout once more on its way out; on a closed pipe that would fail again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


@click.group(cls=CommandGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="permitcrawl")
def cli() -> None:
    """Collect web pages for AI training only where sites permit it, and record why."""


def _fail(message: str) -> click.ClickException:
    return click.ClickException(message)


def _summary_lines(summary: dict[str, Any]) -> Iterator[str]:
    yield f"captured {summary['captured']} pages, refused {summary['refused']} URLs"
    for reason, count in summary["refused_by"].items():
        yield f"  refused {count:>5}  {reason}"
    if summary["hosts"]:
        width = max(len(h) for h in summary["hosts"])
        yield f"  {'host':<{width}}  captured  refused"
        for host, counts in summary["hosts"].items():
            yield f"  {host:<{width}}  {counts['captured']:>8}  {counts['refused']:>7}"
    bounds = summary.get("bounds", {})
    for name, what in (
        ("host_budget", "reached the per-host page budget (PERMITCRAWL_HOST_MAX_PAGES); URLs not requested"),
        ("host_queue", "had more links than three times the page budget; links not scheduled"),
        ("depth", "had links past the depth limit (DEPTH_LIMIT); links not followed"),
        ("page_links", "had pages of more than 10,000 links; links not followed"),
        ("sitemap", "had sitemaps past 50,000 URLs or 50 MiB; sitemaps read in part"),
    ):
        hits = bounds.get(name) or {}
        if hits:
            yield f"{len(hits)} host{'s' if len(hits) != 1 else ''} {what}:"
            for host, count in sorted(hits.items(), key=lambda item: (-item[1], item[0]))[:20]:
                yield f"  {count:>7}  {host}"
            if len(hits) > 20:
                yield f"  ... and {len(hits) - 20} more hosts"


def _overrides(pairs: tuple[str, ...]) -> dict[str, str]:
    """Parse ``-s NAME=VALUE`` options, warning about names that look like a typo of a known one."""
    from crawler.overrides import parse_overrides, suspect_names

    try:
        parsed = parse_overrides(pairs)
    except PermitcrawlError as exc:
        raise _fail(str(exc)) from exc
    for warning in suspect_names(parsed):
        click.echo(f"Warning: {warning}", err=True)
    return parsed


def _settings(out: Path, **options: Any) -> Settings:
    """The crawl's settings, every one checked (nothing is created before they are)."""
    from crawler.runner import crawl_settings

    try:
        return crawl_settings(out, **options)
    except (PermitcrawlError, PolicyError) as exc:
        raise _fail(str(exc)) from exc


def _lock(out: Path) -> None:
    """Take ``out``'s lock for the rest of this process: one writer per crawl directory."""
    from crawler.runner import lock_output

    try:
        lock_output(out)
    except PermitcrawlError as exc:
        raise _fail(str(exc)) from exc


def _run(out: Path, seeds: list[str], *, demo: bool = False, **options: Any) -> str | None:
    """Run a crawl writing to ``out`` and print its summary; ``options`` go to crawl_settings.

    A crawl of the user's own (not ``demo``) into a demo's directory makes it
    the user's: the next demo will refuse to replace it. Fails (exit 1) when
    the crawl could not run, could not start (its spider failed before reading
    every seed), or could not write its output.
    """
    from crawler.demo import claim_demo_out
    from crawler.runner import run_crawl
    from crawler.storage.queries import open_crawl, summary

    settings = _settings(out, **options)
    _lock(out)
    if not demo and claim_demo_out(out):
        click.echo(
            f"{out} was made by 'permitcrawl demo'; it now holds a crawl of yours, "
            "so 'permitcrawl demo' will no longer replace it",
            err=True,
        )
    if (out / "job").is_dir():
        click.echo(f"Resuming the crawl in {out} (its job state is in {out / 'job'})", err=True)
    result = run_crawl(settings, seeds=seeds)
    if result.error:
        raise _fail(f"the crawl could not run: {result.error}")
    if result.finish_reason == "archive_error":
        raise _fail(
            f"the crawl stopped: its output could not be written (see the log); output so far is in {out}"
        )
    if result.crawl_id is None:
        raise _fail("the crawl did not start; see the log above")
    if result.finish_reason == "start_error":
        raise _fail(
            "the crawl could not start: reading its seeds failed (see the log above); "
            f"what it recorded is in {out}"
        )
    db = open_crawl(out)
    for line in _summary_lines(summary(db, result.crawl_id)):
        click.echo(line, err=True)  # a summary: the crawl's data is in the directory
    click.echo(f"finished ({result.finish_reason}); output in {out}", err=True)
    return result.crawl_id


def _crawl_options(func: Any) -> Any:
    options = [
        click.option(
            "--purpose", type=PURPOSES, default=None, help="What the pages are for [default: ai-train]."
        ),
        click.option(
            "--default-policy",
            type=click.Choice(["allow", "deny"]),
            default=None,
            help="When no signal says anything: allow (opt-out regime, the default) or deny (opt-in).",
        ),
        click.option(
            "--max-pages",
            type=click.IntRange(min=1),
            default=None,
            help="Capture this many pages at most, then stop (PERMITCRAWL_MAX_PAGES).",
        ),
        click.option(
            "--max-depth", type=click.IntRange(min=0), default=None, help="Follow links this deep at most."
        ),
        click.option(
            "-s",
            "--set",
            "overrides",
            multiple=True,
            metavar="NAME=VALUE",
            help="Override a Scrapy or permitcrawl setting (repeatable).",
        ),
        click.option(
            "--policies",
            "store_dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="A ToS policy store (permitcrawl policy init); without one no ToS review applies.",
        ),
        click.option(
            "--unreviewed",
            type=click.Choice(["hold", "allow", "deny"]),
            default=None,
            help="Where unreviewed or changed terms speak of scraping or AI [default: hold].",
        ),
        click.option(
            "-v",
            "--verbose",
            count=True,
            help="Log more: -v a line per decision (each capture and refusal, and why), -vv debugging.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _log_level(verbose: int) -> str:
    return ("WARNING", "INFO", "DEBUG")[min(verbose, 2)]


@cli.command()
@click.argument("urls", nargs=-1)
@click.option(
    "--seeds",
    "seeds_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File of seed URLs, one per line.",
)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Crawl directory to write."
)
@_crawl_options
def crawl(
    urls: tuple[str, ...],
    seeds_file: Path | None,
    out: Path,
    overrides: tuple[str, ...],
    verbose: int,
    **options: Any,
) -> None:
    """Crawl from seed URLs, staying on each seed's host, and write WARC files and provenance.db.

    Every URL is judged before it is requested; refused URLs are recorded,
    never fetched. Re-running the same command on the same --out resumes.

    \b
    Example:
        permitcrawl crawl https://example.org/ --out crawls/example --max-pages 100
        permitcrawl crawl --seeds seeds.txt --out crawls/batch1 -s CONCURRENT_REQUESTS=32
    """
    from crawler.spiders.seeds import check_seed, read_seed_file

    try:
        seeds = [check_seed(u, "seed URL") for u in urls]
        if seeds_file is not None:
            seeds += read_seed_file(seeds_file)
    except PermitcrawlError as exc:
        raise _fail(str(exc)) from exc
    if not seeds:
        raise click.UsageError("give at least one seed URL, or --seeds FILE")
    _run(out, seeds, overrides=_overrides(overrides), log_level=_log_level(verbose), **options)


@cli.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("permitcrawl-demo"),
    show_default=True,
    help="Crawl directory to write: new, empty, or made by an earlier demo (then replaced).",
)
@_crawl_options
def demo(out: Path, overrides: tuple[str, ...], verbose: int, **options: Any) -> None:
    """Crawl the built-in demo web (served on 127.0.0.1, no network needed) and summarise.

    \b
    Example:
        permitcrawl demo
        permitcrawl pages permitcrawl-demo --usable
        permitcrawl explain permitcrawl-demo http://open.demo.test/private/notes
    """
    import logging
    import shutil

    from crawler.demo import (
        DEMO_SEEDS,
        DEMO_SITES,
        DemoHostsDown,
        check_demo_out,
        demo_store,
        describe_demo,
        prepare_demo_out,
    )
    from crawler.localweb import serve

    parsed = _overrides(overrides)
    try:
        replace = check_demo_out(out, options.get("store_dir"))
    except PermitcrawlError as exc:
        raise _fail(str(exc)) from exc
    # Every setting is checked before the directory is touched (the packaged store stands in for its copy).
    _settings(out, overrides=parsed, **{**options, "store_dir": options.get("store_dir") or demo_store()})
    _lock(out)  # before anything is removed: another process may be writing there
    try:
        prepare_demo_out(out, replace=replace)
        if options.get("store_dir") is None:
            # The demo's own store, copied so that it can be edited (and used elsewhere: see check_demo_out).
            options["store_dir"] = out / "policies"
            shutil.copytree(demo_store(), options["store_dir"])
    except OSError as exc:
        raise _fail(f"could not prepare {out} for the demo: {exc}") from exc
    server = serve(DEMO_SITES)
    # The demo hosts exist only on the local server: route every request through it.
    for name in ("no_proxy", "NO_PROXY", "https_proxy", "HTTPS_PROXY"):
        os.environ.pop(name, None)
    os.environ["http_proxy"] = server.proxy_url
    click.echo(f"Serving the demo web ({len(DEMO_SITES)} hosts) on {server.proxy_url}", err=True)
    for line in describe_demo():
        click.echo(line, err=True)
    logging.getLogger("scrapy.downloadermiddlewares.retry").addFilter(DemoHostsDown())
    try:
        _run(
            out,
            list(DEMO_SEEDS),
            demo=True,
            overrides=parsed,
            log_level=_log_level(verbose),
            # A local web answers in microseconds: no need to wait seconds between requests.
            extra={"AUTOTHROTTLE_START_DELAY": 0.05, "PROGRESS_INTERVAL": 0},
            **options,
        )
    finally:
        server.close()
    click.echo(
        f"\nNext: permitcrawl pages {out} --usable\n"
        f"      permitcrawl explain {out} http://open.demo.test/private/notes\n"
        f"      permitcrawl policy queue {out} --store {options['store_dir']}\n"
        f"      permitcrawl audit {out} && permitcrawl report {out}",
        err=True,
    )


def _open(directory: Path) -> Any:
    """Open DIRECTORY's provenance.db for reading only."""
    from crawler.storage.queries import DB_NAME, open_crawl

    click.get_current_context().meta[DATABASE_META] = directory / DB_NAME
    try:
        return open_crawl(directory)
    except PermitcrawlError as exc:
        raise _fail(str(exc)) from exc


def table(rows: Iterable[dict[str, Any]], columns: list[str]) -> Iterator[str]:
    """Plain aligned text columns, for humans (data tools get jsonl or csv)."""
    """Plain aligned text columns, for humans (data tools get jsonl or csv)."""
    rows = [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    yield "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()
    yield "  ".join("-" * w for w in widths)
    for row in rows:
        yield "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()


def _iso(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The date or time given, in UTC and written as ``fetched_at`` is stored, so that they compare.

    A time without an offset is UTC; one with an offset is converted
    (``2026-11-29T15:00+02:00`` is 13:00 UTC); a date is its midnight UTC.
    """
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date; expected YYYY-MM-DD or an ISO 8601 time"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat()


def _host(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A host or domain name as hosts are stored (lower case, IDNA, no final dot), never a pattern."""
    from crawler.storage.ledger import DomainError, domain_name

    if value is None:
        return None
    try:
        return domain_name(value)
    except DomainError as exc:
        raise click.BadParameter(str(exc)) from None


def _distinct(ctx: click.Context, param: click.Parameter, value: tuple[Path, ...]) -> tuple[Path, ...]:
    """The crawl directories given, each once: one given twice would list its pages twice."""
    seen: dict[Path, Path] = {}
    for directory in value:
        same = seen.setdefault(directory.resolve(), directory)
        if same is not directory:
            spelled = f" (as {same} and {directory})" if str(same) != str(directory) else ""
            raise click.BadParameter(
                f"{same} is given twice{spelled}; expected each crawl directory once, "
                "or its pages would be listed twice"
            )
    return value


@cli.command()
@click.argument(
    "directories",
    nargs=-1,
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    callback=_distinct,
)
@click.option(
    "--usable/--unusable",
    default=None,
    help="Only usable pages (permitted, 2xx, not revoked), or only the others.",
)
@click.option(
    "--purpose", type=PURPOSES, default=None, help="Purpose to judge usability for [default: the crawl's]."
)
@click.option("--host", default=None, callback=_host, help="Only pages of this host.")
@click.option(
    "--domain",
    default=None,
    callback=_host,
    help="Only pages of this domain or host and its subdomains (a public suffix or an IP address: itself).",
)
@click.option("--since", callback=_iso, help="Only pages fetched on or after this date (UTC).")
@click.option("--until", callback=_iso, help="Only pages fetched before this date (UTC).")
@click.option("--content-type", default=None, help="Only this content type (a prefix: text/html).")
@click.option(
    "--signal", type=click.Choice(SIGNAL_IDS), default=None, help="Only pages decided by this signal."
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "jsonl", "csv"]), default="table", show_default=True
)
def pages(directories: tuple[Path, ...], purpose: str | None, fmt: str, **filters: Any) -> None:
    """List the captured pages of one or more crawls: where they are in the WARC files, and why.

    \b
    Example:
        permitcrawl pages crawls/example --usable --format jsonl > usable.jsonl
        permitcrawl pages crawls/a crawls/b --usable --purpose search --domain example.org --format csv
        permitcrawl pages crawls/example --unusable --signal tdmrep --since 2026-11-01
    """
    from crawler.storage.queries import PAGE_FIELDS, PageFilter, crawl_purposes
    from crawler.storage.queries import pages as query_pages

    fields = ["crawl_dir", *PAGE_FIELDS]
    writer = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n") if fmt == "csv" else None
    if writer:
        writer.writeheader()
    shown: list[dict[str, Any]] = []
    for directory in directories:
        db = _open(directory)
        chosen = purpose
        if chosen is None:
            purposes = crawl_purposes(db)
            chosen = purposes[0] if len(purposes) == 1 else Purpose.AI_TRAIN.value
        for row in query_pages(db, PageFilter(purpose=chosen, **filters)):
            row = {"crawl_dir": str(directory), **row}
            if fmt == "jsonl":
                click.echo(json.dumps({k: row[k] for k in fields}, ensure_ascii=False))
            elif writer:
                writer.writerow(
                    {**{k: row[k] for k in fields}, "basis": json.dumps(row["basis"], ensure_ascii=False)}
                )
            else:
                shown.append({**row, "where": f"{row['warc_file']}@{row['warc_offset']}"})
    if fmt == "table":
        columns = ["url", "status", "usable", "signal", "where"]
        if len(directories) > 1:
            columns.insert(0, "crawl_dir")
        for line in table(shown, columns):
            click.echo(line)


def _explain_text(story: dict[str, Any]) -> Iterator[str]:
    yield f"URL: {story['url']}"
    yield f"Outcome: {story['outcome']}"
    if not story["events"]:
        yield "No capture or refusal of this URL is recorded in this crawl directory."
    for event in story["events"]:
        # The same URL may have been stored under another spelling (a fragment, a default port).
        spelled = f" (recorded as {event['url']})" if event.get("url", story["url"]) != story["url"] else ""
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
            evidence = basis.get("evidence")
            if evidence:
                yield (
                    f"        evidence: {evidence['warc_file']} offset {evidence['warc_offset']}, "
                    f"fetched {evidence['fetched_at']}, HTTP {evidence['status']}"
                )


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("url")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def explain(directory: Path, url: str, fmt: str) -> None:
    """Explain what happened to one URL: captured, refused before or after fetching, or never seen.

    Every basis is shown with its evidence: which robots.txt, its sha256, the
    WARC record it is archived in, and the matching rule where known. The URL
    is matched however it is spelled (scheme and host case, default port,
    fragment, percent-encoding); it must be an absolute http(s) URL.

    \b
    Example:
        permitcrawl explain crawls/example https://example.org/private/page
        permitcrawl explain crawls/example https://example.org/ --format json
    """
    from crawler.storage.queries import explain as query_explain
    from crawler.storage.urls import UrlError

    try:
        story = query_explain(_open(directory), url)
    except UrlError as exc:
        raise _fail(f"URL: {exc}") from exc
    if fmt == "json":
        click.echo(json.dumps(story, indent=2, ensure_ascii=False))
    else:
        for line in _explain_text(story):
            click.echo(line)


cli.add_command(policy)
for _command in (audit, datasette, export, index, recheck, report, revoke):
    cli.add_command(_command)


def _standard_streams() -> None:
    """Put /dev/null where a standard stream was closed before we began (``<&-``, ``>&-``).

    Python leaves ``sys.stdout`` None then, where the CSV writers fail with a
    traceback; worse, the first file the command opens (a WARC file, a
    database) would take the free descriptor, and whatever is written to the
    stream would land in that file. A closed stdout is then a reader that reads
    nothing (exit 0, as a closed pipe), a closed stdin no one to ask.
    """
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(fd)
        except OSError:
            devnull = os.open(os.devnull, os.O_RDWR)
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)
            setattr(sys, name, open(fd, mode, encoding="utf-8", closefd=False))  # noqa: SIM115 (kept for the process)


def main() -> None:
    """Console-script entry point."""
    _standard_streams()
    cli()


if __name__ == "__main__":
    main()
