"""The charge book: reservations before sending, settlements after, budgets never exceeded, kills counted."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import TYPE_CHECKING

from crawler.storage.charges import Budgets, ChargeBook, spending
from policies.payment import parse_price

if TYPE_CHECKING:
    from pathlib import Path


def book(path: Path, *, total: str | None = None, per_domain: str | None = None) -> ChargeBook:
    budgets = Budgets(
        parse_price("USD 0.01"),
        parse_price(total) if total else None,
        parse_price(per_domain) if per_domain else None,
    )
    return ChargeBook(path, budgets, crawl_id="c1")


def test_a_budget_is_never_exceeded_and_the_refusal_says_by_which_budget(tmp_path: Path) -> None:
    charges = book(tmp_path / "p.db", total="USD 0.03", per_domain="USD 0.02")
    first = charges.reserve("http://a.test/1", "a.test", "a.test")
    second = charges.reserve("http://a.test/2", "a.test", "a.test")
    assert isinstance(first, int) and isinstance(second, int)
    refused = charges.reserve("http://a.test/3", "a.test", "a.test")
    assert isinstance(refused, str) and "--domain-budget USD 0.02" in refused
    assert isinstance(charges.reserve("http://b.test/1", "b.test", "b.test"), int)
    refused = charges.reserve("http://b.test/2", "b.test", "b.test")
    assert isinstance(refused, str) and "--budget USD 0.03" in refused
    charges.release(first, status=500, crawler_error="InternalError")  # errors are not charged
    assert isinstance(charges.reserve("http://a.test/3", "a.test", "a.test"), int)
    assert charges.spent() == Decimal("0.03")


def test_a_settlement_counts_the_charge_and_stops_on_what_cannot_be_compared(tmp_path: Path) -> None:
    charges = book(tmp_path / "p.db")
    ids = [charges.reserve(f"http://a.test/{i}", "a.test", "a.test") for i in range(4)]
    assert all(isinstance(i, int) for i in ids)
    assert charges.settle(ids[0], "USD 0.005", status=200, crawler_error=None).stop is None
    other = charges.settle(ids[1], "EUR 0.001", status=200, crawler_error=None)
    assert other.amount == Decimal("0.01") and "another currency" in (other.stop or "")
    above = charges.settle(ids[2], "USD 0.5", status=200, crawler_error=None)
    assert above.amount == Decimal("0.5") and "above --max-price" in (above.stop or "")
    garbled = charges.settle(ids[3], "five cents", status=200, crawler_error=None)
    assert garbled.amount == Decimal("0.01") and "does not parse" in (garbled.stop or "")
    assert charges.spent("a.test") == Decimal("0.525")
    conn = sqlite3.connect(tmp_path / "p.db")
    ledger = conn.execute("select action, scope from ledger order by id").fetchall()
    assert ledger == [("charge", f"http://a.test/{i}") for i in range(4)]
    assert spending(conn)["totals"]["USD"]["charged"] == Decimal("0.525")


def test_a_reservation_left_by_a_killed_run_is_counted_at_its_max_price(tmp_path: Path) -> None:
    first = book(tmp_path / "p.db", total="USD 0.02")
    assert isinstance(first.reserve("http://a.test/1", "a.test", "a.test"), int)
    first.conn.close()  # killed: no settlement ever comes
    again = book(tmp_path / "p.db", total="USD 0.02")
    assert again.unsettled_at_start == 1 and again.spent() == Decimal("0.01")
    assert isinstance(again.reserve("http://a.test/2", "a.test", "a.test"), int)
    assert isinstance(again.reserve("http://a.test/3", "a.test", "a.test"), str)
    conn = sqlite3.connect(tmp_path / "p.db")
    states = conn.execute("select state, amount from charges order by id").fetchall()
    assert states == [("unsettled", "0.01"), ("reserved", "0")]
    assert conn.execute("select action from ledger").fetchall() == [("charge-unsettled",)]
    summed = spending(conn)
    assert summed["totals"]["USD"] == {
        "charged": Decimal(0),
        "unsettled": Decimal("0.01"),
        "reserved": Decimal("0.01"),
    }
