"""RSL licence tokens: obtained from licence servers through the crawl's own downloader, held, renewed.

A ``<content>`` whose licence grants the crawl's purpose and names a
``server`` is licensed only under a token from that server (RSL 1.0). With
credentials for the server (``crawl --rsl-credentials FILE``,
:mod:`policies.rslclient`), :class:`LicenceTokens` asks ``POST <server>/token``
for one, as a Scrapy request: it waits its turn in the server's download slot
like every other request, is signed when signing is on, and is never
redirected (a redirect is a refusal: credentials never follow one), retried, or
archived (its request holds the client secret, its answer the token).

Tokens are held per (server, resource, licence) in memory only, and renewed
before they expire: when less than ``RENEW_MARGIN`` seconds, or half of the
token's lifetime if that is shorter, remain. ``expires_in`` 0 means no expiry.
A refusal (an HTTP error, an OAuth error, a malformed answer, a timeout) is
held for ``REFUSAL_HELD`` seconds, so that the pages of a licence do not each
ask again. What is recorded is a :class:`~policies.rsl.LicenceToken`: the
token's id (its sha256), server, resource, issue and expiry times; never the
token or the secret.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from scrapy import Request
from scrapy.http.request import NO_CALLBACK

from crawler.adapters.evidence import EvidenceCache, utcnow
from crawler.adapters.fetcher import EVIDENCE_PRIORITY, describe_error
from policies.rsl import LICENSE_SCHEME, LicenceToken, TokenNeed, token_id
from policies.rslclient import (
    TokenRefused,
    parse_token_response,
    token_request_body,
    token_url,
)

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.adapters.evidence import Clock
    from policies.rslclient import ClientCredentials, IssuedToken, RslCredentials

logger = logging.getLogger(__name__)

RENEW_MARGIN = 30.0  # seconds before expiry a token is renewed (at most half its lifetime)
REFUSAL_HELD = 300.0  # seconds a licence server's refusal stands before it is asked again
TOKENS_KEPT = 1024  # (server, resource, licence) entries held at once; the least recently used go first
META = "policy_licence_tokens"  # the records a request was judged with (process-only meta: never stored)
SENT = "policy_licence_token_sent"  # the token's id, when the request carries one
# A fresh token was already asked for this request once; stored with it in the frontier (the retry is
# queued there), which "policy_" meta never is. It only ever stops a second retry.
RETRIED = "rsl_token_retried"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


@dataclass
class HeldToken:
    """One need's answer: the token (in memory only) or the refusal, and until when it is used."""

    need: TokenNeed
    record: LicenceToken
    until: datetime | None  # None: for ever (no expiry)
    token: str | None = field(default=None, repr=False)
    stale: bool = False  # a content host said the token is invalid: ask again

    def is_fresh(self, now: datetime) -> bool:
        return not self.stale and (self.until is None or now < self.until)

    def authorization(self) -> str | None:
        """The ``Authorization`` value that presents the token (None: no token)."""
        return f"{LICENSE_SCHEME} {self.token}" if self.token is not None else None


class LicenceTokens:
    """Obtains, holds and renews licence tokens; one per crawl, used by the gate."""

    def __init__(
        self, crawler: Crawler, credentials: RslCredentials | None, *, timeout: float, clock: Clock = utcnow
    ) -> None:
        self.crawler = crawler
        self.credentials = credentials
        self.timeout = timeout
        self.clock = clock
        self._needs: dict[str, TokenNeed] = {}
        self._held: EvidenceCache[HeldToken] = EvidenceCache(
            self._obtain, clock=clock, max_entries=TOKENS_KEPT
        )

    @staticmethod
    def _key(need: TokenNeed) -> str:
        return json.dumps([need.server, need.resource, need.licence])

    async def get(self, need: TokenNeed) -> HeldToken | None:
        """The token held for ``need``, obtained or renewed first if needed; None without credentials."""
        if self.credentials is None or self.credentials.for_server(need.server) is None:
            return None
        key = self._key(need)
        self._needs[key] = need
        try:
            return await self._held.get(key)
        finally:
            self._needs.pop(key, None)

    def forget(self, held: HeldToken) -> None:
        """A content host refused ``held``'s token as invalid: the next :meth:`get` asks for a fresh one."""
        held.stale = True

    async def _obtain(self, key: str, previous: HeldToken | None) -> HeldToken:
        need = self._needs[key]
        assert self.credentials is not None
        credentials = self.credentials.for_server(need.server)
        assert credentials is not None
        issued = self.clock()
        try:
            answer = await self._ask(need, credentials)
        except TokenRefused as exc:
            return self._refused(need, str(exc))
        except Exception as exc:  # a timeout, a refused connection...: no token
            return self._refused(need, f"the request failed: {describe_error(exc)}")
        expires = issued + timedelta(seconds=answer.expires_in) if answer.expires_in else None
        margin = min(RENEW_MARGIN, answer.expires_in / 2)
        self.crawler.stats.inc_value("policy/rsl/tokens_issued")
        held = HeldToken(
            need=need,
            record=LicenceToken(
                server=need.server,
                resource=need.resource,
                licence_sha256=need.key[2],
                token_id=token_id(answer.token),
                issued_at=_iso(issued),
                expires_at=_iso(expires) if expires is not None else None,
            ),
            until=expires - timedelta(seconds=margin) if expires is not None else None,
            token=answer.token,
        )
        logger.info(
            "Licence token %(id)s from %(server)s for %(resource)s, expires %(expires)s",
            {
                "id": held.record.token_id,
                "server": need.server,
                "resource": need.resource,
                "expires": held.record.expires_at or "never",
            },
        )
        return held

    def _refused(self, need: TokenNeed, problem: str) -> HeldToken:
        self.crawler.stats.inc_value("policy/rsl/tokens_refused")
        logger.warning("Licence server %s gave no token for %s: %s", need.server, need.resource, problem)
        refused = LicenceToken(
            server=need.server, resource=need.resource, licence_sha256=need.key[2], problem=problem
        )
        return HeldToken(need=need, record=refused, until=self.clock() + timedelta(seconds=REFUSAL_HELD))

    async def _ask(self, need: TokenNeed, credentials: ClientCredentials) -> IssuedToken:
        request = Request(
            # The URL of our credentials file, not the site's spelling of it: the secret goes where we said.
            token_url(credentials.server),
            method="POST",
            body=token_request_body(need),
            priority=EVIDENCE_PRIORITY,
            dont_filter=True,
            callback=NO_CALLBACK,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
                "Authorization": credentials.basic_authorization(),
            },
            meta={
                # Not a page: the gate lets it pass, nothing archives it (it holds the secret and the token).
                "policy_exempt": True,
                "policy_licence_request": True,
                # Credentials never follow a redirect: a 3xx comes back as the answer, and is a refusal.
                "dont_redirect": True,
                "handle_httpstatus_all": True,
                "dont_retry": True,
                "dont_merge_cookies": True,
                "allow_offsite": True,
                "download_timeout": self.timeout,
            },
        )
        response = await self.crawler.engine.download_async(request)
        return parse_token_response(response.status, response.body)
