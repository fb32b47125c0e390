"""End to end: crawl the test web through the CLI, then read its request log, WARC files and database."""

from __future__ import annotations

import gzip
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import CrawlRun, crawl, read_record, run_cli
from tests.sites import GZIP_HTML, NEVER_REQUESTED


def _db(run: CrawlRun) -> sqlite_utils.Database:
    return sqlite_utils.Database(run.out / "provenance.db")


def _pages(run: CrawlRun, *args: str) -> list[dict]:
    result = run_cli("pages", run.out, "--format", "jsonl", *args)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_refused_urls_are_never_requested(main_crawl: CrawlRun) -> None:
    requested = set(main_crawl.requested())
    assert requested, "the crawl requested nothing at all"
    assert not requested & set(NEVER_REQUESTED)


def test_every_refusal_is_recorded_with_its_basis(main_crawl: CrawlRun) -> None:
    refused = {row["url"]: row for row in _db(main_crawl).query("select * from refusals")}
    for url in (
        "http://site-a.test/private/x",
        "http://site-a.test/private/target",
        "http://group.test/nope/x",
    ):
        assert url in refused, url
        decision = json.loads(refused[url]["decision"])
        assert refused[url]["signal"] == "robots"
        assert decision["allowed"] is False
        assert decision["bases"][0]["signal"] == "robots"
        assert decision["bases"][0]["verdict"] == "deny"


def test_robots_503_means_nothing_else_on_that_host(main_crawl: CrawlRun) -> None:
    requested = main_crawl.requested("robots-503.test")
    assert requested  # robots.txt itself was asked for (and retried)
    assert set(requested) == {"http://robots-503.test/robots.txt"}
    row = next(_db(main_crawl).query("select * from refusals where url = 'http://robots-503.test/'"))
    assert "unreachable" in row["reason"] and "503" in row["reason"]


def test_robots_timeout_and_redirect_loop_mean_complete_disallow(main_crawl: CrawlRun) -> None:
    assert set(main_crawl.requested("robots-timeout.test")) == {"http://robots-timeout.test/robots.txt"}
    loop = main_crawl.requested("robots-loop.test")
    assert "http://robots-loop.test/" not in loop
    # RFC 9309 asks for at least five redirects; we follow exactly five, then give up.
    assert "http://robots-loop.test/r5" in loop and "http://robots-loop.test/r6" not in loop
    reasons = {r["url"]: r["reason"] for r in _db(main_crawl).query("select url, reason from refusals")}
    assert "unreachable" in reasons["http://robots-timeout.test/"]
    assert "unreachable" in reasons["http://robots-loop.test/"]


def test_robots_404_means_everything_allowed(main_crawl: CrawlRun) -> None:
    requested = set(main_crawl.requested("robots-404.test"))
    assert {"http://robots-404.test/", "http://robots-404.test/x", "http://robots-404.test/y"} <= requested
    usable = {p["url"] for p in _pages(main_crawl, "--usable", "--host", "robots-404.test")}
    assert usable == {"http://robots-404.test/", "http://robots-404.test/x", "http://robots-404.test/y"}


def test_redirected_robots_txt_applies_to_the_original_host(main_crawl: CrawlRun) -> None:
    requested = set(main_crawl.requested())
    assert "http://robots-target.test/robots-real.txt" in requested
    assert "http://robots-redirect.test/open" in requested
    assert "http://robots-redirect.test/secret/page" not in requested
    evidence = next(
        _db(main_crawl).query("select * from evidence where origin = 'http://robots-redirect.test'")
    )
    assert evidence["final_url"] == "http://robots-target.test/robots-real.txt"
    assert evidence["outcome"] == "parsed"


def test_robots_parse_limit_and_hostile_files(main_crawl: CrawlRun) -> None:
    requested = set(main_crawl.requested())
    # A rule past the 500 KiB parse limit still counts: the whole file is a second reading.
    assert "http://robots-huge.test/late/page" not in requested
    assert "http://robots-huge.test/" in requested
    assert {"http://robots-garbage.test/", "http://robots-garbage.test/g"} <= requested
    assert "http://robots-bom.test/fine" in requested
    assert "http://robots-latin1.test/public" in requested
    huge = next(_db(main_crawl).query("select * from evidence where origin = 'http://robots-huge.test'"))
    assert huge["truncated"] == 0 and huge["length"] > 500 * 1024  # read whole, under the bound
    refusal = next(
        _db(main_crawl).query("select * from refusals where url = 'http://robots-huge.test/late/page'")
    )
    assert refusal["signal"] == "robots" and "whole file" in refusal["decision"]


def test_fail_open_cases_of_protego_are_closed(main_crawl: CrawlRun) -> None:
    requested = set(main_crawl.requested())
    assert "http://group.test/yes" in requested and "http://group.test/nope/x" not in requested
    assert "http://version.test/w" in requested and "http://version.test/v/x" not in requested


def test_sitemaps_named_in_robots_txt_are_followed(main_crawl: CrawlRun) -> None:
    assert "http://sitemap.test/only-in-sitemap" in main_crawl.requested()


def test_crawl_delay_is_honoured(main_crawl: CrawlRun) -> None:
    evidence = ("/robots.txt", "/ai.txt", "/.well-known/tdmrep.json")
    times = [r.at for r in main_crawl.requests if r.host == "crawl-delay.test" and r.path not in evidence]
    assert len(times) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.95, gaps


def test_gzip_page_is_archived_encoded_and_reads_back_decoded(main_crawl: CrawlRun) -> None:
    page = next(p for p in _pages(main_crawl) if p["url"] == "http://site-a.test/gz")
    record = read_record(main_crawl.out, page["warc_file"], page["warc_offset"])
    assert record.rec_type == "response"
    assert record.http_headers.get_header("Content-Encoding") == "gzip"
    assert int(record.http_headers.get_header("Content-Length")) == len(record.raw)
    assert gzip.decompress(record.raw).decode() == GZIP_HTML
    assert record.decoded.decode() == GZIP_HTML


def test_every_usable_page_opens_at_its_offset(main_crawl: CrawlRun) -> None:
    pages = _pages(main_crawl, "--usable")
    assert len(pages) >= 15
    for page in pages:
        record = read_record(main_crawl.out, page["warc_file"], page["warc_offset"])
        assert record.rec_type == "response"
        assert record.rec_headers.get_header("WARC-Record-ID") == page["warc_record_id"]
        assert record.rec_headers.get_header("WARC-Target-URI") == page["url"]
        assert record.rec_headers.get_header("WARC-Payload-Digest") == page["payload_digest"]
        assert page["basis"][0]["signal"] == "robots"
        assert page["fetched_at"].endswith("+00:00")
        length = (main_crawl.out / page["warc_file"]).stat().st_size
        assert 0 < page["warc_length"] <= length - page["warc_offset"]


def test_warc_files_pass_warcio_check_and_index(main_crawl: CrawlRun) -> None:
    files = sorted((main_crawl.out / "warc").glob("*.warc.gz"))
    assert files and not list((main_crawl.out / "warc").glob("*.open"))
    warcio = [sys.executable, "-c", "from warcio.cli import main; main()"]
    check = subprocess.run([*warcio, "check", *map(str, files)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    index = subprocess.run([*warcio, "index", *map(str, files)], capture_output=True, text=True, check=False)
    assert index.returncode == 0, index.stderr
    assert len(index.stdout.splitlines()) > 40


def test_records_of_a_capture_are_linked_and_described(main_crawl: CrawlRun) -> None:
    by_id: dict[str, object] = {}
    warcinfo_ids = set()
    for path in (main_crawl.out / "warc").glob("*.warc.gz"):
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                headers = record.rec_headers
                if record.rec_type == "warcinfo":
                    warcinfo_ids.add(headers.get_header("WARC-Record-ID"))
                    assert headers.get_header("WARC-Filename") == path.name
                    continue
                by_id[headers.get_header("WARC-Record-ID")] = (
                    record.rec_type,
                    headers.get_header("WARC-Date"),
                    headers.get_header("WARC-Concurrent-To"),
                    headers.get_header("WARC-Warcinfo-ID"),
                    record.content_stream().read() if record.rec_type == "metadata" else None,
                )
    db = _db(main_crawl)
    for row in db.query("select * from captures"):
        response = by_id[row["warc_record_id"]]
        request = by_id[row["request_record_id"]]
        metadata = by_id[row["metadata_record_id"]]
        assert response[0] == "response" and request[0] == "request" and metadata[0] == "metadata"
        assert request[2] == metadata[2] == row["warc_record_id"]  # both point at the response
        assert response[1] == request[1] == metadata[1]  # one capture, one WARC-Date
        assert {response[3], request[3], metadata[3]} <= warcinfo_ids
        recorded = json.loads(metadata[4])
        applied = recorded["usage"][recorded["purpose"]]
        assert recorded["purpose"] == "ai-train" and set(recorded["usage"]) == {
            "ai-train",
            "ai-input",
            "search",
        }
        assert applied["allowed"] is True
        assert applied["url"] == row["url"]
        assert applied["bases"][0]["signal"] == "robots"


def test_evidence_is_archived_and_cited(main_crawl: CrawlRun) -> None:
    db = _db(main_crawl)
    evidence = {row["origin"]: row for row in db.query("select * from evidence where kind = 'robots.txt'")}
    robots = evidence["http://site-a.test"]
    record = read_record(main_crawl.out, robots["warc_file"], robots["warc_offset"])
    assert record.rec_headers.get_header("WARC-Target-URI") == "http://site-a.test/robots.txt"
    assert b"Disallow: /private/" in record.raw
    capture = next(
        db.query(
            "select u.decision from captures c join usage u on u.capture_id = c.warc_record_id "
            "and u.purpose = c.purpose where c.url = 'http://site-a.test/a'"
        )
    )
    basis = json.loads(capture["decision"])["bases"][0]
    assert basis["record_id"] == robots["warc_record_id"]
    assert basis["sha256"] == robots["sha256"]


def test_nothing_refused_is_in_a_warc(main_crawl: CrawlRun) -> None:
    targets = set()
    for path in (main_crawl.out / "warc").glob("*.warc.gz"):
        with open(path, "rb") as fh:
            targets |= {r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(fh)}
    refused = {row["url"] for row in _db(main_crawl).query("select url from refusals")}
    assert refused and not refused & targets


def test_crawl_record_and_summary(main_crawl: CrawlRun) -> None:
    crawl = next(_db(main_crawl).query("select * from crawls"))
    assert crawl["finish_reason"] == "finished"
    assert crawl["purpose"] == "ai-train"
    assert crawl["user_agent"].startswith("permitcrawl/")
    assert json.loads(crawl["settings"])["permitcrawl"]["robots_token"] == "permitcrawl"
    # The summary is a message (stderr); the crawl's data is in its directory.
    assert "captured" in main_crawl.result.stderr and "site-a.test" in main_crawl.result.stderr
    assert main_crawl.result.stdout == ""


def test_requests_carry_our_user_agent(main_crawl: CrawlRun) -> None:
    agents = {r.headers.get("User-Agent") for r in main_crawl.requests}
    assert len(agents) == 1
    assert agents.pop().startswith("permitcrawl/")


def test_explain_names_the_rule_and_the_evidence(main_crawl: CrawlRun) -> None:
    result = run_cli("explain", main_crawl.out, "http://site-a.test/private/x")
    assert result.returncode == 0, result.stderr
    assert "refused before fetching" in result.stdout
    assert "'Disallow: /private/' (line 2)" in result.stdout
    assert "evidence: evidence/permitcrawl-evidence-" in result.stdout  # its own WARC files
    data = json.loads(run_cli("explain", main_crawl.out, "http://site-a.test/a", "--format", "json").stdout)
    assert data["outcome"] == "captured"
    basis = data["events"][0]["decision"]["bases"][0]
    assert basis["evidence"]["status"] == 200
    never = run_cli("explain", main_crawl.out, "http://nowhere.test/")
    assert "never seen" in never.stdout


def test_pages_formats(main_crawl: CrawlRun) -> None:
    table = run_cli("pages", main_crawl.out, "--usable")
    assert table.stdout.splitlines()[0].split()[:3] == ["url", "status", "usable"]
    csv_out = run_cli("pages", main_crawl.out, "--format", "csv").stdout.splitlines()
    assert csv_out[0].startswith("crawl_dir,url,warc_file,warc_offset")
    assert len(csv_out) - 1 == len(_pages(main_crawl))


def test_plain_scrapy_crawl_uses_the_gate(web, tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    out = tmp_path / "scrapy"
    env = {
        "http_proxy": web.proxy_url,
        "PATH": "/usr/bin:/bin",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }
    before = len(web.requests)
    result = subprocess.run(
        [
            sys.executable, "-m", "scrapy", "crawl", "seeds",
            "-a", "seeds=http://site-a.test/",
            "-s", f"WARC_DIR={out / 'warc'}",
            "-s", f"PROVENANCE_DB={out / 'provenance.db'}",
            "-s", "AUTOTHROTTLE_START_DELAY=0",
            "-s", "LOG_LEVEL=WARNING",
        ],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    requested = {r.url for r in web.requests[before:]}
    assert "http://site-a.test/a" in requested
    assert not requested & set(NEVER_REQUESTED)
    assert sqlite_utils.Database(out / "provenance.db")["captures"].count >= 3


@pytest.mark.parametrize("writer", ["process", "inline"])
@pytest.mark.parametrize("where", ["warc", "evidence"])
def test_an_archive_that_cannot_be_written_stops_the_crawl(
    web, tmp_path: Path, where: str, writer: str
) -> None:
    # The WARC directory is one no file can be created in, not even by root (-s WARC_DIR is refused).
    out = tmp_path / "crawl"
    out.mkdir()
    (out / where).symlink_to("/proc/self")
    run = crawl(web, out, "-s", f"PERMITCRAWL_WRITER={writer}", seeds=["http://robots-404.test/"])
    assert run.result.returncode == 1
    assert "output could not be written" in run.result.stderr
    db = sqlite_utils.Database(out / "provenance.db")
    if where == "evidence":
        # The crawl's configuration record could not be written: it stopped before asking for anything.
        assert run.requested() == []
    else:
        # The first page could not be archived: the crawl stopped there, with nothing captured. A writer
        # process says so a moment later: the links of that first page may have gone out meanwhile.
        first = {
            "http://robots-404.test/robots.txt",
            "http://robots-404.test/.well-known/tdmrep.json",
            "http://robots-404.test/ai.txt",
            "http://robots-404.test/",
        }
        requested = set(run.requested())
        if writer == "inline":
            assert requested <= first
        else:
            assert first <= requested and all(url.startswith("http://robots-404.test/") for url in requested)
        assert db["captures"].count == 0
    crawl_row = next(db.query("select finish_reason from crawls"))
    assert crawl_row["finish_reason"] == "archive_error"


def test_opt_in_regime_without_grants_requests_nothing(web, tmp_path: Path) -> None:
    run = crawl(web, tmp_path / "optin", "--default-policy", "deny", seeds=["http://robots-404.test/"])
    assert run.result.returncode == 0, run.result.stderr
    # Only evidence is asked for: a tdmrep.json or ai.txt could have granted the use.
    assert set(run.requested()) == {
        "http://robots-404.test/robots.txt",
        "http://robots-404.test/.well-known/tdmrep.json",
        "http://robots-404.test/ai.txt",
    }
    refusal = next(
        sqlite_utils.Database(tmp_path / "optin" / "provenance.db").query("select * from refusals")
    )
    assert refusal["signal"] == "default" and "opt-in" in refusal["reason"]


def test_max_pages_and_max_depth(web, tmp_path: Path) -> None:
    limited = crawl(web, tmp_path / "pages", "--max-pages", "1", seeds=["http://robots-404.test/"])
    assert limited.result.returncode == 0, limited.result.stderr
    assert "http://robots-404.test/y" not in limited.requested()
    shallow = crawl(web, tmp_path / "depth", "--max-depth", "1", seeds=["http://robots-404.test/"])
    assert shallow.result.returncode == 0, shallow.result.stderr
    assert "http://robots-404.test/x" in shallow.requested()
    assert "http://robots-404.test/y" not in shallow.requested()
    assert "Links past DEPTH_LIMIT=1 were not followed on 1 host(s): robots-404.test" in shallow.result.stderr
    assert "Error caught on signal handler" not in shallow.result.stderr
