"""End to end, one host per AI signal.

What is refused before fetching is never requested, what is refused after fetching is never archived,
explain names the signal, and pages --usable lists exactly what is permitted.
"""

from __future__ import annotations

import json
from pathlib import Path

import sqlite_utils
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import CrawlRun, crawl, run_cli
from tests.sites import REFUSED_AFTER_FETCHING, REFUSED_BEFORE_FETCHING, SIGNAL_SITES, USABLE_SIGNAL_PAGES


def _refusals(run: CrawlRun) -> dict[str, dict]:
    return {
        row["url"]: row
        for row in sqlite_utils.Database(run.out / "provenance.db").query("select * from refusals")
    }


def _warc_targets(run: CrawlRun, kind: str = "warc") -> set[str]:
    targets = set()
    for path in (run.out / kind).glob("*.warc.gz"):
        with open(path, "rb") as fh:
            targets |= {
                r.rec_headers.get_header("WARC-Target-URI")
                for r in ArchiveIterator(fh)
                if r.rec_type == "response"
            }
    return targets


def test_pre_fetch_reservations_are_never_requested(main_crawl: CrawlRun) -> None:
    requested = set(main_crawl.requested())
    refusals = _refusals(main_crawl)
    for url, signal in REFUSED_BEFORE_FETCHING.items():
        assert url not in requested, url
        assert refusals[url]["stage"] == "pre-fetch", url
        assert refusals[url]["signal"] == signal, (url, refusals[url]["reason"])


def test_post_fetch_reservations_are_fetched_but_never_archived(main_crawl: CrawlRun) -> None:
    requested = set(main_crawl.requested())
    refusals = _refusals(main_crawl)
    archived = _warc_targets(main_crawl)
    for url, signal in REFUSED_AFTER_FETCHING.items():
        assert url in requested, url
        assert url not in archived, url
        row = refusals[url]
        assert row["stage"] == "post-fetch" and row["status"] == 200, url
        assert row["signal"] == signal, (url, row["reason"])
        assert json.loads(row["response_headers"]), url  # the headers are the record of what was seen


def test_usable_pages_are_exactly_the_permitted_ones(main_crawl: CrawlRun) -> None:
    result = run_cli("pages", main_crawl.out, "--usable", "--format", "jsonl")
    usable = {json.loads(line)["url"] for line in result.stdout.splitlines()}
    on_signal_hosts = {url for url in usable if url.split("/")[2] in SIGNAL_SITES}
    assert on_signal_hosts == USABLE_SIGNAL_PAGES


def test_grants_are_recorded_as_the_deciding_basis(main_crawl: CrawlRun) -> None:
    pages = {
        json.loads(line)["url"]: json.loads(line)
        for line in run_cli("pages", main_crawl.out, "--format", "jsonl").stdout.splitlines()
    }
    assert pages["http://aipref.test/granted"]["signal"] == "content-usage"
    assert pages["http://tdm.test/free"]["signal"] == "tdmrep"
    assert pages["http://rsl.test/open"]["signal"] == "rsl"
    assert pages["http://agents.test/ok"]["signal"] == "default"
    signals = [b["signal"] for b in pages["http://agents.test/ok"]["basis"]]
    # Every signal consulted leaves a basis: the record shows what was checked.
    for signal in (
        "robots",
        "robots-ai-agents",
        "content-signal",
        "content-usage",
        "tdmrep",
        "ai-txt",
        "default",
    ):
        assert signal in signals, signal


def test_noindex_is_recorded_and_reserves_search_only(main_crawl: CrawlRun) -> None:
    rows = run_cli("pages", main_crawl.out, "--purpose", "search", "--host", "noai.test", "--format", "jsonl")
    by_url = {json.loads(line)["url"]: json.loads(line) for line in rows.stdout.splitlines()}
    assert by_url["http://noai.test/noindex"]["usable"] is False
    assert by_url["http://noai.test/noindex"]["signal"] == "x-robots-tag"
    assert by_url["http://noai.test/fine"]["usable"] is True


def test_explain_names_the_signal(main_crawl: CrawlRun) -> None:
    for url, signal in {**REFUSED_BEFORE_FETCHING, **REFUSED_AFTER_FETCHING}.items():
        story = json.loads(run_cli("explain", main_crawl.out, url, "--format", "json").stdout)
        decision = story["events"][-1]["decision"]
        assert decision["signal"] == signal, url
        assert any(b["signal"] == signal and b["verdict"] == "deny" for b in decision["bases"]), url
    text = run_cli("explain", main_crawl.out, "http://rsl.test/premium/x").stdout
    assert "[deny] rsl:" in text and "prohibits ai-train" in text


def test_evidence_documents_are_archived(main_crawl: CrawlRun) -> None:
    db = sqlite_utils.Database(main_crawl.out / "provenance.db")
    kinds = {(row["url"], row["kind"]) for row in db.query("select url, kind from evidence")}
    assert ("http://tdm.test/.well-known/tdmrep.json", "tdmrep.json") in kinds
    assert ("http://aitxt.test/ai.txt", "ai.txt") in kinds
    assert ("http://rsl.test/license.xml", "rsl") in kinds
    assert ("http://post-signals.test/licence.xml", "rsl") in kinds  # found in a page's Link header
    # Evidence has WARC files of its own: whoever reads the page files reads only captured pages.
    evidence = _warc_targets(main_crawl, "evidence")
    pages = _warc_targets(main_crawl)
    assert {"http://tdm.test/.well-known/tdmrep.json", "http://rsl.test/license.xml"} <= evidence
    assert not {url for url, _ in kinds} & pages
    captured = {row["url"] for row in db.query("select url from captures")}
    assert pages == captured


def test_a_search_crawl_reads_the_signals_for_search(web, tmp_path: Path) -> None:
    run = crawl(web, tmp_path / "search", "--purpose", "search", seeds=["http://csignal.test/"])
    assert run.result.returncode == 0, run.result.stderr
    # Content-Signal: search=yes grants what ai-train=no refuses.
    assert {"http://csignal.test/", "http://csignal.test/a"} <= set(run.requested())
    rows = run_cli("pages", run.out, "--usable", "--format", "jsonl").stdout.splitlines()
    assert {json.loads(line)["url"] for line in rows} == {"http://csignal.test/", "http://csignal.test/a"}
    assert all(json.loads(line)["signal"] == "content-signal" for line in rows)


def test_readings_can_be_switched_off(web, tmp_path: Path) -> None:
    run = crawl(web, tmp_path / "literal", "-s", "POLICY_READ_AI_AGENTS=false", seeds=["http://agents.test/"])
    assert run.result.returncode == 0, run.result.stderr
    # Read literally, a GPTBot group does not speak to us.
    assert "http://agents.test/no-train/x" in run.requested()
