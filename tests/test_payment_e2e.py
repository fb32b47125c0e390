"""End to end: HTTP 402 pay per crawl through the CLI, against a local priced host (tests/paysites.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
import sqlite_utils
from warcio.archiveiterator import ArchiveIterator

from crawler.localweb.server import LocalWebServer, serve
from tests.conftest import cli_env, crawl, run_cli
from tests.paysites import PricedSite
from tests.webbotauth import MEMBER, DirectoryVerifier

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from crawler.localweb.server import LoggedRequest
    from tests.conftest import CrawlRun

REQUIRED = ("@authority", MEMBER)

HOST = "priced.test"
SEED = f"http://{HOST}/"
FAST = ("-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4")


@contextmanager
def priced_web(site: PricedSite) -> Iterator[LocalWebServer]:
    server = serve({HOST: site})
    try:
        yield server
    finally:
        server.close()


def rows(out: Path, sql: str) -> list[dict]:
    return list(sqlite_utils.Database(out / "provenance.db").query(sql))


def warc_statuses(out: Path) -> list[tuple[str, str]]:
    """(URL, HTTP status) of every response record in every WARC file of the crawl, evidence included."""
    found = []
    for path in sorted([*out.glob("warc/*.warc.gz"), *out.glob("evidence/*.warc.gz")]):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type == "response":
                    status = record.http_headers.get_statuscode()
                    found.append((record.rec_headers.get_header("WARC-Target-URI"), status))
    return found


EVIDENCE = ("/robots.txt", "/ai.txt", "/.well-known/tdmrep.json")
EVIDENCE_URLS = tuple(f"http://{HOST}{path}" for path in EVIDENCE)


def page_requests(server: LocalWebServer) -> list[str]:
    return [url for url in server.requested(HOST) if not url.endswith(EVIDENCE)]


def test_without_max_price_every_priced_page_is_a_payment_refusal_requested_once(tmp_path: Path) -> None:
    site = PricedSite("USD 0.01", 3)
    seeds = [f"http://{HOST}{path}" for path in site.paths]
    with priced_web(site) as web:
        run = crawl(web, tmp_path / "c", *FAST, seeds=seeds)
        assert run.result.returncode == 0, run.result.stderr
        # Each page 402s once: it is never retried, and its body (and so its links) never read.
        assert sorted(page_requests(web)) == sorted(seeds)
    refused = rows(
        tmp_path / "c",
        "select url, stage, signal, reason, decision, response_headers from refusals order by url",
    )
    assert [(r["url"], r["stage"], r["signal"]) for r in refused] == [
        (url, "post-fetch", "payment") for url in sorted(seeds)
    ]
    assert "USD 0.01" in refused[0]["reason"]
    basis = next(b for b in json.loads(refused[0]["decision"])["bases"] if b["signal"] == "payment")
    assert basis["signal"] == "payment" and basis["verdict"] == "deny"
    assert basis["payment"]["price"] == {"raw": "USD 0.01", "currency": "USD", "amount": "0.01"}
    assert "crawler-price" in refused[0]["response_headers"].lower()
    assert rows(tmp_path / "c", "select * from captures") == []
    assert all(status != "402" for _, status in warc_statuses(tmp_path / "c"))
    reported = run_cli("report", tmp_path / "c")
    assert reported.returncode == 0, reported.stderr
    page = (tmp_path / "c" / "report.html").read_text()
    assert "Pages that asked to be paid" in page
    assert "<td>priced.test</td><td class=n>4</td><td>USD 0.01</td>" in page
    explained = run_cli("explain", tmp_path / "c", SEED)
    assert explained.returncode == 0, explained.stderr
    assert "decided by payment" in explained.stdout
    assert "price: 'USD 0.01' (USD 0.01)" in explained.stdout


AGENT = "https://crawler.example"


def signing_key(tmp_path: Path) -> tuple[Path, DirectoryVerifier]:
    """A new signing key, and a verifier that knows only its published directory."""
    key = tmp_path / "crawler.jwk"
    made = run_cli("keys", "generate", "--out", key)
    assert made.returncode == 0, made.stderr
    directory = run_cli("keys", "directory", key)
    assert directory.returncode == 0, directory.stderr
    return key, DirectoryVerifier(directory.stdout)


def covered_price(verifier: DirectoryVerifier) -> Callable[[LoggedRequest], bool]:
    """A check a priced host runs: the request's signature is valid and covers crawler-max-price."""

    def check(request: LoggedRequest) -> bool:
        try:
            verifier.verify(
                request.method, request.url, request.headers.items(), require=(*REQUIRED, "crawler-max-price")
            )
        except Exception:
            return False
        return True

    return check


def paid_crawl(
    web: LocalWebServer, out: Path, key: Path, *args: str, seeds: list[str] | None = None
) -> CrawlRun:
    return crawl(
        web, out, *FAST, "--sign", str(key), "--signature-agent", AGENT, *args, seeds=seeds or [SEED]
    )


def charges(out: Path) -> list[dict]:
    return rows(out, "select * from charges order by id")


def test_with_a_sufficient_max_price_every_page_is_paid_once_signed_captured_and_accounted(
    tmp_path: Path,
) -> None:
    key, verifier = signing_key(tmp_path)
    site = PricedSite("USD 0.01", 3, verify=covered_price(verifier))
    with priced_web(site) as web:
        run = paid_crawl(web, tmp_path / "c", key, "--max-price", "USD 0.02")
        assert run.result.returncode == 0, run.result.stderr
        unpriced = [r.url for r in web.requests if r.url not in EVIDENCE_URLS and "crawler-max-price" not in
                    {k.lower() for k in r.headers}]  # fmt: skip
    assert "pay per crawl: charged USD 0.04" in run.result.stderr
    # Only the first page was asked for without a price: it answered 402, and was asked again with one.
    assert unpriced == [SEED]
    assert site.unverified == []  # every price header was covered by a valid signature
    assert sorted(site.charges) == sorted(site.paths)
    out = tmp_path / "c"
    captured = rows(out, "select url, signal, reason from captures order by url")
    assert [c["url"] for c in captured] == sorted(f"http://{HOST}{p}" for p in site.paths)
    assert all(c["signal"] == "payment" and "USD 0.01" in c["reason"] for c in captured), captured
    assert rows(out, "select * from refusals") == []
    book = charges(out)
    assert {c["state"] for c in book} == {"charged"}
    assert sum(Decimal(c["amount"]) for c in book) == site.charged == Decimal("0.04")
    ledger = rows(out, "select * from ledger where action = 'charge'")
    assert len(ledger) == len(site.charges)
    assert sum(Decimal(json.loads(e["details"])["counted"].split()[1]) for e in ledger) == site.charged
    reported = run_cli("report", out)
    assert reported.returncode == 0, reported.stderr
    page = (out / "report.html").read_text()
    assert "--max-price USD 0.02" in page
    assert "<td>priced.test</td><td>USD</td><td class=n>4</td><td class=n>0.04</td>" in page
    assert run_cli("datasette", out).returncode == 0
    spend = json.loads((out / "datasette.json").read_text())["databases"]["provenance"]["queries"]
    assert rows(out, spend["spend_by_domain"]["sql"]) == [
        {"domain": HOST, "currency": "USD", "pages_paid": 4, "charged": 0.04, "unsettled": 0}
    ]
    merged = run_cli("merge", out, "--out", tmp_path / "merged")
    assert merged.returncode == 0, merged.stderr
    assert sum(Decimal(c["amount"]) for c in charges(tmp_path / "merged")) == site.charged
    listed = run_cli("pages", out, "--paid", "--format", "jsonl")
    assert listed.returncode == 0, listed.stderr
    paid = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(paid) == 4 and {p["charged"] for p in paid} == {"USD 0.01"}


def test_a_max_price_below_the_price_pays_nothing_and_refuses_with_the_price(tmp_path: Path) -> None:
    key, _ = signing_key(tmp_path)
    site = PricedSite("USD 0.05", 2)
    seeds = [f"http://{HOST}{path}" for path in site.paths]
    with priced_web(site) as web:
        run = paid_crawl(web, tmp_path / "c", key, "--max-price", "USD 0.01", seeds=seeds)
        assert run.result.returncode == 0, run.result.stderr
    assert site.charges == []
    refused = rows(tmp_path / "c", "select url, signal, reason, decision from refusals order by url")
    assert [r["url"] for r in refused] == sorted(seeds)
    assert all(r["signal"] == "payment" and "USD 0.05" in r["reason"] for r in refused), refused
    assert any("InvalidCrawlerMaxPrice" in r["reason"] for r in refused)
    assert rows(tmp_path / "c", "select * from captures") == []
    assert {c["state"] for c in charges(tmp_path / "c")} == {"released"}


def test_a_budget_of_n_cents_is_never_exceeded_and_the_rest_is_refused_budget_exhausted(
    tmp_path: Path,
) -> None:
    key, _ = signing_key(tmp_path)
    site = PricedSite("USD 0.01", 10)
    with priced_web(site) as web:
        run = paid_crawl(
            web, tmp_path / "c", key, "--max-price", "USD 0.01", "--budget", "USD 0.03",
            "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8",
        )  # fmt: skip
        assert run.result.returncode == 0, run.result.stderr
        priced = [r for r in web.requests if any(k.lower() == "crawler-max-price" for k in r.headers)]
    assert site.charged <= Decimal("0.03") and len(site.charges) == 3
    assert len(priced) == 3  # no request past the budget left with the price
    refused = rows(tmp_path / "c", "select url, signal, reason from refusals")
    assert len(refused) == len(site.paths) - 3
    assert all(r["signal"] == "payment" and "budget exhausted" in r["reason"] for r in refused), refused


def priced_requests(server: LocalWebServer) -> list[str]:
    return [r.path for r in server.requests if any(k.lower() == "crawler-max-price" for k in r.headers)]


@pytest.mark.parametrize("code", ["InternalError", "InvalidContentPrice"])
def test_a_retryable_error_is_retried_with_backoff_and_charged_once(code: str, tmp_path: Path) -> None:
    key, _ = signing_key(tmp_path)
    site = PricedSite("USD 0.01", 1, script={"/p0": [code]})
    with priced_web(site) as web:
        run = paid_crawl(
            web, tmp_path / "c", key, "--max-price", "USD 0.01", "-s", "PERMITCRAWL_PAYMENT_BACKOFF=0.05",
            seeds=[f"http://{HOST}/p0"],
        )  # fmt: skip
        assert run.result.returncode == 0, run.result.stderr
        assert [path for path in priced_requests(web) if path == "/p0"] == ["/p0", "/p0"]
    assert site.charges.count("/p0") == 1
    book = [c for c in charges(tmp_path / "c") if c["url"] == f"http://{HOST}/p0"]
    assert [(c["state"], c["crawler_error"]) for c in book] == [("released", code), ("charged", None)]
    assert f"http://{HOST}/p0" in [c["url"] for c in rows(tmp_path / "c", "select url from captures")]


@pytest.mark.parametrize("code", ["PaymentFailed", "CrawlerForbidden", "InvalidSignature"])
def test_a_failure_that_is_not_retryable_stops_paying(code: str, tmp_path: Path) -> None:
    key, _ = signing_key(tmp_path)
    site = PricedSite("USD 0.01", 3, fail_with=code)
    seeds = [f"http://{HOST}{path}" for path in site.paths]
    with priced_web(site) as web:
        run = paid_crawl(
            web, tmp_path / "c", key, "--max-price", "USD 0.01", "-s", "CONCURRENT_REQUESTS=1", seeds=seeds,
        )  # fmt: skip
        assert run.result.returncode == 0, run.result.stderr
        assert len(priced_requests(web)) == 1  # the one that failed: nothing paid was asked after it
    assert site.charges == []
    refused = rows(tmp_path / "c", "select url, signal, reason from refusals")
    assert len(refused) == len(seeds)
    assert all(r["signal"] == "payment" for r in refused)
    assert any(code in r["reason"] for r in refused)
    assert sum("paying it stopped" in r["reason"] for r in refused) == len(seeds) - 1


def test_max_price_is_checked_strictly_and_needs_signing(tmp_path: Path) -> None:
    key, _ = signing_key(tmp_path)
    bad = run_cli("crawl", SEED, "--out", tmp_path / "a", "--max-price", "0.01 USD")
    assert bad.returncode == 2 and "--max-price" in bad.stderr and "'USD 0.01'" in bad.stderr
    unsigned = run_cli("crawl", SEED, "--out", tmp_path / "b", "--max-price", "USD 0.01")
    assert unsigned.returncode == 1 and "needs --sign" in unsigned.stderr
    signing = ("--sign", key, "--signature-agent", AGENT)
    other = run_cli(
        "crawl", SEED, "--out", tmp_path / "c", *signing, "--max-price", "USD 0.01", "--budget", "EUR 5"
    )
    assert other.returncode == 1 and "another currency" in other.stderr
    alone = run_cli("crawl", SEED, "--out", tmp_path / "d", "--budget", "USD 5")
    assert alone.returncode == 1 and "expected --max-price too" in alone.stderr
    shared = run_cli(
        "crawl", SEED, "--out", tmp_path / "e", *signing, "--max-price", "USD 0.01", "--budget", "USD 5",
        "--frontier", "redis://127.0.0.1:1/0",
    )  # fmt: skip
    assert shared.returncode == 1 and "Redis frontier" in shared.stderr
    retried = run_cli("crawl", SEED, "--out", tmp_path / "f", "-s", "RETRY_HTTP_CODES=500,402")
    assert retried.returncode == 1 and "RETRY_HTTP_CODES holds 402" in retried.stderr
    assert not any((tmp_path / name).exists() for name in "abcdef")


def test_a_budget_holds_across_kill_and_resume(tmp_path: Path) -> None:
    key, _ = signing_key(tmp_path)
    site = PricedSite("USD 0.01", 12, delay=0.6)
    out = tmp_path / "c"
    args = (
        "crawl", SEED, "--out", out, "-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "DOWNLOAD_TIMEOUT=5", *FAST,
        "-s", "CONCURRENT_REQUESTS=3",
        "--sign", key, "--signature-agent", AGENT, "--max-price", "USD 0.01", "--budget", "USD 0.08",
    )  # fmt: skip
    with priced_web(site) as web:
        first = subprocess.Popen(
            [sys.executable, "-m", "crawler", *map(str, args)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(web.proxy_url),
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while len(priced_requests(web)) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)  # paid requests in flight: the server charged them, unanswered
        first.communicate(timeout=30)
        charged_before = len(site.charges)
        assert charged_before >= 3
        before = len(web.requests)
        resumed = run_cli(*args, proxy=web.proxy_url)
        assert resumed.returncode == 0, resumed.stderr
        # The resumed run knows the host charges: none of its page requests leaves without the price.
        again = [r for r in web.requests[before:] if r.url not in EVIDENCE_URLS]
        assert again and all(any(k.lower() == "crawler-max-price" for k in r.headers) for r in again), (
            [r.url for r in web.requests],
            resumed.stderr[-3000:],
        )
    assert site.charged <= Decimal("0.08")
    book = charges(out)
    counted = sum(Decimal(c["amount"]) for c in book if c["state"] in ("charged", "unsettled"))
    # Fail closed: the database counts at least what the server charged, and never more than the budget.
    assert site.charged <= counted <= Decimal("0.08")
    # The kill landed while the server was answering paid requests: the resumed crawl cannot know whether
    # they were charged, and counts them at their max-price.
    unsettled = [c for c in book if c["state"] == "unsettled"]
    assert unsettled, book
    assert "counted at their max-price" in resumed.stderr
    assert len(rows(out, "select * from ledger where action = 'charge-unsettled'")) == len(unsettled)
    refused = rows(out, "select reason from refusals where signal = 'payment'")
    assert any("budget exhausted" in r["reason"] for r in refused)


def test_a_payment_never_overrides_a_reservation_and_a_refused_url_is_never_requested(tmp_path: Path) -> None:
    key, _ = signing_key(tmp_path)
    site = PricedSite("USD 0.01", 3, robots="User-agent: *\nDisallow: /p2\n", noai=("/p1",))
    with priced_web(site) as web:
        run = paid_crawl(web, tmp_path / "c", key, "--max-price", "USD 0.01")
        assert run.result.returncode == 0, run.result.stderr
        assert f"http://{HOST}/p2" not in web.requested(HOST)  # refused before fetching: not even asked
    out = tmp_path / "c"
    assert sorted(site.charges) == ["/", "/p0", "/p1"]  # the noai page was paid for ...
    refused = {r["url"]: r for r in rows(out, "select url, stage, signal from refusals")}
    assert refused[f"http://{HOST}/p1"]["signal"] == "x-robots-tag"  # ... and refused all the same
    assert refused[f"http://{HOST}/p2"]["stage"] == "pre-fetch"
    assert refused[f"http://{HOST}/p2"]["signal"] == "robots"
    assert sorted(c["url"] for c in rows(out, "select url from captures")) == [SEED, f"http://{HOST}/p0"]
    assert sum(Decimal(c["amount"]) for c in charges(out)) == site.charged == Decimal("0.03")
    audited = run_cli("audit", out)
    assert audited.returncode == 0, audited.stdout + audited.stderr


def test_a_domain_budget_caps_each_domain(tmp_path: Path) -> None:
    key, _ = signing_key(tmp_path)
    first, second = PricedSite("USD 0.01", 5), PricedSite("USD 0.01", 5)
    server = serve({HOST: first, "other-priced.test": second})
    try:
        run = paid_crawl(
            server, tmp_path / "c", key, "--max-price", "USD 0.01", "--domain-budget", "USD 0.02",
            seeds=[SEED, "http://other-priced.test/"],
        )  # fmt: skip
        assert run.result.returncode == 0, run.result.stderr
    finally:
        server.close()
    assert len(first.charges) == 2 and len(second.charges) == 2
    refused = rows(tmp_path / "c", "select reason from refusals where signal = 'payment'")
    assert len(refused) == 2 * 4 and all("--domain-budget USD 0.02" in r["reason"] for r in refused)


def test_an_x402_payment_request_is_recorded_and_never_paid(tmp_path: Path) -> None:
    import base64

    terms = {"x402Version": 2, "accepts": [{"scheme": "exact", "network": "eip155:8453", "amount": "10000",
                                            "asset": "0xA0b8", "payTo": "0x1"}]}  # fmt: skip
    site = PricedSite("USD 0.01", 0, x402=base64.b64encode(json.dumps(terms).encode()).decode())
    with priced_web(site) as web:
        run = crawl(web, tmp_path / "c", *FAST, seeds=[SEED])
        assert run.result.returncode == 0, run.result.stderr
        assert page_requests(web) == [SEED]
        assert not any(k.lower().startswith("payment") for r in web.requests for k in r.headers)
    (refusal,) = rows(tmp_path / "c", "select signal, decision from refusals")
    basis = next(b for b in json.loads(refusal["decision"])["bases"] if b["signal"] == "payment")
    assert basis["payment"]["x402"]["accepts"] == [
        {"scheme": "exact", "network": "eip155:8453", "amount": "10000", "asset": "0xA0b8"}
    ]
    explained = run_cli("explain", tmp_path / "c", SEED)
    assert "scheme exact, network eip155:8453, amount 10000, asset 0xA0b8" in explained.stdout


def test_retries_of_an_internal_error_are_bounded(tmp_path: Path) -> None:
    key, _ = signing_key(tmp_path)
    site = PricedSite("USD 0.01", 0, fail_with="InternalError")
    with priced_web(site) as web:
        run = paid_crawl(
            web, tmp_path / "c", key, "--max-price", "USD 0.01",
            "-s", "PERMITCRAWL_PAYMENT_BACKOFF=0.01", "-s", "PERMITCRAWL_PAYMENT_RETRIES=2",
        )  # fmt: skip
        assert run.result.returncode == 0, run.result.stderr
        assert priced_requests(web) == ["/", "/", "/"]  # once, and twice again: no more
    assert site.charges == []
    (refused,) = rows(tmp_path / "c", "select signal, reason from refusals")
    assert refused["signal"] == "payment" and "InternalError" in refused["reason"]
    assert {c["state"] for c in charges(tmp_path / "c")} == {"released"}


@pytest.mark.parametrize(("charged", "counted"), [("USD 0.05", "0.05"), ("EUR 0.01", "0.01")])
def test_a_charge_above_max_price_or_in_another_currency_is_recorded_and_stops_paying_the_host(
    charged: str, counted: str, tmp_path: Path
) -> None:
    key, _ = signing_key(tmp_path)
    site = PricedSite("USD 0.01", 3, charge_as=charged)
    seeds = [f"http://{HOST}{path}" for path in site.paths]
    with priced_web(site) as web:
        run = paid_crawl(
            web, tmp_path / "c", key, "--max-price", "USD 0.01", "-s", "CONCURRENT_REQUESTS=1", seeds=seeds
        )
        assert run.result.returncode == 0, run.result.stderr
        assert len(priced_requests(web)) == 1
    (charge,) = [c for c in charges(tmp_path / "c") if c["state"] == "charged"]
    assert charge["charged"] == charged and charge["amount"] == counted and charge["note"]
    refused = rows(tmp_path / "c", "select reason from refusals where signal = 'payment'")
    assert len(refused) == len(seeds) - 1 and all("paying it stopped" in r["reason"] for r in refused)
