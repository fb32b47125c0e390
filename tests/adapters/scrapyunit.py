"""Helpers for unit tests of the Scrapy components: a crawler from Scrapy's test helper, a fake downloader.

No network and no Twisted reactor: the evidence fetcher downloads through
``crawler.engine.download_async``, which :class:`FakeEngine` answers from a
table; coroutines run on an asyncio loop (:func:`run`), as Scrapy runs them
under its asyncio reactor.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from scrapy.http import Response
from scrapy.responsetypes import responsetypes
from scrapy.utils.test import get_crawler

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from pathlib import Path

    from scrapy import Request
    from scrapy.crawler import Crawler

Answer = tuple[int, dict[str, str], bytes] | BaseException


class FakeEngine:
    """Answers downloads from ``pages``: ``{url: (status, headers, body)}`` or an exception; else 404."""

    def __init__(self, pages: dict[str, Answer]) -> None:
        self.pages = pages
        self.requested: list[str] = []

    async def download_async(self, request: Request) -> Response:
        self.requested.append(request.url)
        answer = self.pages.get(request.url, (404, {}, b""))
        if isinstance(answer, BaseException):
            raise answer
        return response(request.url, *answer, request=request)


def response(
    url: str, status: int, headers: dict[str, str], body: bytes, *, request: Request | None = None
) -> Response:
    """A Scrapy response of the class Scrapy would pick for these headers and body."""
    cls = responsetypes.from_args(headers=headers, url=url, body=body)
    return cls(url, status=status, headers=headers, body=body, request=request)


def crawler_for(tmp_path: Path, pages: dict[str, Answer] | None = None, **settings: Any) -> Crawler:
    """A crawler with permitcrawl on, its output under ``tmp_path``, downloading from ``pages``."""
    crawler = get_crawler(
        settings_dict={
            "POLICY_ENABLED": True,
            "WARC_DIR": str(tmp_path / "warc"),
            "WARC_EVIDENCE_DIR": str(tmp_path / "evidence"),
            "PROVENANCE_DB": str(tmp_path / "provenance.db"),
            "WARC_GZIP_LEVEL": 0,
            **settings,
        }
    )
    crawler.engine = FakeEngine(pages or {})  # type: ignore[assignment]
    return crawler


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run one coroutine of a component to its end."""
    return asyncio.run(coroutine)
