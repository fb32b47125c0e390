"""The ``permitcrawl`` group: every command family under one name.

Data goes to stdout, messages to stderr; :mod:`crawler.cli.group` says how a
failure ends. The families: :mod:`crawler.cli.crawl` (crawl, demo),
:mod:`crawler.cli.pages` (pages, explain), :mod:`crawler.cli.dataset` (audit,
revoke, recheck, export, index, datasette, report), :mod:`crawler.cli.merge`
(merge), :mod:`crawler.cli.summary` (summary), :mod:`crawler.cli.keys` (signing keys),
:mod:`crawler.cli.policy` (the ToS policy store), :mod:`crawler.cli.agents` (the AI-crawler list).
"""

from __future__ import annotations

import os
import sys

import click

from crawler import package_version
from crawler.cli.agents import agents
from crawler.cli.botinfo import botinfo
from crawler.cli.crawl import crawl, demo
from crawler.cli.dataset import audit, datasette, export, index, recheck, report, revoke
from crawler.cli.frontier import frontier
from crawler.cli.group import CommandGroup
from crawler.cli.keys import keys
from crawler.cli.merge import merge
from crawler.cli.pages import explain, pages
from crawler.cli.policy import policy
from crawler.cli.summary import summary

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``--version``: print click's version line and exit (the version is read only here)."""
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"permitcrawl, version {package_version()}", color=ctx.color)
    ctx.exit()


@click.group(cls=CommandGroup, context_settings=CONTEXT_SETTINGS)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
def cli() -> None:
    """Collect web pages for AI training only where sites permit it, and record why."""


for _command in (
    agents,
    crawl,
    botinfo,
    demo,
    pages,
    explain,
    policy,
    audit,
    datasette,
    export,
    frontier,
    index,
    keys,
    merge,
    recheck,
    report,
    revoke,
    summary,
):
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
