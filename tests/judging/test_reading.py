"""The reading functions the crawler and audit share: evidence documents and pages, read one way."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from crawler.judging.config import CrawlSetup
from crawler.judging.reading import (
    archived_terms,
    header_map,
    read_aitxt,
    read_page,
    read_robots,
    read_terms_page,
)
from policies.document import Document

if TYPE_CHECKING:
    from crawler.judging.judge import JudgeConfig

NOW = datetime(2026, 11, 29, tzinfo=UTC)


def judge(**settings: object) -> JudgeConfig:
    return CrawlSetup.build({"POLICY_ROBOTS_TOKEN": "mybot", **settings}).judge


def test_headers_fold_as_the_page_holds_them() -> None:
    pairs = [("Content-Type", "text/html"), ("X-Robots-Tag", "noai"), ("x-robots-tag", "noimageai")]
    assert header_map(pairs) == {"content-type": ("text/html",), "x-robots-tag": ("noai", "noimageai")}
    page = read_page("http://h.test/", 200, pairs, b"<html></html>")
    assert page.header("X-Robots-Tag") == ("noai", "noimageai") and page.content_type == "text/html"


def test_robots_and_ai_txt_are_read_with_the_crawl_s_token_and_bounds() -> None:
    robots = Document(
        kind="robots.txt",
        url="http://h.test/robots.txt",
        status=200,
        body=b"User-agent: mybot\nDisallow: /private\nCrawl-delay: 5\n",
        fetched_at=NOW,
    )
    read = read_robots(robots, judge())
    assert not read.permits("http://h.test/private/x") and read.permits("http://h.test/open")
    assert read.crawl_delay == 5
    assert read_robots(robots, judge(POLICY_ROBOTS_TOKEN="otherbot")).permits("http://h.test/private/x")
    aitxt = Document(kind="ai.txt", url="http://h.test/ai.txt", status=404, fetched_at=NOW)
    assert read_aitxt(aitxt, judge()).url == "http://h.test/ai.txt"


def test_terms_are_cited_by_the_record_they_were_archived_as() -> None:
    page = Document(
        kind="terms",
        url="http://h.test/terms",
        final_url="http://h.test/legal/terms",
        status=200,
        body=b"<p>You may not scrape this site.</p>",
        fetched_at=NOW,
    )
    read = read_terms_page(page, "http://h.test/")  # before archiving: no record yet
    archived = replace(page, record_id="<urn:uuid:t>")
    cited = archived_terms(read, archived)
    assert (cited.terms_url, cited.record_id, cited.source) == (
        "http://h.test/terms",
        "<urn:uuid:t>",
        "http://h.test/terms redirected to http://h.test/legal/terms: HTTP 200",
    )
    assert cited.passages == read.passages and cited.passages
