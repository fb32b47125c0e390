"""Paying for pages (HTTP 402 pay per crawl), within the budgets: a downloader middleware.

Switched on by ``PERMITCRAWL_MAX_PRICE`` (``crawl --max-price "USD 0.01"``,
which requires ``--sign``: Cloudflare accepts a price header only under a
Web Bot Auth signature that covers it). Without it nothing here runs, and a
402 stays what the gate makes of it: a ``payment`` refusal.

With it:

- A host that answers a page with 402 is marked as asking for payment, and
  that URL is requested once more, now with ``crawler-max-price``; so is every
  later page request to the host. The header is set here, before the download
  handler signs the request (the signature covers it), and only for hosts
  marked so: a redirect to another host loses it.
- Before a priced request leaves, its max-price is reserved against
  ``--budget`` and ``--domain-budget`` and committed (crawler.storage.charges);
  when the budgets cannot cover it, the URL is refused (``payment``: budget
  exhausted) and never sent, with or without the price.
- Its response settles the reservation: ``crawler-charged`` is the amount
  counted (a ledger entry each); no charge releases it; no response at all
  leaves it counted at the max-price (it may have been charged).
- ``crawler-error`` codes, as Cloudflare's error-codes page says:
  ``InternalError`` is retried with exponential backoff and
  ``InvalidContentPrice`` later (``PERMITCRAWL_PAYMENT_RETRIES`` times at
  most); ``InvalidCrawlerMaxPrice`` (the page costs more than our max) is a
  refusal recording the price; ``PaymentFailed`` stops paying anywhere; every
  other code stops paying that host. A host we stopped paying, or any host
  once payment failed, gets no more page requests: they would only be 402s,
  so they are refused before they leave.

The page itself is judged by the gate as any other: the ``payment`` basis
(policies.payment) names the amount, and grants only where nothing else
reserves. A URL the gate refuses before fetching never reaches this middleware.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.task import deferLater

from crawler.adapters import signals as our_signals
from crawler.adapters.evidence import utcnow
from crawler.adapters.fence import _reactor, before_send
from crawler.errors import SettingsError
from crawler.judging.config import setup_of
from crawler.storage.charges import Budgets, ChargeBook
from policies.decision import Basis, Stage, Verdict
from policies.payment import Price, parse_price
from policies.urls import registrable_domain, request_host

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from crawler.judging.config import SettingsLike

logger = logging.getLogger(__name__)

# After every middleware that changes headers (Scrapy's base ones end at 900); the download handler,
# which signs, comes after every middleware.
PAYMENT_PRIORITY = 950
MAX_PRICE_HEADER = "crawler-max-price"
EXACT_PRICE_HEADER = "crawler-exact-price"
CHARGED_HEADER = "crawler-charged"
ERROR_HEADER = "crawler-error"
# Request meta: the charges row reserved for this send; that it was re-asked after a 402; retries so far.
RESERVATION = "payment_reservation"
REQUOTED = "payment_requoted"
RETRIES = "payment_retries"
# crawler-error codes retried (Cloudflare: "Retry your request with exponential backoff"; "Try again
# later"), with the first delay's factor; every other code stops paying the host, PaymentFailed all.
RETRYABLE = {"InternalError": 1, "InvalidContentPrice": 4}
STOP_EVERYWHERE = "PaymentFailed"
KEEP_PAYING = ("InvalidCrawlerMaxPrice",)  # this page costs more than our max; others may not
PRICE_EXPECTED = "a currency code of 3 upper-case letters, one space and a non-negative decimal amount"


@dataclass(frozen=True)
class PaymentConfig:
    """The pay-per-crawl settings, checked: None when the crawl pays for nothing."""

    budgets: Budgets
    retries: int
    backoff: float


def _price(settings: SettingsLike, name: str, option: str) -> Price | None:
    value = settings.get(name)
    if value in (None, ""):
        return None
    try:
        return parse_price(str(value))
    except ValueError:
        raise SettingsError(
            f"{option} {value!r} is not a price; expected {PRICE_EXPECTED}, such as 'USD 0.01'"
        ) from None


def _retries_402(settings: SettingsLike) -> bool:
    """Whether Scrapy's RETRY_HTTP_CODES (a list, or a comma-separated string from -s) holds 402."""
    value = settings.get("RETRY_HTTP_CODES") or ()
    codes = value.split(",") if isinstance(value, str) else value
    return any(str(code).strip() == "402" for code in codes)


def payment_config(settings: SettingsLike) -> PaymentConfig | None:
    """Read and check the pay-per-crawl settings; raise SettingsError naming the option that is wrong.

    A budget needs a max-price, in the same currency; budgets are refused with
    a Redis frontier (its workers would each count their own spending). A 402
    is never retried: RETRY_HTTP_CODES holding it is refused, with or without
    a max-price.
    """
    if _retries_402(settings):
        raise SettingsError(
            "setting RETRY_HTTP_CODES holds 402: a payment request is never bypassed, so it is never asked "
            "again by Scrapy's retry (with --max-price the crawl asks once more, with the price); expected "
            "RETRY_HTTP_CODES without 402"
        )
    max_price = _price(settings, "PERMITCRAWL_MAX_PRICE", "--max-price (PERMITCRAWL_MAX_PRICE)")
    total = _price(settings, "PERMITCRAWL_BUDGET", "--budget (PERMITCRAWL_BUDGET)")
    per_domain = _price(settings, "PERMITCRAWL_DOMAIN_BUDGET", "--domain-budget (PERMITCRAWL_DOMAIN_BUDGET)")
    if max_price is None:
        if total is not None or per_domain is not None:
            raise SettingsError(
                "--budget and --domain-budget cap what --max-price spends; expected --max-price too"
            )
        return None
    if not settings.get("PERMITCRAWL_SIGN_KEY"):
        raise SettingsError(
            f"--max-price {max_price} needs --sign KEY.jwk and --signature-agent https://ORIGIN: "
            "pay per crawl accepts a price only in a request signed with Web Bot Auth, the signature "
            "covering it; expected --sign and --signature-agent too"
        )
    for option, budget in (("--budget", total), ("--domain-budget", per_domain)):
        if budget is not None and budget.currency != max_price.currency:
            raise SettingsError(
                f"{option} {budget} is in another currency than --max-price {max_price}; expected "
                f"{max_price.currency}"
            )
    frontier = str(settings.get("PERMITCRAWL_FRONTIER") or "embedded")
    if (total is not None or per_domain is not None) and frontier != "embedded":
        raise SettingsError(
            "--budget and --domain-budget cannot be kept across the workers of a Redis frontier (each would "
            "count only its own spending); expected the embedded frontier, or no budget"
        )
    try:
        retries = int(settings.get("PERMITCRAWL_PAYMENT_RETRIES", 3))
        backoff = float(settings.get("PERMITCRAWL_PAYMENT_BACKOFF", 1.0))
    except (TypeError, ValueError):
        raise SettingsError(
            "PERMITCRAWL_PAYMENT_RETRIES and PERMITCRAWL_PAYMENT_BACKOFF: expected a whole number of retries "
            "and seconds"
        ) from None
    if not 0 <= retries <= 10 or not 0 <= backoff <= 600:
        raise SettingsError(
            f"PERMITCRAWL_PAYMENT_RETRIES={retries} or PERMITCRAWL_PAYMENT_BACKOFF={backoff} "
            "is out of range; expected 0 to 10 retries and 0 to 600 seconds"
        )
    return PaymentConfig(Budgets(max_price, total, per_domain), retries, backoff)


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1").strip() if value is not None else None


class PaymentMiddleware:
    """Sends ``crawler-max-price`` to hosts that ask to be paid, within the budgets; settles each charge."""

    def __init__(self, crawler: Crawler, config: PaymentConfig) -> None:
        self.crawler = crawler
        self.config = config
        self.setup = setup_of(crawler)
        self.charging: set[str] = set()  # hosts that answered 402
        self.stopped: dict[str, str] = {}  # hosts we no longer pay, and why
        self.stopped_all: str | None = None  # why we pay no host any more
        self._book: ChargeBook | None = None
        crawler.signals.connect(self._opened, signal=signals.spider_opened)
        crawler.signals.connect(self._closed, signal=signals.spider_closed)
        # A request passes the middlewares before it waits for its slot: paying may stop meanwhile.
        before_send(crawler, self._still_paying)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        config = payment_config(crawler.settings)
        if config is None:
            raise NotConfigured("no --max-price: nothing is paid for")
        return cls(crawler, config)

    @property
    def book(self) -> ChargeBook:
        """The crawl directory's charges, opened when first needed (the archive has made the database)."""
        if self._book is None:
            crawl_id = self.crawler.stats.get_value("permitcrawl/crawl_id") if self.crawler.stats else None
            self._book = ChargeBook(self.setup.config.provenance_db, self.config.budgets, crawl_id=crawl_id)
            # A resumed crawl knows the hosts that charged before: their pages leave with the price.
            self.charging.update(self._book.hosts())
            if self._book.unsettled_at_start:
                logger.warning(
                    "%d paid request(s) of an earlier run never had their response (a kill, a crash): "
                    "counted at their max-price against the budgets, since they may have been charged",
                    self._book.unsettled_at_start,
                )
        return self._book

    def _opened(self, spider: Any = None) -> None:
        # Opened now: what a killed run left unsettled is counted before anything is sent.
        try:
            logger.debug("Charges so far: %s", self.book.spent())
        except Exception:
            logger.exception(
                "The charges of %s could not be read; paid requests will fail",
                self.setup.config.provenance_db,
            )

    def _closed(self, spider: Any = None) -> None:
        if self._book is not None:
            self._book.close()

    # -- refusing ------------------------------------------------------------------

    def _refuse(self, request: Request, reason: str, terms: dict[str, Any]) -> None:
        basis = Basis(
            signal="payment",
            verdict=Verdict.DENY,
            reason=reason,
            payment=json.dumps(terms, ensure_ascii=False, sort_keys=True),
        )
        decision = self.setup.judge.refusal(request.url, basis, stage=Stage.PRE_FETCH, now=utcnow())
        request.meta["policy_decision"] = decision
        self.crawler.stats.inc_value("policy/refused/pre-fetch/payment")
        self.crawler.signals.send_catch_log(
            our_signals.request_refused, request=request, decision=decision, response=None
        )
        logger.info("Refused %(url)s before fetching: %(reason)s", {"url": request.url, "reason": reason})
        raise IgnoreRequest(f"Refused by payment: {reason}")

    def _stop(self, host: str, code: str, why: str) -> None:
        if code == STOP_EVERYWHERE:
            if self.stopped_all is None:
                self.stopped_all = why
                logger.warning("Paying stopped for every host: %s", why)
        elif host not in self.stopped:
            self.stopped[host] = why
            logger.warning("Paying stopped for %s: %s", host, why)

    # -- Scrapy hooks --------------------------------------------------------------

    def process_request(self, request: Request) -> None:
        # Only the hosts we pay get the price: a redirect copied it, or a retry kept it.
        request.headers.pop(MAX_PRICE_HEADER, None)
        request.headers.pop(EXACT_PRICE_HEADER, None)
        if request.meta.get("policy_exempt"):  # evidence: robots.txt and the like are free
            return
        host = request_host(request.url) or ""
        if host not in self.charging:
            return
        limit = str(self.config.budgets.max_price)
        stopped = self.stopped_all or self.stopped.get(host)
        if stopped:
            self._refuse(
                request,
                f"{host} asks to be paid and paying it stopped ({stopped}); "
                "not requested: it would answer 402",
                {"max_price": limit, "stopped": stopped},
            )
        domain = registrable_domain(host)
        if self.book.crawl_id is None and self.crawler.stats:
            self.book.crawl_id = self.crawler.stats.get_value("permitcrawl/crawl_id")
        reserved = self.book.reserve(request.url, host, domain)
        if isinstance(reserved, str):
            self.crawler.stats.inc_value("payment/budget_exhausted")
            self._refuse(
                request,
                f"{host} asks to be paid and the {reserved}; not requested, with the price or without",
                {"max_price": limit, "budget": reserved},
            )
        request.meta[RESERVATION] = reserved
        request.headers[MAX_PRICE_HEADER] = limit
        self.crawler.stats.inc_value("payment/requests")

    async def _still_paying(self, request: Request) -> None:
        """Just before a paid request is sent: refuse it if paying its host stopped while it waited."""
        if request.meta.get(RESERVATION) is None:
            return
        host = request_host(request.url) or ""
        stopped = self.stopped_all or self.stopped.get(host)
        if stopped:
            limit = str(self.config.budgets.max_price)
            self._refuse(
                request,
                f"{host} asks to be paid and paying it stopped ({stopped}) while this request waited; "
                "not sent",
                {"max_price": limit, "stopped": stopped},
            )

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        host = request_host(request.url) or ""
        charge_id = request.meta.pop(RESERVATION, None)
        if charge_id is None:
            if (
                response.status == 402
                and not request.meta.get("policy_exempt")
                and not request.meta.get(REQUOTED)
                and not (self.stopped_all or host in self.stopped)
            ):
                # The host asks for payment: ask again, once, with our max-price (this page, and every
                # page of the host in flight before it was known to charge).
                if host not in self.charging:
                    self.charging.add(host)
                    logger.info(
                        "%s asks to be paid (HTTP 402): its pages are requested with --max-price", host
                    )
                    self.crawler.stats.inc_value("payment/hosts_charging")
                return request.replace(dont_filter=True, meta={**request.meta, REQUOTED: True})
            return response
        code = _header(response, ERROR_HEADER)
        charged = _header(response, CHARGED_HEADER)
        if charged is not None:
            settled = self.book.settle(charge_id, charged, status=response.status, crawler_error=code)
            self.crawler.stats.inc_value("payment/charged")
            if settled.stop:
                self._stop(host, "", settled.stop)
        else:
            self.book.release(charge_id, status=response.status, crawler_error=code)
        if code is None:
            return response
        self.crawler.stats.inc_value(f"payment/error/{code[:40]}")
        # The answer to a payment error is ours alone: Scrapy's retry must not send it again.
        request.meta["dont_retry"] = True
        retries = request.meta.get(RETRIES, 0)
        if code in RETRYABLE and retries < self.config.retries:
            delay = self.config.backoff * RETRYABLE[code] * 2**retries
            logger.info("%s answered crawler-error %s; asking again in %gs", response.url, code, delay)
            await maybe_deferred_to_future(deferLater(_reactor(), delay, lambda: None))
            meta = {**request.meta, RETRIES: retries + 1}
            meta.pop("dont_retry")
            return request.replace(dont_filter=True, meta=meta)
        if code not in KEEP_PAYING:
            what = "retries spent" if code in RETRYABLE else "Cloudflare's error-codes page: stop"
            self._stop(host, code, f"crawler-error {code} (HTTP {response.status}; {what})")
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        charge_id = request.meta.pop(RESERVATION, None)
        if charge_id is None:
            return
        if isinstance(exception, IgnoreRequest):
            # Dropped on our side before it left (a lost lease, a request that could not be signed).
            self.book.release(charge_id, status=None, crawler_error=None)
            return
        # Perhaps sent, perhaps charged, no response: counted at its max-price (fail closed).
        self.book.unsettle(charge_id, f"{type(exception).__name__}: {exception}"[:300])
