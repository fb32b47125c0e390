"""Requests as JSON for the frontier (crawler.adapters.requestcodec): no pickle, callbacks by name."""

from __future__ import annotations

import json

import pytest
from scrapy import Request, Spider

from crawler.adapters.requestcodec import CLAIM_META, decode_request, encode_request


class Pages(Spider):
    name = "pages"

    def parse(self, response: object) -> None:
        pass

    def parse_sitemap(self, response: object) -> None:
        pass


def test_a_request_round_trips_through_json() -> None:
    spider = Pages()
    request = Request(
        "http://a.test/é?q=1",
        callback=spider.parse_sitemap,
        method="POST",
        body=b"\xff\x00",
        headers={"Referer": "http://a.test/"},
        priority=7,
        dont_filter=True,
        meta={"depth": 3, "redirect_urls": ["http://b.test/"], "_policy_budgeted": "a.test"},
    )
    text = encode_request(request, spider)
    json.loads(text)  # plain JSON, not a pickle
    again = decode_request(text, spider)
    assert (again.url, again.method, again.body, again.priority, again.dont_filter) == (
        request.url, "POST", b"\xff\x00", 7, True,
    )  # fmt: skip
    assert again.callback == spider.parse_sitemap
    assert again.headers.getlist("Referer") == [b"http://a.test/"]
    assert again.meta == {"depth": 3, "redirect_urls": ["http://b.test/"], "_policy_budgeted": "a.test"}


def test_process_only_meta_is_left_out() -> None:
    spider = Pages()
    request = Request(
        "http://a.test/",
        meta={
            "policy_decision": object(),
            "policy_exempt": True,  # an evidence request's mark: never let a queued page skip the gate
            CLAIM_META: "k",
            "_permitcrawl_page_budget": 5,
            "depth": 1,
        },
    )
    assert decode_request(encode_request(request, spider), spider).meta == {"depth": 1}


def test_a_callback_that_is_not_the_spiders_is_refused() -> None:
    with pytest.raises(ValueError, match="is not an instance method"):
        encode_request(Request("http://a.test/", callback=lambda response: None), Pages())


def test_a_licence_token_is_never_stored_with_a_queued_request() -> None:
    spider = Pages()
    request = Request(
        "http://a.test/",
        headers={"Authorization": "License tok-123", "Referer": "http://a.test/"},
        meta={"rsl_token_retried": True},
    )
    text = encode_request(request, spider)
    assert "tok-123" not in text
    again = decode_request(text, spider)
    assert "Authorization" not in again.headers and again.headers["Referer"] == b"http://a.test/"
    assert again.meta["rsl_token_retried"] is True  # the one-retry mark survives the frontier
    basic = Request("http://a.test/", headers={"Authorization": "Basic Zm9v"})
    assert decode_request(encode_request(basic, spider), spider).headers["Authorization"] == b"Basic Zm9v"
