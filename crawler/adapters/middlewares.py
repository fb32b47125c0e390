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

from scrapy import Request, signals
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
from crawler.adapters.fence import NotSigned, before_send
from crawler.adapters.fetcher import (
    EVIDENCE_PATHS,
    EvidenceFetcher,
    describe_error,
    evidence_key,
    incomplete_reason,
    off_reactor,
)
from crawler.adapters.licensing import META as LICENCE_META
from crawler.adapters.licensing import RETRIED as LICENCE_RETRIED
from crawler.adapters.licensing import SENT as LICENCE_SENT
from crawler.adapters.licensing import HeldToken, LicenceTokens
from crawler.judging.config import setup_of
from crawler.judging.reading import read_page
from policies.decision import Basis, Decision, Stage, Verdict
from policies.document import cut_reason
from policies.engine import UrlMemos
from policies.evidence import evidence_manifest, read_whole
from policies.exclusion import exclusion_basis, exclusion_manifest, find_exclusion
from policies.html import read_html
from policies.page import Page, page_licences
from policies.purpose import Purpose
from policies.rsl import (
    LICENSE_SCHEME,
    FoundLicence,
    RslEvidence,
    challenge_reason,
    licence_needs,
    license_challenge,
)
from policies.urls import origin_of

if TYPE_CHECKING:
    from typing import Self

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
        self.exclusions = setup.exclusions
        self.clock = clock
        self.fetcher = EvidenceFetcher(crawler, setup, clock=clock)
        self.tokens = LicenceTokens(crawler, setup.rsl_credentials, timeout=self.fetcher.timeout, clock=clock)
        before_send(crawler, self._renew_token)
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

    def _check_excluded(self, request: Request) -> None:
        """Refuse a page whose URL an exclusion list names, before anything is sent to its host.

        Checked before the host's evidence is asked for: a host a list names
        whole gets no request at all, its robots.txt included. The refusal's
        basis names the list, its sha256 and the line; its evidence manifest
        the list's WARC record, for ``audit`` to judge again.
        """
        match = find_exclusion(request.url, self.exclusions)
        if match is None:
            return
        decision = self._refusal(request.url, Stage.PRE_FETCH, exclusion_basis(match))
        request.meta["policy_decision"] = decision
        request.meta["policy_evidence"] = exclusion_manifest(match)
        self._refuse(request, decision, None)
        raise IgnoreRequest(f"Refused by {decision.signal}: {decision.reason}")

    # -- Scrapy hooks ------------------------------------------------------------

    async def process_request(self, request: Request) -> None:
        if request.meta.get("policy_exempt"):
            if find_exclusion(request.url, self.exclusions) is not None:
                # An evidence document (a licence another host names, a redirect's target) on a list:
                # never sent; the document reads as unreachable, and what rests on it is refused.
                self.crawler.stats.inc_value("policy/evidence/excluded")
                raise IgnoreRequest(f"{request.url} is on an exclusion list: not sent")
            await self._check_evidence_redirect(request)
            return
        if request.meta.get("policy_recheck"):
            await self._recheck(request)
        if self._is_evidence(request.url):
            # Evidence is archived as evidence, in its own files: never captured as a page too.
            self.crawler.stats.inc_value("policy/skipped/evidence")
            logger.debug("Not requested as a page (it is an evidence document): %s", request.url)
            raise IgnoreRequest("an evidence document, not a page")
        _drop_licence_token(request)
        self._check_excluded(request)
        held: list[HeldToken] = []
        try:
            host = await self.evidence.get(origin_of(request.url))
            host, held = await self._with_tokens(request, host)
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
            self._present_token(request, held)
            self.crawler.stats.inc_value("policy/allowed/pre-fetch")
            return
        self._refuse(request, decision, None)
        raise IgnoreRequest(f"Refused by {decision.signal}: {decision.reason}")

    # -- RSL licence tokens ----------------------------------------------------------

    async def _with_tokens(
        self, request: Request, host: HostEvidence
    ) -> tuple[HostEvidence, list[HeldToken]]:
        """``host`` with the licence tokens ``request``'s URL needs for the crawl's purpose, obtained.

        The records (never the tokens) go with the evidence the URL is judged on, and into the
        request's meta for its post-fetch decision; the tokens held come back to be presented.
        """
        readings = self.judge.readings
        needs = {
            need.key: need
            for found in host.licences
            for need in licence_needs(
                found, request.url, self.judge.purpose, user=readings.rsl_user, geo=readings.rsl_geo
            )
        }
        held = [h for need in needs.values() if (h := await self.tokens.get(need)) is not None]
        records = tuple(h.record for h in held)
        request.meta[LICENCE_META] = records
        return (replace(host, licence_tokens=records) if records else host), held

    async def _renew_token(self, request: Request) -> None:
        """Right before a licensed request is sent: a token that expired while it waited is renewed.

        A request may wait in its host's download slot longer than a token
        lives. The download handler calls this after every wait; the request
        then carries the token held now (obtained again if needed), and its
        post-fetch decision names that one. Without one, it is not sent: a
        refusal of signal ``rsl`` saying why.
        """
        sent = request.meta.get(LICENCE_SENT)
        if not isinstance(sent, HeldToken) or sent.is_fresh(self.clock()):
            return
        fresh = await self.tokens.get(sent.need)
        if fresh is None or fresh.token is None:
            problem = fresh.record.problem if fresh is not None else "no credentials"
            reason = (
                f"the licence token from {sent.need.server} expired before the request left, "
                f"and no fresh one was obtained: {problem}"
            )
            decision = self._refusal(
                request.url, Stage.PRE_FETCH, Basis(signal="rsl", verdict=Verdict.DENY, reason=reason)
            )
            request.meta["policy_decision"] = decision
            _drop_licence_token(request)
            self._refuse(request, decision, None)
            raise IgnoreRequest(f"Refused: {reason}")
        records = request.meta.get(LICENCE_META) or ()
        request.meta[LICENCE_META] = tuple(fresh.record if r.key == sent.need.key else r for r in records)
        self._present_token(request, [fresh])

    def _present_token(self, request: Request, held: list[HeldToken]) -> None:
        """Send the licence token on a licensed request (``Authorization: License <token>``), only there.

        Set here, before Scrapy's redirect middleware: a redirect to another host loses it there
        (Scrapy drops ``Authorization`` across hosts), and every request, a redirect's too, comes
        through here again, which removes a token its URL is not licensed under.
        """
        for token in held:
            value = token.authorization()
            if value is not None:
                request.headers["Authorization"] = value
                request.meta[LICENCE_SENT] = token
                self.crawler.stats.inc_value("policy/rsl/requests_licensed")
                return

    async def _recheck(self, request: Request) -> None:
        # A later look at a captured URL: judge it under the host's current evidence, never fetch it.
        # ``grounded`` is the judgement on the documents read whole alone (None: nothing was read),
        # for the recheck to revoke only on what a site said, never on a failed fetch.
        grounded: dict[Purpose, Decision] | None
        try:
            # A recheck asks whether the site reserved the URL since, not for a licence token.
            host = replace(await self.evidence.get(origin_of(request.url)), licence_tokens=None)
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

    def _licence_challenge(self, request: Request, response: Response) -> Decision | Request | None:
        """A content host's ``WWW-Authenticate: License`` challenge (RSL 1.0 CAP): a refusal naming it.

        A 401 ``invalid_token`` to a request that carried a token gets one fresh
        token, once (the request is sent again through the gate); never more.
        """
        if response.status not in (401, 403):
            return None
        values = [v.decode("latin-1") for v in response.headers.getlist("WWW-Authenticate")]
        params = license_challenge(values)
        if params is None:
            return None
        self.crawler.stats.inc_value("policy/rsl/challenged")
        sent = request.meta.get(LICENCE_SENT)
        fresh_once = response.status == 401 and params.get("error") == "invalid_token"
        if fresh_once and isinstance(sent, HeldToken) and not request.meta.get(LICENCE_RETRIED):
            self.tokens.forget(sent)
            logger.info(
                "%s refused licence token %s as invalid; asking for a fresh one",
                request.url,
                sent.record.token_id,
            )
            retry = request.replace(dont_filter=True)
            retry.meta[LICENCE_RETRIED] = True
            _drop_licence_token(retry)
            return retry
        basis = Basis(signal="rsl", verdict=Verdict.DENY, reason=challenge_reason(response.status, params))
        return self._refusal(response.url, Stage.POST_FETCH, basis)

    async def process_response(self, request: Request, response: Response) -> Response | Request:
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
            refused = self._licence_challenge(request, response)
            if isinstance(refused, Request):
                return refused
            if refused is not None:
                request.meta["policy_decision"] = refused
                request.meta["policy_evidence"] = evidence_manifest(host)
                self._refuse(request, refused, response)
                raise IgnoreRequest(f"Refused: {refused.reason}")
            host = replace(host, licence_tokens=request.meta.get(LICENCE_META) or ())
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
        # A payment request's body is no page: its links are not followed either (a 402 is never
        # bypassed), whichever signal's refusal came first.
        if self.config.deliver_refused and decision.signal != "payment" and response.status != 402:
            return response
        raise IgnoreRequest(f"Refused by {decision.signal}: {decision.reason}")


def _drop_licence_token(request: Request) -> None:
    """Remove a licence token a request carries (a redirect's or retry's copy of its original's headers)."""
    values = request.headers.getlist("Authorization")
    kept = [v for v in values if not v.decode("latin-1").lower().startswith(LICENSE_SCHEME.lower() + " ")]
    if len(kept) != len(values):
        del request.headers["Authorization"]
        if kept:
            request.headers.setlist("Authorization", kept)
    request.meta.pop(LICENCE_SENT, None)
