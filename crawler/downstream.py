"""Commands for the teams that use a crawl later: audit, revoke, recheck, export, index, datasette, report."""

from __future__ import annotations

from pathlib import Path

import click

from crawler.errors import PermitcrawlError

DIR = click.Path(file_okay=False, path_type=Path)


def _open(directory: Path):
    from crawler.storage.queries import open_crawl

    try:
        return open_crawl(directory)
    except PermitcrawlError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command()
@click.argument("directory", type=DIR)
def audit(directory: Path) -> None:
    """Re-derive every decision from the WARC files alone, compare with provenance.db; exit 1 on a difference.

    \b
    Example:
        permitcrawl audit crawls/example
    """
    from crawler.storage.audit import audit_dir

    report = audit_dir(directory, _open(directory))
    for difference in report.differences:
        click.echo(difference)
    found = len(report.differences)
    click.echo(
        f"audited {report.captures} captures and {report.refusals} refusals: {found} differences", err=True
    )
    if not report.ok:
        raise SystemExit(1)
