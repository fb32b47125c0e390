"""Pay per crawl's money: every paid request reserved against the budgets before it leaves, then settled.

The ``charges`` table of the crawl's provenance database holds one row per
request sent with ``crawler-max-price``. Its life:

- ``reserved``: written and committed (``synchronous = FULL``) *before* the
  request is sent, counting its max-price against the crawl's budget and its
  domain's, so that concurrent requests can never together exceed a budget;
- ``charged``: the response carried ``crawler-charged``; the amount counted is
  the charge (or, if it cannot be compared, in another currency or unparsable,
  the max-price: fail closed). A ledger entry is written in the same
  transaction;
- ``released``: the response carried no charge (errors are never charged,
  Cloudflare's FAQ): nothing counted;
- ``unsettled``: the request may have been charged and no one can know (the
  crawl was killed with it in flight, or the download failed after it was
  sent): counted at its max-price, with a ledger entry. A crawl that opens the
  book turns every row an earlier run left ``reserved`` into ``unsettled``.

The ledger gets one entry per charge (and per unsettled row), committed with
the row itself: a per-run summary would be lost with a killed run, and a charge
is money spent that an auditor must find one by one. Amounts are decimal text;
sums are exact (Decimal), here and in the report.

No Scrapy here: the requests are made by ``crawler/adapters/payment.py``.
"""

from __future__ import annotations

import getpass
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from crawler.storage.provenance import CHARGE_COLUMNS, open_db
from policies.payment import Price, parse_price

if TYPE_CHECKING:
    from pathlib import Path

# The row states, and which of them count as spent.
RESERVED, CHARGED, RELEASED, UNSETTLED = "reserved", "charged", "released", "unsettled"
SPENT_STATES = (RESERVED, CHARGED, UNSETTLED)
UNSETTLED_NOTE = (
    "sent with crawler-max-price, and its response never came (the crawl stopped, or the download failed): "
    "it may have been charged, so it is counted at its max-price (fail closed)"
)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _actor() -> str:
    try:
        return f"permitcrawl crawl ({getpass.getuser()})"
    except Exception:  # no login name in some containers
        return "permitcrawl crawl"


@dataclass(frozen=True)
class Budgets:
    """What a crawl may spend: ``max_price`` a request, ``total`` in all, ``per_domain`` (None: no cap)."""

    max_price: Price
    total: Price | None = None
    per_domain: Price | None = None


@dataclass(frozen=True)
class Settled:
    """What a response settled: the amount counted, and why paying its host must stop (None: go on)."""

    amount: Decimal
    stop: str | None = None


@dataclass
class _Totals:
    total: Decimal = Decimal(0)
    domains: dict[str, Decimal] = field(default_factory=dict)

    def add(self, domain: str, amount: Decimal) -> None:
        self.total += amount
        self.domains[domain] = self.domains.get(domain, Decimal(0)) + amount


class ChargeBook:
    """The charges of one crawl directory: reserve before sending, settle after; budgets never exceeded.

    One book per crawling process: the totals it checks budgets with are kept
    in memory, read from the table when it opens (so a resumed crawl counts the
    runs before), and changed only by this book. Every change is committed
    before the call returns.
    """

    def __init__(self, path: Path, budgets: Budgets, *, crawl_id: str | None) -> None:
        open_db(path).conn.close()  # created and migrated to the schema with the charges table
        self.conn = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA synchronous = FULL")  # a reservation survives a power loss
        self.budgets = budgets
        self.crawl_id = crawl_id
        self.unsettled_at_start = self._unsettle_leftovers()
        self.totals = _Totals()
        for state, domain, amount, reserved in self.conn.execute(
            "select state, domain, amount, reserved from charges where state in (?, ?, ?)", SPENT_STATES
        ):
            self.totals.add(domain, Decimal(amount if state != RESERVED else reserved))

    def hosts(self) -> set[str]:
        """The hosts paid (or asked to be paid) before: they ask for payment."""
        return {host for (host,) in self.conn.execute("select distinct host from charges")}

    def close(self) -> None:
        self.conn.close()

    def _ledger(self, action: str, url: str, reason: str, details: dict[str, Any]) -> int:
        cursor = self.conn.execute(
            "insert into ledger (at, actor, action, scope, reason, count, details) "
            "values (?, ?, ?, ?, ?, ?, ?)",
            (
                _now(),
                _actor(),
                action,
                url,
                reason,
                1,
                json.dumps(details, ensure_ascii=False, sort_keys=True),
            ),
        )
        return int(cursor.lastrowid or 0)

    def _unsettle_leftovers(self) -> int:
        """Count every row an earlier run left reserved as spent at its max-price; return how many."""
        rows = self.conn.execute(
            "select id, url, reserved, currency, crawl_id from charges where state = ?", (RESERVED,)
        )
        left = rows.fetchall()
        if not left:
            return 0
        self.conn.execute("begin immediate")
        try:
            for charge_id, url, reserved, currency, crawl_id in left:
                details = {"charge_id": charge_id, "crawl_id": crawl_id, "counted": f"{currency} {reserved}"}
                ledger_id = self._ledger("charge-unsettled", url, UNSETTLED_NOTE, details)
                self.conn.execute(
                    "update charges set state = ?, amount = reserved, note = ?, settled_at = ?, "
                    "ledger_id = ? where id = ?",
                    (UNSETTLED, UNSETTLED_NOTE, _now(), ledger_id, charge_id),
                )
            self.conn.execute("commit")
        except BaseException:
            self.conn.execute("rollback")
            raise
        return len(left)

    def spent(self, domain: str | None = None) -> Decimal:
        """Counted so far (charged, unsettled, and reserved in flight): in all, or for one domain."""
        return self.totals.total if domain is None else self.totals.domains.get(domain, Decimal(0))

    def refusal(self, domain: str) -> str | None:
        """Why a request to ``domain`` cannot be paid for now (a budget it would exceed), or None."""
        price = self.budgets.max_price.amount
        total, per_domain = self.budgets.total, self.budgets.per_domain
        if total is not None and self.totals.total + price > total.amount:
            return (
                f"budget exhausted: {total.currency} {self.totals.total} of the crawl's --budget {total} "
                f"counted, and a request may cost up to {self.budgets.max_price}"
            )
        if per_domain is not None and self.spent(domain) + price > per_domain.amount:
            return (
                f"budget exhausted: {per_domain.currency} {self.spent(domain)} of --domain-budget "
                f"{per_domain} counted for {domain}, and a request may cost up to {self.budgets.max_price}"
            )
        return None

    def reserve(self, url: str, host: str, domain: str) -> int | str:
        """Reserve the max-price for one request (committed before it is sent); the row id, or why not."""
        refused = self.refusal(domain)
        if refused is not None:
            return refused
        price = self.budgets.max_price
        row = {
            "crawl_id": self.crawl_id,
            "url": url,
            "host": host,
            "domain": domain,
            "max_price": str(price),
            "currency": price.currency,
            "reserved": str(price.amount),
            "state": RESERVED,
            "amount": "0",
            "reserved_at": _now(),
        }
        names = [c for c in CHARGE_COLUMNS if c in row]
        cursor = self.conn.execute(
            f"insert into charges ({', '.join(names)}) values ({', '.join('?' * len(names))})",
            [row[c] for c in names],
        )
        self.totals.add(domain, price.amount)
        return int(cursor.lastrowid or 0)

    def _row(self, charge_id: int) -> tuple[str, str, Decimal]:
        url, domain, reserved = self.conn.execute(
            "select url, domain, reserved from charges where id = ?", (charge_id,)
        ).fetchone()
        return url, domain, Decimal(reserved)

    def settle(self, charge_id: int, charged: str, *, status: int, crawler_error: str | None) -> Settled:
        """Settle a reservation to the ``crawler-charged`` header's amount; a ledger entry with it.

        A charge in another currency than the max-price's, or one that does not
        parse, is counted at the max-price (it cannot be compared) and stops
        paying the host; one above the max-price is counted as charged and
        stops paying the host too.
        """
        url, domain, reserved = self._row(charge_id)
        limit = self.budgets.max_price
        stop = None
        try:
            price = parse_price(charged.strip())
        except ValueError:
            price, stop = None, f"crawler-charged {charged!r} does not parse"
        if price is not None and price.currency != limit.currency:
            stop = f"charged {price}, in another currency than --max-price {limit}"
        elif price is not None and price.amount > limit.amount:
            stop = f"charged {price}, above --max-price {limit}"
        amount = price.amount if price is not None and price.currency == limit.currency else reserved
        note = f"{stop}: counted as {limit.currency} {amount}" if stop else None
        details = {"charge_id": charge_id, "charged": charged, "counted": f"{limit.currency} {amount}"}
        self.conn.execute("begin immediate")
        try:
            ledger_id = self._ledger("charge", url, f"crawler-charged {charged}", details)
            self.conn.execute(
                "update charges set state = ?, charged = ?, amount = ?, status = ?, crawler_error = ?, "
                "note = ?, settled_at = ?, ledger_id = ? where id = ?",
                (CHARGED, charged, str(amount), status, crawler_error, note, _now(), ledger_id, charge_id),
            )
            self.conn.execute("commit")
        except BaseException:
            self.conn.execute("rollback")
            raise
        self.totals.add(domain, amount - reserved)
        return Settled(amount, stop)

    def release(self, charge_id: int, *, status: int | None, crawler_error: str | None) -> None:
        """Release a reservation: its response carried no charge (an error, a redirect)."""
        _, domain, reserved = self._row(charge_id)
        self.conn.execute(
            "update charges set state = ?, amount = '0', status = ?, crawler_error = ?, settled_at = ? "
            "where id = ?",
            (RELEASED, status, crawler_error, _now(), charge_id),
        )
        self.totals.add(domain, -reserved)

    def unsettle(self, charge_id: int, why: str) -> None:
        """A request sent whose response never came: counted at its max-price, with a ledger entry."""
        url, _, reserved = self._row(charge_id)
        note = f"{UNSETTLED_NOTE} ({why})"
        details = {"charge_id": charge_id, "counted": f"{self.budgets.max_price.currency} {reserved}"}
        self.conn.execute("begin immediate")
        try:
            ledger_id = self._ledger("charge-unsettled", url, note, details)
            self.conn.execute(
                "update charges set state = ?, amount = reserved, note = ?, settled_at = ?, ledger_id = ? "
                "where id = ?",
                (UNSETTLED, note, _now(), ledger_id, charge_id),
            )
            self.conn.execute("commit")
        except BaseException:
            self.conn.execute("rollback")
            raise


def spending(conn: Any) -> dict[str, Any]:
    """What a crawl directory's charges add up to: per domain and in all, charged, unsettled, reserved.

    ``conn`` is a sqlite3 connection (or sqlite-utils Database) on a provenance
    database of schema 7 or later. Amounts are exact decimal strings, per currency.
    """
    domains: dict[tuple[str, str], dict[str, Any]] = {}
    for domain, currency, state, amount, reserved in conn.execute(
        "select domain, currency, state, amount, reserved from charges"
    ):
        entry = domains.setdefault(
            (domain, currency),
            {"domain": domain, "currency": currency, "charged": Decimal(0), "unsettled": Decimal(0),
             "reserved": Decimal(0), "pages": 0},
        )  # fmt: skip
        if state == CHARGED:
            entry["charged"] += Decimal(amount)
            entry["pages"] += 1
        elif state == UNSETTLED:
            entry["unsettled"] += Decimal(amount)
        elif state == RESERVED:
            entry["reserved"] += Decimal(reserved)
    rows = sorted(domains.values(), key=lambda e: (-(e["charged"] + e["unsettled"]), e["domain"]))
    totals: dict[str, dict[str, Decimal]] = {}
    for entry in rows:
        total = totals.setdefault(
            entry["currency"], {"charged": Decimal(0), "unsettled": Decimal(0), "reserved": Decimal(0)}
        )
        for key in total:
            total[key] += entry[key]
    return {"domains": rows, "totals": totals}
