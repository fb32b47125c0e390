"""End to end: HTTP 402 pay per crawl through the CLI, against a local priced host (tests/paysites.py)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import TYPE_CHECKING

import sqlite_utils
from warcio.archiveiterator import ArchiveIterator

from crawler.localweb.server import LocalWebServer, serve
from tests.conftest import crawl, run_cli
from tests.paysites import PricedSite

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

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
    explained = run_cli("explain", tmp_path / "c", SEED)
    assert explained.returncode == 0, explained.stderr
    assert "decided by payment" in explained.stdout
    assert "price: 'USD 0.01' (USD 0.01)" in explained.stdout
