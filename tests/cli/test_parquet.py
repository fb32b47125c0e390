"""The Parquet writer: record batches as the rows come, all or none, and a clear error without pyarrow."""

from __future__ import annotations

import builtins
import json
import os
from typing import TYPE_CHECKING, Any

import click
import pyarrow.parquet as pq
import pytest

from crawler.cli import parquet
from crawler.cli.parquet import MISSING_PYARROW, write_parquet

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

FIELDS = ["url", "warc_offset", "status", "usable", "content_type", "basis"]


def row(n: int) -> dict[str, Any]:
    return {
        "url": f"http://a.test/{n}",
        "warc_offset": 2**40 + n,  # past 32 bits: int64
        "status": 200,
        "usable": n % 2 == 0,
        "content_type": None if n == 3 else "text/html",
        "basis": [{"signal": "robots", "reason": "rück"}],
    }


def test_rows_are_written_in_batches_and_read_back_the_same(tmp_path: Path) -> None:
    out = tmp_path / "p.parquet"
    assert write_parquet((row(n) for n in range(5)), out, fields=FIELDS, batch_rows=2) == 5
    file = pq.ParquetFile(out)
    assert [file.metadata.row_group(i).num_rows for i in range(file.metadata.num_row_groups)] == [2, 2, 1]
    back = file.read().to_pylist()
    assert [{**r, "basis": json.loads(r["basis"])} for r in back] == [row(n) for n in range(5)]
    assert os.listdir(tmp_path) == ["p.parquet"]


def test_a_failure_after_batches_were_written_leaves_no_file(tmp_path: Path) -> None:
    def rows() -> Iterator[dict[str, Any]]:
        for n in range(5):
            yield row(n)
        # Two batches are in the temporary file by now.
        assert next(p.name for p in tmp_path.iterdir()).endswith(".partial")
        raise click.ClickException("the database may be damaged")

    with pytest.raises(click.ClickException, match="damaged"):
        write_parquet(rows(), tmp_path / "p.parquet", fields=FIELDS, batch_rows=2)
    assert os.listdir(tmp_path) == []


def test_a_file_made_meanwhile_is_kept(tmp_path: Path) -> None:
    out = tmp_path / "p.parquet"

    def rows() -> Iterator[dict[str, Any]]:
        yield row(1)
        out.write_bytes(b"someone else's")

    with pytest.raises(click.ClickException, match="already exists"):
        write_parquet(rows(), out, fields=FIELDS)
    assert out.read_bytes() == b"someone else's" and os.listdir(tmp_path) == ["p.parquet"]


def test_without_pyarrow_the_error_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def blocked(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.split(".")[0] == "pyarrow":
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", blocked)
    with pytest.raises(click.ClickException) as caught:
        parquet.import_pyarrow()
    assert caught.value.message == MISSING_PYARROW
    with pytest.raises(click.ClickException):
        write_parquet(iter([row(1)]), tmp_path / "p.parquet", fields=FIELDS)
    assert os.listdir(tmp_path) == []
