"""ArchiveExtension on its own: Scrapy's test crawler, the signals a crawl sends, and what lands on disk.

The extension takes the gate's typed decisions from the request's meta and
hands them to storage, which writes each once: the metadata record and the
usage rows read back as the very decisions the gate took.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import pytest
import sqlite_utils
from scrapy import Request, Spider, signals
from scrapy.utils.misc import build_from_crawler
from twisted.internet import task

from crawler.adapters import signals as our_signals
from crawler.adapters.extensions import ArchiveExtension
from crawler.judging.config import setup_of
from crawler.judging.judge import JudgeConfig
from crawler.storage.archive import WarcArchive
from crawler.storage.records import read_decision
from policies.decision import Basis, Decision, DefaultPolicy, Stage, Verdict, combine
from policies.document import Document
from policies.purpose import Purpose
from policies.store import write_rule
from tests.adapters.scrapyunit import crawler_for, response

if TYPE_CHECKING:
    from pathlib import Path

    from scrapy.crawler import Crawler

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
URL = "http://h.test/page"
HTML = {"Content-Type": "text/html; charset=utf-8"}
MANIFEST = {
    "origin": "http://h.test",
    "fetched_at": NOW.isoformat(),
    "robots.txt": {"url": "http://h.test/robots.txt"},
}


class Timer:
    """Stands in for the flush timer (a LoopingCall would install a Twisted reactor in the test process)."""

    def __init__(self, function: Any) -> None:
        self.running = False

    def start(self, interval: float, now: bool = True) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False


@dataclass
class Crawl:
    """A crawler with the archive extension on, its spider opened, and its output directory."""

    extension: (
        ArchiveExtension  # held here, as Scrapy's extension manager holds it: signals keep weak references
    )
    crawler: Crawler
    spider: Spider
    out: Path


@pytest.fixture
def crawl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Crawl:
    monkeypatch.setattr(task, "LoopingCall", Timer)
    store = tmp_path / "store"
    store.mkdir()
    write_rule(
        store,
        "other.test",
        {
            "ai_scraping": "No AI",
            "license": "Unrestricted Use",
            "compete": "Unrestricted Use",
            "deny": ("ai-train",),
            "quote": ("No AI.",),
            "tos_url": "http://other.test/terms",
            "reviewer": "A. Maintainer",
            "reviewed": date(2026, 11, 1),
            "review_by": date(2027, 5, 1),
        },
    )
    crawler = crawler_for(tmp_path / "out", POLICY_STORE_DIR=str(store))
    extension = build_from_crawler(ArchiveExtension, crawler)
    spider = Spider(name="unit")
    spider.seeds = ["http://h.test/"]  # type: ignore[attr-defined]
    crawler.signals.send_catch_log(signals.spider_opened, spider=spider)
    return Crawl(extension, crawler, spider, tmp_path / "out")


def decisions(*bases: Basis) -> dict[Purpose, Decision]:
    return {
        purpose: combine(
            list(bases),
            url=URL,
            purpose=purpose,
            default_policy=DefaultPolicy.ALLOW,
            decided_at=NOW,
            stage=Stage.POST_FETCH,
        )
        for purpose in Purpose
    }


def fetched(crawler: Crawler, spider: Spider, headers: dict[str, str]) -> Request:
    """A page request whose raw response the downloader has just handed over."""
    request = Request(URL, headers={"Referer": "http://h.test/"}, meta={"depth": 1, "download_latency": 0.25})
    raw = response(URL, 200, headers, b"<html><body>page</body></html>", request=request)
    crawler.signals.send_catch_log(signals.response_downloaded, response=raw, request=request, spider=spider)
    return request


def finish(crawler: Crawler, spider: Spider) -> sqlite_utils.Database:
    crawler.signals.send_catch_log(signals.spider_closed, spider=spider, reason="finished")
    return sqlite_utils.Database(crawler.settings["PROVENANCE_DB"])


def test_a_permitted_capture_is_stored_with_the_gate_s_decisions(crawl: Crawl) -> None:
    crawler, spider = crawl.crawler, crawl.spider
    judged = decisions(Basis(signal="robots", verdict=Verdict.ALLOW, reason="Allow: /"))
    request = fetched(crawler, spider, HTML)
    request.meta.update(
        policy_decision=judged[Purpose.AI_TRAIN], policy_usage=judged, policy_evidence=MANIFEST
    )
    page = response(URL, 200, HTML, b"<html><body>page</body></html>", request=request)
    crawler.signals.send_catch_log(signals.response_received, response=page, request=request, spider=spider)
    record_id = page.meta["warc_record_id"]
    db = finish(crawler, spider)

    [capture] = db.query("select * from captures")
    assert (capture["warc_record_id"], capture["signal"], capture["depth"], capture["referer"]) == (
        record_id,
        "robots",
        1,
        "http://h.test/",
    )
    stored = {row["purpose"]: read_decision(row["decision"]) for row in db.query("select * from usage")}
    assert stored == {p.value: d for p, d in judged.items()}
    warc = WarcArchive(crawl.out)
    metadata = warc.read(capture["metadata_record_id"]).json()
    assert {p: read_decision(d) for p, d in metadata["usage"].items()} == stored
    assert (metadata["evidence"], metadata["fetchTimeMs"], metadata["purpose"]) == (MANIFEST, 250, "ai-train")
    # The configuration record holds the judge the gate would apply, rules included.
    [crawl] = db.query("select * from crawls")
    recorded = JudgeConfig.from_record(warc.read(crawl["config_record_id"]).json())
    assert recorded == setup_of(crawler).judge and [r.domain for r in recorded.rules] == ["other.test"]
    assert crawl["finish_reason"] == "finished" and db["policy_rules"].count == 1
    assert crawler.stats.get_value("archive/captures") == 1


def test_a_refused_response_is_never_archived_and_its_refusal_is_recorded(crawl: Crawl) -> None:
    crawler, spider = crawl.crawler, crawl.spider
    judged = decisions(Basis(signal="x-robots-tag", verdict=Verdict.DENY, reason="X-Robots-Tag: noai"))
    headers = {**HTML, "X-Robots-Tag": "noai"}
    request = fetched(crawler, spider, headers)
    request.meta.update(
        policy_decision=judged[Purpose.AI_TRAIN], policy_usage=judged, policy_evidence=MANIFEST
    )
    page = response(URL, 200, headers, b"<html></html>", request=request)
    crawler.signals.send_catch_log(
        our_signals.request_refused, request=request, decision=judged[Purpose.AI_TRAIN], response=page
    )
    crawler.signals.send_catch_log(signals.response_received, response=page, request=request, spider=spider)
    db = finish(crawler, spider)
    assert db["captures"].count == 0 and "warc_record_id" not in page.meta
    [refusal] = db.query("select * from refusals")
    assert read_decision(refusal["decision"]) == judged[Purpose.AI_TRAIN]
    assert (refusal["stage"], refusal["status"], refusal["signal"]) == ("post-fetch", 200, "x-robots-tag")
    assert ["X-Robots-Tag", "noai"] in json.loads(refusal["response_headers"])


def test_an_evidence_document_is_archived_apart_and_its_record_id_answered(crawl: Crawl) -> None:
    crawler, spider = crawl.crawler, crawl.spider
    request = Request(
        "http://h.test/robots.txt", meta={"policy_exempt": True, "policy_evidence": "robots.txt"}
    )
    raw = response(
        request.url, 200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n", request=request
    )
    crawler.signals.send_catch_log(signals.response_downloaded, response=raw, request=request, spider=spider)
    document = Document(kind="robots.txt", url=request.url, status=200, body=raw.body, fetched_at=NOW)
    [(_, record_id)] = crawler.signals.send_catch_log(
        our_signals.evidence_fetched, document=document, request=request, response=raw, details=None
    )
    db = finish(crawler, spider)
    [row] = db.query("select * from evidence")
    assert (row["warc_record_id"], row["outcome"], row["origin"]) == (record_id, "parsed", "http://h.test")
    assert row["warc_file"].startswith("evidence/")
