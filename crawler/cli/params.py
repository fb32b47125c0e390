"""Argument and option types the command families share."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from policies.purpose import Purpose

# A crawl directory, or a directory to write.
DIR = click.Path(file_okay=False, path_type=Path)
PURPOSES = click.Choice([p.value for p in Purpose])


def iso_time(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
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


def host_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A host or domain name as hosts are stored (lower case, IDNA, no final dot), never a pattern."""
    from crawler.workflows.ledger import DomainError, domain_name

    if value is None:
        return None
    try:
        return domain_name(value)
    except DomainError as exc:
        raise click.BadParameter(str(exc)) from None


def distinct_dirs(ctx: click.Context, param: click.Parameter, value: tuple[Path, ...]) -> tuple[Path, ...]:
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
