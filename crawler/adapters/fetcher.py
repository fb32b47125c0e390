"""Gathers a host's evidence through Scrapy's own downloader, before any page of it is judged.

Evidence requests go through every downloader middleware (proxies, retries,
redirects, strict decompression), marked ``policy_exempt`` so that the gate
lets them pass. robots.txt follows RFC 9309: at most
``POLICY_ROBOTS_MAX_REDIRECTS`` redirects (at least 5), then the result
applies to the original origin; 4xx means allow all; 5xx, 429, timeouts and
errors mean complete disallow until a retry succeeds.

Every document is read whole, up to ``POLICY_EVIDENCE_MAX_SIZE`` bytes counted
after decompression, within ``POLICY_EVIDENCE_TIMEOUT`` seconds. A document cut
short (by us at the bound, by the server's lost connection, by a
content-coding that does not decode, by a failure after its headers came) is
not read whole, and every reader treats it as an error: robots.txt
unreachable, tdmrep.json and ai.txt refusing, an RSL licence unlicensed.
Documents larger than a few hundred KiB are parsed on a worker thread, so that
no site's file holds up the reactor. Each document is handed to the archive
before it is used, and an archive failure counts as unreachable: an unproven
decision is no decision.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.exceptions import StopDownload
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet.defer import DeferredList
from twisted.internet.threads import deferToThread

from crawler.adapters import signals as our_signals
from crawler.adapters.decompression import DECODED, INCOMPLETE
from crawler.adapters.evidence import EvidenceCache, utcnow
from crawler.adapters.memory import release_free_memory
from crawler.judging.reading import (
    archived_terms,
    read_aitxt,
    read_licence,
    read_robots,
    read_tdmrep,
    read_terms_page,
)
from policies.document import PARTIAL, Document, closed_mid_document, cut_reason
from policies.evidence import HostEvidence
from policies.patterns import resolved_path
from policies.robots import RobotsOutcome
from policies.rsl import MAX_LICENCES, FoundLicence, licence_lines
from policies.terms import TermsEvidence, find_terms_links
from policies.urls import origin_of, registrable_domain

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from datetime import datetime

    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from crawler.adapters.evidence import Clock
    from crawler.judging.config import CrawlSetup
    from policies.robots import RobotsEvidence

logger = logging.getLogger(__name__)

EVIDENCE_PRIORITY = 1000  # ahead of page requests, as Scrapy's own robots.txt requests


class EvidenceFetcher:
    """Fetches, archives and reads one origin's evidence documents."""

    def __init__(self, crawler: Crawler, setup: CrawlSetup, *, clock: Clock = utcnow) -> None:
        self.crawler = crawler
        self.config = setup.config
        # How documents are read (token, bounds) and which ToS rules apply: the crawl's one JudgeConfig.
        self.judge = setup.judge
        self.clock = clock
        # (origin, path) of every evidence document fetched, but the pages read to find terms, and but
        # the paths every host is asked for (EVIDENCE_PATHS, known without it): one entry per host
        # would grow with the crawl, as only a licence or a redirected document adds one here.
        self.documents: set[tuple[str, str]] = set()
        # The robots.txt of each origin evidence was fetched from, to check the others' requests:
        # as many as the hosts whose evidence is kept, the least recently used dropped first.
        self.robots_seen: dict[str, RobotsEvidence] = {}
        self.robots_kept = self.config.hosts_kept
        self.foreign: EvidenceCache[_Robots] = EvidenceCache(
            self._fetch_robots, clock=clock, max_entries=min(ROBOTS_KEPT, self.robots_kept)
        )
        # An evidence document gets no longer than a page would.
        self.timeout = min(self.config.evidence_timeout, crawler.settings.getfloat("DOWNLOAD_TIMEOUT") or 1e9)
        crawler.signals.connect(self._bytes_received, signal=signals.bytes_received)
        crawler.signals.connect(self._headers_received, signal=signals.headers_received)

    def _bytes_received(self, data: bytes, request: Request, spider: Any = None) -> None:
        # Stop reading past the bound; the part read is archived, marked WARC-Truncated: length.
        limit = request.meta.get("policy_evidence_limit")
        if limit is None:
            return
        received = request.meta.get("_policy_evidence_bytes", 0) + len(data)
        request.meta["_policy_evidence_bytes"] = received
        if received > limit:
            raise StopDownload(fail=False)

    def _headers_received(self, headers: Any, body_length: int, request: Request, spider: Any = None) -> None:
        # A failure after this point leaves a document we started to read and could not finish.
        if request.meta.get("policy_evidence"):
            request.meta["_policy_headers_received"] = True
            request.meta["_policy_evidence_bytes"] = 0  # a retry or redirect counts afresh

    async def __call__(self, origin: str, previous: HostEvidence | None) -> HostEvidence:
        """Gather fresh evidence for ``origin``; never raises."""
        robots = await self._read_robots(await self.fetch(f"{origin}/robots.txt", kind="robots.txt"))
        self.robots_seen.pop(origin, None)
        self.robots_seen[origin] = robots
        if len(self.robots_seen) > self.robots_kept:  # the least recently used go; robots_for() fetches again
            del self.robots_seen[next(iter(self.robots_seen))]
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"policy/robots/{robots.outcome.value}")
        now = self.clock()
        if robots.outcome is RobotsOutcome.UNREACHABLE:
            retry = now + timedelta(seconds=self.config.unreachable_retry)
            if previous is not None and previous.robots.outcome is not RobotsOutcome.UNREACHABLE:
                # RFC 9309 §2.4: when robots.txt is unreachable, a cached copy may stand in
                # (with the rest of that evidence); the refetch is tried again soon.
                source = f"{previous.robots.source}; kept because a refetch failed ({robots.source})"
                host = replace(previous, robots=replace(previous.robots, source=source), expires_at=retry)
            else:
                # Nothing on the host will be fetched: no point asking for more evidence.
                host = HostEvidence(origin=origin, robots=robots, fetched_at=now, expires_at=retry)
        else:
            expires = now + timedelta(seconds=self.config.evidence_ttl)
            if self._refused_by_rule(origin):
                # "Not fetched at all": a rule refuses the whole host for our purpose, so
                # nothing but robots.txt is asked of it.
                usage: dict[str, Any] = {}
            else:
                usage = await self._usage_evidence(origin, robots)
                if self.judge.store is not None:
                    usage["terms"] = await self._terms(origin, robots, previous)
            host = HostEvidence(origin=origin, robots=robots, fetched_at=now, expires_at=expires, **usage)
        self._apply_crawl_delay(host)
        self.crawler.signals.send_catch_log(our_signals.host_evidence_ready, evidence=host)
        return host

    async def _usage_evidence(self, origin: str, robots: RobotsEvidence) -> dict[str, Any]:
        """Fetch tdmrep.json, ai.txt and the RSL licences robots.txt names (in any reading), all at once."""
        jobs: list[Awaitable[Document]] = []
        for path, kind in (("/.well-known/tdmrep.json", "tdmrep.json"), ("/ai.txt", "ai.txt")):
            url = origin + path
            if robots.permits(url):
                jobs.append(self.fetch(url, kind=kind))
            else:
                jobs.append(_ready(Document(kind=kind, url=url, fetched_at=self.clock(), error=DISALLOWED)))
        found: dict[str, str] = {}
        for reading in robots.readings:
            if reading.rules is not None:
                for url, where in licence_lines(reading.rules.robots, self.judge.token, base=robots.url):
                    found.setdefault(url, where)
        lines = list(found.items())
        # A licence must be read before the content is used: it is fetched even on another host,
        # if that host's robots.txt lets us (else the content is unlicensed).
        jobs += [self.fetch_allowed(url, kind="rsl") for url, _ in lines[:MAX_LICENCES]]
        tdm, ai, *licence_docs = await gather(jobs)
        licences = [
            await off_reactor(len(doc.body), read_licence, doc, where)
            for doc, (_, where) in zip(licence_docs, lines, strict=False)
        ]
        for url, where in lines[MAX_LICENCES:]:
            skipped = Document(
                kind="rsl",
                url=url,
                fetched_at=self.clock(),
                error=f"not fetched: over {MAX_LICENCES} licences",
            )
            licences.append(read_licence(skipped, where))
        return {
            "tdmrep": await off_reactor(len(tdm.body), read_tdmrep, tdm),
            "aitxt": await off_reactor(len(ai.body), read_aitxt, ai, self.judge),
            "licences": tuple(licences),
        }

    def _refused_by_rule(self, origin: str) -> bool:
        store = self.judge.store
        if store is None:
            return False
        host = urlsplit(origin).hostname or ""
        rules = [r for r in store.applicable(host, "/") if r.path == "/"]
        return any(self.judge.purpose in r.deny for r in rules)

    async def _terms(
        self, origin: str, robots: RobotsEvidence, previous: HostEvidence | None
    ) -> TermsEvidence:
        """Find, fetch and read the host's terms page (once per crawl: a refresh keeps what was found)."""
        if previous is not None and previous.terms is not None:
            return previous.terms
        home = f"{origin}/"

        def allowed(url: str) -> bool:
            return robots.permits(url)

        if not allowed(home):
            return TermsEvidence(
                home_url=home, terms_url=None, source=home, problem=f"robots.txt disallows {home}"
            )
        page = await self.fetch(home, kind="home")
        if not page.succeeded:
            return TermsEvidence(
                home_url=home, terms_url=None, source=page.describe(), problem="no home page to look on"
            )
        domain = registrable_domain(urlsplit(origin).hostname or "")
        links = await off_reactor(len(page.body), find_terms_links, page.body, page.final_url or home)
        for url in links[:3]:
            target = urlsplit(url)
            if registrable_domain(target.hostname or "") != domain:
                continue  # terms of another site are not this site's terms
            if not await self.may_fetch(url):
                continue  # on this host or another, its robots.txt says no
            read: dict[str, TermsEvidence] = {}

            def analyse(document: Document, into: dict[str, TermsEvidence] = read) -> dict[str, Any]:
                terms = into["terms"] = read_terms_page(document, home)
                # Recorded with the evidence row: what the maintainers' queue shows.
                details: dict[str, Any] = {"text_sha256": terms.text_sha256, "passages": terms.passages}
                return {**details, "unread": terms.unread} if terms.unread else details

            document = await self.fetch(url, kind="terms", analyse=analyse)
            if "terms" in read:
                # The terms as the page was found (the URL asked for, not where it redirected),
                # cited by the record it was archived as.
                return archived_terms(read["terms"], document)
        return TermsEvidence(
            home_url=home, terms_url=None, source=page.describe(), problem=f"no link to terms found on {home}"
        )

    async def licence(self, url: str, found_in: str) -> FoundLicence:
        """Fetch (and archive) one licence document a page points to."""
        document = await self.fetch_allowed(url, kind="rsl")
        return await off_reactor(len(document.body), read_licence, document, found_in)

    async def robots_for(self, origin: str) -> RobotsEvidence:
        """The robots.txt of ``origin``: the one read for its host evidence, else fetched (and archived)."""
        known = self.robots_seen.pop(origin, None)
        if known is not None:
            self.robots_seen[origin] = known  # the most recently used go last
            return known
        return (await self.foreign.get(origin)).robots

    async def _fetch_robots(self, origin: str, previous: _Robots | None) -> _Robots:
        # Its redirects are not checked in turn (see the gate): a robots.txt may redirect, and
        # checking the target's robots.txt first could wait on itself.
        document = await self.fetch(f"{origin}/robots.txt", kind="robots.txt", check_redirects=False)
        robots = await self._read_robots(document)
        return _Robots(robots, self.clock() + timedelta(seconds=self.config.evidence_ttl))

    async def _read_robots(self, document: Document) -> RobotsEvidence:
        return await off_reactor(len(document.body), read_robots, document, self.judge)

    async def may_fetch(self, url: str) -> bool:
        """True if the robots.txt of ``url``'s origin lets us fetch it (robots.txt itself always)."""
        try:
            origin = origin_of(url)
        except ValueError:
            return False
        if evidence_key(url)[1] == "/robots.txt":
            return True
        return (await self.robots_for(origin)).permits(url)

    async def fetch_allowed(self, url: str, *, kind: str) -> Document:
        """:meth:`fetch` ``url`` if its own host's robots.txt allows it; else a document saying why not."""
        if await self.may_fetch(url):
            return await self.fetch(url, kind=kind)
        origin = evidence_key(url)[0]
        error = (
            f"not fetched: the robots.txt of {origin} disallows it for us"
            if origin
            else "not fetched: not an http(s) URL we can ask"
        )
        return await self._archive(
            Document(kind=kind, url=url, fetched_at=self.clock(), error=error), None, None, {}
        )

    async def fetch(
        self,
        url: str,
        *,
        kind: str,
        analyse: Callable[[Document], dict[str, Any]] | None = None,
        check_redirects: bool = True,
    ) -> Document:
        """Download one evidence document and archive it; errors become the document's ``error``.

        ``analyse(document)`` (for a 2xx response) gives details recorded with it
        (a terms page's digest); it runs on a worker thread.
        """
        limit = self.judge.evidence_max_size
        try:
            request = Request(
                url,
                priority=EVIDENCE_PRIORITY,
                dont_filter=True,
                callback=NO_CALLBACK,
                headers={"Accept-Encoding": "identity"},
                meta={
                    "policy_exempt": True,
                    "policy_evidence": kind,
                    "policy_evidence_limit": limit,
                    # Our own bound applies (above, and in the decompression middleware), not Scrapy's.
                    "download_maxsize": 0,
                    "download_timeout": self.timeout,
                    # A document cut short comes back flagged, to be archived and read as incomplete.
                    "download_fail_on_dataloss": False,
                    "redirect_ttl": self.config.robots_max_redirects,
                    # The gate checks each redirect target against its own host's robots.txt.
                    "policy_check_redirects": check_redirects,
                    "dont_merge_cookies": True,
                    "allow_offsite": True,
                },
            )
        except (ValueError, TypeError) as exc:
            document = Document(kind=kind, url=url, fetched_at=self.clock(), error=f"not a URL: {exc}")
            return await self._archive(document, None, None, {})
        response: Response | None = None
        try:
            response = await self.crawler.engine.download_async(request)
            content_type = response.headers.get("Content-Type")
            document = Document(
                kind=kind,
                url=url,
                final_url=response.url,
                status=response.status,
                body=response.body,
                fetched_at=self.clock(),
                content_type=content_type.decode("latin-1") if content_type else None,
                incomplete=incomplete_reason(response, request, limit),
            )
        except Exception as exc:
            error = describe_error(exc)
            started = bool(request.meta.get("_policy_headers_received"))
            document = Document(
                kind=kind,
                url=url,
                fetched_at=self.clock(),
                error=error,
                incomplete=f"it failed after its headers came ({error})" if started else None,
            )
        details: dict[str, Any] = {}
        if analyse is not None and document.succeeded:
            details = await off_reactor(len(document.body), analyse, document)
        if kind not in PAGE_KINDS:  # never to be captured as a page, however its URL is spelled
            for key in {evidence_key(url), evidence_key(document.final_url or url)}:
                if key[1] not in EVIDENCE_PATHS:
                    self.documents.add(key)
        return await self._archive(document, request, response, details)

    async def _archive(
        self, document: Document, request: Request | None, response: Response | None, details: dict[str, Any]
    ) -> Document:
        results = await self.crawler.signals.send_catch_log_async(
            our_signals.evidence_fetched,
            document=document,
            request=request,
            response=response,
            details=details,
        )
        for _, result in results:
            if isinstance(result, BaseException):
                error = f"evidence could not be archived: {describe_error(result)}"
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
        if delay is None or engine is None or not delay <= self.config.max_crawl_delay:
            return  # a delay above the bound keeps us off the host: nothing to wait for (inf would fail)
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


DISALLOWED = "not fetched: robots.txt disallows it for us"

# Evidence that is also a page of the site: the home and terms pages may be captured as pages.
PAGE_KINDS = frozenset({"home", "terms"})


def evidence_key(url: str) -> tuple[str, str]:
    """``(origin, path)`` of a URL as the most forgiving server reads it, lower-cased, query left aside."""
    try:
        origin, path = origin_of(url), urlsplit(url).path or "/"
    except ValueError:
        return ("", url)
    resolved = resolved_path(path).lower()
    return origin, (resolved.rstrip("/") or "/")


# Paths of the documents every host is asked for as evidence (as evidence_key() spells them).
EVIDENCE_PATHS = frozenset({"/robots.txt", "/ai.txt", "/.well-known/tdmrep.json"})

# robots.txt files of hosts only checked for a redirect to them kept at most (fewer if
# POLICY_HOSTS_KEPT is lower; the least recently used go first).
ROBOTS_KEPT = 4096

# Documents up to this size are parsed on the reactor thread: a thread hand-off would cost more.
INLINE_PARSE = 256 * 1024

T = TypeVar("T")


@dataclass(frozen=True)
class _Robots:
    """Another origin's robots.txt, read to check a request for evidence there."""

    robots: RobotsEvidence
    expires_at: datetime

    def is_fresh(self, now: datetime) -> bool:
        return now < self.expires_at


async def off_reactor(size: int, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)``, on a worker thread when the input is ``size`` bytes or more.

    Parsing a large hostile document takes seconds of CPU; on a worker thread
    the reactor keeps serving every other host meanwhile (lxml and zlib let go
    of the GIL, pure-Python parsers yield it every few milliseconds).
    """
    if size < INLINE_PARSE:
        return function(*args, **kwargs)
    return await maybe_deferred_to_future(deferToThread(_then_trim, function, *args, **kwargs))


def _then_trim(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``function``, then hand the memory it freed back to the system.

    A worker thread allocates from its own malloc arena, which the reactor
    thread never reuses: without the trim, the tree of a 10 MiB page parsed
    here (some 300 MiB of lxml nodes) stays resident beside the one the
    spider's selector builds for the same page on the reactor thread.
    """
    try:
        return function(*args, **kwargs)
    finally:
        release_free_memory()


def incomplete_reason(response: Response, request: Request, limit: int) -> str | None:
    """Why ``response``'s body is not the whole document, or None when it is.

    A download stopped at the bound or cut by a lost connection (the WARC
    record says ``WARC-Truncated``), a 206, a content-coding that did not
    decode (the decompression middleware notes it in the meta of ``request``,
    or of the request a redirect made from it), or a response the server ended
    by closing the connection whose own end shows it was cut
    (:func:`~policies.document.closed_mid_document`).
    """
    if "download_stopped" in response.flags:
        return cut_reason("length", limit)
    if response.status == 206:
        return PARTIAL
    if "dataloss" in response.flags:
        return cut_reason("disconnect", limit)
    meta = (response.request or request).meta if response.request is not None else request.meta
    reason = meta.get(INCOMPLETE)
    if reason:
        return str(reason)
    if "partial" in response.flags and not meta.get(DECODED):
        content_type = response.headers.get("Content-Type")
        kind = meta.get("policy_evidence")  # an evidence request's kind (a page's is its manifest)
        kind = kind if isinstance(kind, str) else None
        if closed_mid_document(response.body, kind=kind, content_type=_text(content_type)):
            return cut_reason("disconnect", limit)  # archived as WARC-Truncated: disconnect too
    return None


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


async def _ready(document: Document) -> Document:
    return document


async def gather(jobs: list[Awaitable[Document]]) -> list[Document]:
    """Await several fetches at once, under any reactor (results in order)."""
    deferreds = [deferred_from_coro(job) for job in jobs]
    results = await maybe_deferred_to_future(DeferredList(deferreds, consumeErrors=True))
    documents = []
    for ok, value in results:
        if not ok:  # fetch() never raises; if it ever did, the document is simply missing
            raise value.value  # type: ignore[attr-defined]  # a Failure, which DeferredList's stub leaves untyped
        documents.append(value)
    return documents


def describe_error(exc: BaseException) -> str:
    """``ExceptionName: message`` for a failure, as it is stored and printed in a reason.

    Twisted's errors carry their causes as Failure objects, whose repr
    (``[<twisted.python.failure.Failure twisted.internet.error.ConnectionDone: ...>]``)
    Scrapy copies into its own messages; the causes are named here instead
    (``DownloadFailedError: ConnectionDone: Connection was closed cleanly.``).
    """
    name = type(exc).__name__
    causes = _failure_causes(exc)
    if causes:
        return f"{name}: " + "; ".join(describe_error(cause) for cause in causes)
    text = _without_failure_reprs(str(exc))
    return f"{name}: {text}" if text else name


# A Failure inside a message: its repr, and its str (a traceback, up to the closing bracket).
_FAILURE_REPR = re.compile(
    r"<twisted\.python\.failure\.Failure (?:[\w.]+\.)?(\w+)(?:: (.*?))?>(?=, <twisted|\]|$)", re.DOTALL
)
_FAILURE_STR = re.compile(
    r"\[Failure instance: Traceback[^<]*<class '(?:[\w.]+\.)?(\w+)'>: ([^\n]*)\n.*?\]", re.DOTALL
)


def _without_failure_reprs(text: str) -> str:
    """``text`` with every Failure repr or traceback replaced by ``ExceptionName: message``."""
    text = _FAILURE_STR.sub(lambda m: f"{m.group(1)}: {m.group(2)}", text)
    cleaned = _FAILURE_REPR.sub(lambda m: m.group(1) + (f": {m.group(2)}" if m.group(2) else ""), text)
    if cleaned != text and cleaned.startswith("[") and cleaned.endswith("]"):
        cleaned = cleaned[1:-1]  # the list of causes Twisted's wrappers print
    return cleaned.strip()


def _failure_causes(exc: BaseException) -> list[BaseException]:
    """The exceptions a Twisted wrapper holds (``ResponseFailed.reasons``), directly or as the cause."""
    for holder in (exc, exc.__cause__):
        reasons = getattr(holder, "reasons", None)
        if isinstance(reasons, list | tuple) and reasons:
            values = [getattr(reason, "value", reason) for reason in reasons]
            return [value for value in values if isinstance(value, BaseException)]
    return []
