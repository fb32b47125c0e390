"""Commands for the teams that use a crawl later: audit, revoke, recheck, export, index, datasette, report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from crawler.cli.group import open_crawl_dir
from crawler.cli.output import echo_table, plural
from crawler.cli.params import DIR, PURPOSES, distinct_dirs


@click.command()
@click.argument("directory", type=DIR)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: one difference a line; json: one object with the counts and the differences.",
)
def audit(directory: Path, fmt: str) -> None:
    """Re-derive every decision from the WARC files alone, compare with provenance.db; exit 1 on a difference.

    Records marked superseded (written by a crawl that stopped before their rows
    were committed, their URLs fetched again on resume) are counted, not differences.

    \b
    Example:
        permitcrawl audit crawls/example
    """
    import json

    from crawler.workflows.audit import audit_dir

    report = audit_dir(directory, open_crawl_dir(directory))
    for path in _open_warc_files(directory):
        # Their records are not read: a difference that rests on one would otherwise be a riddle.
        click.echo(
            f"Note: {path}: still open (a crawl is writing it, or one was killed); its records are not "
            "read until the next crawl, recheck, revoke or export recovers it, so decisions resting on "
            "them are reported as differences",
            err=True,
        )
    if fmt == "json":
        counts = {"captures": report.captures, "refusals": report.refusals, "superseded": report.superseded}
        click.echo(json.dumps({**counts, "differences": report.differences}, ensure_ascii=False))
    else:
        for difference in report.differences:
            click.echo(difference)
    found = len(report.differences)
    click.echo(
        f"audited {report.captures} captures and {report.refusals} refusals: {found} differences; "
        f"superseded: {report.superseded}",
        err=True,
    )
    if not report.ok:
        raise SystemExit(1)


def _open_warc_files(directory: Path) -> list[Path]:
    """The WARC files of ``directory`` still under their temporary ``.open`` names."""
    from crawler.storage.archive import WARC_DIRS
    from crawler.storage.warc import OPEN_SUFFIX

    return sorted(path for sub in WARC_DIRS for path in (directory / sub).glob(f"*{OPEN_SUFFIX}"))


def _reason(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise click.BadParameter(
            "a blank reason is not usable; expected why: the request, its reference, the law"
        )
    return value.strip() if value is not None else None


def _takedown_urls(urls: tuple[str, ...], url_file: Path | None) -> list[str]:
    """The URLs a revoke names, each checked: ``--url`` values, or the lines of ``--file``."""
    from crawler.storage.urls import UrlError, url_key
    from policies.files import LIST_FILE_MAX, read_text_input

    if url_file is None:
        for url in urls:
            try:
                url_key(url)
            except UrlError as exc:
                raise click.ClickException(f"--url: {exc}") from exc
            if any(c.isspace() for c in url):  # as in --file: two URLs in one argument match nothing
                raise click.ClickException(
                    f"--url: {url!r} is not usable (it holds whitespace, as two URLs in one argument "
                    "would: give --url once per URL); expected an absolute http:// or https:// URL"
                )
        return list(urls)
    text = read_text_input(url_file, limit=LIST_FILE_MAX, expected="URLs, one per line (UTF-8)")
    wanted = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            url_key(line)
        except UrlError as exc:
            raise click.ClickException(f"{url_file}:{number}: {exc}") from exc
        if any(c.isspace() for c in line):  # read as one URL, it matched nothing, and said so quietly
            raise click.ClickException(
                f"{url_file}:{number}: {line!r} is not usable (it holds whitespace, as two URLs on one "
                "line would: give one URL per line); expected an absolute http:// or https:// URL"
            )
        wanted.append(line)
    if not wanted:
        raise click.ClickException(f"{url_file}: lists no URL; expected URLs, one per line")
    return wanted


@click.command()
@click.argument("directory", type=DIR)
@click.option("--url", "urls", multiple=True, help="A captured URL to revoke (repeatable), however spelled.")
@click.option(
    "--domain",
    help="Every capture of a domain or host and its subdomains (a name, never a pattern).",
)
@click.option(
    "--file",
    "url_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="URLs, one per line.",
)
@click.option(
    "--reason", required=True, callback=_reason, help="Why: the request, its reference, the law invoked."
)
@click.option("--by", "who", default=None, help="Who asks or acts [default: your login name].")
@click.option("--purpose", type=PURPOSES, help="Revoke for one purpose only.")
def revoke(
    directory: Path,
    urls: tuple[str, ...],
    domain: str | None,
    url_file: Path | None,
    reason: str,
    who: str | None,
    purpose: str | None,
) -> None:
    """Revoke captures (takedown and erasure requests): they stop being usable and are never exported.

    Nothing is deleted here (export --purge erases); the ledger records who,
    when, what and why. URLs are matched however they are spelled (scheme and
    host case, default port, fragment, percent-encoding). --domain takes a
    domain or host name and covers its subdomains (a public suffix or an IP
    address covers only itself). A capture already revoked is left as it is.
    A request that matches no capture revokes nothing and exits with status 1.

    \b
    Example:
        permitcrawl revoke crawls/example --url https://example.org/post/1 --reason "DMCA #123" --by legal
        permitcrawl revoke crawls/example --domain example.org --reason "GDPR Art. 17 request 2026-11-20"
        permitcrawl revoke crawls/example --file takedowns.txt --reason "batch 7"
    """
    from crawler.workflows.ledger import DomainError, actor, captures_of_domain, captures_of_urls, domain_name
    from crawler.workflows.ledger import revoke as revoke_captures

    if sum(bool(x) for x in (urls, domain, url_file)) != 1:
        raise click.UsageError("give exactly one of --url, --domain or --file")
    if domain is not None:
        try:
            name = domain_name(domain)
        except DomainError as exc:
            raise click.ClickException(f"--domain: {exc}") from exc
        wanted: list[str] = []
    else:
        wanted = _takedown_urls(urls, url_file)
    db = open_crawl_dir(directory, write=True)
    if domain is not None:
        captures, missing = captures_of_domain(db, name), list[str]()
        scope = f"domain {name}"
    else:
        captures, missing = captures_of_urls(db, wanted)
        scope = f"file {url_file}" if url_file else " ".join(urls)
    for url in missing:
        click.echo(f"not captured in this crawl: {url}", err=True)
    if not captures:
        what = f"domain {name}" if domain is not None else "the URLs given"
        raise click.ClickException(f"nothing revoked: no capture in {directory} matches {what}")
    done = revoke_captures(db, captures, reason=reason, who=actor(who), scope=scope, purpose=purpose)
    scope_of = f"for {purpose}" if purpose else "for every purpose"
    click.echo(
        f"revoked {plural(len(done.revoked), 'capture')} {scope_of} (ledger entry {done.ledger_id})",
        err=True,
    )
    if done.already:
        left = "left as it was" if len(done.already) == 1 else "left as they were"
        click.echo(f"{plural(len(done.already), 'capture')} already revoked {scope_of}: {left}", err=True)


@click.command()
@click.argument("directory", type=DIR)
@click.option(
    "--policies",
    "store_dir",
    type=DIR,
    help="The ToS policy store to apply [default: the crawl's, if it is still there].",
)
@click.option("--by", "who", default=None, help="Who runs it, for the ledger [default: your login name].")
@click.option("-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE", help="Override a setting.")
def recheck(directory: Path, store_dir: Path | None, who: str | None, overrides: tuple[str, ...]) -> None:
    """Fetch each captured host's current evidence and revoke what the sites have reserved since.

    robots.txt, tdmrep.json, ai.txt and the RSL licences are fetched again (and
    archived), the current ToS store is applied, and every capture is judged
    again for every purpose; pages are not fetched again. A capture that a
    document read whole now reserves becomes revoked for that purpose, with
    the new decision recorded. A failed fetch is not new evidence: a host
    whose documents could not all be read (unreachable, 5xx, a timeout, a
    document cut short) is listed as not rechecked, its captures are revoked
    only where a document that was read reserves them, and the command exits
    with status 1. Nothing is deleted. Prints what changed (stdout) and its
    progress (stderr).

    \b
    Example:
        permitcrawl recheck crawls/example --policies tos-policies
    """
    from crawler.adapters.overrides import parse_overrides
    from crawler.adapters.runner import prepare_crawl, run_spider
    from crawler.adapters.spiders.recheck import RecheckSpider
    from crawler.workflows.ledger import actor
    from crawler.workflows.recheck import plan_recheck, reserved_since, revoke_reserved
    from policies.urls import origin_of

    db = open_crawl_dir(directory, write=True)
    plan = plan_recheck(db, directory, store_dir)
    db.close()
    urls = plan.urls
    prepared = prepare_crawl(
        directory,
        purpose=plan.purpose,
        store_dir=plan.store_dir,
        overrides={**plan.settings, **parse_overrides(overrides)},
        extra={"PROGRESS_INTERVAL": 0},
    )
    hosts = len({origin_of(url) for url in urls})
    click.echo(
        f"Rechecking {plural(len(urls), 'captured URL')} on {plural(hosts, 'host')}: "
        "fetching their robots.txt, tdmrep.json, ai.txt and licences again",
        err=True,
    )
    result, spider = run_spider(
        prepared, RecheckSpider, urls=urls, progress=lambda line: click.echo(line, err=True)
    )
    if result.error or not isinstance(spider, RecheckSpider):
        raise click.ClickException(f"the recheck could not run: {result.error}")
    db = open_crawl_dir(directory, write=True)
    changes = reserved_since(db, spider)
    if changes:
        ledger_id = revoke_reserved(
            db, changes, who=actor(who), crawl_id=result.crawl_id, not_rechecked=spider.not_rechecked()
        )
        echo_table(changes, ["url", "purpose", "signal", "reason"])
        click.echo(f"revoked {len(changes)} (capture, purpose) pairs (ledger entry {ledger_id})", err=True)
    else:
        # Captures revoked before stay revoked and are not counted: "no capture is reserved" would
        # read as if the sites had lifted their reservations.
        click.echo(
            "nothing revoked: no capture still usable is reserved by its site's current evidence", err=True
        )
    failed = spider.not_rechecked()
    for origin, reasons in failed.items():
        click.echo(f"not rechecked: {origin}: {'; '.join(reasons)}", err=True)
    if failed:
        raise click.ClickException(
            f"{len(failed)} of {plural(len(spider.origins), 'host')} could not be rechecked (listed above). "
            "A failed fetch is not new evidence: their captures keep their standing, except where a "
            "document read whole reserves them. Run recheck again when they answer"
        )


@click.command()
@click.argument("directory", type=DIR)
@click.option("--out", type=DIR, help="A new directory for the export (WARC files, provenance.db, index).")
@click.option(
    "--purpose",
    type=PURPOSES,
    help="Export what is usable for this purpose [default: each crawl's own].",
)
@click.option(
    "--purge",
    is_flag=True,
    help="Also erase from this crawl's own WARC files the captures revoked for every purpose (asks first).",
)
@click.option("--dry-run", is_flag=True, help="With --purge: list what would be erased, and change nothing.")
@click.option("--yes", is_flag=True, help="With --purge: erase what is listed without asking.")
@click.option("--by", "who", default=None, help="Who runs it, for the ledger [default: your login name].")
def export(
    directory: Path,
    out: Path | None,
    purpose: str | None,
    purge: bool,
    dry_run: bool,
    yes: bool,
    who: str | None,
) -> None:
    """Write a new crawl directory holding only the usable captures, and/or erase revoked ones.

    The export's WARC files hold each usable capture's response, request and
    metadata records, the evidence documents its decision rests on and its
    crawl's configuration record, copied byte for byte; its provenance.db holds
    their rows. `permitcrawl audit` works on it as on the original. With
    --purge, captures revoked for every purpose are physically removed from
    this crawl's WARC files; the ledger keeps a tombstone for each. What will
    be erased is listed (on stdout) first, and erased only with --yes or when
    you answer yes at the terminal; otherwise nothing changes (exit status 1).
    --dry-run lists it and stops.

    \b
    Example:
        permitcrawl export crawls/example --out datasets/example-train --purpose ai-train
        permitcrawl export crawls/example --purge --dry-run
        permitcrawl export crawls/example --purge --yes --by legal
    """
    from crawler.storage.index import write_index
    from crawler.workflows.export import check_destination
    from crawler.workflows.ledger import actor

    if out is None and not purge:
        raise click.UsageError("give --out (a new directory to export to), --purge, or both")
    if (dry_run or yes) and not purge:
        raise click.UsageError("--dry-run and --yes are for --purge; give --purge too")
    if dry_run and out is not None:
        raise click.UsageError("--dry-run changes nothing, so it exports nothing either; leave out --out")
    if out is not None:
        check_destination(directory, out)  # before anything is erased
    db = open_crawl_dir(directory, write=True)
    who = actor(who)
    if purge and not _purge(directory, db, who=who, dry_run=dry_run, yes=yes):
        return
    if out is not None:
        report = _export_whole(directory, db, out, purpose=purpose, who=who)
        _, lines = write_index(out)
        for problem in report.problems:
            click.echo(problem, err=True)
        click.echo(
            f"exported {report.captures} captures, {report.evidence} evidence documents, "
            f"{report.records} records into {len(report.warc_files)} WARC files in {out} "
            f"(index.cdxj: {lines} lines)",
            err=True,
        )
        if report.problems:
            raise SystemExit(1)


def _export_whole(directory: Path, db: Any, out: Path, *, purpose: str | None, who: str) -> Any:
    """Export ``directory`` into ``out`` (new or empty), or leave nothing there: all or none.

    An export that fails half-way (``out`` cannot be created or written, the
    disk fills) would leave WARC files and no database, which no command reads
    and the next export refuses as not empty. What it wrote is removed, and the
    failure is an error naming ``out``.
    """
    import shutil

    from crawler.workflows.export import ExportError
    from crawler.workflows.export import export as export_crawl

    existed = out.is_dir()  # empty, as check_destination made sure: every file in it is ours
    try:
        return export_crawl(directory, db, out, purpose=purpose, who=who)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from exc
    except BaseException as exc:
        if out.is_dir():
            for made in out.iterdir() if existed else [out]:
                if made.is_dir() and not made.is_symlink():
                    shutil.rmtree(made, ignore_errors=True)
                else:
                    made.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise click.ClickException(
                f"{out}: the export could not be written ({exc.strerror or exc}); nothing was exported"
            ) from exc
        raise


def _confirmed(question: str) -> bool:
    """Ask ``question`` on stderr and read the answer from stdin (a terminal); True only for a yes."""
    import sys

    click.echo(f"{question} [y/N] ", nl=False, err=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _purge(directory: Path, db: Any, *, who: str, dry_run: bool, yes: bool) -> bool:
    """List what ``export --purge`` erases, then erase it if confirmed; False on a dry run.

    Raises ClickException (nothing changed) when it is not confirmed.
    """
    import sys

    from crawler.storage.index import write_index
    from crawler.workflows.purge import purge as purge_crawl
    from crawler.workflows.purge import purgeable, revocation_reasons

    doomed = purgeable(db)
    if not doomed:
        click.echo("nothing to purge: no capture is revoked for every purpose", err=True)
        return not dry_run
    listed = [{**row, "reason": revocation_reasons(db, row["warc_record_id"])} for row in doomed]
    echo_table(listed, ["url", "warc_file", "reason"])
    files = len({row["warc_file"] for row in doomed})
    what = f"{plural(len(doomed), 'capture')} revoked for every purpose, from {plural(files, 'WARC file')}"
    if dry_run:
        click.echo(f"dry run: would erase {what}; nothing erased", err=True)
        return False
    if not yes:
        if not sys.stdin.isatty():
            raise click.ClickException(
                f"not erasing {what}: nobody confirmed it (stdin is not a terminal). "
                "Give --yes to erase what is listed above, or --dry-run to only list it"
            )
        if not _confirmed(f"Erase {what}? This cannot be undone."):
            raise click.ClickException("nothing erased: not confirmed")
    erased = purge_crawl(directory, db, who=who, only={row["warc_record_id"] for row in doomed})
    if not erased.captures:  # un-revoked while we asked: erase nothing that was not agreed to
        click.echo("nothing erased: the captures listed are no longer revoked for every purpose", err=True)
        return True
    if (directory / "index.cdxj").exists():
        write_index(directory)  # the old index points at offsets that moved
    removed = f"{erased.records} records, {erased.bytes_removed} bytes"
    click.echo(
        f"purged {plural(erased.captures, 'capture')} ({removed}) "
        f"from {plural(len(erased.files), 'WARC file')} (ledger entry {erased.ledger_id})",
        err=True,
    )
    return True


@click.command()
@click.argument("directory", type=DIR)
def index(directory: Path) -> None:
    """Write DIRECTORY/index.cdxj, a CDXJ index of the crawl's WARC files for replay tools such as pywb.

    \b
    Example:
        permitcrawl index crawls/example
    """
    from crawler.storage.index import warc_files, write_index

    if not warc_files(directory):
        raise click.ClickException(f"{directory}: no WARC files in {directory / 'warc'}")
    path, lines = write_index(directory)
    click.echo(f"wrote {path} ({lines} lines)", err=True)


@click.command()
@click.argument("directory", type=DIR)
@click.option("--title", default=None, help="The title Datasette shows [default: the directory's name].")
def datasette(directory: Path, title: str | None) -> None:
    """Write DIRECTORY/datasette.json: table descriptions and canned queries for Datasette.

    Queries: usable pages by purpose, refusals by signal and domain, top
    domains by volume per crawl, a training-data summary per crawl, the
    ledger, captures and refusals by day.

    \b
    Example:
        permitcrawl datasette crawls/example
        datasette crawls/example/provenance.db -m crawls/example/datasette.json    # Datasette 0.x
        datasette crawls/example/provenance.db -c crawls/example/datasette.json    # Datasette 1.0
    """
    import json as jsonlib

    from crawler.storage.datasette import datasette_config

    open_crawl_dir(directory).close()
    path = directory / "datasette.json"
    config = datasette_config(title or f"permitcrawl: {directory.resolve().name}")
    path.write_text(jsonlib.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    click.echo(f"wrote {path}", err=True)


@click.command()
@click.argument("directories", nargs=-1, required=True, type=DIR, callback=distinct_dirs)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the HTML [default: DIRECTORY/report.html; required with several directories].",
)
def report(directories: tuple[Path, ...], out: Path | None) -> None:
    """Write a self-contained HTML report: purpose, totals, by signal, by domain, revocations, over time.

    Several crawl directories (the workers of one distributed crawl) make one
    report, each URL counted once as `permitcrawl merge` would keep it; nothing
    is merged or written but the report.

    \b
    Example:
        permitcrawl report crawls/example && xdg-open crawls/example/report.html
        permitcrawl report crawls/worker-1 crawls/worker-2 --out crawl-report.html
    """
    from crawler.workflows.merge import Source, union_db
    from crawler.workflows.report import render

    if len(directories) > 1 and out is None:
        raise click.UsageError(
            "give --out: with several crawl directories, the report belongs to none of them"
        )
    if len(directories) == 1:
        db = open_crawl_dir(directories[0])
    else:
        sources = [Source(n, d, open_crawl_dir(d)) for n, d in enumerate(directories, start=1)]
        db = union_db(sources)
    out = out or directories[0] / "report.html"
    out.write_text(render(db, *directories), encoding="utf-8")
    click.echo(f"wrote {out}", err=True)
