"""Resuming reconciles: capture records whose rows never committed are marked superseded, audit passes.

Rows are lost two ways here: taken out of provenance.db as a kill between the
WARC write and the commit leaves it, and by a real full disk (a small tmpfs).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from contextlib import closing, contextmanager
from typing import TYPE_CHECKING

import pytest

from tests.conftest import crawl, run_cli

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from crawler.localweb.server import LocalWebServer

ABSENT = "captured in the WARC files, absent from the database"


def lose_rows(out: Path, count: int) -> list[str]:
    """Delete ``count`` captures rows (with their usage rows) and leave the run unfinished, as a kill does."""
    with closing(sqlite3.connect(out / "provenance.db")) as db, db:
        lost = db.execute("select warc_record_id, url from captures order by url limit ?", [count]).fetchall()
        for record_id, _ in lost:
            db.execute("delete from captures where warc_record_id = ?", [record_id])  # its usage goes with it
        db.execute("update crawls set finish_reason = null, finished_at = null")
    return [url for _, url in lost]


def audit_json(out: Path) -> dict:
    result = run_cli("audit", "--format", "json", out)
    return json.loads(result.stdout)


def test_a_resume_marks_records_whose_rows_were_lost_superseded_and_audit_passes(
    web: LocalWebServer, tmp_path: Path
) -> None:
    out = tmp_path / "crawl"
    first = crawl(web, out)
    assert first.result.returncode == 0, first.result.stderr
    lost = lose_rows(out, 3)
    before = run_cli("audit", out)
    assert before.returncode == 1
    assert before.stdout.count(ABSENT) == 3, before.stdout
    assert "3 differences; superseded: 0" in before.stderr

    resumed = crawl(web, out)
    assert resumed.result.returncode == 0, resumed.result.stderr
    assert "Reconciled 3 WARC capture record(s) whose rows an earlier crawl never committed" in (
        resumed.result.stderr
    )
    after = run_cli("audit", out)
    assert after.returncode == 0, after.stdout
    assert ": 0 differences; superseded: 3" in after.stderr
    report = audit_json(out)
    assert (report["superseded"], report["differences"]) == (3, [])
    with closing(sqlite3.connect(out / "provenance.db")) as db:
        superseded = sorted(r[0] for r in db.execute("select url from superseded"))
    assert superseded == sorted(lost)
    # Whether the URLs are fetched again is the frontier's to say (here they are done in it: only
    # their rows were removed); tests/test_frontier_e2e.py kills a crawl for real.

    # A later resume finds nothing new, and says nothing.
    third = crawl(web, out)
    assert third.result.returncode == 0 and "Reconciled" not in third.result.stderr
    assert audit_json(out)["superseded"] == 3


def test_audit_reports_a_superseded_record_that_has_a_captures_row(
    web: LocalWebServer, tmp_path: Path
) -> None:
    out = tmp_path / "crawl"
    assert crawl(web, out).result.returncode == 0
    with closing(sqlite3.connect(out / "provenance.db")) as db, db:
        record_id, url, warc_file, offset = db.execute(
            "select warc_record_id, url, warc_file, warc_offset from captures order by url limit 1"
        ).fetchone()
        db.execute(
            "insert into superseded values (?, ?, ?, ?, '2026-01-01T00:00:00+00:00', 'test')",
            [record_id, url, warc_file, offset],
        )
    result = run_cli("audit", out)
    assert result.returncode == 1
    assert f"{url}: {record_id} is marked superseded, yet it has a captures row" in result.stdout
    assert "1 differences; superseded: 1" in result.stderr


@contextmanager
def mounted_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (made here), unmounted on leaving."""
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


@pytest.mark.parametrize("writer", ["inline", "process"])
def test_a_crawl_stopped_by_a_full_disk_resumes_once_space_is_back(
    web: LocalWebServer, tmp_path: Path, writer: str
) -> None:
    setting = ("-s", f"PERMITCRAWL_WRITER={writer}")
    # A real full disk: a 4 MB tmpfs, most of it taken by a file deleted once the crawl has stopped.
    with mounted_tmpfs(tmp_path / "disk", "4m") as disk:
        filler = disk / "filler"
        filler.write_bytes(b"\0" * 3_000_000)
        out = disk / "crawl"
        full = crawl(web, out, *setting)
        assert full.result.returncode == 1, full.result.stderr
        assert "disk is full" in full.result.stderr or "No space left on device" in full.result.stderr
        stopped = "Error: the crawl stopped: its output could not be written" in full.result.stderr
        # The WARC files and the frontier share the disk: writing inline, the archive finds it full
        # first; a writer process says so a moment later, and the frontier may have found it first.
        frontier = "Error: the crawl stopped: its frontier (embedded) could not be used" in full.result.stderr
        assert stopped or (writer == "process" and frontier), full.result.stderr
        before = run_cli("audit", out)
        absent = before.stdout.count(ABSENT)
        assert before.returncode == 1 and absent > 0, before.stdout

        filler.unlink()
        resumed = crawl(web, out, *setting)
        assert resumed.result.returncode == 0, resumed.result.stderr
        assert f"Reconciled {absent} WARC capture record(s)" in resumed.result.stderr
        after = run_cli("audit", out)
        assert after.returncode == 0, after.stdout
        assert f": 0 differences; superseded: {absent}" in after.stderr
