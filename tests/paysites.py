"""A priced host for the pay-per-crawl tests: it answers as Cloudflare's pay per crawl documents.

Every page but ``/robots.txt`` costs ``price``: a request without a sufficient
``crawler-max-price`` gets ``402`` and ``crawler-price``; one with a max-price
in the same currency at or above the price gets ``200`` and
``crawler-charged``, and the charge is counted. ``script`` makes a path answer
given failures first (a ``crawler-error`` code and its status), and
``fail_with`` makes every paid request fail with that code. When
a ``verify`` function is given, a request carrying a price header must pass it
(a signature covering the header), or it is answered ``400 InvalidSignature``.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import TYPE_CHECKING

from crawler.localweb.server import Reply
from tests.sites import HTML, TEXT

if TYPE_CHECKING:
    from collections.abc import Callable

    from crawler.localweb.server import LoggedRequest

# The HTTP status of each crawler-error code (Cloudflare's error-codes page).
ERROR_STATUS = {
    "CrawlerForbidden": 403,
    "StrongAuthRequired": 400,
    "InvalidSignature": 400,
    "InvalidCrawlerPriceValue": 400,
    "MissingCrawlerPrice": 402,
    "PaymentFailed": 403,
    "InvalidCrawlerExactPrice": 402,
    "InvalidCrawlerMaxPrice": 402,
    "ConflictingPriceHeaders": 400,
    "InvalidContentPrice": 502,
    "InternalError": 500,
}


def _header(request: LoggedRequest, name: str) -> str | None:
    for key, value in request.headers.items():
        if key.lower() == name:
            return value
    return None


class PricedSite(dict[str, object]):
    """A host of ``pages`` HTML pages linked from ``/``, each costing ``price`` (``'USD 0.01'``)."""

    def __init__(
        self,
        price: str,
        pages: int,
        *,
        script: dict[str, list[str]] | None = None,
        fail_with: str | None = None,
        verify: Callable[[LoggedRequest], bool] | None = None,
        delay: float = 0.0,
        robots: str = "User-agent: *\nAllow: /\n",
        noai: tuple[str, ...] = (),
        x402: str | None = None,
        charge_as: str | None = None,
    ) -> None:
        super().__init__()
        self.currency, amount = price.split(" ")
        self.price = Decimal(amount)
        self.paths = ["/", *(f"/p{i}" for i in range(pages))]
        self.script = {path: list(codes) for path, codes in (script or {}).items()}
        self.fail_with = fail_with
        self.verify = verify
        self.delay = delay
        self.robots = robots
        self.noai = noai  # paths whose paid page says X-Robots-Tag: noai
        self.x402 = x402  # a PAYMENT-REQUIRED header value: the host asks to be paid in x402 only
        self.charge_as = charge_as  # a crawler-charged value other than the price (a misbehaving host)
        self.charges: list[str] = []  # the paths charged for, in order
        self.unverified: list[str] = []  # paths whose price header no valid signature covered
        self._lock = threading.Lock()
        for path in self.paths:
            self[path] = None  # the paths served (answers come from respond)

    @property
    def charged(self) -> Decimal:
        """What the host charged in all."""
        with self._lock:
            return self.price * len(self.charges)

    def _page(self, path: str) -> str:
        links = (
            "".join(f'<a href="{p}">{p}</a> ' for p in self.paths) if path == "/" else '<a href="/">home</a>'
        )
        return (
            f"<html><head><title>priced {path}</title></head><body><p>priced {path}</p>{links}</body></html>"
        )

    def _error(self, code: str) -> Reply:
        return Reply(ERROR_STATUS[code], (("crawler-error", code), *TEXT.items()), f"{code}\n".encode())

    def respond(self, request: LoggedRequest) -> Reply:
        """The answer to one request, as pay per crawl gives it (a charge counts when the request comes)."""
        path = request.path
        if path == "/robots.txt":  # always free
            return Reply(200, tuple(TEXT.items()), self.robots.encode())
        if path not in self.paths:
            return Reply(404, tuple(TEXT.items()), b"not found\n")
        asked = f"{self.currency} {self.price}"
        max_price = _header(request, "crawler-max-price")
        if self.x402 is not None:
            return Reply(402, (("PAYMENT-REQUIRED", self.x402), *TEXT.items()), b"pay with x402\n")
        if max_price is None:
            body = b"<html><body>Payment required: this page must not be archived</body></html>"
            return Reply(402, (("crawler-price", asked), *HTML.items()), body)
        if self.verify is not None and not self.verify(request):
            with self._lock:
                self.unverified.append(path)
            return self._error("InvalidSignature")
        with self._lock:
            scripted = self.script.get(path)
            if scripted:
                return self._error(scripted.pop(0))
        if self.fail_with is not None:
            return self._error(self.fail_with)
        currency, _, amount = max_price.partition(" ")
        if currency != self.currency or Decimal(amount) < self.price:
            return Reply(
                402,
                (("crawler-price", asked), ("crawler-error", "InvalidCrawlerMaxPrice"), *TEXT.items()),
                b"price above your maximum\n",
            )
        with self._lock:
            self.charges.append(path)
        headers = (("crawler-charged", self.charge_as or asked), *HTML.items())
        if path in self.noai:
            headers = (*headers, ("X-Robots-Tag", "noai"))
        return Reply(200, headers, self._page(path).encode(), delay=self.delay)
