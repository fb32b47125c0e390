"""End to end: the AIPREF vocabulary draft a crawl reads Content-Usage by (POLICY_AIPREF_VOCAB).

Under draft-ietf-aipref-vocab-08 (the default) ``ai-use=n`` reserves ai-input;
under -07 it is no label at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import sqlite_utils

from crawler.localweb.server import LocalWebServer, serve
from tests.conftest import crawl, run_cli
from tests.sites import TEXT, page

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

SITES = {
    "aiuse.test": {
        "/robots.txt": (200, TEXT, "User-agent: *\nAllow: /\nContent-Usage: /rag/ ai-use=n\n"),
        "/": page("home", "/rag/x"),
        "/rag/x": page("no AI use"),
    },
}


@pytest.fixture(scope="module")
def aweb() -> Iterator[LocalWebServer]:
    server = serve(SITES)
    yield server
    server.close()


def test_ai_use_reserves_ai_input_under_vocab_08_only(aweb, tmp_path: Path) -> None:
    # The literal readings: under vocab-07 'ai-use' is a superseded label, which only 'aipref_legacy' counts.
    literal = ("--purpose", "ai-input", "-s", "POLICY_READ_AIPREF_LEGACY=false")
    newest = crawl(aweb, tmp_path / "v08", *literal, seeds=["http://aiuse.test/"])
    assert newest.result.returncode == 0, newest.result.stderr
    assert "http://aiuse.test/rag/x" not in newest.requested()
    db = sqlite_utils.Database(newest.out / "provenance.db")
    refusal = next(db.query("select * from refusals where url = 'http://aiuse.test/rag/x'"))
    assert refusal["signal"] == "content-usage"
    explained = run_cli("explain", newest.out, "http://aiuse.test/rag/x")
    assert "ai-use=n" in explained.stdout and "vocab-08" in explained.stdout, explained.stdout

    older = crawl(
        aweb, tmp_path / "v07", *literal, "-s", "POLICY_AIPREF_VOCAB=07", seeds=["http://aiuse.test/"]
    )
    assert older.result.returncode == 0, older.result.stderr
    assert "http://aiuse.test/rag/x" in older.requested()  # an unknown label under vocab-07


def test_the_vocab_setting_is_checked(aweb, tmp_path: Path) -> None:
    run = crawl(aweb, tmp_path / "bad", "-s", "POLICY_AIPREF_VOCAB=09", seeds=["http://aiuse.test/"])
    assert run.result.returncode == 1
    assert (
        "POLICY_AIPREF_VOCAB='09'" in run.result.stderr
        and "08 (vocab-08, the default) or 07" in run.result.stderr
    )
    assert run.requested() == []
