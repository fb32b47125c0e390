"""The payment signal: prices read strictly, x402 requirements recorded, 402 refused, charges granted."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from policies.decision import Basis, Decision, DefaultPolicy, Stage, Verdict, combine
from policies.page import Page
from policies.payment import Price, parse_price, payment_basis, price_record, read_x402
from policies.purpose import Purpose

NOW = datetime(2026, 11, 29, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "price"),
    [
        ("USD 0.01", Price("USD", Decimal("0.01"))),
        ("EUR 3", Price("EUR", Decimal("3"))),
        ("USD 0", Price("USD", Decimal("0"))),
        ("USD 3.140", Price("USD", Decimal("3.140"))),
    ],
)
def test_a_price_is_a_currency_code_one_space_and_a_decimal(text: str, price: Price) -> None:
    assert parse_price(text) == price


@pytest.mark.parametrize(
    "text",
    [
        "usd 0.01",
        "USD  0.01",
        "USD -0.01",
        "USD 1e3",
        "USD 0,01",
        "USD .5",
        "USD 5.",
        "US 1",
        "USD",
        " USD 1",
        "$1",
    ],
)
def test_anything_else_is_not_a_price(text: str) -> None:
    with pytest.raises(ValueError, match="expected a currency code of 3 upper-case letters"):
        parse_price(text)


def test_covers_compares_currency_then_amount() -> None:
    limit = parse_price("USD 0.01")
    assert limit.covers(parse_price("USD 0.010")) and limit.covers(parse_price("USD 0"))
    assert not limit.covers(parse_price("USD 0.02")) and not limit.covers(parse_price("EUR 0.001"))


def test_an_unparsable_price_is_recorded_raw_and_said_so() -> None:
    assert price_record("0.01 dollars") == {
        "raw": "0.01 dollars",
        "problem": "unparsable: expected a currency code, one space, a decimal amount",
    }


def _b64(data: object) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode()


def test_x402_v2_requirements_are_read_from_the_payment_required_header() -> None:
    header = _b64(
        {
            "x402Version": 2,
            "accepts": [
                {
                    "scheme": "exact",
                    "network": "eip155:8453",
                    "amount": "10000",
                    "asset": "0xA0b8",
                    "payTo": "0x1",
                }
            ],
        }
    )
    found = read_x402({"payment-required": (header,)}, b"")
    assert found == {
        "version": 2,
        "source": "PAYMENT-REQUIRED header",
        "accepts": [{"scheme": "exact", "network": "eip155:8453", "amount": "10000", "asset": "0xA0b8"}],
    }


def test_x402_v1_requirements_are_read_from_a_json_body() -> None:
    body = json.dumps(
        {
            "x402Version": 1,
            "error": "X-PAYMENT header is required",
            "accepts": [
                {"scheme": "exact", "network": "base", "maxAmountRequired": "10000", "asset": "0xA0b8"}
            ],
        }
    ).encode()
    found = read_x402({}, body)
    assert found is not None and found["version"] == 1 and found["source"] == "response body"
    assert found["accepts"] == [
        {"scheme": "exact", "network": "base", "maxAmountRequired": "10000", "asset": "0xA0b8"}
    ]


def test_a_broken_x402_header_is_recorded_as_broken_and_a_plain_body_is_not_x402() -> None:
    assert read_x402({"payment-required": ("%%%",)}, b"")["problem"] == "not base64 of JSON"  # type: ignore[index]
    assert read_x402({}, b"<html>pay us</html>") is None
    assert read_x402({}, b'{"error": "pay"}') is None


def test_a_402_is_a_payment_refusal_naming_the_price_and_the_error() -> None:
    page = Page(
        url="http://p.test/a",
        status=402,
        headers={"crawler-price": ("USD 0.05",), "crawler-error": ("InvalidCrawlerMaxPrice",)},
    )
    basis = payment_basis(page)
    assert basis is not None and basis.verdict is Verdict.DENY and basis.signal == "payment"
    assert "USD 0.05" in basis.reason and "InvalidCrawlerMaxPrice" in basis.reason
    recorded = basis.as_dict()["payment"]
    assert recorded["price"]["amount"] == "0.05" and recorded["error"] == "InvalidCrawlerMaxPrice"
    assert Basis.from_dict(basis.as_dict()) == basis


def test_a_402_without_any_price_is_still_a_refusal() -> None:
    basis = payment_basis(Page(url="http://p.test/a", status=402))
    assert basis is not None and basis.verdict is Verdict.DENY and "no price named" in basis.reason


def test_a_crawler_error_on_any_status_refuses() -> None:
    basis = payment_basis(
        Page(url="http://p.test/a", status=500, headers={"crawler-error": ("InternalError",)})
    )
    assert basis is not None and basis.verdict is Verdict.DENY


def _combine(bases: list[Basis], default: DefaultPolicy) -> Decision:
    return combine(
        bases, url="http://p.test/a", purpose=Purpose.AI_TRAIN, default_policy=default, decided_at=NOW,
        stage=Stage.POST_FETCH,
    )  # fmt: skip


def test_a_charge_grants_only_where_nothing_else_reserves() -> None:
    page = Page(url="http://p.test/a", status=200, headers={"crawler-charged": ("USD 0.01",)})
    paid = payment_basis(page)
    assert paid is not None and paid.verdict is Verdict.ALLOW and "USD 0.01" in paid.reason
    alone = _combine([paid], DefaultPolicy.DENY)
    assert alone.allowed and alone.signal == "payment"
    reserved = Basis(signal="x-robots-tag", verdict=Verdict.DENY, reason="noai")
    both = _combine([paid, reserved], DefaultPolicy.ALLOW)
    assert not both.allowed and both.signal == "x-robots-tag"


def test_a_page_that_says_nothing_of_payment_has_no_payment_basis() -> None:
    assert payment_basis(Page(url="http://p.test/a", status=200)) is None
    assert payment_basis(None) is None
