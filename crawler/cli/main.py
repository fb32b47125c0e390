"""The ``permitcrawl`` group: every command family under one name.

Data goes to stdout, messages to stderr; :mod:`crawler.cli.group` says how a
failure ends. The families: :mod:`crawler.cli.crawl` (crawl, demo),
:mod:`crawler.cli.pages` (pages, explain), :mod:`crawler.cli.dataset` (audit,
revoke, recheck, export, index, datasette, report), :mod:`crawler.cli.policy`
(the ToS policy store).
"""

from __future__ import annotations

import click

from crawler import __version__
from crawler.cli.crawl import crawl, demo
from crawler.cli.dataset import audit, datasette, export, index, recheck, report, revoke
from crawler.cli.group import CommandGroup
from crawler.cli.pages import explain, pages
from crawler.cli.policy import policy

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


@click.group(cls=CommandGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="permitcrawl")
def cli() -> None:
    """Collect web pages for AI training only where sites permit it, and record why."""


for _command in (
    crawl,
    demo,
    pages,
    explain,
    policy,
    audit,
    datasette,
    export,
    index,
    recheck,
    report,
    revoke,
):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli()
