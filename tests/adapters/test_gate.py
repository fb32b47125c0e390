"""PolicyGateMiddleware on its own: Scrapy's test crawler, Request and Response objects, a fake downloader.

The gate judges before a request leaves and after its response returns, and
keeps its decisions typed in the request's meta: the Decision for the crawl's
purpose, and a Decision for every purpose once the response is judged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.misc import build_from_crawler

from crawler.adapters import signals as our_signals
from crawler.adapters.middlewares import PolicyGateMiddleware, page_of
from crawler.judging.config import setup_of
from policies.decision import Decision, Stage
from policies.purpose import Purpose
from tests.adapters.scrapyunit import crawler_for, response, run

if TYPE_CHECKING:
    from pathlib import Path

    from scrapy.crawler import Crawler

ROBOTS = (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /private/\n")
HTML = {"Content-Type": "text/html; charset=utf-8"}


def gate(tmp_path: Path, **settings: Any) -> tuple[PolicyGateMiddleware, Crawler, list[Decision]]:
    """The gate of a crawler whose downloader knows one host; and the decisions it refuses with."""
    crawler = crawler_for(tmp_path, {"http://h.test/robots.txt": ROBOTS}, **settings)
    refused: list[Decision] = []
    crawler.signals.connect(
        lambda request, decision, response: refused.append(decision),
        signal=our_signals.request_refused,
        weak=False,  # the dispatcher would otherwise drop this lambda at once
    )
    return build_from_crawler(PolicyGateMiddleware, crawler), crawler, refused


def test_a_url_robots_txt_disallows_is_refused_before_it_is_requested(tmp_path: Path) -> None:
    middleware, crawler, refused = gate(tmp_path)
    request = Request("http://h.test/private/page")
    with pytest.raises(IgnoreRequest, match="Refused by robots"):
        run(middleware.process_request(request))
    decision = request.meta["policy_decision"]
    assert isinstance(decision, Decision)
    assert (decision.stage, decision.allowed, decision.signal) == (Stage.PRE_FETCH, False, "robots")
    assert refused == [decision]
    assert crawler.stats.get_value("policy/refused/pre-fetch/robots") == 1
    # The host's evidence was fetched once, through the downloader: robots.txt, tdmrep.json, ai.txt.
    assert crawler.engine.requested == [
        "http://h.test/robots.txt",
        "http://h.test/.well-known/tdmrep.json",
        "http://h.test/ai.txt",
    ]


def test_an_allowed_page_is_judged_again_for_every_purpose_and_kept_typed(tmp_path: Path) -> None:
    middleware, crawler, refused = gate(tmp_path, POLICY_PURPOSE="search")
    request = Request("http://h.test/open")
    assert run(middleware.process_request(request)) is None
    before = request.meta["policy_decision"]
    assert (before.stage, before.allowed, before.purpose) == (Stage.PRE_FETCH, True, Purpose.SEARCH)
    assert request.meta["policy_evidence"]["origin"] == "http://h.test"
    page = response("http://h.test/open", 200, HTML, b"<html><body>hello</body></html>", request=request)
    assert run(middleware.process_response(request, page)) is page
    usage = request.meta["policy_usage"]
    assert set(usage) == set(Purpose) and all(isinstance(d, Decision) for d in usage.values())
    assert all(d.stage is Stage.POST_FETCH and d.purpose is p for p, d in usage.items())
    assert request.meta["policy_decision"] is usage[Purpose.SEARCH]
    assert refused == [] and len(crawler.engine.requested) == 3  # the evidence is cached


def test_a_page_s_own_opt_out_refuses_it_after_fetching(tmp_path: Path) -> None:
    middleware, _, refused = gate(tmp_path)
    request = Request("http://h.test/noai")
    run(middleware.process_request(request))
    page = response(
        "http://h.test/noai", 200, {**HTML, "X-Robots-Tag": "noai"}, b"<html></html>", request=request
    )
    with pytest.raises(IgnoreRequest, match="Refused by x-robots-tag"):
        run(middleware.process_response(request, page))
    usage = request.meta["policy_usage"]
    assert not usage[Purpose.AI_TRAIN].allowed and usage[Purpose.AI_TRAIN].signal == "x-robots-tag"
    assert refused == [usage[Purpose.AI_TRAIN]]


def test_a_response_with_no_decision_before_it_is_refused_for_every_purpose(tmp_path: Path) -> None:
    middleware, _, refused = gate(tmp_path, POLICY_DELIVER_REFUSED=True)
    request = Request("http://h.test/open")  # never went through process_request
    page = response("http://h.test/open", 200, HTML, b"<html></html>", request=request)
    assert run(middleware.process_response(request, page)) is page  # delivered for its links only
    usage = request.meta["policy_usage"]
    assert [(p, d.purpose, d.allowed, d.signal) for p, d in usage.items()] == [
        (p, p, False, "default") for p in Purpose
    ]
    assert "no pre-fetch decision was taken" in refused[0].reason


def test_an_evidence_document_is_never_requested_as_a_page(tmp_path: Path) -> None:
    middleware, crawler, _ = gate(tmp_path)
    with pytest.raises(IgnoreRequest, match="an evidence document"):
        run(middleware.process_request(Request("http://h.test/ROBOTS.TXT?x=1")))
    assert crawler.engine.requested == []


def test_the_gate_judges_with_the_crawl_s_one_setup(tmp_path: Path) -> None:
    middleware, crawler, _ = gate(tmp_path)
    assert middleware.judge is setup_of(crawler).judge is middleware.fetcher.judge


def test_the_least_recently_used_host_s_evidence_is_dropped_and_fetched_again(tmp_path: Path) -> None:
    # POLICY_HOSTS_KEPT hosts keep their evidence; one more drops the least recently used, whose
    # robots.txt is fetched again when next needed (RFC 9309 §2.4: a fresh copy, never none).
    hosts = [f"http://h{i}.test" for i in range(101)]
    crawler = crawler_for(tmp_path, {f"{h}/robots.txt": ROBOTS for h in hosts}, POLICY_HOSTS_KEPT=100)
    middleware = build_from_crawler(PolicyGateMiddleware, crawler)

    def visit(host: str) -> None:
        run(middleware.process_request(Request(f"{host}/page")))

    for host in hosts[:100]:
        visit(host)
    visit(hosts[0])  # used again: now h1 is the least recently used
    visit(hosts[100])  # one host too many: h1's evidence goes, h0's stays
    fetched = crawler.engine.requested
    assert len(middleware.evidence) == 100 and fetched.count("http://h0.test/robots.txt") == 1
    visit(hosts[0])
    assert crawler.engine.requested.count("http://h0.test/robots.txt") == 1  # kept: not fetched again
    visit(hosts[1])
    assert crawler.engine.requested.count("http://h1.test/robots.txt") == 2  # dropped: fetched again
    assert crawler.engine.requested[-3:] == [
        "http://h1.test/robots.txt",
        "http://h1.test/.well-known/tdmrep.json",
        "http://h1.test/ai.txt",
    ]
    with pytest.raises(IgnoreRequest, match="Refused by robots"):  # decided on the fresh evidence
        run(middleware.process_request(Request("http://h1.test/private/x")))


def test_the_post_fetch_decisions_reuse_the_pre_fetch_work_and_equal_fresh_ones(tmp_path: Path) -> None:
    middleware, _, _ = gate(tmp_path, CONCURRENT_REQUESTS=50)
    assert middleware.memos.kept == 100  # twice the requests in flight
    request = Request("http://h.test/open")
    run(middleware.process_request(request))
    host = run(middleware.evidence.get("http://h.test"))
    kept = middleware.memos.memo("http://h.test/open", host)
    # The pre-fetch decision left its robots.txt reading in the URL's memo, for the post-fetch ones.
    assert kept.get("robots", lambda: pytest.fail("not kept from before fetching")).signal == "robots"
    page = response("http://h.test/open", 200, HTML, b"<html><body>hello</body></html>", request=request)
    run(middleware.process_response(request, page))
    fresh = middleware.judge.decide_all(
        "http://h.test/open", host=host, now=request.meta["policy_decision"].decided_at,
        page=run(page_of(page)),
    )  # fmt: skip
    assert request.meta["policy_usage"] == fresh


def test_the_gate_keeps_work_for_at_least_64_urls(tmp_path: Path) -> None:
    middleware, _, _ = gate(tmp_path, CONCURRENT_REQUESTS=4)
    assert middleware.memos.kept == 64
