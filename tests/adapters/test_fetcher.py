"""EvidenceFetcher on its own: a host's evidence gathered through a fake downloader, each document archived.

Each document is handed to whoever archives evidence (the ``evidence_fetched``
signal) before it is used; what it answers (a record id, or an error) is what
the document is then cited by, or why it counts as unreachable.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from crawler.adapters import signals as our_signals
from crawler.adapters.fetcher import EvidenceFetcher
from crawler.judging.config import setup_of
from policies.robots import RobotsOutcome
from tests.adapters.scrapyunit import crawler_for, run

if TYPE_CHECKING:
    from pathlib import Path

    from scrapy.crawler import Crawler

    from policies.document import Document

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TEXT = {"Content-Type": "text/plain"}


class Archive:
    """Stands in for the archive: records each document handed over and answers a record id (or fails)."""

    def __init__(self, fail: bool = False) -> None:
        self.documents: list[Document] = []
        self.fail = fail

    def evidence_fetched(self, document: Document, **_: Any) -> str:
        self.documents.append(document)
        if self.fail:
            raise OSError("disk full")
        return f"<urn:uuid:{len(self.documents)}>"


def fetcher(crawler: Crawler, archive: Archive) -> EvidenceFetcher:
    crawler.signals.connect(archive.evidence_fetched, signal=our_signals.evidence_fetched, weak=False)
    return EvidenceFetcher(crawler, setup_of(crawler), clock=lambda: NOW)


def test_a_host_s_documents_are_fetched_read_and_cited_by_their_records(tmp_path: Path) -> None:
    pages = {
        "http://h.test/robots.txt": (200, TEXT, b"User-agent: mybot\nDisallow: /private/\n"),
        "http://h.test/.well-known/tdmrep.json": (200, {"Content-Type": "application/json"}, b"[]"),
    }
    crawler = crawler_for(tmp_path, pages, POLICY_ROBOTS_TOKEN="mybot", POLICY_EVIDENCE_TTL=600)
    archive = Archive()
    host = run(fetcher(crawler, archive)("http://h.test", None))
    assert [d.url for d in archive.documents] == [
        "http://h.test/robots.txt",
        "http://h.test/.well-known/tdmrep.json",
        "http://h.test/ai.txt",
    ]
    assert host.robots.outcome is RobotsOutcome.PARSED and host.robots.record_id == "<urn:uuid:1>"
    assert not host.robots.permits("http://h.test/private/x")
    assert host.tdmrep is not None and host.tdmrep.record_id == "<urn:uuid:2>"
    assert host.aitxt is not None and host.aitxt.error is None  # a 404: no ai.txt, nothing said
    assert (host.fetched_at, host.expires_at) == (NOW, NOW + timedelta(seconds=600))


def test_an_unreachable_robots_txt_asks_nothing_more_of_the_host(tmp_path: Path) -> None:
    crawler = crawler_for(
        tmp_path, {"http://h.test/robots.txt": (503, TEXT, b"busy")}, POLICY_UNREACHABLE_RETRY=60
    )
    archive = Archive()
    host = run(fetcher(crawler, archive)("http://h.test", None))
    assert host.robots.outcome is RobotsOutcome.UNREACHABLE
    assert crawler.engine.requested == ["http://h.test/robots.txt"]
    assert (host.tdmrep, host.aitxt, host.expires_at) == (None, None, NOW + timedelta(seconds=60))


def test_a_failed_download_is_the_document_s_error(tmp_path: Path) -> None:
    crawler = crawler_for(tmp_path, {"http://h.test/robots.txt": TimeoutError("took too long")})
    archive = Archive()
    host = run(fetcher(crawler, archive)("http://h.test", None))
    assert host.robots.outcome is RobotsOutcome.UNREACHABLE
    assert archive.documents[0].error == "TimeoutError: took too long"


def test_a_document_that_could_not_be_archived_is_not_used(tmp_path: Path) -> None:
    crawler = crawler_for(tmp_path, {"http://h.test/robots.txt": (200, TEXT, b"User-agent: *\nAllow: /\n")})
    host = run(fetcher(crawler, Archive(fail=True))("http://h.test", None))
    assert host.robots.outcome is RobotsOutcome.UNREACHABLE
    assert "evidence could not be archived: OSError: disk full" in host.robots.source


def test_the_robots_txt_of_hosts_seen_is_kept_least_recently_used_first(tmp_path: Path) -> None:
    # A redirect to a host is checked against that host's robots.txt: the one read for its evidence
    # while kept, else fetched again (as a host only checked for a redirect).
    hosts = [f"http://h{i}.test" for i in range(101)]
    pages = {f"{h}/robots.txt": (200, TEXT, b"User-agent: *\nDisallow: /private/\n") for h in hosts}
    crawler = crawler_for(tmp_path, pages, POLICY_HOSTS_KEPT=100)
    evidence = fetcher(crawler, Archive())
    for host in hosts[:100]:
        run(evidence(host, None))
    run(evidence.robots_for(hosts[0]))  # used again: now h1 is the least recently used
    run(evidence(hosts[100], None))
    assert next(iter(evidence.robots_seen)) == "http://h2.test" and "http://h0.test" in evidence.robots_seen
    assert not run(evidence.may_fetch("http://h1.test/private/x"))  # fetched again to decide
    assert crawler.engine.requested.count("http://h1.test/robots.txt") == 2
    assert crawler.engine.requested.count("http://h0.test/robots.txt") == 1


def test_only_documents_off_the_evidence_paths_are_remembered(tmp_path: Path) -> None:
    # Every host's robots.txt, ai.txt and tdmrep.json are known as evidence by their path: remembering
    # them per host would grow with the crawl.
    crawler = crawler_for(tmp_path, {"http://h.test/robots.txt": (200, TEXT, b"User-agent: *\n")})
    evidence = fetcher(crawler, Archive())
    run(evidence("http://h.test", None))
    assert evidence.documents == set()
