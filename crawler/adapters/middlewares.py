"""PolicyGateMiddleware: decides before each request leaves, and again when its response returns.

Switched on by ``POLICY_ENABLED`` (the :class:`crawler.adapters.addon.PolicyAddon` sets
it, places the gate at 100 and removes Scrapy's RobotsTxtMiddleware, which
fails open on download errors and parses 5xx bodies as rules).

Before fetching: the host's evidence is gathered (once per origin, cached,
archived) and :func:`policies.engine.decide` judges the URL. A refused URL is
never requested: the gate raises IgnoreRequest and sends ``request_refused``.

After fetching (``process_response`` runs after decompression, redirects and
retries, since the gate sits at 100): the decision is taken again with the
response, for the crawl's purpose and for every other purpose (the usage
record). A refused response is never archived; it reaches the spider only if
``POLICY_DELIVER_REFUSED`` is on (the seed spider uses it for links only).

Decisions stay typed: ``request.meta["policy_decision"]`` holds the
:class:`~policies.decision.Decision` for the crawl's purpose,
``request.meta["policy_usage"]`` a ``{Purpose: Decision}`` for every purpose
(after fetching), and ``request.meta["policy_evidence"]`` the evidence
manifest they rest on; storage serialises them once, as it writes them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import (
    DownloadCancelledError,
    DownloadTimeoutError,
    IgnoreRequest,
    NotConfigured,
    ResponseDataLossError,
)

from crawler.adapters import signals as our_signals
from crawler.adapters.decompression import size_bound
from crawler.adapters.evidence import Clock, EvidenceCache, utcnow
from crawler.adapters.fence import NotSigned
from crawler.adapters.fetcher import (
    EVIDENCE_PATHS,
    EvidenceFetcher,
    describe_error,
    evidence_key,
    incomplete_reason,
    off_reactor,
)
from crawler.judging.config import setup_of
from crawler.judging.reading import read_page
from policies.decision import Basis, Decision, Stage, Verdict
from policies.document import cut_reason
from policies.engine import UrlMemos
from policies.evidence import evidence_manifest, read_whole
from policies.html import read_html
from policies.page import Page, page_licences
from policies.purpose import Purpose
from policies.rsl import FoundLicence, RslEvidence
from policies.urls import origin_of

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from crawler.judging.config import CrawlSetup
    from policies.evidence import HostEvidence
    from policies.page import Page

logger = logging.getLogger(__name__)

# Licences pages point to, kept in memory at once (the least recently used go first, and are
# fetched again when next needed); the hosts whose evidence is kept is a setting, POLICY_HOSTS_KEPT.
LICENCES_KEPT = 256
# URLs whose decision work is kept from before fetching to after: per request in flight, and at least.
URL_MEMOS_PER_REQUEST = 2
URL_MEMOS_MIN = 64


async def page_of(response: Response) -> Page:
    """Return the post-fetch view of a (decoded) Scrapy response.

    The page's meta tags and licence pointers are read by
    :func:`policies.html.read_html`, the one function ``audit`` reads archived
    pages with, never by Scrapy's selector (whose decoding may differ); a
    large page is read on a worker thread.
    """
    headers = [
        (key.decode("latin-1"), value.decode("latin-1"))
        for key, values in response.headers.items()
        for value in values
    ]
    page = read_page(response.url, response.status, headers, response.body)
    html = await off_reactor(len(response.body), read_html, response.body, page.content_type)
    return replace(page, html=html)


@dataclass(frozen=True)
class CachedLicence:
    """A licence document a page pointed to, kept for the evidence lifetime."""

    evidence: RslEvidence
    expires_at: datetime

    def is_fresh(self, now: datetime) -> bool:
        return now < self.expires_at


class PolicyGateMiddleware:
    """Downloader middleware that lets a request out only if every signal permits it."""

    def __init__(self, crawler: Crawler, setup: CrawlSetup, *, clock: Clock = utcnow) -> None:
        self.crawler = crawler
        self.config = setup.config
        self.judge = setup.judge
        self.clock = clock
        self.fetcher = EvidenceFetcher(crawler, setup, clock=clock)
        self.max_size = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        crawler.signals.connect(self._bytes_received, signal=signals.bytes_received)
        # Bounded: a crawl of a million hosts keeps the evidence of the most recent ones; a host
        # whose evidence was dropped gets it again (fresh) when next asked for.
        self.evidence: EvidenceCache[HostEvidence] = EvidenceCache(
            self.fetcher, clock=clock, max_entries=self.config.hosts_kept
        )
        self.licences: EvidenceCache[CachedLicence] = EvidenceCache(
            self._fetch_licence, clock=clock, max_entries=LICENCES_KEPT
        )
        # What the pre-fetch decision read of the host's evidence for a URL, kept for its post-fetch
        # one. A request's two decisions are at most the requests in flight apart; more kept would
        # only give the garbage collector more to walk.
        in_flight = crawler.settings.getint("CONCURRENT_REQUESTS")
        self.memos = UrlMemos(kept=max(URL_MEMOS_MIN, URL_MEMOS_PER_REQUEST * in_flight))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("POLICY_ENABLED"):
            raise NotConfigured("POLICY_ENABLED is off")
        # The crawl's one setup: a store that does not validate stops the crawl before anything is fetched.
        return cls(crawler, setup_of(crawler))

    async def _fetch_licence(self, url: str, previous: CachedLicence | None) -> CachedLicence:
        found = await self.fetcher.licence(url, "")
        expires = self.clock() + timedelta(seconds=self.config.evidence_ttl)
        return CachedLicence(found.evidence, expires)

    async def _page_licences(self, page: Page) -> tuple[FoundLicence, ...]:
        """The RSL licences a response points to: Link headers and HTML links (fetched), inline scripts."""
        linked, inline, unread = page_licences(page)
        found = []
        for url, where in linked:
            cached = await self.licences.get(url)
            found.append(FoundLicence(cached.evidence, where))
        return (*found, *inline, *unread)

    async def _check_evidence_redirect(self, request: Request) -> None:
        """Let an evidence request follow a redirect only where the target's robots.txt allows it.

        A licence, a tdmrep.json or a terms page may redirect anywhere, and a site
        could so make us request another site's disallowed URL. robots.txt
        redirects are followed as RFC 9309 says, but not onto another host's
        disallowed path either; a robots.txt fetched only to check this is not
        checked in turn (that could wait on itself).
        """
        hops = request.meta.get("redirect_urls")
        if not hops or not request.meta.get("policy_check_redirects"):
            return
        same_host_robots = request.meta.get("policy_evidence") == "robots.txt" and origin_of(
            request.url
        ) == origin_of(hops[0])
        if same_host_robots or await self.fetcher.may_fetch(request.url):
            return
        self.crawler.stats.inc_value("policy/evidence/redirect_refused")
        raise IgnoreRequest(f"redirected to {request.url}, which its robots.txt disallows for us")

    def _is_evidence(self, url: str) -> bool:
        """True for the URL of an evidence document, however it is spelled.

        A host's ``/robots.txt``, ``/ai.txt`` and ``/.well-known/tdmrep.json``
        and every document fetched as evidence (licences, redirect targets),
        compared by path as the most forgiving server reads it (case, dot
        segments, doubled slashes, parameters and query left aside).
        """
        key = evidence_key(url)
        return key[1] in EVIDENCE_PATHS or key in self.fetcher.documents

    # -- decisions ---------------------------------------------------------------

    def _refusal(self, url: str, stage: Stage, basis: Basis) -> Decision:
        return self.judge.refusal(url, basis, stage=stage, now=self.clock())

    def _error_decision(self, url: str, stage: Stage, exc: BaseException) -> Decision:
        # Fail closed: an error anywhere in judging a URL refuses it, saying why.
        reason = f"the decision could not be taken: {describe_error(exc)}"
        return self._refusal(url, stage, Basis(signal="default", verdict=Verdict.DENY, reason=reason))

    def _not_signed(self, request: Request, exception: NotSigned) -> None:
        """Record a page not sent because it could not be signed (fail closed) as refused, saying why."""
        cause = exception.__cause__ or exception
        reason = f"not sent: the request could not be signed ({describe_error(cause)})"
        decision = self._refusal(
            request.url, Stage.PRE_FETCH, Basis(signal="default", verdict=Verdict.DENY, reason=reason)
        )
        request.meta["policy_decision"] = decision
        self._refuse(request, decision, None)
        raise IgnoreRequest(f"Refused: {decision.reason}")

    def _incomplete_decision(self, url: str, why: str) -> Decision:
        # A page not read whole cannot be judged: its reservation may be in what is missing.
        reason = f"the response could not be read whole ({why}); never judged, never archived"
        return self._refusal(
            url, Stage.POST_FETCH, Basis(signal="incomplete", verdict=Verdict.DENY, reason=reason)
        )

    def _bytes_received(self, data: bytes, request: Request, spider: Any = None) -> None:
        # Counted so that a download the downloader cancels for its size can be told apart.
        if not request.meta.get("policy_exempt"):
            request.meta["_policy_bytes"] = request.meta.get("_policy_bytes", 0) + len(data)

    def process_exception(self, request: Request, exception: Exception) -> None:
        """Record a page that could not be read whole as refused, with the reason.

        The downloader gives up on a page larger than ``DOWNLOAD_MAXSIZE``, and on
        one the server cut short (``ResponseDataLossError``, once retries are
        spent), and on one not read whole within ``DOWNLOAD_TIMEOUT`` (a server
        trickling it out; retries spent too). None was judged or archived; each
        is a refusal of signal ``incomplete``, so that ``explain`` and the
        summary say what became of it, not only the log. A page of a crawl that
        signs, which could not be signed, was never sent: a refusal too.
        """
        if request.meta.get("policy_exempt"):
            return
        if isinstance(exception, NotSigned):
            self._not_signed(request, exception)
        if isinstance(exception, ResponseDataLossError):
            why = cut_reason("disconnect")
        elif isinstance(exception, DownloadTimeoutError):
            why = f"not read whole within DOWNLOAD_TIMEOUT: {describe_error(exception)}"
        elif isinstance(exception, DownloadCancelledError):
            bound = size_bound(request, self.max_size)
            received = request.meta.get("_policy_bytes", 0)
            if "max size" not in str(exception) and not (bound and received > bound):
                return  # cancelled for another reason (the crawl is stopping)
            why = f"larger than the {bound}-byte bound (DOWNLOAD_MAXSIZE)"
        else:
            return
        decision = self._incomplete_decision(request.url, why)
        request.meta["policy_decision"] = decision
        self._refuse(request, decision, None)
        raise IgnoreRequest(f"Refused: {decision.reason}")

    def _refuse(self, request: Request, decision: Decision, response: Response | None) -> None:
        self.crawler.stats.inc_value(f"policy/refused/{decision.stage.value}/{decision.signal}")
        self.crawler.signals.send_catch_log(
            our_signals.request_refused, request=request, decision=decision, response=response
        )
        logger.info(
            "Refused %(url)s before fetching: %(reason)s"
            if decision.stage is Stage.PRE_FETCH
            else "Refused %(url)s after fetching: %(reason)s",
            {"url": request.url, "reason": decision.reason},
        )

    # -- Scrapy hooks ------------------------------------------------------------

    async def process_request(self, request: Request) -> None:
        if request.meta.get("policy_exempt"):
            await self._check_evidence_redirect(request)
            return
        if request.meta.get("policy_recheck"):
            await self._recheck(request)
        if self._is_evidence(request.url):
            # Evidence is archived as evidence, in its own files: never captured as a page too.
            self.crawler.stats.inc_value("policy/skipped/evidence")
            logger.debug("Not requested as a page (it is an evidence document): %s", request.url)
            raise IgnoreRequest("an evidence document, not a page")
        try:
            host = await self.evidence.get(origin_of(request.url))
            decision = self.judge.decide(request.url, host=host, now=self.clock(), memos=self.memos)
            request.meta["policy_evidence"] = evidence_manifest(host)
            if host.robots.crawl_delay is not None:
                # AutoThrottle would lower the slot delay below the site's Crawl-delay.
                request.meta["autothrottle_dont_adjust_delay"] = True
        except Exception as exc:
            logger.exception("Error while judging %s", request.url)
            decision = self._error_decision(request.url, Stage.PRE_FETCH, exc)
        request.meta["policy_decision"] = decision
        if decision.allowed:
            self.crawler.stats.inc_value("policy/allowed/pre-fetch")
            return
        self._refuse(request, decision, None)
        raise IgnoreRequest(f"Refused by {decision.signal}: {decision.reason}")

    async def _recheck(self, request: Request) -> None:
        # A later look at a captured URL: judge it under the host's current evidence, never fetch it.
        # ``grounded`` is the judgement on the documents read whole alone (None: nothing was read),
        # for the recheck to revoke only on what a site said, never on a failed fetch.
        grounded: dict[Purpose, Decision] | None
        try:
            host = await self.evidence.get(origin_of(request.url))
            decisions = self._decide_all(request.url, host)
            whole = read_whole(host)
            if whole is None:
                grounded = None
            elif whole is host:
                grounded = decisions
            else:
                grounded = self._decide_all(request.url, whole)
        except Exception as exc:
            logger.exception("Error while rechecking %s", request.url)
            error = self._error_decision(request.url, Stage.PRE_FETCH, exc)
            decisions = {p: replace(error, purpose=p) for p in Purpose}
            grounded = None
        self.crawler.stats.inc_value("policy/rechecked")
        self.crawler.signals.send_catch_log(
            our_signals.recheck_decided, request=request, decisions=decisions, grounded=grounded
        )
        raise IgnoreRequest("rechecked, not fetched")

    def _decide_all(self, url: str, host: HostEvidence) -> dict[Purpose, Decision]:
        return self.judge.decide_all(url, host=host, now=self.clock())

    async def process_response(self, request: Request, response: Response) -> Response:
        if request.meta.get("policy_exempt"):
            return response
        try:
            if not isinstance(request.meta.get("policy_decision"), Decision):
                raise RuntimeError("no pre-fetch decision was taken for this request")
            host = await self.evidence.get(origin_of(response.url))
            incomplete = incomplete_reason(response, request, size_bound(request, self.max_size))
            if incomplete is not None:
                decision = self._incomplete_decision(response.url, incomplete)
                request.meta["policy_decision"] = decision
                request.meta["policy_evidence"] = evidence_manifest(host)
                self._refuse(request, decision, response)
                raise IgnoreRequest(f"Refused: {decision.reason}")
            page = await page_of(response)
            page = replace(page, licences=await self._page_licences(page))
            # Every purpose's decision stays typed until storage writes it (the usage record).
            usage = self.judge.decide_all(
                response.url, host=host, now=self.clock(), page=page, memos=self.memos
            )
            decision = usage[self.judge.purpose]
            request.meta["policy_evidence"] = evidence_manifest(host, page.licences)
        except IgnoreRequest:
            raise
        except Exception as exc:
            logger.exception("Error while judging the response of %s", response.url)
            decision = self._error_decision(response.url, Stage.POST_FETCH, exc)
            usage = {p: replace(decision, purpose=p) for p in Purpose}
        request.meta["policy_decision"] = decision
        request.meta["policy_usage"] = usage
        if decision.allowed:
            self.crawler.stats.inc_value("policy/allowed/post-fetch")
            return response
        self._refuse(request, decision, response)
        # A payment request's body is no page: its links are not followed either (a 402 is never bypassed).
        if self.config.deliver_refused and decision.signal != "payment":
            return response
        raise IgnoreRequest(f"Refused by {decision.signal}: {decision.reason}")
