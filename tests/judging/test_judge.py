"""The crawl's setup: built once from the settings, shared by the crawl's components, recorded and rebuilt."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import pytest
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from crawler.judging import config as config_module
from crawler.judging.config import CrawlSetup, setup_of, share_setup
from crawler.judging.judge import PAGE_MAX_SIZE, JudgeConfig
from crawler.storage.records import CrawlStart, configuration_record
from policies.decision import Basis, DefaultPolicy, Stage, Verdict
from policies.purpose import Purpose
from policies.store import write_rule
from policies.tos import Unreviewed

if TYPE_CHECKING:
    from pathlib import Path

NOW = datetime(2026, 11, 29, tzinfo=UTC)


def store(tmp_path: Path) -> Path:
    directory = tmp_path / "store"
    if directory.exists():
        return directory
    directory.mkdir()
    write_rule(
        directory,
        "example.test",
        {
            "ai_scraping": "No AI",
            "license": "Unrestricted Use",
            "compete": "Unrestricted Use",
            "deny": ("ai-train",),
            "quote": ("No AI.",),
            "tos_url": "http://example.test/terms",
            "reviewer": "A. Maintainer",
            "reviewed": date(2026, 11, 1),
            "review_by": date(2027, 5, 1),
        },
    )
    return directory


def values(tmp_path: Path, **more: object) -> dict[str, object]:
    return {
        "POLICY_PURPOSE": "search",
        "POLICY_DEFAULT": "deny",
        "POLICY_ROBOTS_TOKEN": "mybot",
        "POLICY_READ_NOARCHIVE": False,
        "POLICY_UNREVIEWED": "allow",
        "POLICY_STORE_DIR": str(store(tmp_path)),
        "DOWNLOAD_MAXSIZE": 5_000_000,
        **more,
    }


def settings(tmp_path: Path, **more: object) -> Settings:
    return Settings(values(tmp_path, **more))


def test_the_setup_holds_the_judge_as_configured(tmp_path: Path) -> None:
    setup = CrawlSetup.build(settings(tmp_path))
    judge = setup.judge
    assert (judge.purpose, judge.default_policy, judge.token, judge.unreviewed) == (
        Purpose.SEARCH,
        DefaultPolicy.DENY,
        "mybot",
        Unreviewed.ALLOW,
    )
    assert judge.readings == setup.config.readings and not judge.readings.noarchive
    assert [rule.domain for rule in judge.rules] == ["example.test"]
    assert judge.page_max_size == 5_000_000
    assert CrawlSetup.build(settings(tmp_path, DOWNLOAD_MAXSIZE=0)).judge.page_max_size == PAGE_MAX_SIZE


def test_the_configuration_record_rebuilds_the_judge_that_was_applied(tmp_path: Path) -> None:
    setup = CrawlSetup.build(settings(tmp_path))
    start = CrawlStart(
        crawl_id="c1",
        kind="crawl",
        started_at=NOW,
        software="permitcrawl",
        version="0",
        config=setup.config,
        scrapy={"DOWNLOAD_MAXSIZE": 5_000_000},
        rules=setup.judge.rules,
        seeds=(),
    )
    rebuilt = JudgeConfig.from_record(json.loads(configuration_record(start)))
    assert rebuilt == setup.judge
    assert [rule.where for rule in rebuilt.rules] == [rule.where for rule in setup.judge.rules]


def test_a_judge_refusal_rests_on_its_basis_alone(tmp_path: Path) -> None:
    judge = CrawlSetup.build(settings(tmp_path)).judge
    basis = Basis(signal="incomplete", verdict=Verdict.DENY, reason="cut short")
    decision = judge.refusal("http://example.test/", basis, stage=Stage.POST_FETCH, now=NOW)
    assert (decision.purpose, decision.allowed, decision.bases, decision.default_policy) == (
        Purpose.SEARCH,
        False,
        (basis,),
        DefaultPolicy.DENY,
    )


def test_a_crawl_s_components_share_one_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[CrawlSetup] = []
    real = CrawlSetup.build.__func__  # type: ignore[attr-defined]

    def build(cls: type[CrawlSetup], values: object) -> CrawlSetup:
        built.append(real(cls, values))
        return built[-1]

    monkeypatch.setattr(config_module.CrawlSetup, "build", classmethod(build))
    crawler = get_crawler(settings_dict=values(tmp_path))
    assert setup_of(crawler) is setup_of(crawler) is built[0]  # built once, from the crawler's settings
    other = get_crawler(settings_dict=values(tmp_path))
    handed = CrawlSetup.build(settings(tmp_path))
    share_setup(other, handed)
    assert setup_of(other) is handed and len(built) == 2  # handed over: not built again
