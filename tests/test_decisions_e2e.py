"""One decision end to end: typed from the gate to storage, stored in one shape, read back through one path.

Runs on the shared crawl of the test web (tests/conftest.py ``main_crawl``);
a test that changes the database works on a copy.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlite_utils

from crawler.storage.archive import WarcArchive
from crawler.storage.provenance import dumps
from crawler.storage.records import misstatements, read_decision
from tests.conftest import private_decision, run_cli

if TYPE_CHECKING:
    from tests.conftest import CrawlRun


@pytest.fixture
def crawl_copy(main_crawl: CrawlRun, tmp_path: Path) -> Path:
    """A private copy of the shared crawl, for a test that changes its database."""
    return Path(shutil.copytree(main_crawl.out, tmp_path / "crawl"))


def test_every_decision_is_stored_in_one_shape_and_reads_back_typed(main_crawl: CrawlRun) -> None:
    db = sqlite_utils.Database(main_crawl.out / "provenance.db")
    archive = WarcArchive(main_crawl.out)
    captures = list(db.query("select * from captures"))
    assert captures
    for capture in captures:
        usage = archive.read(capture["metadata_record_id"]).json()["usage"]
        rows = {row["purpose"]: row for row in db.query("select * from usage where capture_id = ?",
                                                         [capture["warc_record_id"]])}  # fmt: skip
        assert list(rows) == sorted(usage)
        for purpose, row in rows.items():
            # The usage row's text is the metadata record's decision, serialised the same way.
            assert row["decision"] == dumps(usage[purpose])
            decision = read_decision(row["decision"])
            assert misstatements(row["decision"], decision) == {}
            assert (decision.purpose.value, bool(row["usable"]), row["signal"], row["reason"]) == (
                purpose,
                decision.allowed,
                decision.signal,
                decision.reason,
            )
        applied = read_decision(rows[capture["purpose"]]["decision"])
        assert (capture["signal"], capture["reason"]) == (applied.signal, applied.reason)
    refusals = list(db.query("select * from refusals"))
    assert refusals
    for refusal in refusals:
        decision = read_decision(refusal["decision"])
        assert misstatements(refusal["decision"], decision) == {}
        assert (refusal["url"], refusal["signal"], refusal["stage"]) == (
            decision.url,
            decision.signal,
            decision.stage.value,
        )


def _first_capture(crawl_dir: Path) -> tuple[str, str]:
    with sqlite3.connect(crawl_dir / "provenance.db") as db:
        url, record_id = db.execute(
            "select url, warc_record_id from captures order by url limit 1"
        ).fetchone()
    db.close()
    return url, record_id


def _update(crawl_dir: Path, sql: str, *params: str) -> None:
    with sqlite3.connect(crawl_dir / "provenance.db") as db:
        assert db.execute(sql, params).rowcount >= 1
    db.close()


@pytest.mark.parametrize("command", ["explain", "pages"])
def test_a_stored_decision_that_does_not_read_back_is_damage_not_a_traceback(
    crawl_copy: Path, command: str
) -> None:
    url, record_id = _first_capture(crawl_copy)
    with sqlite3.connect(crawl_copy / "provenance.db") as db:
        own = private_decision(db, record_id, "ai-train")
        db.execute("update decisions set body = ? where id = ?", ['{"url": "x"}', own])
    db.close()
    args = [url] if command == "explain" else ["--purpose", "ai-train", "--format", "jsonl"]
    result = run_cli(command, crawl_copy, *args)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr == (
        f"Error: {crawl_copy / 'provenance.db'}: not a recorded decision (no 'purpose'); "
        "the database may be damaged\n"
    )


def test_audit_names_a_stored_signal_that_its_bases_do_not_give(crawl_copy: Path) -> None:
    url, record_id = _first_capture(crawl_copy)
    with sqlite3.connect(crawl_copy / "provenance.db") as db:
        own = private_decision(db, record_id, "search")  # this capture's alone, not every one judged alike
        db.execute("update decisions set body = char(28) || json_set(substr(body, 2), '$.signal', 'ai-txt') "
                   "where id = ?", [own])  # fmt: skip
    db.close()
    with sqlite3.connect(crawl_copy / "provenance.db") as db:
        (signal,) = db.execute(
            "select signal from usage where capture_id = ? and purpose = 'search'", [record_id]
        ).fetchone()
    db.close()
    result = run_cli("audit", crawl_copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        f"{url} (search): the database's recorded decision: signal is stored as 'ai-txt', "
        f"but its bases give {signal!r}"
    ) in result.stdout.splitlines()
    assert "1 difference" in result.stderr
