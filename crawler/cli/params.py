"""Argument and option types the command families share."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from policies.purpose import Purpose

# A crawl directory, or a directory to write.
DIR = click.Path(file_okay=False, path_type=Path)
PURPOSES = click.Choice([p.value for p in Purpose])


def iso_time(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Check that ``value`` is an ISO 8601 date or time; return it as given."""
    if value is None:
        return None
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date; expected YYYY-MM-DD or an ISO 8601 time"
        ) from None
    return value
