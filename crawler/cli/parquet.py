"""Rows to a Parquet file: ``pages --format parquet --out FILE``, for DuckDB, Spark and pandas.

pyarrow is an optional extra (``pip install 'permitcrawl[parquet]'``), imported
only here and only when a Parquet file is asked for. The file has the columns
of ``--format jsonl``, in its order, with a fixed schema: text as strings, counts
and offsets as int64, flags as bool, times as the ISO 8601 text jsonl holds, and
a list or dict value (``basis``) as its JSON text, as CSV writes it. Rows are
written in record batches as they come, so memory stays bounded whatever the
number of rows; the file is written beside ``FILE`` under a temporary name and
linked into place only once whole, so a failure leaves no ``FILE``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from pathlib import Path

    import pyarrow as pa

# Rows held in memory at most before they are written: a record batch (and a row group) each.
BATCH_ROWS = 50_000

MISSING_PYARROW = "--format parquet needs pyarrow: pip install 'permitcrawl[parquet]'"

# The Arrow type of each column that is not text; every other column is a string.
INT_COLUMNS = frozenset({"warc_offset", "warc_length", "status"})
BOOL_COLUMNS = frozenset({"usable", "revoked"})
JSON_COLUMNS = frozenset({"basis"})


def import_pyarrow() -> Any:
    """Return the ``pyarrow`` module, or fail with how to install it (exit 1, no traceback)."""
    try:
        import pyarrow
        import pyarrow.parquet  # the submodule is what writes the file
    except ImportError as exc:
        raise click.ClickException(MISSING_PYARROW) from exc
    return pyarrow


def schema(pa: Any, fields: Sequence[str]) -> pa.Schema:
    """The fixed schema of ``fields``: every column nullable (a capture may lack a content type)."""

    def arrow_type(name: str) -> Any:
        if name in INT_COLUMNS:
            return pa.int64()
        if name in BOOL_COLUMNS:
            return pa.bool_()
        return pa.string()

    return pa.schema([pa.field(name, arrow_type(name), nullable=True) for name in fields])


def check_out(out: Path) -> None:
    """Refuse an ``--out`` that exists (nothing is overwritten) or whose directory does not."""
    if os.path.lexists(out):
        raise click.ClickException(f"{out}: already exists; give a new file name (nothing is overwritten)")
    if not out.parent.is_dir():
        raise click.ClickException(f"{out}: the directory {out.parent} does not exist")


def write_parquet(
    rows: Iterable[Mapping[str, Any]], out: Path, *, fields: Sequence[str], batch_rows: int = BATCH_ROWS
) -> int:
    """Write the ``fields`` of ``rows`` to the new Parquet file ``out``, all or none; return the row count.

    ``out`` must not exist: the rows go to a temporary file beside it, which is
    linked to ``out`` once complete (a file that appeared at ``out`` meanwhile
    is kept, and the command fails naming it) and removed in every case. An
    empty ``rows`` makes a valid file with the schema and no row.
    """
    pa = import_pyarrow()
    check_out(out)
    arrow_schema = schema(pa, fields)
    partial = out.with_name(f".{out.name}.{secrets.token_hex(8)}.partial")
    count = 0
    try:
        with open(partial, "xb") as file:
            writer = pa.parquet.ParquetWriter(file, arrow_schema)
            try:
                for batch in _batches(rows, fields, batch_rows):
                    writer.write_batch(pa.RecordBatch.from_pydict(batch, schema=arrow_schema))
                    count += len(batch[fields[0]]) if fields else 0
            finally:
                writer.close()
            file.flush()
            os.fsync(file.fileno())
        _link_into_place(partial, out)
    except OSError as exc:
        raise click.ClickException(f"{out}: could not be written ({exc.strerror or exc})") from exc
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    return count


def _batches(
    rows: Iterable[Mapping[str, Any]], fields: Sequence[str], size: int
) -> Iterable[dict[str, list[Any]]]:
    """The rows, ``size`` at a time, as columns (lists and dicts as their JSON text)."""
    columns: dict[str, list[Any]] = {name: [] for name in fields}
    held = 0
    for row in rows:
        for name in fields:
            value = row[name]
            if name in JSON_COLUMNS or isinstance(value, list | dict):
                value = json.dumps(value, ensure_ascii=False)
            columns[name].append(value)
        held += 1
        if held == size:
            yield columns
            columns = {name: [] for name in fields}
            held = 0
    if held:
        yield columns


def _link_into_place(partial: Path, out: Path) -> None:
    """Give the finished file its name, never over a file that appeared there meanwhile."""
    try:
        os.link(partial, out)
    except FileExistsError as exc:
        raise click.ClickException(
            f"{out}: already exists (made while the rows were written); it was left as it was"
        ) from exc
