"""End to end against hostile sites: nothing reserved is requested or archived, nothing stalls the crawl.

One crawl of the whole hostile web (tests/hostile.py: one host per trick) through
the CLI, then the server's request log, the WARC files (page files and evidence
files apart), the database and ``audit`` are read. Bounds are set small here so
that the traps end quickly; the defaults are the README's.
"""

from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.localweb.server import Reply, serve
from tests.conftest import CrawlRun, crawl, run_cli
from tests.hostile import (
    BYSTANDER_PAGES,
    EVIDENCE_AS_PAGES,
    HOSTILE_SEEDS,
    HOSTILE_SITES,
    HTML,
    LONG,
    NEVER_REQUESTED,
    REFUSED_AFTER_FETCHING,
    page,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from crawler.localweb.server import LocalWebServer

BUDGET = 30
DEPTH = 8
# Generous: a crawl that stalls on a site would run for minutes (or forever) instead.
TIME_BOUND = 240


@pytest.fixture(scope="module")
def hostile_web() -> Iterator[LocalWebServer]:
    server = serve(HOSTILE_SITES)
    yield server
    server.close()


@pytest.fixture(scope="module")
def hostile_crawl(hostile_web: LocalWebServer, tmp_path_factory: pytest.TempPathFactory) -> CrawlRun:
    run = crawl(
        hostile_web,
        tmp_path_factory.mktemp("hostile") / "crawl",
        "-s", "DOWNLOAD_TIMEOUT=10",
        "-s", "RETRY_TIMES=1",
        "-s", f"PERMITCRAWL_HOST_MAX_PAGES={BUDGET}",
        "-s", f"DEPTH_LIMIT={DEPTH}",
        seeds=HOSTILE_SEEDS,
        timeout=TIME_BOUND,
    )  # fmt: skip
    assert run.result.returncode == 0, run.result.stderr
    return run


def _rows(run: CrawlRun, sql: str) -> list[dict]:
    with sqlite3.connect(run.out / "provenance.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute(sql)]


def _records(run: CrawlRun, kind: str) -> list[tuple[str, str, dict[str, str]]]:
    found = []
    for path in sorted((run.out / kind).glob("*.warc.gz")):
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                headers = dict(record.rec_headers.headers)
                found.append((record.rec_type, headers.get("WARC-Target-URI", ""), headers))
    return found


def _all_bytes(run: CrawlRun, kind: str) -> bytes:
    data = b""
    for path in sorted((run.out / kind).glob("*.warc.gz")):
        rest = path.read_bytes()
        while rest:
            member = zlib.decompressobj(zlib.MAX_WBITS | 16)
            data += member.decompress(rest)
            rest = member.unused_data
    return data


def test_nothing_reserved_is_requested(hostile_crawl: CrawlRun) -> None:
    requested = set(hostile_crawl.requested())
    assert requested, "the crawl requested nothing at all"
    assert not requested & NEVER_REQUESTED
    # Each of those was refused before fetching, with a reason.
    refused = {r["url"]: r for r in _rows(hostile_crawl, "select * from refusals where stage = 'pre-fetch'")}
    assert set(refused) >= NEVER_REQUESTED
    reasons = {url: refused[url]["reason"] for url in NEVER_REQUESTED}
    assert "not read whole" in reasons["http://tdm-huge.test/"]
    assert "larger than" in reasons["http://tdm-huge.test/"]
    assert refused["http://tdm-mid.test/"]["signal"] == "tdmrep"
    assert refused["http://bom-robots.test/"]["signal"] == "robots"
    assert "byte-order mark" in refused["http://bom-robots.test/"]["decision"]
    assert refused["http://trunc-robots.test/"]["signal"] == "robots"
    assert refused["http://csig-maybe.test/"]["signal"] == "content-signal"
    assert refused["http://csig-yes.test/"]["signal"] == "content-signal"
    assert refused[f"http://redos.test/{LONG}x"]["signal"] == "ai-txt"
    assert refused[f"http://redos.test/{LONG}z"]["signal"] == "tdmrep"
    assert refused[f"http://redos.test/{LONG}q"]["signal"] == "robots"
    assert "larger than" in reasons["http://bomb-robots.test/"]
    assert refused["http://rsl-raise.test/"]["signal"] == "rsl"
    assert refused["http://slow-robots.test/"]["signal"] == "robots"
    for url in (
        "http://dot.test/a/../private/1",
        "http://dot.test/b/../private/5",
        "http://dot.test//private/4",
    ):
        assert refused[url]["signal"] == "robots" and "as a server resolves it" in refused[url]["decision"]
    assert refused["http://ff-robots.test/private/a"]["signal"] == "robots"
    assert refused["http://tdm-dup.test/"]["signal"] == "tdmrep"
    assert refused["http://tdm-nest.test/"]["signal"] == "tdmrep"
    assert "206 Partial Content" in refused["http://partial-robots.test/"]["reason"]
    # Percent-encoded separators, backslashes and ;parameters: judged as the server resolves them.
    for url, path in (
        ("http://enc.test/a%2F..%2Fprivate/1", "/private/1"),
        ("http://enc.test/private;x=1/2", "/private;x=1/2"),
        ("http://enc.test/a%5C..%5Cprivate/3", "/private/3"),
        ("http://enc.test/%2Fprivate/4", "/private/4"),
    ):
        assert refused[url]["signal"] == "robots" and f"disallows {path} " in refused[url]["reason"], url
    # A robots.txt ended by closing the connection mid-line is not read whole: the host is refused.
    assert "not read whole" in refused["http://unframed-robots.test/"]["reason"]


def test_evidence_never_makes_us_request_what_another_site_disallows(hostile_crawl: CrawlRun) -> None:
    victim = hostile_crawl.requested("victim.test")
    assert "http://victim.test/" in victim
    assert not [url for url in victim if "/admin/" in url]
    refused = {r["url"]: r for r in _rows(hostile_crawl, "select * from refusals where stage = 'pre-fetch'")}
    # A licence named by robots.txt on another site's disallowed path is never fetched: unlicensed.
    assert refused["http://lic-hop.test/"]["signal"] == "rsl"
    assert "could not be fetched" in refused["http://lic-hop.test/"]["reason"]
    (licence,) = _rows(
        hostile_crawl, "select * from evidence where url = 'http://victim.test/admin/delete?id=1'"
    )
    assert licence["status"] is None and "robots.txt of http://victim.test disallows" in licence["error"]
    # Evidence that redirects there stops at the hop: an error, which refuses the host.
    assert refused["http://tdm-hop.test/"]["signal"] == "tdmrep"
    assert "which its robots.txt disallows for us" in refused["http://tdm-hop.test/"]["reason"]
    assert refused["http://robots-hop.test/"]["signal"] == "robots"
    assert "complete disallow" in refused["http://robots-hop.test/"]["reason"]


def test_nothing_reserved_is_archived(hostile_crawl: CrawlRun) -> None:
    requested = set(hostile_crawl.requested())
    assert set(REFUSED_AFTER_FETCHING) <= requested
    refused = {r["url"]: r for r in _rows(hostile_crawl, "select * from refusals where stage = 'post-fetch'")}
    for url, signal in REFUSED_AFTER_FETCHING.items():
        assert refused[url]["signal"] == signal, (url, refused[url]["reason"])
    archived = {target for kind, target, _ in _records(hostile_crawl, "warc") if kind == "response"}
    assert not archived & set(REFUSED_AFTER_FETCHING)
    assert not archived & NEVER_REQUESTED
    page_bytes = _all_bytes(hostile_crawl, "warc")
    assert b"reserved</p>" not in page_bytes and b"one unparsable line" not in page_bytes
    # The charset tricks are named in the reasons: which reading showed the reservation.
    assert "another plausible reading" in refused["http://utf16-meta.test/"]["decision"]
    assert "raw bytes" in refused["http://comment-meta.test/"]["decision"]
    assert "larger than" in refused["http://bomb-page.test/bomb"]["reason"]
    assert "DOWNLOAD_MAXSIZE" in refused["http://big-page.test/big"]["reason"]
    # Ended by closing the connection: a page is whole only if its end shows it (</html>).
    assert "connection was lost" in refused["http://unframed-page.test/cut"]["reason"]
    assert "http://unframed-page.test/whole" in archived


def test_no_trick_stalls_the_crawl(hostile_crawl: CrawlRun) -> None:
    captured = {row["url"] for row in _rows(hostile_crawl, "select url from captures")}
    assert captured >= BYSTANDER_PAGES | {f"http://redos.test/{LONG}", "http://loop.test/"}
    # The trap ended at the per-host budget, the chain at the depth limit; the summary names both.
    calendar = [r for r in hostile_crawl.requests if r.host == "calendar.test" and not _evidence(r.path)]
    assert BUDGET - 2 <= len(calendar) <= BUDGET
    deepest = max(int(url.rsplit("/", 1)[1]) for url in hostile_crawl.requested("deep.test") if "/d/" in url)
    assert deepest == DEPTH
    summary = hostile_crawl.result.stderr
    assert "reached the per-host page budget" in summary and "calendar.test" in summary
    assert "links past the depth limit" in summary and "deep.test" in summary
    # A page of 12,000 links gives its first 10,000; a sitemap of 60,000 URLs its first 50,000.
    links = "1 host had pages of more than 10,000 links; links not followed:\n     2000  anchors.test"
    assert links in summary
    assert "1 host had sitemaps past 50,000 URLs or 50 MiB; sitemaps read in part:" in summary
    assert "sitemap.test" in summary.rsplit("sitemaps read in part:", 1)[1]
    sitemap = [r for r in hostile_crawl.requests if r.host == "sitemap.test" and r.path.startswith("/s/")]
    assert 0 < len(sitemap) <= BUDGET
    # A redirect loop is followed a bounded number of times.
    assert hostile_crawl.requested("loop.test").count("http://loop.test/go") <= 21


def _evidence(path: str) -> bool:
    return path in ("/robots.txt", "/ai.txt", "/.well-known/tdmrep.json")


def test_links_and_redirects_stay_within_their_hosts_bounds(hostile_crawl: CrawlRun) -> None:
    # A page of 2,000 links schedules at most three times the budget, and fetches the budget.
    fanout = [r for r in hostile_crawl.requests if r.host == "fanout.test" and not _evidence(r.path)]
    assert len(fanout) <= BUDGET
    assert "had more links than three times the page budget" in hostile_crawl.result.stderr
    # A redirect to another host is a page of that host, within its own budget.
    hops = [r for r in hostile_crawl.requests if r.host == "hop-b.test" and not _evidence(r.path)]
    assert 0 < len(hops) <= BUDGET


def test_evidence_is_kept_apart_and_audit_agrees(hostile_crawl: CrawlRun) -> None:
    evidence_urls = {row["url"] for row in _rows(hostile_crawl, "select url from evidence")}
    pages = {target for kind, target, _ in _records(hostile_crawl, "warc") if kind == "response"}
    assert not evidence_urls & pages
    assert not pages & EVIDENCE_AS_PAGES  # linked as pages: kept as evidence only
    captured = {row["url"] for row in _rows(hostile_crawl, "select url from captures")}
    assert not captured & EVIDENCE_AS_PAGES
    kept = {target for kind, target, _ in _records(hostile_crawl, "evidence") if kind == "response"}
    assert "http://tdm-huge.test/.well-known/tdmrep.json" in kept
    huge = _rows(hostile_crawl, "select * from evidence where url like 'http://tdm-huge.test/.well-known%'")[
        0
    ]
    assert huge["truncated"] == 1
    (record,) = [h for k, t, h in _records(hostile_crawl, "evidence") if k == "response" and t == huge["url"]]
    assert record["WARC-Truncated"] == "length"
    # audit reads every page and document through the same functions, with the same bounds.
    audit = run_cli("audit", hostile_crawl.out)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert " 0 differences" in audit.stderr


def test_a_cut_response_is_never_read_as_whole(hostile_web: LocalWebServer, tmp_path: Path) -> None:
    # Scrapy hands over what arrived when told not to fail on data loss: it is still not whole.
    run = crawl(
        hostile_web,
        tmp_path / "dataloss",
        "-s", "DOWNLOAD_FAIL_ON_DATALOSS=False",
        seeds=["http://trunc-robots.test/", "http://trunc-page.test/"],
    )  # fmt: skip
    assert run.result.returncode == 0, run.result.stderr
    assert not set(run.requested()) & {"http://trunc-robots.test/", "http://trunc-robots.test/secret/x"}
    (robots,) = _rows(run, "select * from evidence where url = 'http://trunc-robots.test/robots.txt'")
    assert robots["truncated"] == 1 and robots["outcome"] == "parsed"  # the status said 200
    (record,) = [h for k, t, h in _records(run, "evidence") if k == "response" and t == robots["url"]]
    assert record["WARC-Truncated"] == "disconnect"
    (cut,) = _rows(run, "select * from refusals where url = 'http://trunc-page.test/cut'")
    assert cut["signal"] == "incomplete" and "connection was lost" in cut["reason"]
    assert run_cli("audit", run.out).returncode == 0


def test_a_page_trickled_past_the_download_timeout_is_a_refusal_explain_names(tmp_path: Path) -> None:
    # Before, it was in the log only: not counted, and 'never seen' to explain.
    slow = Reply(200, HTML, b"<html><body>" + b"y" * 200 + b"</body></html>", trickle=0.2)
    server = serve({"trickle.test": {"/": page("home", "/slow"), "/slow": slow}})
    try:
        run = crawl(server, tmp_path / "trickle", "-s", "RETRY_TIMES=0", seeds=["http://trickle.test/"])
    finally:
        server.close()
    assert run.result.returncode == 0, run.result.stderr
    assert "http://trickle.test/slow" in run.requested()
    (refusal,) = _rows(run, "select * from refusals where url = 'http://trickle.test/slow'")
    assert refusal["signal"] == "incomplete" and refusal["stage"] == "post-fetch"
    assert "not read whole within DOWNLOAD_TIMEOUT: DownloadTimeoutError" in refusal["reason"]
    assert "refused 1 URLs" in run.result.stderr and "post-fetch incomplete" in run.result.stderr
    archived = {target for kind, target, _ in _records(run, "warc") if kind == "response"}
    assert archived == {"http://trickle.test/"}
    explained = run_cli("explain", run.out, "http://trickle.test/slow")
    assert explained.returncode == 0 and "Outcome: refused after fetching" in explained.stdout
    assert "DOWNLOAD_TIMEOUT" in explained.stdout
    assert run_cli("audit", run.out).returncode == 0


def test_our_own_files_are_bounded(hostile_web: LocalWebServer, tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert run_cli("policy", "init", store).returncode == 0
    (store / "zero.test.toml").symlink_to("/dev/zero")
    run = crawl(hostile_web, tmp_path / "c", "--policies", str(store), seeds=["http://bystander.test/"])
    assert run.result.returncode == 1
    assert "zero.test.toml: is a character device, not a file" in run.result.stderr
    assert run.requested() == []
    seeds = crawl(hostile_web, tmp_path / "s", "--seeds", "/dev/zero", seeds=["http://bystander.test/"])
    assert seeds.result.returncode == 1 and "/dev/zero: is a character device" in seeds.result.stderr
