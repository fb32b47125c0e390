"""``merge``: one crawl directory from the crawl directories of a distributed crawl's workers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from crawler.cli.group import DATABASE_META
from crawler.cli.output import plural
from crawler.cli.params import DIR, distinct_dirs

if TYPE_CHECKING:
    from pathlib import Path

    from crawler.workflows.merge import Source


@click.command()
@click.argument("directories", nargs=-1, required=True, type=DIR, callback=distinct_dirs)
@click.option("--out", type=DIR, required=True, help="A new (or empty) directory for the merged crawl.")
@click.option(
    "--move",
    is_flag=True,
    help="Move the WARC files out of the inputs (once the merge is in place) instead of linking them.",
)
@click.option("--by", "who", default=None, help="Who runs it, for the ledger [default: your login name].")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="With json, what the merge did is also printed on stdout as one JSON object.",
)
def merge(directories: tuple[Path, ...], out: Path, move: bool, who: str | None, fmt: str) -> None:
    """Merge the crawl directories of a distributed crawl's workers into one, each URL once.

    WARC files are hard-linked (copied byte for byte when OUT is on another
    file system; moved with --move), never rewritten: the n-th input's go to
    OUT/warc/<n>/ and OUT/evidence/<n>/. One provenance.db holds every input's
    rows except those written under a lease the worker had lost (stale) and the
    later captures of a URL captured more than once (duplicates); their WARC
    records are listed as superseded, and a ledger entry says what was dropped
    and why. OUT must not exist, or be empty; it appears whole or not at all.

    \b
    Example:
        permitcrawl merge crawls/worker-1 crawls/worker-2 --out crawls/merged
    """
    from crawler.workflows.ledger import actor
    from crawler.workflows.merge import check_destination
    from crawler.workflows.merge import merge as merge_dirs

    check_destination(out, directories)
    sources = [_source(number, directory) for number, directory in enumerate(directories, start=1)]
    try:
        report = merge_dirs(sources, out, move=move, who=actor(who))
    except OSError as exc:
        raise click.ClickException(
            f"{out}: the merge could not be written ({exc.strerror or exc}); nothing was merged"
        ) from exc
    if report.copied:
        click.echo(
            f"{plural(report.copied, 'WARC file')} copied byte for byte (another file system: "
            "no hard link possible)",
            err=True,
        )
    dropped = report.counts()
    said = "; ".join(
        f"{table}: {counts['stale']} stale, {counts['duplicate']} duplicates"
        for table, counts in dropped.items()
    )
    how = "moved" if move else "linked"
    click.echo(
        f"merged {len(sources)} crawl {'directory' if len(sources) == 1 else 'directories'} into {out}: "
        f"kept {plural(report.captures, 'capture')} and {plural(report.refusals, 'refusal')}; "
        f"dropped {said}; "
        f"{plural(report.warc_files, 'WARC file')} {how} (ledger entry {report.ledger_id})",
        err=True,
    )
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))


def _source(number: int, directory: Path) -> Source:
    """One input, checked: a crawl directory with no WARC file still open, locked, opened read-only.

    The lock refuses a directory a crawl is still writing (naming it), and
    keeps writers out while its files are linked; the database itself is
    opened read-only.
    """
    from crawler.storage.lock import lock_directory
    from crawler.storage.provenance import inspect_db
    from crawler.storage.queries import DB_NAME, open_crawl
    from crawler.workflows.merge import Source, check_closed

    if not directory.is_dir():
        raise click.ClickException(
            f"{directory}: not a directory; expected a crawl directory made by permitcrawl crawl"
        )
    inspect_db(directory / DB_NAME)  # a directory that is not a crawl's gets no lock file either
    lock_directory(directory)
    check_closed(directory)
    click.get_current_context().meta[DATABASE_META] = directory / DB_NAME
    return Source(number=number, directory=directory, db=open_crawl(directory))
