"""PolicyGateMiddleware: decides before each request leaves, and again when its response returns.

Switched on by ``POLICY_ENABLED`` (the :class:`crawler.addon.PolicyAddon` sets
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
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest, NotConfigured

from crawler import signals as our_signals
from crawler.config import CrawlConfig, load_config
from crawler.evidence import Clock, EvidenceCache, utcnow
from crawler.fetcher import EvidenceFetcher
from policies.decision import Basis, Decision, Stage, Verdict, combine
from policies.engine import Page, decide, decide_all
from policies.purpose import Purpose

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)


def origin_of(url: str) -> str:
    """Return ``scheme://host[:port]`` of ``url``, lower-cased, default port left out."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


def page_of(response: Response) -> Page:
    """Return the post-fetch view of a (decoded) Scrapy response."""
    headers = {
        key.decode("latin-1").lower(): tuple(v.decode("latin-1") for v in values)
        for key, values in response.headers.items()
    }
    return Page(url=response.url, status=response.status, headers=headers, body=response.body)


class PolicyGateMiddleware:
    """Downloader middleware that lets a request out only if every signal permits it."""

    def __init__(self, crawler: Crawler, config: CrawlConfig, *, clock: Clock = utcnow) -> None:
        self.crawler = crawler
        self.config = config
        self.clock = clock
        self.evidence = EvidenceCache(EvidenceFetcher(crawler, config, clock=clock), clock=clock)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("POLICY_ENABLED"):
            raise NotConfigured("POLICY_ENABLED is off")
        return cls(crawler, load_config(crawler.settings))

    # -- decisions ---------------------------------------------------------------

    def _error_decision(self, url: str, stage: Stage, exc: BaseException) -> Decision:
        # Fail closed: an error anywhere in judging a URL refuses it, saying why.
        basis = Basis(
            signal="default",
            verdict=Verdict.DENY,
            reason=f"the decision could not be taken: {type(exc).__name__}: {exc}",
        )
        return combine(
            [basis],
            url=url,
            purpose=self.config.purpose,
            default_policy=self.config.default_policy,
            decided_at=self.clock(),
            stage=stage,
        )

    def _refuse(self, request: Request, decision: Decision, response: Response | None) -> None:
        stage = "pre" if response is None else "post"
        self.crawler.stats.inc_value(f"policy/refused/{stage}-fetch/{decision.signal}")
        self.crawler.signals.send_catch_log(
            our_signals.request_refused, request=request, decision=decision, response=response
        )
        logger.info(
            "Refused %(url)s before fetching: %(reason)s"
            if response is None
            else "Refused %(url)s after fetching: %(reason)s",
            {"url": request.url, "reason": decision.reason},
        )

    # -- Scrapy hooks ------------------------------------------------------------

    async def process_request(self, request: Request) -> None:
        if request.meta.get("policy_exempt"):
            return
        try:
            host = await self.evidence.get(origin_of(request.url))
            decision = decide(
                request.url,
                purpose=self.config.purpose,
                host=host,
                default_policy=self.config.default_policy,
                now=self.clock(),
            )
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

    async def process_response(self, request: Request, response: Response) -> Response:
        if request.meta.get("policy_exempt"):
            return response
        try:
            if not isinstance(request.meta.get("policy_decision"), Decision):
                raise RuntimeError("no pre-fetch decision was taken for this request")
            host = await self.evidence.get(origin_of(response.url))
            page = page_of(response)
            now = self.clock()
            decisions = decide_all(
                response.url, host=host, default_policy=self.config.default_policy, now=now, page=page
            )
            decision = decisions[self.config.purpose]
            usage: dict[str, Any] = {p.value: d.as_dict() for p, d in decisions.items()}
        except Exception as exc:
            logger.exception("Error while judging the response of %s", response.url)
            decision = self._error_decision(response.url, Stage.POST_FETCH, exc)
            usage = {p.value: {**decision.as_dict(), "purpose": p.value} for p in Purpose}
        request.meta["policy_decision"] = decision
        request.meta["policy_usage"] = usage
        if decision.allowed:
            self.crawler.stats.inc_value("policy/allowed/post-fetch")
            return response
        self._refuse(request, decision, response)
        if self.config.deliver_refused:
            return response
        raise IgnoreRequest(f"Refused by {decision.signal}: {decision.reason}")
