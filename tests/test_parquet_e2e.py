"""``pages --format parquet --out FILE`` end to end: the jsonl rows, in a file written whole or not at all.

The Parquet file is read back with pyarrow and compared with ``--format jsonl``
row for row and column for column; ``basis`` is JSON text in Parquet (as in
CSV), so it is compared parsed.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crawler.localweb.server import LocalWebServer, serve
from tests.conftest import cli_env, run_cli
from tests.sites import DOWNSTREAM_SEEDS, downstream_sites

FIELDS = [
    *("crawl_dir", "url", "warc_file", "warc_offset", "warc_length", "warc_record_id", "fetched_at"),
    *("status", "content_type", "payload_digest", "payload_sha256", "purpose", "usable", "revoked"),
    *("signal", "reason", "crawl_id", "charged", "basis"),
]


@pytest.fixture(scope="module")
def two_crawls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A crawl of the downstream web and an export of it: two crawl directories to list together."""
    from tests.conftest import crawl

    server: LocalWebServer = serve(downstream_sites())
    try:
        run = crawl(server, tmp_path_factory.mktemp("parquet") / "crawl", seeds=DOWNSTREAM_SEEDS)
    finally:
        server.close()
    assert run.result.returncode == 0, run.result.stderr
    exported = run.out.parent / "export"
    result = run_cli("export", run.out, "--out", exported)
    assert result.returncode == 0, result.stderr
    return run.out, exported


def jsonl(*args: str | Path) -> list[dict[str, Any]]:
    result = run_cli("pages", *args, "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def parquet(out: Path, *args: str | Path) -> list[dict[str, Any]]:
    result = run_cli("pages", *args, "--format", "parquet", "--out", out)
    assert result.returncode == 0, result.stderr
    table = pq.read_table(out)
    assert table.column_names == FIELDS
    assert table.schema.field("warc_offset").type == pa.int64()
    assert table.schema.field("status").type == pa.int64()
    assert table.schema.field("usable").type == pa.bool_()
    assert table.schema.field("fetched_at").type == pa.string()
    assert table.schema.field("basis").type == pa.string()
    rows = table.to_pylist()
    assert f"wrote {len(rows)} page" in result.stderr
    return [{**row, "basis": json.loads(row["basis"])} for row in rows]


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--usable", "--host", "stable.test"],
        ["--unusable"],
        ["--domain", "erase.test", "--purpose", "search"],
        ["--signal", "tdmrep", "--content-type", "text/html"],
        ["--since", "2000-01-01", "--until", "2999-01-01", "--usable"],
    ],
    ids=["all", "usable-host", "unusable", "domain-purpose", "signal-content-type", "since-until"],
)
def test_parquet_holds_the_jsonl_rows_over_two_crawls(
    two_crawls: tuple[Path, Path], tmp_path: Path, args: list[str]
) -> None:
    expected = jsonl(*two_crawls, *args)
    assert expected, "each filter selects some pages, so that the comparison says something"
    assert {Path(r["crawl_dir"]) for r in expected} <= set(two_crawls)
    assert parquet(tmp_path / "pages.parquet", *two_crawls, *args) == expected


def test_parquet_filters_select_what_jsonl_selects(two_crawls: tuple[Path, Path], tmp_path: Path) -> None:
    everything = parquet(tmp_path / "all.parquet", *two_crawls)
    chosen = parquet(tmp_path / "stable.parquet", two_crawls[0], "--usable", "--host", "stable.test")
    assert 0 < len(chosen) < len(everything)
    assert {r["url"].split("/")[2] for r in chosen} == {"stable.test"} and all(r["usable"] for r in chosen)
    assert {r["crawl_dir"] for r in everything} == {str(d) for d in two_crawls}


def test_parquet_of_no_page_is_a_valid_file_with_the_schema(
    two_crawls: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "empty.parquet"
    assert parquet(out, *two_crawls, "--since", "2999-01-01") == []
    table = pq.read_table(out)
    assert table.num_rows == 0 and table.column_names == FIELDS


def test_parquet_refuses_an_existing_file_and_a_missing_or_misplaced_out(
    two_crawls: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "pages.parquet"
    out.write_bytes(b"earlier data")
    result = run_cli("pages", two_crawls[0], "--format", "parquet", "--out", out)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"Error: {out}: already exists" in result.stderr
    assert out.read_bytes() == b"earlier data" and os.listdir(tmp_path) == ["pages.parquet"]

    result = run_cli("pages", two_crawls[0], "--format", "parquet")
    assert result.returncode == 2 and "give --out FILE" in result.stderr

    other = tmp_path / "pages.jsonl"
    result = run_cli("pages", two_crawls[0], "--format", "jsonl", "--out", other)
    assert result.returncode == 2 and "--out is for --format parquet" in result.stderr
    assert result.stdout == "" and not other.exists()

    result = run_cli("pages", two_crawls[0], "--format", "parquet", "--out", tmp_path / "no" / "p.parquet")
    assert result.returncode == 1 and "does not exist" in result.stderr


def test_parquet_failing_midway_leaves_no_file(two_crawls: tuple[Path, Path], tmp_path: Path) -> None:
    # The second directory's stored decisions are damaged: its pages fail to read after the
    # first directory's rows were taken in.
    damaged = Path(shutil.copytree(two_crawls[1], tmp_path / "damaged"))
    with sqlite3.connect(damaged / "provenance.db") as db:
        db.execute("update decisions set body = 'not json'")  # every stored decision
    db.close()
    target = tmp_path / "out"
    target.mkdir()
    out = target / "pages.parquet"
    result = run_cli("pages", two_crawls[0], damaged, "--format", "parquet", "--out", out)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "not a recorded decision" in result.stderr
    assert os.listdir(target) == []  # neither the file nor its temporary


def test_parquet_without_pyarrow_says_how_to_install_it(
    two_crawls: tuple[Path, Path], tmp_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'pyarrow' or name.startswith('pyarrow.'):\n"
        "            raise ImportError(f'No module named {name!r} (blocked)')\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    env = cli_env(None)
    env["PYTHONPATH"] = os.pathsep.join([str(blocker), env.get("PYTHONPATH", "")])

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *map(str, args)],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    # The blocker works: pyarrow cannot be imported under it.
    probe = run("-c", "import pyarrow")
    assert probe.returncode != 0 and "blocked" in probe.stderr
    out = tmp_path / "pages.parquet"
    result = run("-m", "crawler", "pages", two_crawls[0], "--format", "parquet", "--out", out)
    assert result.returncode == 1
    assert result.stderr == "Error: --format parquet needs pyarrow: pip install 'permitcrawl[parquet]'\n"
    assert not out.exists()
    # The other formats do not need it.
    result = run("-m", "crawler", "pages", two_crawls[0], "--format", "jsonl")
    assert result.returncode == 0 and result.stdout
