"""The ``payment`` signal: HTTP 402 pay per crawl (Cloudflare) and x402, read from a response.

Pure reading, no sending: prices are parsed here, requests carrying them are
made in ``crawler/adapters/payment.py``.

Cloudflare's pay per crawl (developers.cloudflare.com/ai-crawl-control/features/
pay-per-crawl/use-pay-per-crawl-as-ai-owner/crawl-pages/ and .../error-codes/):
a priced page answers ``402`` with ``crawler-price: USD 0.01``; a request
carrying a sufficient ``crawler-max-price`` is answered ``200`` with
``crawler-charged: USD 0.01``; failures carry ``crawler-error: <Code>``. The
documentation gives the value syntax by example only (an ISO 4217 code, one
space, a decimal amount); :func:`parse_price` reads exactly that and nothing
looser, so that a price is never misread.

x402 (github.com/coinbase/x402, specs/transports-v1 and -v2): a 402 whose
``PAYMENT-REQUIRED`` header (v2, base64 JSON) or JSON body (v1, with
``x402Version`` and ``accepts``) lists payment requirements. They are recorded
as sent (scheme, network, amount, asset) and never paid.

A 402, or any response carrying ``crawler-error``, is a refusal (``deny``): a
payment request is never bypassed, and its body is never a page. A response
carrying ``crawler-charged`` was paid for: an ``allow`` basis naming the
amount, which grants only where no other signal reserves (the usual
most-restrictive combination; it sets nothing aside).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from policies.decision import Basis, Verdict

if TYPE_CHECKING:
    from policies.page import Page

# Cloudflare's examples: "USD 0.01". Three upper-case letters, one space, a non-negative decimal.
_PRICE = re.compile(r"([A-Z]{3}) ([0-9]+(?:\.[0-9]+)?)")
# What is kept of a value a site sends (a header, an x402 field): enough to read, never unbounded.
MAX_VALUE = 200
# x402 requirements read from one response, and the largest JSON body read for them.
MAX_ACCEPTS = 16
MAX_X402_BODY = 64 * 1024
X402_FIELDS = ("scheme", "network", "amount", "maxAmountRequired", "asset")
PAYMENT_REQUIRED = "payment-required"
PRICE_HEADERS = ("crawler-price", "crawler-charged", "crawler-error")


@dataclass(frozen=True, order=True)
class Price:
    """An amount of money: an ISO 4217 currency code and a non-negative Decimal amount."""

    currency: str
    amount: Decimal

    def __str__(self) -> str:
        return f"{self.currency} {self.amount}"

    def covers(self, other: Price) -> bool:
        """True if ``other`` is in the same currency and at most this amount."""
        return self.currency == other.currency and other.amount <= self.amount


def parse_price(text: str) -> Price:
    """Read ``USD 0.01``: a currency code of 3 upper-case letters, one space, a non-negative decimal.

    Raise ValueError saying what was expected for anything else (a sign, an
    exponent, a comma, other spacing, a lower-case code).
    """
    match = _PRICE.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{text[:MAX_VALUE]!r} is not a price; expected a currency code of 3 upper-case letters, "
            "one space and a non-negative decimal amount, such as 'USD 0.01'"
        )
    return Price(match[1], Decimal(match[2]))


def price_record(raw: str) -> dict[str, str]:
    """A price header as recorded: the raw value, and its currency and amount, or why it did not parse."""
    raw = raw[:MAX_VALUE]
    try:
        price = parse_price(raw.strip())
    except ValueError:
        return {"raw": raw, "problem": "unparsable: expected a currency code, one space, a decimal amount"}
    return {"raw": raw, "currency": price.currency, "amount": str(price.amount)}


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text[:MAX_VALUE]


def _requirements(data: Any, version: int) -> dict[str, Any]:
    """x402 requirements as recorded: the version and, per accepted way to pay, its fields as sent."""
    accepts = data.get("accepts") if isinstance(data, dict) else None
    if not isinstance(accepts, list):
        return {"version": version, "problem": "no 'accepts' list"}
    kept = [
        {name: _short(item[name]) for name in X402_FIELDS if name in item}
        for item in accepts[:MAX_ACCEPTS]
        if isinstance(item, dict)
    ]
    found: dict[str, Any] = {"version": version, "accepts": kept}
    if len(accepts) > MAX_ACCEPTS:
        found["problem"] = f"{len(accepts)} ways to pay; the first {MAX_ACCEPTS} recorded"
    return found


def read_x402(headers: dict[str, tuple[str, ...]] | Any, body: bytes) -> dict[str, Any] | None:
    """The x402 payment requirements of a 402 response, or None when it states none.

    v2: the ``PAYMENT-REQUIRED`` header, base64 of a JSON object. v1: a JSON
    body (at most 64 KiB read) with ``x402Version`` and ``accepts``. What does
    not decode is recorded as such (a 402 that tried to say x402 and failed).
    """
    values = tuple(headers.get(PAYMENT_REQUIRED, ()))
    if values:
        raw = values[0].strip()
        try:
            data = json.loads(base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True))
        except (binascii.Error, ValueError):
            return {"version": 2, "source": "PAYMENT-REQUIRED header", "problem": "not base64 of JSON"}
        version = data.get("x402Version", 2) if isinstance(data, dict) else 2
        found = _requirements(data, version if isinstance(version, int) else 2)
        return {**found, "source": "PAYMENT-REQUIRED header"}
    text = body[:MAX_X402_BODY].lstrip()
    if not text.startswith(b"{") or len(body) > MAX_X402_BODY:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or "x402Version" not in data:
        return None
    version = data["x402Version"]
    found = _requirements(data, version if isinstance(version, int) else 1)
    return {**found, "source": "response body"}


def payment_terms(page: Page) -> dict[str, Any] | None:
    """What a response says about payment, as recorded in its ``payment`` basis; None if nothing.

    The status, ``crawler-price``, ``crawler-charged`` (raw and parsed),
    ``crawler-error`` and, for a 402, x402 requirements.
    """
    terms: dict[str, Any] = {}
    for name in PRICE_HEADERS:
        values = page.header(name)
        if not values:
            continue
        key = name.removeprefix("crawler-")
        terms[key] = _short(values[0].strip()) if name == "crawler-error" else price_record(values[0])
    if page.status == 402:
        x402 = read_x402(page.headers, page.body)
        if x402 is not None:
            terms["x402"] = x402
    if not terms and page.status != 402:
        return None
    return {"status": page.status, **terms}


def _said(terms: dict[str, Any]) -> str:
    """The terms in words, for a reason: the price, the error, how x402 asks to be paid."""
    parts = []
    for key, header in (("price", "crawler-price"), ("charged", "crawler-charged")):
        if key in terms:
            record = terms[key]
            parts.append(f"{header} {record['raw']!r}" + (" (unparsable)" if "problem" in record else ""))
    if "error" in terms:
        parts.append(f"crawler-error {terms['error']}")
    x402 = terms.get("x402")
    if x402 is not None:
        ways = ", ".join(
            f"{item.get('amount', item.get('maxAmountRequired', '?'))} of {item.get('asset', '?')} "
            f"on {item.get('network', '?')} ({item.get('scheme', '?')})"
            for item in x402.get("accepts", ())
        )
        parts.append(f"x402 v{x402['version']} ({ways or x402.get('problem', 'no way to pay named')})")
    return "; ".join(parts) or "no price named"


def payment_basis(page: Page | None) -> Basis | None:
    """The ``payment`` basis of a response (alike for every purpose); None if it says nothing of payment."""
    if page is None:
        return None
    terms = payment_terms(page)
    if terms is None:
        return None
    source = f"{page.url} (HTTP {page.status})"
    recorded = json.dumps(terms, ensure_ascii=False, sort_keys=True)
    if page.status == 402:
        reason = (
            f"HTTP 402: the site asks to be paid ({_said(terms)}); "
            "a payment request is never bypassed, and its body is not archived"
        )
        return Basis(signal="payment", verdict=Verdict.DENY, reason=reason, source=source, payment=recorded)
    if "error" in terms:
        reason = f"pay per crawl failed ({_said(terms)}); the response is not archived"
        return Basis(signal="payment", verdict=Verdict.DENY, reason=reason, source=source, payment=recorded)
    if "charged" in terms and 200 <= page.status <= 299:
        reason = f"paid for: {_said(terms)}; a charge grants only where no other signal reserves"
        return Basis(signal="payment", verdict=Verdict.ALLOW, reason=reason, source=source, payment=recorded)
    # A price or a charge on a response that is neither a 402 nor a success: recorded, says nothing.
    reason = f"HTTP {page.status} names a payment ({_said(terms)}); recorded only"
    return Basis(signal="payment", verdict=Verdict.NONE, reason=reason, source=source, payment=recorded)
