"""Rows on stdout: one ``--format`` option and one writer for aligned text, JSON lines and CSV.

Aligned text is for people; JSON lines and CSV are for tools, and carry every
field of a row (CSV writes a list or dict value as JSON).
"""

from __future__ import annotations

import csv
import json
import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

FORMATS = ("table", "jsonl", "csv")


def format_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--format table|jsonl|csv`` option, passed to the command as ``fmt``."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="Aligned columns for people, or every field as JSON lines or CSV for tools.",
    )(func)


def write_rows(
    rows: Iterable[Mapping[str, Any]], fmt: str, *, fields: Sequence[str], columns: Sequence[str]
) -> None:
    """Print ``rows`` on stdout in ``fmt``: ``fields`` in JSON lines and CSV, ``columns`` in a table.

    JSON lines and CSV are written as the rows come (a CSV header first, even
    with no row); a table is aligned, so its rows are read first.
    """
    if fmt == "table":
        echo_table(rows, columns)
    elif fmt == "jsonl":
        # One write per row into stdout's buffer, not click.echo's flush per row: a stream of a
        # million rows would otherwise cost a system call each (the buffer is flushed at exit,
        # and line by line on a terminal).
        encode, write = json.JSONEncoder(ensure_ascii=False).encode, sys.stdout.write
        for row in rows:
            write(encode({k: row[k] for k in fields}) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(fields), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row[k]) for k in fields})
    else:
        raise ValueError(f"write_rows() expects one of {', '.join(FORMATS)}, got {fmt!r}")


def _cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value


def echo_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Print the ``columns`` of ``rows`` as aligned text (the table format of :func:`write_rows`)."""
    for line in table(rows, columns):
        click.echo(line)


def table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> Iterator[str]:
    """Plain aligned text columns, for humans (data tools get jsonl or csv)."""
    cells = [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    yield "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()
    yield "  ".join("-" * w for w in widths)
    for row in cells:
        yield "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()


def plural(count: int, word: str) -> str:
    """``1 capture``, ``2 captures``."""
    return f"{count} {word}{'' if count == 1 else 's'}"
