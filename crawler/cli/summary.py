"""``summary``: the web-crawl part of the EU public summary of training content, from the crawl record."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path

import click

from crawler.cli.group import open_crawl_dir
from crawler.cli.params import DIR, distinct_dirs

SUMMARY_FORMATS = ("md", "json", "html")


@click.command()
@click.argument("directories", nargs=-1, required=True, type=DIR, callback=distinct_dirs)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(SUMMARY_FORMATS),
    default="md",
    show_default=True,
    help="Markdown, JSON (stable keys) or a self-contained HTML page.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this new file instead of stdout (never over an existing file).",
)
@click.option(
    "--sme",
    is_flag=True,
    help="List the SME share of domains: the top 5% or 1,000, whichever is lower (default: top 10%).",
)
def summary(directories: tuple[Path, ...], fmt: str, out: Path | None, sme: bool) -> None:
    """Summarise what the crawls collected, as the EU training-content template's section 2.3 asks.

    Crawler names and robots tokens, purposes, crawl period, the refusals per
    signal and purpose, content types, and the most relevant domains by payload
    bytes collected, read from the provenance databases alone (read-only).
    Several crawl directories (the workers of one crawl, or crawls months
    apart) add up, each directory's pages as `pages DIR...` lists them.
    Fields no crawl record holds (provider, model, other data sources) are
    left as marked blanks.

    \b
    Example:
        permitcrawl summary crawls/example > training-summary.md
        permitcrawl summary crawls/worker-1 crawls/worker-2 --format html --out summary.html
        permitcrawl summary crawls/example --format json --sme
    """
    from crawler.workflows.summary import build, html_document, markdown

    if out is not None:
        check_new_file(out)
    data = build([(str(d), open_crawl_dir(d)) for d in directories], sme=sme)
    if fmt == "json":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    elif fmt == "html":
        text = html_document(data)
    else:
        text = markdown(data)
    if out is None:
        click.echo(text, nl=False)
        return
    write_new_file(out, text)
    click.echo(f"wrote {out}", err=True)


def check_new_file(out: Path) -> None:
    """Refuse an ``--out`` that exists (nothing is overwritten) or whose directory does not."""
    if os.path.lexists(out):
        raise click.ClickException(f"{out}: already exists; give a new file name (nothing is overwritten)")
    if not out.parent.is_dir():
        raise click.ClickException(f"{out}: the directory {out.parent} does not exist")


def write_new_file(out: Path, text: str) -> None:
    """Write ``text`` to the new file ``out``, whole or not at all, never over a file made meanwhile."""
    partial = out.with_name(f".{out.name}.{secrets.token_hex(8)}.partial")
    try:
        with open(partial, "x", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(partial, out)
        except FileExistsError as exc:
            raise click.ClickException(
                f"{out}: already exists (made while the summary was written); it was left as it was"
            ) from exc
    except OSError as exc:
        raise click.ClickException(f"{out}: could not be written ({exc.strerror or exc})") from exc
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
