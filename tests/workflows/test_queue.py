"""The maintainers' queue from crawl databases: hosts without a rule, changed terms, due reviews."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from crawler.storage.provenance import ProvenanceDB
from crawler.storage.queries import open_crawl
from crawler.workflows.queue import KnownRule, build_queue


def test_queue(tmp_path: Path) -> None:
    db = ProvenanceDB.open(tmp_path / "provenance.db")
    db.start_crawl({"id": "c"})
    for i, host in enumerate(
        ["a.shop.test", "a.shop.test", "b.shop.test", "news.test", "news.test", "news.test"]
    ):
        db.add_capture(
            {"warc_record_id": f"<{i}>", "crawl_id": "c", "url": f"http://{host}/{i}", "host": host}, []
        )
    held = "no reviewed rule ...; held for review (--unreviewed hold)"
    db.add_refusal(
        {
            "crawl_id": "c",
            "url": "http://b.shop.test/x",
            "host": "b.shop.test",
            "signal": "tos-policy",
            "reason": held,
        }
    )
    for host, sha in (("b.shop.test", "new"), ("news.test", "changed")):
        terms = f"http://{host}/t"
        db.add_evidence(
            {
                "crawl_id": "c",
                "kind": "terms",
                "origin": f"http://{host}",
                "url": terms,
                "final_url": terms,
                "text_sha256": sha,
                "passages": '["No scraping."]',
                "fetched_at": "2026-11-22",
            }
        )
    db.close()
    rules = {
        "shop.test": [KnownRule("a.shop.test", "/", None, date(2030, 1, 1), "shop.test.toml:3")],
        "news.test": [KnownRule("news.test", "/", "reviewed", date(2026, 1, 1), "news.test.toml:3")],
    }
    items = build_queue([open_crawl(tmp_path)], rules, date(2026, 11, 22))
    summary = [(i.domain, i.reason, i.hosts, i.pages) for i in items]
    assert summary == [
        ("news.test", "terms changed", ["news.test"], 3),
        ("news.test", "review due", ["news.test"], 3),
        ("shop.test", "no rule", ["b.shop.test"], 2),  # a.shop.test has a rule; b.shop.test does not
    ]
    no_rule = items[2]
    assert (
        no_rule.held == 1
        and no_rule.passages == ["No scraping."]
        and no_rule.terms_url == "http://b.shop.test/t"
    )
    assert items[0].reviewed_sha256 == "reviewed" and items[0].terms_sha256 == "changed"


def test_queue_finds_the_terms_of_an_ipv6_host(tmp_path: Path) -> None:
    # The evidence origin brackets the address and names the port; the captures' host column does neither.
    db = ProvenanceDB.open(tmp_path / "provenance.db")
    db.start_crawl({"id": "c"})
    db.add_capture(
        {"warc_record_id": "<0>", "crawl_id": "c", "url": "http://[::1]:8080/a", "host": "::1"}, []
    )
    db.add_evidence(
        {
            "crawl_id": "c",
            "kind": "terms",
            "origin": "http://[::1]:8080",
            "url": "http://[::1]:8080/terms",
            "final_url": "http://[::1]:8080/terms",
            "text_sha256": "t",
            "passages": '["No scraping."]',
            "fetched_at": "2026-11-22",
        }
    )
    db.close()
    items = build_queue([open_crawl(tmp_path)], {}, date(2026, 11, 22))
    assert [(i.reason, i.hosts, i.terms_url) for i in items] == [
        ("no rule", ["::1"], "http://[::1]:8080/terms")
    ]
