"""Gathers a host's evidence through Scrapy's own downloader, before any page of it is judged.

Evidence requests go through every downloader middleware (proxies, retries,
redirects, decompression), marked ``policy_exempt`` so that the gate lets them
pass. robots.txt follows RFC 9309: at most ``POLICY_ROBOTS_MAX_REDIRECTS``
redirects (at least 5), then the result applies to the original origin; the
body is read up to the parse limit and the download stopped there; 4xx means
allow all; 5xx, 429, timeouts and errors mean complete disallow until a retry
succeeds. Each document is handed to the archive before it is used, and an
archive failure counts as unreachable: an unproven decision is no decision.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.exceptions import StopDownload
from scrapy.http.request import NO_CALLBACK

from crawler import signals as our_signals
from crawler.evidence import utcnow
from policies.document import Document
from policies.evidence import HostEvidence
from policies.robots import RobotsOutcome, robots_evidence

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from crawler.config import CrawlConfig
    from crawler.evidence import Clock

logger = logging.getLogger(__name__)

EVIDENCE_PRIORITY = 1000  # ahead of page requests, as Scrapy's own robots.txt requests


class EvidenceFetcher:
    """Fetches, archives and reads one origin's evidence documents."""

    def __init__(self, crawler: Crawler, config: CrawlConfig, *, clock: Clock = utcnow) -> None:
        self.crawler = crawler
        self.config = config
        self.clock = clock
        crawler.signals.connect(self._bytes_received, signal=signals.bytes_received)

    def _bytes_received(self, data: bytes, request: Request, spider: Any = None) -> None:
        # Stop reading past the parse limit; the part read is kept (RFC 9309 §2.5).
        limit = request.meta.get("policy_evidence_limit")
        if limit is None:
            return
        received = request.meta.get("_policy_evidence_bytes", 0) + len(data)
        request.meta["_policy_evidence_bytes"] = received
        if received > limit:
            raise StopDownload(fail=False)

    async def __call__(self, origin: str, previous: HostEvidence | None) -> HostEvidence:
        """Gather fresh evidence for ``origin``; never raises."""
        document = await self.fetch(f"{origin}/robots.txt", kind="robots.txt")
        robots = robots_evidence(
            document,
            self.config.robots_token,
            max_crawl_delay=self.config.max_crawl_delay,
            parse_limit=self.config.robots_parse_limit,
        )
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value(f"policy/robots/{robots.outcome.value}")
        if (
            robots.outcome is RobotsOutcome.UNREACHABLE
            and previous is not None
            and previous.robots.outcome is not RobotsOutcome.UNREACHABLE
        ):
            # RFC 9309 §2.4: when robots.txt is unreachable, a cached copy may stand in.
            source = f"{previous.robots.source}; kept because a refetch failed ({robots.source})"
            robots = replace(previous.robots, source=source)
        now = self.clock()
        ttl = self.config.evidence_ttl
        if robots.outcome is RobotsOutcome.UNREACHABLE:
            ttl = self.config.unreachable_retry
        host = HostEvidence(
            origin=origin, robots=robots, fetched_at=now, expires_at=now + timedelta(seconds=ttl)
        )
        self._apply_crawl_delay(host)
        self.crawler.signals.send_catch_log(our_signals.host_evidence_ready, evidence=host)
        return host

    async def fetch(self, url: str, *, kind: str) -> Document:
        """Download one evidence document and archive it; errors become the document's ``error``."""
        request = Request(
            url,
            priority=EVIDENCE_PRIORITY,
            dont_filter=True,
            callback=NO_CALLBACK,
            # identity: the parse limit is counted on the wire, so bytes must be plain.
            headers={"Accept-Encoding": "identity"},
            meta={
                "policy_exempt": True,
                "policy_evidence": kind,
                "policy_evidence_limit": self.config.robots_parse_limit,
                "redirect_ttl": self.config.robots_max_redirects,
                "dont_merge_cookies": True,
                "allow_offsite": True,
            },
        )
        response: Response | None = None
        try:
            response = await self.crawler.engine.download_async(request)
            document = Document(
                kind=kind,
                url=url,
                final_url=response.url,
                status=response.status,
                body=response.body,
                fetched_at=self.clock(),
                truncated="download_stopped" in response.flags,
            )
        except Exception as exc:
            document = Document(kind=kind, url=url, fetched_at=self.clock(), error=_describe(exc))
        return await self._archive(document, request, response)

    async def _archive(self, document: Document, request: Request, response: Response | None) -> Document:
        results = await self.crawler.signals.send_catch_log_async(
            our_signals.evidence_fetched, document=document, request=request, response=response
        )
        for _, result in results:
            if isinstance(result, BaseException):
                error = f"evidence could not be archived: {_describe(result)}"
                return replace(document, status=None, error=error, record_id=None)
            if isinstance(result, str):
                document = replace(document, record_id=result)
        return document

    def _apply_crawl_delay(self, host: HostEvidence) -> None:
        # Scrapy parses Crawl-delay but never applies it. The downloader's slot
        # for the host gets the delay, without jitter (which could shorten it);
        # the per-slot settings keep it when an idle slot is collected and
        # recreated. AutoThrottle is told not to lower it (see the gate).
        delay = host.robots.crawl_delay
        engine = self.crawler.engine
        if delay is None or engine is None:
            return
        hostname = urlsplit(host.origin).hostname or ""
        downloader = engine.downloader
        delay = max(delay, self.crawler.settings.getfloat("DOWNLOAD_DELAY"))
        downloader.per_slot_settings[hostname] = {
            **downloader.per_slot_settings.get(hostname, {}),
            "delay": delay,
            "jitter": 0.0,
        }
        slot = downloader.slots.get(hostname)
        if slot is not None:
            slot.delay = delay
            slot.jitter = 0.0


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
