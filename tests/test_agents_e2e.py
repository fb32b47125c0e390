"""End to end: the AI-crawler list (``permitcrawl agents``, ``agents update``).

A crawl honours a robots.txt group for a token only once a list naming it is
installed; an invalid file or a declined question leaves the list in force
unchanged; a damaged installed list stops the crawl before it begins.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlite_utils

from crawler.localweb.server import LocalWebServer, serve
from tests.conftest import crawl, run_cli
from tests.sites import TEXT, page

if TYPE_CHECKING:
    from collections.abc import Iterator

DATA = Path(__file__).resolve().parents[1] / "policies" / "data" / "ai-robots-txt"
BUNDLED = DATA / "robots.json"
NEW_TOKEN = "NewTrainerBot"

SITES = {
    "newagent.test": {
        "/robots.txt": (
            200,
            TEXT,
            f"User-agent: *\nAllow: /\n\nUser-agent: {NEW_TOKEN}\nDisallow: /private/\n",
        ),
        "/": page("home", "/private/x", "/ok"),
        "/ok": page("ok"),
        "/private/x": page("refused to NewTrainerBot"),
    },
}


@pytest.fixture(scope="module")
def aweb() -> Iterator[LocalWebServer]:
    server = serve(SITES)
    yield server
    server.close()


@pytest.fixture
def agents_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An agents directory, named to every CLI process through PERMITCRAWL_AGENTS_DIR."""
    directory = tmp_path / "agents"
    directory.mkdir()
    monkeypatch.setenv("PERMITCRAWL_AGENTS_DIR", str(directory))
    return directory


def _bundled() -> dict:
    return json.loads(BUNDLED.read_text(encoding="utf-8"))


def _newer(tmp_path: Path) -> Path:
    """The bundled list with one agent added, one removed, one changed."""
    data = _bundled()
    data[NEW_TOKEN] = {
        "operator": "[Example Labs](https://example.com/bot)",
        "respect": "Yes",
        "function": "AI Data Scrapers",
        "frequency": "Unclear at this time.",
        "description": "Collects pages to train models.",
    }
    del data["AgentTimes"]
    data["GPTBot"]["respect"] = "No"
    path = tmp_path / "robots.json"
    path.write_text(json.dumps(data, indent=4), encoding="utf-8")
    return path


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
    }


def test_agents_lists_the_bundled_list_with_its_commit() -> None:
    result = run_cli("agents", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["list"]["commit"] == "738c80df2169027ce0e07c9976fd3f2f57dd8f7b"
    assert document["list"]["sha256"] == hashlib.sha256(BUNDLED.read_bytes()).hexdigest()
    assert len(document["agents"]) == 166
    gptbot = next(a for a in document["agents"] if a["token"] == "GPTBot")
    assert (
        gptbot["operator"] == "OpenAI"
        and gptbot["purpose"] == "training"
        and gptbot["respects_robots"] == "Yes"
    )
    assert "738c80df" in result.stderr and "MIT" in result.stderr
    table = run_cli("agents", "--purpose", "training")
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["token", "operator", "purpose", "respects_robots"]
    assert len(lines) == 2 + 56 and all(" training " in line for line in lines[2:])


def test_the_shipped_snapshot_is_byte_exact_with_its_licence() -> None:
    source = json.loads((DATA / "source.json").read_text(encoding="utf-8"))
    assert source["commit"] == "738c80df2169027ce0e07c9976fd3f2f57dd8f7b"
    assert source["sha256"] == hashlib.sha256(BUNDLED.read_bytes()).hexdigest()
    assert "Copyright (c) 2024 ai.robots.txt" in (DATA / "LICENSE").read_text(encoding="utf-8")


def test_an_update_makes_the_crawl_honour_the_new_token(aweb, agents_dir: Path, tmp_path: Path) -> None:
    before = crawl(aweb, tmp_path / "before", seeds=["http://newagent.test/"])
    assert before.result.returncode == 0, before.result.stderr
    assert "http://newagent.test/private/x" in before.requested()  # not on the bundled list

    newer = _newer(tmp_path)
    result = run_cli("agents", "update", newer, "--commit", "0123abcd", "--date", "2026-12-01", input="y\n")
    assert result.returncode == 0, result.stderr
    assert f"+ {NEW_TOKEN} (Example Labs): purpose unclassified" in result.stderr
    assert "- AgentTimes" in result.stderr and "~ GPTBot: respect 'Yes' -> 'No'" in result.stderr
    assert f"! {NEW_TOKEN}: no purpose in our column" in result.stderr
    sha = hashlib.sha256(newer.read_bytes()).hexdigest()
    assert (agents_dir / "CURRENT").read_text().strip() == sha
    assert (agents_dir / sha / "robots.json").read_bytes() == newer.read_bytes()
    assert "ai.robots.txt" in (agents_dir / sha / "LICENSE").read_text()

    listed = run_cli("agents", "--format", "jsonl", "--purpose", "unclassified")
    assert [json.loads(line)["token"] for line in listed.stdout.splitlines()] == [NEW_TOKEN]
    assert "0123abcd" in listed.stderr

    after = crawl(aweb, tmp_path / "after", seeds=["http://newagent.test/"])
    assert after.result.returncode == 0, after.result.stderr
    assert "http://newagent.test/private/x" not in after.requested()
    assert "http://newagent.test/ok" in after.requested()
    db = sqlite_utils.Database(after.out / "provenance.db")
    refusal = next(db.query("select * from refusals where url = 'http://newagent.test/private/x'"))
    assert refusal["signal"] == "robots-ai-agents"
    # The crawl's record names the list it judged with.
    settings = json.loads(next(db.query("select settings from crawls"))["settings"])
    assert settings["permitcrawl"]["ai_agents"]["sha256"] == sha
    assert settings["permitcrawl"]["ai_agents"]["commit"] == "0123abcd"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[1, 2]", "is a JSON list; expected an object of agents keyed by token"),
        (b'{"A": {"operator": "x"', "not JSON"),
        (b"\xff{}", "byte 0 is not UTF-8"),
        (
            b'{\n "GoodBot": {"operator": "a", "respect": "b", "function": "c", "frequency": "d",'
            b' "description": "e"},\n "Bad#Bot": {"operator": 1}\n}',
            "robots.json:3: entry 'Bad#Bot': the token holds a control character, '#' or ':'",
        ),
        (
            b'{"GoodBot": {"operator": "a", "respect": "b", "function": "c", "frequency": "d"}}',
            "entry 'GoodBot' lacks the field 'description'; expected a string",
        ),
    ],
)
def test_an_invalid_file_changes_nothing(
    agents_dir: Path, tmp_path: Path, content: bytes, message: str
) -> None:
    run_cli("agents", "update", _newer(tmp_path), "--yes")
    before = _snapshot(agents_dir)
    bad = tmp_path / "bad" / "robots.json"
    bad.parent.mkdir()
    bad.write_bytes(content)
    result = run_cli("agents", "update", bad, "--yes")
    assert result.returncode == 1
    assert message in result.stderr and "nothing installed" in result.stderr
    assert "Traceback" not in result.stderr
    assert _snapshot(agents_dir) == before


@pytest.mark.parametrize("answer", ["n\n", "", "maybe\n"])
def test_a_declined_update_changes_nothing(agents_dir: Path, tmp_path: Path, answer: str) -> None:
    result = run_cli("agents", "update", _newer(tmp_path), input=answer)
    assert result.returncode == 1
    assert "Install this list" in result.stderr and "not confirmed" in result.stderr
    assert _snapshot(agents_dir) == {}
    listed = run_cli("agents", "--format", "json")
    assert json.loads(listed.stdout)["list"]["where"] == "bundled"


def test_update_needs_an_agents_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERMITCRAWL_AGENTS_DIR", raising=False)
    result = run_cli("agents", "update", _newer(tmp_path), "--yes")
    assert result.returncode == 2 and "--agents-dir" in result.stderr


def test_a_damaged_installed_list_stops_the_crawl(aweb, agents_dir: Path, tmp_path: Path) -> None:
    newer = _newer(tmp_path)
    assert run_cli("agents", "update", newer, "--yes").returncode == 0
    sha = hashlib.sha256(newer.read_bytes()).hexdigest()
    (agents_dir / sha / "robots.json").write_bytes(b"{}")
    run = crawl(aweb, tmp_path / "crawl", seeds=["http://newagent.test/"])
    assert run.result.returncode == 1 and "POLICY_AI_AGENTS_DIR" in run.result.stderr
    assert run.requested() == []
