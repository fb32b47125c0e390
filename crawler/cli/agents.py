"""``permitcrawl agents``: the AI-crawler list that ``robots-ai-agents`` reads, and its updates.

``agents`` lists it (token, operator, our purpose, whether it respects
robots.txt) with the list's commit and date on stderr; ``agents update FILE``
checks a newer ai.robots.txt ``robots.json`` strictly, shows what it changes,
asks, and installs it in the agents directory (``--agents-dir`` or
``PERMITCRAWL_AGENTS_DIR``), all or none.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crawler.cli.group import CommandGroup
from crawler.cli.output import plural, write_rows
from crawler.cli.params import DIR

# crawler.judging.config.AGENTS_DIR_ENV and policies.aiagents.PURPOSES, spelled out here (a test
# checks they agree): the options need them to build the command line, and the list's code (which
# loads the decision engine) is imported only by the command that runs.
AGENTS_DIR_ENV = "PERMITCRAWL_AGENTS_DIR"
PURPOSES = ("training", "ai-input", "user-initiated", "other", "unclassified")

if TYPE_CHECKING:
    from policies.aiagents import Agent, AgentList, ListChanges

FIELDS = ("token", "operator", "purpose", "respects_robots", "robots_key", "function", "operator_url")
COLUMNS = ("token", "operator", "purpose", "respects_robots")
_COMMIT = re.compile(r"[0-9a-f]{7,40}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _agents_dir_option(func: Any) -> Any:
    return click.option(
        "--agents-dir",
        type=DIR,
        envvar=AGENTS_DIR_ENV,
        help=f"The agents directory updates are installed in [env: {AGENTS_DIR_ENV}]; "
        "none: the list bundled with permitcrawl.",
    )(func)


def _list_in(agents_dir: Path | None) -> AgentList:
    """The list in force for ``agents_dir`` (None: bundled); an error if the directory is not one."""
    from policies.aiagents import AgentListError, load_agents

    if agents_dir is None:
        return load_agents("")
    if agents_dir.exists() and not agents_dir.is_dir():
        raise click.ClickException(f"{agents_dir}: not a directory; expected the agents directory")
    try:
        return load_agents(str(agents_dir.resolve()))
    except AgentListError as exc:
        raise click.ClickException(str(exc)) from None


def _row(agent: Agent) -> dict[str, Any]:
    return {
        "token": agent.token,
        "operator": agent.operator,
        "purpose": agent.purpose,
        "respects_robots": agent.respect,
        "robots_key": agent.key,
        "function": agent.function,
        "operator_url": agent.operator_url,
    }


def _say_source(agents: AgentList) -> None:
    click.echo(
        f"{plural(len(agents.agents), 'agent')} from {agents.provenance}, {agents.where} "
        "(MIT licence, Copyright (c) 2024 ai.robots.txt)",
        err=True,
    )


@click.group(cls=CommandGroup, invoke_without_command=True)
@_agents_dir_option
@click.option(
    "--purpose",
    "purposes",
    multiple=True,
    type=click.Choice(list(PURPOSES)),
    help="Only the agents of this purpose (repeatable).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "jsonl", "csv"]),
    default="table",
    show_default=True,
    help="Aligned columns for people (long values cut), the list and its source as one JSON document, "
    "or rows as JSON lines or CSV.",
)
@click.pass_context
def agents(ctx: click.Context, agents_dir: Path | None, purposes: tuple[str, ...], fmt: str) -> None:
    """List the AI crawlers whose robots.txt groups robots-ai-agents reads.

    The list is ai.robots.txt's robots.json (MIT) at the commit it came from,
    with our purpose column: training (counts for ai-train), ai-input and
    user-initiated (count for ai-input), other (not read), unclassified (a
    token our column does not know yet: counts for ai-train and ai-input).
    The list's commit, date and sha256 are said on stderr (in the document,
    with --format json). An update installed with 'agents update' is listed
    from the agents directory.

    \b
    Example:
        permitcrawl agents
        permitcrawl agents --purpose training --format json
        permitcrawl agents update robots.json --agents-dir ~/.local/share/permitcrawl/agents
    """
    if ctx.invoked_subcommand is not None:
        ctx.obj = agents_dir
        return
    found = _list_in(agents_dir)
    rows = [_row(a) for a in found.agents if not purposes or a.purpose in purposes]
    _say_source(found)
    if fmt == "json":
        document = {"list": found.record(), "license": "MIT", "agents": rows}
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    elif fmt == "table":
        write_rows([_short(row) for row in rows], fmt, fields=FIELDS, columns=COLUMNS)
    else:
        write_rows(rows, fmt, fields=FIELDS, columns=COLUMNS)


def _short(row: dict[str, Any], width: int = 60) -> dict[str, Any]:
    """The row with long text cut for a table (JSON and CSV carry every character)."""
    return {k: v[: width - 1] + "…" if isinstance(v, str) and len(v) > width else v for k, v in row.items()}


def _say_changes(changes: ListChanges) -> None:
    """What replacing the list changes, on stderr."""
    from policies.aiagents import DEFAULT_PURPOSE

    for agent in changes.added:
        click.echo(f"  + {agent.token} ({agent.operator}): purpose {agent.purpose}", err=True)
    for agent in changes.removed:
        click.echo(f"  - {agent.token} ({agent.operator}): purpose {agent.purpose}", err=True)
    for token, name, was, now in changes.changed:
        click.echo(f"  ~ {token}: {name} {was!r} -> {now!r}", err=True)
    for agent in changes.unclassified:
        click.echo(
            f"  ! {agent.token}: no purpose in our column; it gets {DEFAULT_PURPOSE!r} "
            "(its disallow rules count for ai-train and ai-input)",
            err=True,
        )


def _confirmed(question: str) -> bool:
    """Ask on stderr, read one line of stdin: only y or yes agrees (end of input does not)."""
    click.echo(f"{question} [y/N] ", nl=False, err=True)
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):
        click.echo(err=True)  # no one typed a line: end the question's
    return answer.strip().lower() in ("y", "yes")


def _checked(value: str | None, pattern: re.Pattern[str], option: str, expected: str) -> str:
    if value is None:
        return ""
    if not pattern.fullmatch(value):
        raise click.BadParameter(f"{value!r}; expected {expected}", param_hint=option)
    return value


@agents.command("update")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_agents_dir_option
@click.option("--commit", help="The ai.robots.txt commit FILE comes from (hex), recorded with it.")
@click.option("--date", "date", help="The date of that commit (YYYY-MM-DD), recorded with it.")
@click.option("--yes", is_flag=True, help="Install without asking.")
@click.pass_context
def update(
    ctx: click.Context, file: Path, agents_dir: Path | None, commit: str | None, date: str | None, yes: bool
) -> None:
    """Replace the AI-crawler list with a newer ai.robots.txt robots.json.

    FILE is checked strictly first (a JSON object of agents keyed by token,
    each with the string fields operator, respect, function, frequency and
    description; every error names the file, the entry and its line); then
    the tokens added and removed, the operator, respect, function and purpose
    changes, and the new tokens without a purpose in our column (they get
    'unclassified') are shown, and the list is installed in the agents
    directory once confirmed (--yes: without asking). The old list stays in
    force on any error or a 'no'.

    \b
    Example:
        permitcrawl agents update robots.json --agents-dir ~/.local/share/permitcrawl/agents \\
            --commit 0123abcd --date 2026-12-01
    """
    from crawler.workflows.agents import install_list, source_record
    from policies.aiagents import AgentListError, build_list, compare, parse_robots_json

    agents_dir = agents_dir or ctx.obj
    if agents_dir is None:
        raise click.UsageError(
            f"give the agents directory to install in: --agents-dir DIR, or {AGENTS_DIR_ENV}"
        )
    commit = _checked(commit, _COMMIT, "--commit", "a git commit in lower-case hex, 7 to 40 digits")
    date = _checked(date, _DATE, "--date", "a date YYYY-MM-DD")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise click.ClickException(
            f"{file}: cannot be read ({exc.strerror}); expected a robots.json file"
        ) from None
    old = _list_in(agents_dir)
    try:
        entries = parse_robots_json(data, str(file))
    except AgentListError as exc:
        raise click.ClickException(f"{exc}\nnothing installed: the list in force is unchanged") from None
    source = source_record(data, installed_from=str(file.resolve()), commit=commit, date=date)
    new = build_list(entries, source, str(agents_dir))
    if new.sha256 == old.sha256:
        click.echo(f"{file}: the same list as the one in force ({old.provenance}); nothing to do", err=True)
        return
    changes = compare(old, new)
    click.echo(f"from {old.provenance} ({plural(len(old.agents), 'agent')})", err=True)
    click.echo(f"  to {file} (sha256 {new.sha256[:12]}, {plural(len(new.agents), 'agent')}):", err=True)
    _say_changes(changes)
    counts = (
        f"{len(changes.added)} added, {len(changes.removed)} removed, "
        f"{plural(len(changes.changed), 'field')} changed, {len(changes.unclassified)} unclassified"
    )
    click.echo(counts, err=True)
    if not yes and not _confirmed(f"Install this list in {agents_dir}?"):
        raise click.ClickException("nothing installed: not confirmed (give --yes to install without asking)")
    target = install_list(agents_dir, data, source)
    click.echo(f"installed {target}/robots.json: the list in force for {agents_dir}", err=True)
