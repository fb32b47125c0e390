"""ArchiveExtension: writes permitted captures and all evidence to WARC, and every decision to SQLite.

Switched on by ``POLICY_ENABLED`` (set by :class:`crawler.addon.PolicyAddon`);
``WARC_DIR`` and ``PROVENANCE_DB`` say where the output goes.

The raw response is taken at ``response_downloaded``, before any downloader
middleware runs, so bodies are stored exactly as the server sent them
(content-coding kept). It is written only at ``response_received``, once the
gate's post-fetch decision is in ``request.meta["policy_decision"]``, and only
if that decision allows it: a refused body never reaches a WARC file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from scrapy import __version__ as scrapy_version
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task

from crawler import __version__
from crawler import signals as our_signals
from crawler.config import CrawlConfig, load_config
from crawler.evidence import utcnow
from crawler.middlewares import origin_of
from crawler.storage.provenance import ProvenanceDB, dumps
from crawler.storage.warc import HttpExchange, WarcStore, recover_open_files
from policies.decision import Decision, Stage
from policies.robots import classify

if TYPE_CHECKING:
    from datetime import datetime
    from typing import Self

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from crawler.storage.warc import CaptureRecords
    from policies.document import Document

logger = logging.getLogger(__name__)

FLUSH_INTERVAL = 2.0  # seconds between provenance flushes when the crawl is slow


def _text(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def header_list(headers: Any) -> list[tuple[str, str]]:
    """Every (name, value) of Scrapy Headers, repeated names kept (``headers[k]`` keeps only the last)."""
    return [(_text(name), _text(value)) for name, values in headers.items() for value in values]


@dataclass(frozen=True)
class RawResponse:
    """A response as the downloader returned it, before any middleware changed it.

    The headers are copied: HttpCompressionMiddleware deletes Content-Encoding
    from the very Headers object the decoded response shares.
    """

    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    flags: tuple[str, ...]
    protocol: str | None
    ip_address: str | None

    @classmethod
    def of(cls, response: Response) -> RawResponse:
        ip = response.ip_address
        return cls(
            url=response.url,
            status=response.status,
            headers=header_list(response.headers),
            body=response.body,
            flags=tuple(response.flags),
            protocol=response.protocol,
            ip_address=None if ip is None else str(ip),
        )


class ArchiveExtension:
    """Writes the crawl's WARC files and provenance database."""

    def __init__(self, crawler: Crawler, config: CrawlConfig, warc: WarcStore, db: ProvenanceDB) -> None:
        self.crawler = crawler
        self.config = config
        self.warc = warc
        self.db = db
        self.crawl_id = warc.info["isPartOf"]
        self._raw: WeakKeyDictionary[Request, RawResponse] = WeakKeyDictionary()
        self._started: WeakKeyDictionary[Request, datetime] = WeakKeyDictionary()
        self._flusher = task.LoopingCall(self.db.flush)
        self._failed = False
        connect = crawler.signals.connect
        connect(self.spider_opened, signal=signals.spider_opened)
        connect(self.spider_closed, signal=signals.spider_closed)
        connect(self.headers_received, signal=signals.headers_received)
        connect(self.response_downloaded, signal=signals.response_downloaded)
        connect(self.response_received, signal=signals.response_received)
        connect(self.evidence_fetched, signal=our_signals.evidence_fetched)
        connect(self.request_refused, signal=our_signals.request_refused)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("POLICY_ENABLED"):
            raise NotConfigured("POLICY_ENABLED is off")
        config = load_config(crawler.settings)
        crawl_id = str(uuid.uuid4())
        if config.warc_dir.is_dir():
            for name in recover_open_files(config.warc_dir):
                logger.warning("Recovered %s, left open by a crawl that stopped abruptly", name)
        info = {
            "software": f"permitcrawl/{__version__} (Scrapy {scrapy_version})",
            "operator": config.warc_operator,
            "isPartOf": crawl_id,
            "description": f"permitcrawl crawl for purpose {config.purpose.value}",
            "robots": "RFC 9309, checked before every request; robots.txt archived as evidence",
            "http-header-user-agent": config.user_agent,
            "permitcrawl-purpose": config.purpose.value,
            "permitcrawl-default-policy": config.default_policy.value,
            "permitcrawl-body-storage": "as received: content-coding kept, Content-Length corrected",
        }
        warc = WarcStore(
            config.warc_dir,
            prefix=config.warc_prefix,
            max_size=config.warc_max_size,
            gzip_level=config.warc_gzip_level,
            info=info,
        )
        db = ProvenanceDB.open(config.provenance_db, batch_size=config.provenance_batch_size)
        return cls(crawler, config, warc, db)

    # -- crawl lifecycle -----------------------------------------------------------

    def spider_opened(self, spider: Spider) -> None:
        settings = self.crawler.settings
        scrapy_settings = {
            name: settings.get(name)
            for name in (
                "CONCURRENT_REQUESTS",
                "CONCURRENT_REQUESTS_PER_DOMAIN",
                "DOWNLOAD_DELAY",
                "AUTOTHROTTLE_ENABLED",
                "DEPTH_LIMIT",
                "DOWNLOAD_TIMEOUT",
                "RETRY_TIMES",
            )
        }
        self.db.start_crawl(
            {
                "id": self.crawl_id,
                "started_at": utcnow().isoformat(),
                "software": "permitcrawl",
                "version": __version__,
                "purpose": self.config.purpose.value,
                "default_policy": self.config.default_policy.value,
                "robots_token": self.config.robots_token,
                "user_agent": self.config.user_agent,
                "seeds": dumps(list(getattr(spider, "seeds", []))),
                "settings": dumps({"permitcrawl": self.config.summary(), "scrapy": scrapy_settings}),
                "hostname": socket.gethostname(),
                "pid": os.getpid(),
            }
        )
        self.crawler.stats.set_value("permitcrawl/crawl_id", self.crawl_id)
        self._flusher.start(FLUSH_INTERVAL, now=False)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self._flusher.running:
            self._flusher.stop()
        self.warc.close()
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        self.db.finish_crawl(
            self.crawl_id,
            finished_at=utcnow().isoformat(),
            finish_reason=reason,
            stats=dumps({k: (v if isinstance(v, int | float | str) else str(v)) for k, v in stats.items()}),
        )
        self.db.close()

    def _fail(self, what: str, exc: BaseException) -> None:
        # Losing output silently is worse than stopping: stop the crawl, say why.
        logger.error("Could not write %s: %s; stopping the crawl", what, exc, exc_info=exc)
        self.crawler.stats.inc_value("archive/errors")
        if not self._failed and self.crawler.engine is not None:
            self._failed = True
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="archive_error"))

    # -- capture -------------------------------------------------------------------

    def headers_received(self, headers: Any, body_length: int, request: Request, spider: Spider) -> None:
        # WARC-Date is when the capture began: headers arrived download_latency after the request went out.
        latency = request.meta.get("download_latency") or 0.0
        self._started[request] = utcnow() - timedelta(seconds=latency)

    def response_downloaded(self, response: Response, request: Request, spider: Spider) -> None:
        self._raw[request] = RawResponse.of(response)

    def _exchange(self, request: Request, raw: RawResponse) -> HttpExchange:
        truncated = None
        if "download_stopped" in raw.flags:
            truncated = "length"
        elif "dataloss" in raw.flags:
            truncated = "disconnect"
        proxied = bool(request.meta.get("proxy"))
        return HttpExchange(
            url=raw.url,
            method=request.method,
            request_headers=header_list(request.headers),
            request_body=request.body,
            status=raw.status,
            response_headers=raw.headers,
            body=raw.body,
            protocol=raw.protocol or "HTTP/1.1",
            # Through a proxy, the address is the proxy's, not the origin's.
            ip_address=None if proxied else raw.ip_address,
            started_at=self._started.pop(request, None) or utcnow(),
            truncated=truncated,
        )

    def _location(self, filename: str) -> str:
        path = os.path.relpath(self.config.warc_dir / filename, self.config.provenance_db.parent)
        return path.replace(os.sep, "/")

    def response_received(self, response: Response, request: Request, spider: Spider) -> None:
        if request.meta.get("policy_exempt"):
            return
        raw = self._raw.pop(request, None)
        decision = request.meta.get("policy_decision")
        if (
            not isinstance(decision, Decision)
            or decision.stage is not Stage.POST_FETCH
            or not decision.allowed
        ):
            return
        if raw is None:
            # e.g. an HTTP cache hit: there are no bytes as received to archive.
            self.crawler.stats.inc_value("archive/skipped/no_raw_response")
            logger.warning("Not archived (no raw response from the downloader): %s", response.url)
            return
        try:
            self._write_capture(request, response, raw, decision)
        except Exception as exc:
            self._fail(f"the capture of {response.url}", exc)

    def _write_capture(
        self, request: Request, response: Response, raw: RawResponse, decision: Decision
    ) -> None:
        exchange = self._exchange(request, raw)
        usage = request.meta.get("policy_usage") or {}
        referer = request.headers.get("Referer")
        metadata = {
            "crawl_id": self.crawl_id,
            "decision": decision.as_dict(),
            "usage": usage,
            "hopsFromSeed": request.meta.get("depth", 0),
            "via": _text(referer) if referer else None,
            "redirected_from": request.meta.get("redirect_urls"),
            "fetchTimeMs": round(1000 * (request.meta.get("download_latency") or 0)),
        }
        records = self.warc.write_exchange(exchange, metadata)
        self.crawler.stats.inc_value("warc/records_written", 3)
        self.crawler.stats.inc_value("archive/captures")
        self.db.add_capture(
            self._capture_row(exchange, response, records, decision, metadata),
            self._usage_rows(records, usage),
        )
        response.meta["warc_record_id"] = records.response.record_id

    def _capture_row(
        self,
        exchange: HttpExchange,
        response: Response,
        records: CaptureRecords,
        decision: Decision,
        metadata: dict[str, Any],
    ) -> dict[str, Any]:
        content_type = response.headers.get("Content-Type")
        return {
            "warc_record_id": records.response.record_id,
            "crawl_id": self.crawl_id,
            "url": exchange.url,
            "host": urlsplit(exchange.url).hostname,
            "fetched_at": exchange.started_at.isoformat(),
            "status": exchange.status,
            "content_type": _text(content_type) if content_type else None,
            "payload_length": len(exchange.body),
            "warc_file": self._location(records.response.filename),
            "warc_offset": records.response.offset,
            "warc_length": records.response.length,
            "request_record_id": records.request.record_id,
            "metadata_record_id": records.metadata.record_id if records.metadata else None,
            "payload_digest": records.payload_digest,
            "block_digest": records.block_digest,
            "payload_sha256": hashlib.sha256(exchange.body).hexdigest(),
            "purpose": decision.purpose.value,
            "signal": decision.signal,
            "reason": decision.reason,
            "decision": dumps(decision.as_dict()),
            "redirected_from": dumps(metadata["redirected_from"]) if metadata["redirected_from"] else None,
            "depth": metadata["hopsFromSeed"],
            "referer": metadata["via"],
        }

    @staticmethod
    def _usage_rows(records: CaptureRecords, usage: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "capture_id": records.response.record_id,
                "purpose": purpose,
                "usable": int(bool(entry["allowed"])),
                "signal": entry["signal"],
                "reason": entry["reason"],
                "bases": dumps(entry["bases"]),
            }
            for purpose, entry in usage.items()
        ]

    # -- evidence and refusals ---------------------------------------------------------

    def evidence_fetched(self, document: Document, request: Request, response: Response | None) -> str | None:
        """Archive an evidence document; return its WARC record id (None if nothing came back)."""
        location = None
        if response is not None:
            final_request = response.request or request
            raw = self._raw.pop(final_request, None) or RawResponse.of(response)
            try:
                records = self.warc.write_exchange(
                    self._exchange(final_request, raw),
                    {
                        "crawl_id": self.crawl_id,
                        "evidence": document.kind,
                        "applies_to": origin_of(document.url),
                    },
                )
            except Exception as exc:
                # The gate reads the failure as "unreachable": nothing is judged on unarchived evidence.
                self._fail(f"the evidence {document.url}", exc)
                raise
            location = records.response
            self.crawler.stats.inc_value("warc/records_written", 3)
            self.crawler.stats.inc_value("archive/evidence")
        self.db.add_evidence(
            {
                "crawl_id": self.crawl_id,
                "kind": document.kind,
                "origin": origin_of(document.url),
                "url": document.url,
                "final_url": document.final_url,
                "fetched_at": document.fetched_at.isoformat(),
                "status": document.status,
                "outcome": classify(document.status if document.error is None else None).value
                if document.kind == "robots.txt"
                else None,
                "error": document.error,
                "sha256": document.sha256,
                "length": len(document.body) if document.status is not None else None,
                "truncated": int(document.truncated),
                "warc_file": self._location(location.filename) if location else None,
                "warc_offset": location.offset if location else None,
                "warc_length": location.length if location else None,
                "warc_record_id": location.record_id if location else None,
            }
        )
        return location.record_id if location else None

    def request_refused(self, request: Request, decision: Decision, response: Response | None) -> None:
        self._raw.pop(request, None)
        self.db.add_refusal(
            {
                "crawl_id": self.crawl_id,
                "url": decision.url,
                "host": urlsplit(decision.url).hostname,
                "decided_at": decision.decided_at.isoformat(),
                "stage": decision.stage.value,
                "status": response.status if response is not None else None,
                "purpose": decision.purpose.value,
                "signal": decision.signal,
                "reason": decision.reason,
                "decision": dumps(decision.as_dict()),
                "response_headers": dumps(header_list(response.headers)) if response is not None else None,
            }
        )
        self.crawler.stats.inc_value("archive/refusals")
