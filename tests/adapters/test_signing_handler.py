"""The download handler signs every request just before it is sent, and sends none it could not sign."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.misc import build_from_crawler

from crawler.adapters import fence
from crawler.adapters import signals as our_signals
from crawler.adapters.fence import (
    NOT_SIGNED_STAT,
    FencedDownloadHandler,
    NotSigned,
    check_signing_handler,
)
from crawler.adapters.middlewares import PolicyGateMiddleware
from crawler.errors import SettingsError
from crawler.identity.keys import directory, generate_key
from policies.decision import Decision, Stage
from tests.adapters.scrapyunit import crawler_for, response, run
from tests.webbotauth import DirectoryVerifier

if TYPE_CHECKING:
    from pathlib import Path

    from scrapy.crawler import Crawler
    from scrapy.http import Response

FENCED = "crawler.adapters.fence.FencedDownloadHandler"


class _Wire:
    """Stands in for Scrapy's HTTP handler: what was handed to it, with its headers as they were then."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[tuple[str, str]]]] = []

    async def download_request(self, request: Request) -> Response:
        lines = [(n.decode(), v.decode()) for n, vs in request.headers.items() for v in vs]
        self.sent.append((request.url, lines))
        return response(request.url, 200, {}, b"ok", request=request)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> _Wire:
        return cls()


def _signing_crawler(tmp_path: Path) -> tuple[Crawler, str]:
    jwk = generate_key(tmp_path / "k.jwk")
    crawler = crawler_for(
        tmp_path,
        PERMITCRAWL_SIGN_KEY=str(tmp_path / "k.jwk"),
        PERMITCRAWL_SIGNATURE_AGENT="https://crawler.example",
        DOWNLOAD_HANDLERS={"http": FENCED, "https": FENCED},
    )
    return crawler, json.dumps(directory([jwk]))


@pytest.fixture(autouse=True)
def _no_wire(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scrapy's HTTP handler wants a Twisted reactor; these tests hand requests to a _Wire instead."""
    monkeypatch.setattr(fence, "HTTP11DownloadHandler", _Wire)


def _handler(crawler: Crawler) -> tuple[FencedDownloadHandler, _Wire]:
    handler = FencedDownloadHandler(crawler)
    assert isinstance(handler.inner, _Wire)
    return handler, handler.inner


def test_every_request_is_signed_as_it_is_handed_over(tmp_path: Path) -> None:
    crawler, published = _signing_crawler(tmp_path)
    handler, wire = _handler(crawler)
    request = Request("http://h.test/page?q=1", headers={"Signature": "sig1=:old:", "Authorization": "x"})
    run(handler.download_request(request))
    run(handler.download_request(Request("http://h.test/robots.txt", meta={"policy_exempt": True})))
    verifier = DirectoryVerifier(published)
    for url, lines in wire.sent:
        result = verifier.verify("GET", url, lines)
        assert result.label == "sig1"
    assert [name for name, _ in wire.sent[0][1]].count("Signature") == 1  # the stale one replaced


def test_a_request_that_cannot_be_signed_is_not_sent(tmp_path: Path) -> None:
    crawler, _ = _signing_crawler(tmp_path)
    handler, wire = _handler(crawler)
    # A Content-Digest the signing library cannot read: it refuses to sign beside it.
    request = Request("http://h.test/page", headers={"Content-Digest": "not a digest"})
    with pytest.raises(NotSigned, match=r"cannot sign the request for http://h\.test/page"):
        run(handler.download_request(request))
    assert wire.sent == []
    assert crawler.stats.get_value(NOT_SIGNED_STAT) == 1


def test_a_page_not_signed_is_recorded_as_refused(tmp_path: Path) -> None:
    crawler, _ = _signing_crawler(tmp_path)
    refused: list[Decision] = []
    crawler.signals.connect(
        lambda request, decision, response: refused.append(decision),
        signal=our_signals.request_refused,
        weak=False,
    )
    gate = build_from_crawler(PolicyGateMiddleware, crawler)
    request = Request("http://h.test/page")
    try:
        raise NotSigned("not sent: cannot sign") from ValueError("bad header")
    except NotSigned as exc:
        failure: Any = exc
    with pytest.raises(IgnoreRequest, match="not sent: the request could not be signed"):
        gate.process_exception(request, failure)
    (decision,) = refused
    assert (decision.stage, decision.allowed) == (Stage.PRE_FETCH, False)
    assert "ValueError: bad header" in decision.reason


def test_a_crawl_that_signs_will_not_start_with_a_handler_that_does_not(tmp_path: Path) -> None:
    crawler, _ = _signing_crawler(tmp_path)
    check_signing_handler(crawler)  # the fenced handler on both schemes: fine
    plain = crawler_for(
        tmp_path,
        PERMITCRAWL_SIGN_KEY=str(tmp_path / "k.jwk"),
        PERMITCRAWL_SIGNATURE_AGENT="https://crawler.example",
    )
    with pytest.raises(SettingsError, match="sends http and https requests through a handler"):
        check_signing_handler(plain)
    check_signing_handler(crawler_for(tmp_path / "unsigned"))  # no signing, no requirement
