"""A schema-5 crawl directory (tests/fixtures/schema5) answers as it did, read and migrated by the CLI.

The golden outputs were printed by the schema-5 code (see the fixture's
README). Reading commands read through a migrated copy in memory; writing
commands (revoke, export --purge) migrate the file. What may legitimately
differ is normalised, each said where: an export's WARC file names (they
carry the time of the export).
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from crawler.storage.provenance import MIGRATIONS
from tests.conftest import run_cli

FIXTURE = Path(__file__).parent / "fixtures" / "schema5"
GOLDEN = FIXTURE / "golden"
EXPLAINED = {
    "open_demo_test_articles_1": "http://open.demo.test/articles/1",
    "open_demo_test_private_notes": "http://open.demo.test/private/notes",
    "noai_demo_test_meta": "http://noai.demo.test/meta",
    "agents_demo_test_stories_one": "http://agents.demo.test/stories/one",
    "moved_demo_test_published": "http://moved.demo.test/published",
}


def cli_ok(*args: str | Path) -> subprocess.CompletedProcess[str]:
    result = run_cli(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture
def fx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the fixture named ``fx`` in the working directory (the golden outputs name it so)."""
    shutil.copytree(FIXTURE, tmp_path / "fx", ignore=shutil.ignore_patterns("golden", "README.md"))
    monkeypatch.chdir(tmp_path)
    return Path("fx")


def _version(crawl_dir: Path) -> int:
    with sqlite3.connect(crawl_dir / "provenance.db") as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.close()
    return version


def _exported(text: str) -> list[dict]:
    """An export's pages listing, without what depends on when and where the export ran.

    Its WARC file names carry the time it ran and its process; its warcinfo record names the
    source directory's absolute path, so every offset after it moves by the same amount.
    """
    rows = [json.loads(line) for line in text.splitlines()]
    first: dict[str, int] = {}
    for row in rows:
        first[row["warc_file"]] = min(first.get(row["warc_file"], row["warc_offset"]), row["warc_offset"])
    for row in rows:
        row["warc_offset"] -= first[row["warc_file"]]
        row["warc_file"] = re.sub(r"-[0-9]{17}-[0-9]{5}-[0-9]+~[^.]+", "-(when)", row["warc_file"])
    return rows


def _made(html: str) -> str:
    # The report says when it was made: the one line that differs from run to run.
    return re.sub(r"Made [0-9-]+ [0-9:]+ UTC", "Made (when)", html, count=1)


def test_reading_commands_answer_as_schema_5_did(fx: Path) -> None:
    assert _version(fx) == 5
    assert cli_ok("audit", fx, "--format", "json").stdout == (GOLDEN / "audit.json").read_text()
    for name, url in EXPLAINED.items():
        got = json.loads(cli_ok("explain", fx, url, "--format", "json").stdout)
        assert got == json.loads((GOLDEN / f"explain-{name}.json").read_text()), url
    for golden, args in {
        "pages.jsonl": (),
        "pages-usable.jsonl": ("--usable",),
        "pages-search.jsonl": ("--purpose", "search"),
        "pages-ai-input.jsonl": ("--purpose", "ai-input"),
    }.items():
        assert cli_ok("pages", fx, *args, "--format", "jsonl").stdout == (GOLDEN / golden).read_text(), golden
    assert cli_ok("pages", fx, "--format", "csv").stdout == (GOLDEN / "pages.csv").read_text()
    cli_ok("report", fx, "--out", "report.html")
    assert _made(Path("report.html").read_text()) == _made((GOLDEN / "report.html").read_text())
    assert _version(fx) == 5  # read through a migrated copy: the file is left as it was


def test_export_of_a_migrated_crawl_lists_the_same_pages(fx: Path) -> None:
    cli_ok("export", fx, "--out", "exp")
    assert _version(fx) == len(MIGRATIONS)  # export writes its ledger entry: the file is migrated
    assert _version(Path("exp")) == len(MIGRATIONS)
    listed = cli_ok("pages", "exp", "--format", "jsonl").stdout
    assert _exported(listed) == _exported((GOLDEN / "export-pages.jsonl").read_text())
    audit = json.loads(cli_ok("audit", "exp", "--format", "json").stdout)
    assert audit["captures"] == 25 and audit["differences"] == []
    with sqlite3.connect("exp/provenance.db") as conn:
        used = conn.execute(
            "select count(*) from decisions where id not in (select decision_id from verdict_usage) "
            "and id not in (select decision_id from refusal_rows where decision_id is not null)"
        ).fetchone()[0]
    conn.close()
    assert used == 0  # only the decisions its rows use were copied


def test_revoke_and_purge_on_a_migrated_crawl_do_what_they_did(fx: Path) -> None:
    said = [
        cli_ok(
            "revoke",
            fx,
            "--url",
            "http://open.demo.test/articles/1",
            "--reason",
            "takedown 1",
            "--by",
            "tester",
        ),
        cli_ok(
            "revoke",
            fx,
            "--domain",
            "noai.demo.test",
            "--purpose",
            "search",
            "--reason",
            "opt-out 2",
            "--by",
            "tester",
        ),
        cli_ok("export", fx, "--out", "exp", "--purge", "--yes", "--by", "tester"),
    ]
    assert "".join(r.stderr for r in said) == (GOLDEN / "revoke-purge.txt").read_text()
    with sqlite3.connect(fx / "provenance.db") as conn:
        conn.row_factory = sqlite3.Row

        def rows(sql: str) -> list[dict]:
            return [dict(row) for row in conn.execute(sql)]

        assert rows("select action, actor, scope, reason, count from ledger order by id") == json.loads(
            (GOLDEN / "ledger-after.json").read_text()
        )
        assert rows(
            "select capture_id, url, purpose, source, reason, actor, ledger_id from revocations order by id"
        ) == json.loads((GOLDEN / "revocations-after.json").read_text())
        assert rows(
            "select capture_id, url, payload_digest, payload_sha256, warc_file, reason, ledger_id "
            "from tombstones"
        ) == json.loads((GOLDEN / "tombstones-after.json").read_text())
        # The purged capture's decisions are shared with others: they stay, and every row still reads.
        assert conn.execute("select count(*) from usage where decision is null").fetchone()[0] == 0
    conn.close()
    assert cli_ok("pages", fx, "--format", "jsonl").stdout == (GOLDEN / "pages-after-purge.jsonl").read_text()
    searched = cli_ok("pages", fx, "--purpose", "search", "--format", "jsonl").stdout
    assert searched == (GOLDEN / "pages-search-after-revoke.jsonl").read_text()
    assert cli_ok("audit", fx, "--format", "json").stdout == (GOLDEN / "audit-after-purge.json").read_text()
