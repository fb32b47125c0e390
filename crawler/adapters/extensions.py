"""ArchiveExtension: writes permitted captures and all evidence to WARC, and every decision to SQLite.

Switched on by ``POLICY_ENABLED`` (set by :class:`crawler.adapters.addon.PolicyAddon`);
``WARC_DIR``, ``WARC_EVIDENCE_DIR`` and ``PROVENANCE_DB`` say where the output
goes. Captured pages go to the WARC files of ``WARC_DIR``; the documents
fetched only to decide (robots.txt, tdmrep.json, ai.txt, RSL licences, the
home and terms pages read to find a site's terms) and the crawl's
configuration record go to WARC files of their own, named
``<prefix>-evidence-...``, in ``WARC_EVIDENCE_DIR``: whoever reads every
response of the page files reads only pages the crawl captured.

The raw response is taken at ``response_downloaded``, before any downloader
middleware runs, so bodies are stored exactly as the server sent them
(content-coding kept). It is written only at ``response_received``, once the
gate's post-fetch decision is in ``request.meta["policy_decision"]``, and only
if that decision allows it: a refused body never reaches a WARC file. This
extension only turns Scrapy objects into typed values (the gate's decisions
stay :class:`~policies.decision.Decision` objects); the
:class:`~crawler.storage.writer.ArchiveWriter` writes them, in the record and
row shapes storage defines. The configuration it records is the crawl's one
:class:`~crawler.judging.config.CrawlSetup`, the one the gate judges with.

``PERMITCRAWL_WRITER`` says where the writing happens: ``process`` (the
default), in a writer process of its own fed through a bounded queue
(:mod:`crawler.storage.writer_process`: the crawl waits when the writer lags
more than ``PERMITCRAWL_WRITER_QUEUE`` messages), or ``inline``, on the
reactor thread. If the writer process dies, the crawl stops with reason
``writer_lost``; if it fails to write, with ``archive_error``, as inline.
"""

from __future__ import annotations

import functools
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from scrapy import __version__ as scrapy_version
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task

from crawler import __version__
from crawler.adapters import signals as our_signals
from crawler.adapters.evidence import utcnow
from crawler.adapters.fence import check_signing_handler
from crawler.adapters.requestcodec import CLAIM_META
from crawler.errors import ProvenanceError
from crawler.judging.config import CrawlConfig, setup_of
from crawler.storage.lock import lock_directory
from crawler.storage.provenance import ProvenanceDB
from crawler.storage.reconcile import reconcile
from crawler.storage.records import Capture, CrawlStart
from crawler.storage.warc import HttpExchange, WarcStore, recover_open_files
from crawler.storage.writer import ArchiveWriter
from crawler.storage.writer_process import WarcSpec, WriterClient, WriterFailed, WriterLost, WriterSpec
from policies.decision import Decision, Stage
from policies.document import closed_mid_document
from policies.rsl import redact_authorization
from policies.urls import origin_of

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime
    from pathlib import Path
    from typing import Self

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from crawler.identity.signer import RequestSigner
    from crawler.judging.config import CrawlSetup
    from policies.document import Document
    from policies.purpose import Purpose

logger = logging.getLogger(__name__)

FLUSH_INTERVAL = 2.0  # seconds between commits when the crawl is slow
POLL_INTERVAL = 0.05  # seconds between looks at the writer process's reports (and whether it lives)

EVIDENCE_NAME = "evidence"

RECORDED_SCRAPY_SETTINGS = (
    "DOWNLOAD_MAXSIZE",
    "CONCURRENT_REQUESTS",
    "CONCURRENT_REQUESTS_PER_DOMAIN",
    "DOWNLOAD_DELAY",
    "AUTOTHROTTLE_ENABLED",
    "DEPTH_LIMIT",
    "DOWNLOAD_TIMEOUT",
    "RETRY_TIMES",
    # Pay per crawl: what a page and the crawl may cost (empty: nothing is paid for).
    "PERMITCRAWL_MAX_PRICE",
    "PERMITCRAWL_BUDGET",
    "PERMITCRAWL_DOMAIN_BUDGET",
)


def _text(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def header_list(headers: Any) -> list[tuple[str, str]]:
    """Every (name, value) of Scrapy Headers, repeated names kept (``headers[k]`` keeps only the last)."""
    return [(_text(name), _text(value)) for name, values in headers.items() for value in values]


def recorded_request_headers(headers: Any) -> list[tuple[str, str]]:
    """A request's headers as the WARC request record keeps them: an RSL licence token by its id only.

    ``Authorization: License <token>`` is recorded as ``License [token sha256:...]``: the token is
    a bearer credential, and a WARC file is shared; its id matches the one the decision names.
    """
    return [
        (name, redact_authorization(value) if name.lower() == "authorization" else value)
        for name, value in header_list(headers)
    ]


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
    """Feeds the crawl's captures, evidence and refusals to the archive writer."""

    def __init__(
        self, crawler: Crawler, setup: CrawlSetup, writer: ArchiveWriter | WriterClient, crawl_id: str
    ) -> None:
        self.crawler = crawler
        self.config = setup.config
        # The rules recorded are the gate's: both come from the crawl's one setup.
        self.judge = setup.judge
        self.signing = setup.signer.description() if setup.signer is not None else None
        self.exclusions = setup.exclusions
        self.writer = writer
        # The rows the frontier scheduler holds, releases and waits on: in this process, or the writer's.
        self.rows = writer.rows if isinstance(writer, WriterClient) else writer.db
        self.crawl_id = crawl_id
        self._raw: WeakKeyDictionary[Request, RawResponse] = WeakKeyDictionary()
        self._started: WeakKeyDictionary[Request, datetime] = WeakKeyDictionary()
        self._failed = False
        self._reason = "archive_error"  # why the archive stopped the crawl, once it did
        self._opened = False  # Scrapy closes a spider it failed to open too: no crawl row then
        # Rows are committed in batches; on a slow crawl, at least this often.
        self._flusher = task.LoopingCall(self._flush)
        self._poller = task.LoopingCall(self._poll)
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
        check_signing_handler(crawler)  # before anything is written: a crawl that signs, signs every request
        if not crawler.settings.getbool("POLICY_ENABLED"):
            raise NotConfigured("POLICY_ENABLED is off")
        setup = setup_of(crawler)
        config = setup.config
        crawl_id = str(uuid.uuid4())
        # One writer per output: taken before a WARC file left open is renamed as abandoned,
        # since it may be another crawl's, still writing (the CLI holds it already).
        output = config.provenance_db.parent
        output.mkdir(parents=True, exist_ok=True)
        lock_directory(output)
        recovered = []
        for directory in (config.warc_dir, config.warc_evidence_dir):
            if directory.is_dir():
                for name in recover_open_files(directory):
                    logger.warning("Recovered %s, left open by a crawl that stopped abruptly", name)
                    recovered.append(directory / name)
        if config.writer == "process":
            return cls(crawler, setup, cls.start_writer(setup, crawl_id, recovered), crawl_id)
        warc = WarcStore(
            config.warc_dir,
            prefix=config.warc_prefix,
            max_size=config.warc_max_size,
            gzip_level=config.warc_gzip_level,
            info=cls.warcinfo(config, crawl_id, signer=setup.signer),
        )
        evidence = WarcStore(
            config.warc_evidence_dir,
            prefix=f"{config.warc_prefix}-{EVIDENCE_NAME}",
            max_size=config.warc_max_size,
            gzip_level=config.warc_gzip_level,
            info=cls.warcinfo(config, crawl_id, evidence=True, signer=setup.signer),
        )
        db = ProvenanceDB.open(config.provenance_db, batch_size=config.provenance_batch_size)
        cls.reconcile(output, db, recovered)
        writer = ArchiveWriter(
            warc,
            db,
            evidence_warc=evidence,
            warc_path=functools.lru_cache(maxsize=64)(lambda path: _relative(config, path)),
        )
        return cls(crawler, setup, writer, crawl_id)

    @classmethod
    def start_writer(cls, setup: CrawlSetup, crawl_id: str, recovered: list[Path]) -> WriterClient:
        """Start the writer process on the crawl's output; it reconciles before it writes anything."""
        config = setup.config

        def store(directory: Path, prefix: str, *, evidence: bool) -> WarcSpec:
            info = cls.warcinfo(config, crawl_id, evidence=evidence, signer=setup.signer)
            return WarcSpec(directory, prefix, config.warc_max_size, config.warc_gzip_level, info)

        spec = WriterSpec(
            pages=store(config.warc_dir, config.warc_prefix, evidence=False),
            evidence=store(config.warc_evidence_dir, f"{config.warc_prefix}-{EVIDENCE_NAME}", evidence=True),
            provenance_db=config.provenance_db,
            batch_size=config.provenance_batch_size,
            recovered=tuple(recovered),
        )
        client = WriterClient(spec, bound=config.writer_queue)
        _said_reconciled(client.start())
        logger.info("The archive writer runs in process %s", client.pid)
        return client

    @staticmethod
    def reconcile(output: Path, db: ProvenanceDB, recovered: list[Path]) -> None:
        """Before this run writes anything: name the records an earlier run left without rows.

        Their URLs are fetched again by this run, so they are marked superseded
        (see :mod:`crawler.storage.reconcile`), and audit accounts for them.
        """
        _said_reconciled(len(reconcile(output, db.db, recovered=recovered)))

    @staticmethod
    def warcinfo(
        config: CrawlConfig, crawl_id: str, *, evidence: bool = False, signer: RequestSigner | None = None
    ) -> dict[str, str]:
        """The fields of every WARC file's warcinfo record (page files, or evidence files).

        A crawl that signs its requests names how (:func:`signing_fields`).
        """
        what = "evidence documents fetched to decide, not captured pages" if evidence else "pages captured"
        return {
            "software": f"permitcrawl/{__version__} (Scrapy {scrapy_version})",
            "operator": config.warc_operator,
            "isPartOf": crawl_id,
            "description": f"permitcrawl crawl for purpose {config.purpose.value}: {what}",
            "robots": "RFC 9309, checked before every request; robots.txt archived as evidence",
            "http-header-user-agent": config.user_agent,
            "permitcrawl-purpose": config.purpose.value,
            "permitcrawl-default-policy": config.default_policy.value,
            "permitcrawl-body-storage": "as received: content-coding kept, Content-Length corrected",
            **(signing_fields(signer.description()) if signer is not None else {}),
        }

    # -- crawl lifecycle -----------------------------------------------------------

    def spider_opened(self, spider: Spider) -> None:
        settings = self.crawler.settings
        # Everything a decision depends on besides the evidence goes into the WARC too, so that
        # decisions can be re-derived from the WARC files alone (permitcrawl audit).
        start = CrawlStart(
            crawl_id=self.crawl_id,
            kind=getattr(spider, "crawl_kind", "crawl"),
            started_at=utcnow(),
            software="permitcrawl",
            version=__version__,
            config=self.config,
            scrapy={name: settings.get(name) for name in RECORDED_SCRAPY_SETTINGS},
            rules=self.judge.rules,
            seeds=tuple(getattr(spider, "seeds", ())),
            signing=self.signing,
            exclusions=self.exclusions,
        )
        if isinstance(self.writer, WriterClient):
            self._start_remote(self.writer, start)
        else:
            record_id = None
            try:
                # Both directories are made now: a crawl that cannot write its output asks for nothing.
                self.writer.warc.directory.mkdir(parents=True, exist_ok=True)
                record_id = self.writer.record_configuration(start)
            except Exception as exc:
                self._fail(exc)
            self.writer.record_start(start, record_id)
            self._opened = True
        self.crawler.stats.set_value("permitcrawl/crawl_id", self.crawl_id)
        self._flusher.start(FLUSH_INTERVAL, now=False)

    def _start_remote(self, client: WriterClient, start: CrawlStart) -> None:
        # Waited for: a crawl that cannot write its output asks for nothing.
        try:
            client.start_crawl(start)
        except WriterFailed as exc:
            self._opened = True  # its row is written: the writer records how the crawl ended
            self._fail(exc)
            return
        except Exception as exc:
            self._fail(exc)
            return
        self._opened = True
        self._poller.start(POLL_INTERVAL, now=False)

    def _poll(self) -> None:
        """Read the writer process's reports: commits done (pages count as done), or its failure."""
        assert isinstance(self.writer, WriterClient)
        try:
            self.writer.poll()
        except Exception as exc:
            self._poller.stop()
            self._fail(exc)

    def _flush(self) -> None:
        try:
            self.rows.flush()
        except Exception as exc:
            self._fail(exc)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        for loop in (self._flusher, self._poller):
            if loop.running:
                loop.stop()
        if isinstance(self.writer, WriterClient) and self.crawler.stats:
            self.crawler.stats.set_value("archive/writer_waits", self.writer.waits)
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        if self._failed:
            reason = self._reason
        try:
            self.writer.finish(
                self.crawl_id if self._opened else None,
                finished_at=utcnow(),
                finish_reason=reason,
                stats=stats,
            )
        except WriterLost as exc:
            # Its end cannot be recorded: the next run finds this crawl unfinished, as if killed.
            self._fail(exc)
            logger.error("%s; the crawl's end is not recorded (run the same command to resume)", exc)
        except WriterFailed as exc:
            self._fail(exc)  # said already if it failed before; its end is recorded (archive_error)

    def _fail(self, exc: BaseException) -> None:
        # Losing output silently is worse than stopping: stop the crawl, say why.
        reason = "writer_lost" if isinstance(exc, WriterLost) else "archive_error"
        self.crawler.stats.inc_value("archive/errors")
        if not self._failed:
            self._reason = reason
            self.crawler.stats.set_value("finish_reason", reason)
        if not self._failed and self.crawler.engine is not None:
            self._failed = True
            if reason == "writer_lost":
                logger.error("%s; stopping the crawl", exc)
            else:
                logger.error("The archive could not be written (%s); stopping the crawl", exc)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason=reason))

    # -- capture -------------------------------------------------------------------

    def headers_received(self, headers: Any, body_length: int, request: Request, spider: Spider) -> None:
        # WARC-Date is when the capture began: headers arrived download_latency after the request went out.
        latency = request.meta.get("download_latency") or 0.0
        self._started[request] = utcnow() - timedelta(seconds=latency)

    def response_downloaded(self, response: Response, request: Request, spider: Spider) -> None:
        self._raw[request] = RawResponse.of(response)

    @staticmethod
    def _closed_mid_document(request: Request, raw: RawResponse) -> bool:
        # The same judgement as the evidence fetcher's, on the same bytes, so that audit reads
        # the record as the crawler read the document (a coded body is judged by its decoding).
        if "partial" not in raw.flags or any(k.lower() == "content-encoding" for k, _ in raw.headers):
            return False
        content_type = next((v for k, v in raw.headers if k.lower() == "content-type"), None)
        kind = request.meta.get("policy_evidence")
        return closed_mid_document(
            raw.body, kind=kind if isinstance(kind, str) else None, content_type=content_type
        )

    def _exchange(self, request: Request, raw: RawResponse) -> HttpExchange:
        truncated = None
        if "download_stopped" in raw.flags:
            truncated = "length"
        elif "dataloss" in raw.flags or self._closed_mid_document(request, raw):
            truncated = "disconnect"
        proxied = bool(request.meta.get("proxy"))
        return HttpExchange(
            url=raw.url,
            method=request.method,
            request_headers=recorded_request_headers(request.headers),
            request_body=request.body,
            status=raw.status,
            response_headers=raw.headers,
            body=raw.body,
            protocol=raw.protocol or "HTTP/1.1",
            # Through a proxy, the address is the proxy's, not the origin's.
            ip_address=None if proxied else raw.ip_address,
            started_at=self._started.pop(request, utcnow()),
            truncated=truncated,
        )

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
        if self._failed:
            return
        try:
            record_id = self._record_capture(self._capture(request, response, raw, decision))
        except Exception as exc:
            self._fail(exc)
            return
        self.crawler.stats.inc_value("archive/captures")
        self.crawler.stats.inc_value("warc/records_written", 3)
        response.meta["warc_record_id"] = record_id
        # With the gate's refusals, one line per decision at INFO (crawl -v).
        logger.info(
            "Captured %(url)s, permitted by %(signal)s: %(reason)s",
            {"url": response.url, "signal": decision.signal, "reason": decision.reason},
        )

    def _record_capture(self, capture: Capture) -> str:
        """Write (or send) a capture; return its response record's id."""
        if isinstance(self.writer, WriterClient):
            return self.writer.record_capture(capture)
        return self.writer.record_capture(capture).response.record_id

    def _capture(self, request: Request, response: Response, raw: RawResponse, decision: Decision) -> Capture:
        """The capture as storage takes it: the exchange, the gate's typed decisions, where it was found."""
        usage: Mapping[Purpose, Decision] = request.meta.get("policy_usage") or {decision.purpose: decision}
        referer = request.headers.get("Referer")
        content_type = response.headers.get("Content-Type")
        return Capture(
            crawl_id=self.crawl_id,
            exchange=self._exchange(request, raw),
            decision=decision,
            usage=usage,
            evidence=request.meta.get("policy_evidence"),
            depth=request.meta.get("depth", 0),
            referer=_text(referer) if referer else None,
            redirected_from=request.meta.get("redirect_urls"),
            content_type=_text(content_type) if content_type else None,
            fetch_time_ms=round(1000 * (request.meta.get("download_latency") or 0)),
            fence=request.meta.get(CLAIM_META),
        )

    # -- evidence and refusals ---------------------------------------------------------

    def evidence_fetched(
        self,
        document: Document,
        request: Request,
        response: Response | None,
        details: dict[str, Any] | None = None,
    ) -> str | None:
        """Archive an evidence document; return its WARC record id (None if nothing came back).

        An error propagates to the gate, which then treats the document as
        unreachable: nothing is judged on evidence that was not archived.
        """
        exchange = None
        if response is not None:
            final_request = response.request or request
            raw = self._raw.pop(final_request, None) or RawResponse.of(response)
            exchange = self._exchange(final_request, raw)
        # A URL with no origin (a licence link naming a bad IPv6 address) fails here, before the
        # writer: that document is not archived (so not used), and the archive stays sound.
        origin = origin_of(document.url)
        if self._failed and isinstance(self.writer, WriterClient):
            raise ProvenanceError("the archive writer stopped: nothing more is archived")
        try:
            record_id = self._record_evidence(document, origin, exchange, details)
        except Exception as exc:
            self._fail(exc)
            raise
        if record_id is not None:
            self.crawler.stats.inc_value("archive/evidence")
            self.crawler.stats.inc_value("warc/records_written", 3)
        return record_id

    def _record_evidence(
        self, document: Document, origin: str, exchange: HttpExchange | None, details: dict[str, Any] | None
    ) -> str | None:
        """Write (or send) an evidence document; return its response record's id (None: none written)."""
        if isinstance(self.writer, WriterClient):
            return self.writer.record_evidence(
                self.crawl_id, document, origin=origin, exchange=exchange, details=details
            )
        location = self.writer.record_evidence(
            self.crawl_id, document, origin=origin, exchange=exchange, details=details
        )
        return location.record_id if location else None

    def request_refused(self, request: Request, decision: Decision, response: Response | None) -> None:
        self._raw.pop(request, None)
        if self._failed and isinstance(self.writer, WriterClient):
            return  # the writer is gone or writes nothing more; the URL is not done, and comes again
        try:
            self._record_refusal(request, decision, response)
        except Exception as exc:
            self._fail(exc)
            return
        self.crawler.stats.inc_value("archive/refusals")

    def _record_refusal(self, request: Request, decision: Decision, response: Response | None) -> None:
        self.writer.record_refusal(
            self.crawl_id,
            decision,
            status=response.status if response is not None else None,
            response_headers=header_list(response.headers) if response is not None else None,
            evidence=request.meta.get("policy_evidence"),
            fence=request.meta.get(CLAIM_META),
        )


def _said_reconciled(count: int) -> None:
    if count:
        logger.warning(
            "Reconciled %d WARC capture record(s) whose rows an earlier crawl never committed "
            "(killed, or its disk filled): marked superseded, their URLs are fetched again",
            count,
        )


def _relative(config: CrawlConfig, path: Path) -> str:
    # Rows name WARC files relative to the database, so a crawl directory can move.
    return os.path.relpath(path, config.provenance_db.parent).replace(os.sep, "/")


def signing_fields(signing: Mapping[str, Any]) -> dict[str, str]:
    """The warcinfo fields naming how a crawl signs its requests (a RequestSigner's description).

    Key id, Signature-Agent, covered components, expiry and library: enough
    to verify a request record's signature against the published key
    directory; never key material.
    """
    sometimes = ", ".join(signing["components_when_sent"])
    return {
        "permitcrawl-request-signing": signing["scheme"],
        "permitcrawl-signing-keyid": signing["keyid"],
        "permitcrawl-signature-agent": signing["signature_agent"],
        "permitcrawl-signature-label": f"{signing['label']}; tag={signing['tag']}; alg={signing['alg']}",
        "permitcrawl-signed-components": " ".join(signing["components"]) + f"; and {sometimes} when sent",
        "permitcrawl-signature-expires": f"{signing['expires_after_seconds']} seconds after created",
        "permitcrawl-signing-library": signing["library"],
    }
