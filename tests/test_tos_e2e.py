"""End to end with a ToS policy store: rules keep whole domains out, terms nobody reviewed hold a domain,
changed terms are noticed, agreements override opt-outs, and the queue lists what to review."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import sqlite_utils

from policies.store import write_rule
from policies.terms import terms_text, text_sha256
from tests.conftest import CrawlRun, crawl, run_cli
from tests.sites import TERMS_OLD, TERMS_PLAIN, TOS_SEEDS

RULE = {
    "ai_scraping": "Unrestricted Use",
    "license": "Unrestricted Use",
    "compete": "Unrestricted Use",
    "quote": ("Be kind.",),
    "reviewer": "A. Maintainer",
    "reviewed": date(2026, 11, 1),
    "review_by": date(2027, 5, 1),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("store")
    write_rule(
        directory,
        "tos-strict.test",
        {
            **RULE,
            "ai_scraping": "No Scraping & AI",
            "deny": ("ai-train", "ai-input"),
            "quote": ("You may not scrape the Service or use it to train AI.",),
            "tos_url": "http://tos-strict.test/legal/terms",
        },
    )
    write_rule(
        directory,
        "tos-changed.test",
        {
            **RULE,
            "tos_url": "http://tos-changed.test/legal/terms",
            "tos_sha256": text_sha256(terms_text(TERMS_OLD.encode())),
        },
    )
    write_rule(
        directory,
        "tos-agreement.test",
        {
            **RULE,
            "ai_scraping": "No AI",
            "allow": ("ai-train",),
            "agreement": "Data licence #42 with Agreement Ltd (2026-10-01)",
            "quote": ("Content may not be used to train artificial intelligence models.",),
            "tos_url": "http://tos-agreement.test/legal/terms",
        },
    )
    write_rule(
        directory,
        "tos-path.test",
        {
            **RULE,
            "path": "/members/",
            "ai_scraping": "No AI",
            "deny": ("ai-train",),
            "tos_url": "http://tos-path.test/legal/terms",
        },
    )
    write_rule(
        directory,
        "tos-fine.test",
        {
            **RULE,
            "tos_url": "http://tos-fine.test/legal/terms",
            "tos_sha256": text_sha256(terms_text(TERMS_PLAIN.encode())),
        },
    )
    return directory


@pytest.fixture(scope="module")
def tos_crawl(web, store: Path, tmp_path_factory: pytest.TempPathFactory) -> CrawlRun:
    run = crawl(web, tmp_path_factory.mktemp("tos") / "crawl", "--policies", str(store), seeds=TOS_SEEDS)
    assert run.result.returncode == 0, run.result.stderr
    return run


def _refusals(run: CrawlRun) -> dict[str, dict]:
    return {
        r["url"]: r for r in sqlite_utils.Database(run.out / "provenance.db").query("select * from refusals")
    }


def test_a_denying_rule_means_no_request_but_robots_txt(tos_crawl: CrawlRun) -> None:
    assert tos_crawl.requested("tos-strict.test") == ["http://tos-strict.test/robots.txt"]
    refusal = _refusals(tos_crawl)["http://tos-strict.test/"]
    assert refusal["signal"] == "tos-policy"
    basis = next(b for b in json.loads(refusal["decision"])["bases"] if b["signal"] == "tos-policy")
    assert "tos-strict.test.toml:" in basis["source"] and "version" in basis["source"]
    assert "You may not scrape" in basis["rule"]


def test_unreviewed_restrictive_terms_hold_the_domain(tos_crawl: CrawlRun) -> None:
    requested = set(tos_crawl.requested("tos-held.test"))
    assert "http://tos-held.test/legal/terms" in requested  # the terms are evidence
    assert "http://tos-held.test/a" not in requested
    refusal = _refusals(tos_crawl)["http://tos-held.test/"]
    assert refusal["signal"] == "tos-policy" and "held for review" in refusal["reason"]
    assert "scrape" in refusal["reason"]


def test_terms_are_archived_with_their_digest_and_passages(tos_crawl: CrawlRun) -> None:
    db = sqlite_utils.Database(tos_crawl.out / "provenance.db")
    row = next(db.query("select * from evidence where kind = 'terms' and origin = 'http://tos-held.test'"))
    assert row["warc_record_id"] and row["text_sha256"]
    passages = json.loads(row["passages"])
    assert any("scrape" in p for p in passages) and any("artificial intelligence" in p for p in passages)
    assert not any("Welcome" in p for p in passages)


def test_changed_terms_are_held_and_unchanged_ones_pass(tos_crawl: CrawlRun) -> None:
    assert "http://tos-changed.test/a" not in tos_crawl.requested()
    assert "changed since the review" in _refusals(tos_crawl)["http://tos-changed.test/"]["reason"]
    assert "http://tos-fine.test/a" in tos_crawl.requested()


def test_an_agreement_overrides_usage_opt_outs(tos_crawl: CrawlRun) -> None:
    assert "http://tos-agreement.test/a" in tos_crawl.requested()
    pages = run_cli("pages", tos_crawl.out, "--usable", "--host", "tos-agreement.test", "--format", "jsonl")
    rows = [json.loads(line) for line in pages.stdout.splitlines()]
    expected = {
        "http://tos-agreement.test/",
        "http://tos-agreement.test/a",
        "http://tos-agreement.test/legal/terms",
    }
    assert {r["url"] for r in rows} == expected
    for row in rows:
        assert row["signal"] == "tos-policy"
        verdicts = {b["signal"]: b["verdict"] for b in row["basis"]}
        assert verdicts["content-signal"] == "deny"  # recorded, and set aside by the agreement
        assert any(b.get("agreement", "").startswith("Data licence #42") for b in row["basis"])


def test_path_scoped_rules(tos_crawl: CrawlRun) -> None:
    requested = set(tos_crawl.requested("tos-path.test"))
    assert "http://tos-path.test/public" in requested
    assert "http://tos-path.test/members/x" not in requested


def test_rules_in_force_are_recorded(tos_crawl: CrawlRun, store: Path) -> None:
    rows = list(sqlite_utils.Database(tos_crawl.out / "provenance.db").query("select * from policy_rules"))
    assert {r["domain"] for r in rows} == {
        "tos-strict.test",
        "tos-changed.test",
        "tos-agreement.test",
        "tos-path.test",
        "tos-fine.test",
    }
    assert all(len(r["version"]) == 16 and json.loads(r["content"])["reviewer"] for r in rows)


def test_the_queue(tos_crawl: CrawlRun, store: Path) -> None:
    result = run_cli("policy", "queue", tos_crawl.out, "--store", store, "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    items = [json.loads(line) for line in result.stdout.splitlines()]
    by_domain = {(i["domain"], i["reason"]): i for i in items}
    held = by_domain[("tos-held.test", "no rule")]
    assert held["held"] >= 1 and held["terms_url"] == "http://tos-held.test/legal/terms" and held["passages"]
    changed = by_domain[("tos-changed.test", "terms changed")]
    assert changed["terms_sha256"] == text_sha256(terms_text(TERMS_PLAIN.encode()))
    assert ("tos-fine.test", "terms changed") not in by_domain
    # Without --store, the rules the crawl recorded are used.
    again = run_cli("policy", "queue", tos_crawl.out, "--format", "jsonl")
    assert {json.loads(line)["domain"] for line in again.stdout.splitlines()} >= {
        "tos-held.test",
        "tos-changed.test",
    }


def test_a_store_that_does_not_validate_never_starts_a_crawl(web, tmp_path: Path) -> None:
    store = tmp_path / "bad"
    store.mkdir()
    (store / "example.org.toml").write_text('domain = "example.org"\n[[rule]]\nalow = ["ai-train"]\n')
    run = crawl(web, tmp_path / "out", "--policies", str(store), seeds=["http://tos-fine.test/"])
    assert run.result.returncode == 1
    assert f"{store / 'example.org.toml'}:3: unknown key 'alow'" in run.result.stderr
    assert run.requests == []


def test_without_a_store_no_review_applies(main_crawl: CrawlRun) -> None:
    row = next(
        sqlite_utils.Database(main_crawl.out / "provenance.db").query(
            "select decision from usage where purpose = 'ai-train' limit 1"
        )
    )
    basis = next(b for b in json.loads(row["decision"])["bases"] if b["signal"] == "tos-policy")
    assert basis["verdict"] == "none" and "no review" in basis["reason"]
