"""The downstream commands end to end through the CLI, on crawls of a test web of their own.

recheck, revoke, export (and --purge), audit, index, datasette and report each
run in a fresh process on a copy of one crawl, and the tests read what they
leave: the WARC files byte by byte, the databases, the index and the report.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import json
import shutil
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from bs4 import BeautifulSoup
from warcio.archiveiterator import ArchiveIterator

from crawler.localweb.server import LocalWebServer, Reply, serve
from tests.conftest import read_record, run_cli
from tests.sites import (
    DOWNSTREAM_SEEDS,
    ERASE_MARKER,
    KEEP_MARKER,
    LATER_ROBOTS_AFTER,
    LATER_ROBOTS_BEFORE,
    NOAI_MARKER,
    TEXT,
    downstream_sites,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.conftest import CrawlRun


@pytest.fixture(scope="module")
def dweb() -> Iterator[LocalWebServer]:
    server = serve(downstream_sites())
    yield server
    server.close()


@pytest.fixture(scope="module")
def base_crawl(dweb: LocalWebServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One crawl of the downstream web; tests work on copies of it."""
    from tests.conftest import crawl

    run: CrawlRun = crawl(dweb, tmp_path_factory.mktemp("downstream") / "crawl", seeds=DOWNSTREAM_SEEDS)
    assert run.result.returncode == 0, run.result.stderr
    return run.out


@pytest.fixture
def crawl_dir(base_crawl: Path, tmp_path: Path) -> Path:
    """A private copy of the crawl, for a test that changes it."""
    return Path(shutil.copytree(base_crawl, tmp_path / "crawl"))


def rows(crawl_dir: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    with sqlite3.connect(crawl_dir / "provenance.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(sql, params)]


def cli_ok(*args: str | Path, proxy: str | None = None) -> Any:
    result = run_cli(*args, proxy=proxy)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def usable(crawl_dir: Path, purpose: str = "ai-train") -> set[str]:
    out = cli_ok("pages", crawl_dir, "--usable", "--purpose", purpose, "--format", "jsonl").stdout
    return {json.loads(line)["url"] for line in out.splitlines()}


def capture_id(crawl_dir: Path, url: str) -> str:
    return rows(crawl_dir, "select warc_record_id from captures where url = ?", url)[0]["warc_record_id"]


def warc_paths(crawl_dir: Path, kinds: tuple[str, ...] = ("warc", "evidence")) -> list[Path]:
    """The WARC files of a crawl directory: page files (warc/), then evidence files (evidence/)."""
    return [path for kind in kinds for path in sorted((crawl_dir / kind).glob("*.warc*"))]


def warc_records(
    crawl_dir: Path, kinds: tuple[str, ...] = ("warc", "evidence")
) -> list[tuple[str, Any, bytes]]:
    """Every record of every WARC file: (type, headers, payload as stored)."""
    found = []
    for path in warc_paths(crawl_dir, kinds):
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                found.append((record.rec_type, record.rec_headers, record.raw_stream.read()))
    return found


def all_bytes(crawl_dir: Path) -> bytes:
    """Every WARC file's bytes as stored and every gzip member decompressed, end to end."""
    data = b""
    for path in warc_paths(crawl_dir):
        stored = path.read_bytes()
        data += stored
        rest = stored
        while rest:
            member = zlib.decompressobj(zlib.MAX_WBITS | 16)
            data += member.decompress(rest)
            rest = member.unused_data
    return data


# -- the crawl itself ---------------------------------------------------------


def test_the_base_crawl_is_what_the_tests_expect(base_crawl: Path) -> None:
    assert usable(base_crawl) == {
        "http://later.test/",
        "http://later.test/p1",
        "http://later.test/p2",
        "http://stable.test/",
        "http://stable.test/s1",
        "http://erase.test/",
        "http://erase.test/secret",
        "http://erase.test/keep",
    }
    refused = {r["url"]: r["stage"] for r in rows(base_crawl, "select url, stage from refusals")}
    assert refused == {"http://stable.test/closed/x": "pre-fetch", "http://erase.test/noai": "post-fetch"}
    assert NOAI_MARKER.encode() not in all_bytes(base_crawl)
    assert ERASE_MARKER.encode() in all_bytes(base_crawl)


# -- audit --------------------------------------------------------------------


def test_audit_passes_on_an_untouched_crawl(base_crawl: Path) -> None:
    result = cli_ok("audit", base_crawl)
    assert result.stdout == ""
    assert "audited 9 captures and 2 refusals: 0 differences" in result.stderr


# Decisions, verdicts and manifests are stored once each (crawler.storage.compact): tampering with one
# changes every row that shares it, and audit names each; the views give the rows' old columns.
P2_AI_TRAIN = (
    "from usage where purpose = 'ai-train' and capture_id = "
    "(select warc_record_id from captures where url = 'http://later.test/p2')"
)
S1_SEARCH = (
    "from usage where purpose = 'search' and capture_id = "
    "(select warc_record_id from captures where url = 'http://stable.test/s1')"
)
CLOSED = "from refusals where url = 'http://stable.test/closed/x'"


def _decision_set(expression: str, rows: str) -> str:
    """SQL replacing the stored decision ``rows`` select by ``expression`` of it (stored whole: char(28))."""
    return (
        f"update decisions set body = (select char(28) || {expression} {rows}) "
        f"where id = (select decision_id {rows})"
    )


TAMPERING = {
    "usable flipped": (
        "update verdict_usage set usable = 0 where purpose = 'ai-train' and verdict_id = "
        "(select verdict_id from capture_rows where url = 'http://later.test/p2')",
        "http://later.test/p2 (ai-train): the database says usable=False",
    ),
    "deciding signal changed": (
        "update verdict_usage set signal = 'tdmrep' where purpose = 'search' and verdict_id = "
        "(select verdict_id from capture_rows where url = 'http://stable.test/s1')",
        "http://stable.test/s1 (search): the database says usable=True by tdmrep",
    ),
    "payload digest": (
        "update capture_rows set payload_sha256 = 'ab' || substr(lower(hex(payload_sha256)), 3) "
        "where url = 'http://erase.test/keep'",
        "http://erase.test/keep: payload_sha256 ab",
    ),
    "status": (
        "update capture_rows set status = 200 where url = 'http://erase.test/missing'",
        "http://erase.test/missing: status 200 differs from the WARC's 404",
    ),
    "offset": (
        "update capture_rows set warc_offset = warc_offset + 1 where url = 'http://later.test/'",
        "http://later.test/: the database places",
    ),
    "row deleted": (
        "delete from capture_rows where url = 'http://later.test/p1'",
        "http://later.test/p1: captured in the WARC files, absent from the database",
    ),
    "refusal reason": (
        _decision_set("""replace(decision, '"signal": "robots"', '"signal": "tdmrep"')""", CLOSED),
        "http://stable.test/closed/x: refused by tdmrep",
    ),
    # Every column derived from the evidence, not only the verdict and the deciding signal:
    "refusal row's signal and reason": (
        "update refusal_rows set signal = 'default', reason = 'ok' where url = 'http://stable.test/closed/x'",
        "http://stable.test/closed/x: the refusal row's signal is 'default', its decision says 'robots'",
    ),
    "post-fetch refusal row's signal": (
        "update refusal_rows set signal = 'default', reason = 'ok' where url = 'http://erase.test/noai'",
        "http://erase.test/noai: the refusal row's signal is 'default', its decision says 'meta-robots'",
    ),
    "refusal's basis reason": (
        _decision_set("json_set(decision, '$.bases[1].reason', 'nothing to see')", CLOSED),
        "http://stable.test/closed/x: the refusal's decision: basis 2 (robots-ai-agents): "
        "reason is 'nothing to see'",
    ),
    "usage reason": (
        "update verdict_usage set reason = 'ok' where purpose = 'ai-train' and verdict_id = "
        "(select verdict_id from capture_rows where url = 'http://later.test/p2')",
        "http://later.test/p2 (ai-train): the database gives the reason 'ok'",
    ),
    "usage basis reason": (
        _decision_set("json_set(decision, '$.bases[0].reason', 'nothing to see')", S1_SEARCH),
        "http://stable.test/s1 (search): the database's recorded decision: basis 1 (robots): "
        "reason is 'nothing to see'",
    ),
    "capture row's reason": (
        "update capture_rows set reason = 'ok' where url = 'http://later.test/p1'",
        "http://later.test/p1: the capture row's reason is 'ok', re-derived",
    ),
    "capture row's domain": (
        "update capture_rows set domain = 'other.test' where url = 'http://later.test/p1'",
        "http://later.test/p1: domain other.test differs from the WARC's later.test",
    ),
    "capture row's evidence": (
        "update manifests set body = json_set(body, '$.origin', 'http://other.test') "
        "where id = (select manifest_id from capture_rows where url = 'http://later.test/p1')",
        "http://later.test/p1: evidence",
    ),
}


@pytest.mark.parametrize("change", TAMPERING, ids=list(TAMPERING))
def test_audit_detects_a_tampered_row(crawl_dir: Path, change: str) -> None:
    sql, expected = TAMPERING[change]
    with sqlite3.connect(crawl_dir / "provenance.db") as db:
        assert db.execute(sql).rowcount == 1
    result = run_cli("audit", crawl_dir)
    assert result.returncode == 1, result.stdout + result.stderr
    assert expected in result.stdout
    assert "0 differences" not in result.stderr


# -- revoke -------------------------------------------------------------------


def test_revoke_by_url_domain_and_file_with_a_ledger(crawl_dir: Path, tmp_path: Path) -> None:
    result = cli_ok(
        "revoke", crawl_dir, "--url", "http://later.test/p1", "--reason", "DMCA #1", "--by", "legal"
    )
    assert "revoked 1 capture for every purpose (ledger entry 1)" in result.stderr
    assert result.stdout == ""  # messages go to stderr
    listing = tmp_path / "takedowns.txt"
    listing.write_text("# batch 7\nhttp://stable.test/s1\n\nhttp://nowhere.test/x\n", encoding="utf-8")
    result = cli_ok("revoke", crawl_dir, "--file", listing, "--reason", "batch 7", "--by", "legal")
    assert "revoked 1 capture for every purpose" in result.stderr
    assert "not captured in this crawl: http://nowhere.test/x" in result.stderr
    # A domain revocation for one purpose: the pages stay usable for the others.
    cli_ok("revoke", crawl_dir, "--domain", "erase.test", "--purpose", "ai-train", "--reason", "asked")
    assert usable(crawl_dir) == {"http://later.test/", "http://later.test/p2", "http://stable.test/"}
    assert {"http://erase.test/", "http://erase.test/keep"} <= usable(crawl_dir, "search")
    assert "http://later.test/p1" not in usable(crawl_dir, "search")
    ledger = rows(crawl_dir, "select actor, action, scope, reason, count from ledger order by id")
    assert ledger[0] == {
        "actor": "legal",
        "action": "revoke",
        "scope": "http://later.test/p1",
        "reason": "DMCA #1",
        "count": 1,
    }
    assert ledger[1]["reason"] == "batch 7" and ledger[1]["scope"].startswith("file ")
    assert ledger[2]["scope"] == "domain erase.test" and ledger[2]["count"] == 4
    revoked = rows(crawl_dir, "select url, purpose, source, actor from revocations where url like '%erase%'")
    assert {r["purpose"] for r in revoked} == {"ai-train"} and len(revoked) == 4
    story = cli_ok("explain", crawl_dir, "http://later.test/p1").stdout
    assert "Outcome: revoked" in story and "DMCA #1" in story
    # The capture itself is untouched: nothing is deleted by a revocation.
    assert rows(crawl_dir, "select count(*) as n from captures")[0]["n"] == 9
    cli_ok("audit", crawl_dir)


@pytest.mark.parametrize(
    "args",
    [
        ["--reason", "x"],
        ["--url", "http://later.test/", "--domain", "later.test", "--reason", "x"],
        ["--url", "http://later.test/"],
        ["--url", "http://later.test/", "--reason", ""],
        ["--url", "http://later.test/", "--reason", "  "],
    ],
    ids=["no target", "two targets", "no reason", "empty reason", "blank reason"],
)
def test_revoke_usage_errors(crawl_dir: Path, args: list[str]) -> None:
    result = run_cli("revoke", crawl_dir, *args)
    assert result.returncode == 2
    assert rows(crawl_dir, "select count(*) as n from revocations")[0]["n"] == 0
    assert rows(crawl_dir, "select count(*) as n from ledger")[0]["n"] == 0


def revoked_urls(crawl_dir: Path) -> set[str]:
    return {r["url"] for r in rows(crawl_dir, "select url from revocations")}


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--domain", "%"], "Error: --domain: '%' is not usable; expected a domain or host name"),
        (["--domain", "_"], "Error: --domain: '_' is not usable; expected a domain or host name"),
        (["--domain", "%.test"], "Error: --domain: '%.test' is not usable"),
        (["--domain", "http://later.test/"], "Error: --domain: 'http://later.test/' is not usable"),
        # A public suffix is that host alone, never every site under it.
        (["--domain", "test"], "Error: nothing revoked: no capture in"),
        (["--domain", "nowhere.test"], "Error: nothing revoked: no capture in"),
        (["--url", "later.test/p1"], "Error: --url: 'later.test/p1' is not usable; expected an absolute"),
        (["--url", "http://nowhere.test/x"], "Error: nothing revoked: no capture in"),
    ],
    ids=[
        "percent",
        "underscore",
        "pattern",
        "url as domain",
        "public suffix",
        "no match",
        "relative",
        "unseen",
    ],
)
def test_a_revoke_that_matches_nothing_revokes_nothing_and_says_so(
    crawl_dir: Path, args: list[str], error: str
) -> None:
    result = run_cli("revoke", crawl_dir, *args, "--reason", "takedown")
    assert result.returncode == 1, result.stdout + result.stderr
    assert error in result.stderr
    assert revoked_urls(crawl_dir) == set()
    assert rows(crawl_dir, "select count(*) as n from ledger")[0]["n"] == 0


def test_a_takedown_file_with_a_bad_line_revokes_nothing(crawl_dir: Path, tmp_path: Path) -> None:
    listing = tmp_path / "takedowns.txt"
    listing.write_text("http://later.test/p1\nnot a url\n", encoding="utf-8")
    result = run_cli("revoke", crawl_dir, "--file", listing, "--reason", "batch")
    assert result.returncode == 1
    assert f"Error: {listing}:2: 'not a url' is not usable; expected an absolute http:// or https:// URL" in (
        result.stderr
    )
    assert revoked_urls(crawl_dir) == set()


def test_a_takedown_file_with_two_urls_on_one_line_revokes_nothing(crawl_dir: Path, tmp_path: Path) -> None:
    # The line was read as one URL ('http://later.test/ http://later.test/p1'), matched nothing,
    # and the command revoked the other lines' captures with exit 0: the first URL was never taken down.
    listing = tmp_path / "takedowns.txt"
    listing.write_text("http://later.test/p2\nhttp://later.test/ http://later.test/p1\n", encoding="utf-8")
    result = run_cli("revoke", crawl_dir, "--file", listing, "--reason", "batch")
    assert result.returncode == 1
    assert (
        f"Error: {listing}:2: 'http://later.test/ http://later.test/p1' is not usable (it holds whitespace, "
        "as two URLs on one line would: give one URL per line)"
    ) in result.stderr
    assert revoked_urls(crawl_dir) == set()


def test_revoke_by_domain_covers_subdomains_and_names_are_canonical(crawl_dir: Path) -> None:
    result = cli_ok("revoke", crawl_dir, "--domain", "LATER.Test.", "--reason", "takedown")
    assert "revoked 3 captures for every purpose" in result.stderr
    assert revoked_urls(crawl_dir) == {"http://later.test/", "http://later.test/p1", "http://later.test/p2"}


def test_urls_are_matched_however_they_are_spelled(crawl_dir: Path) -> None:
    # explain: the captured http://later.test/ under other spellings of the same URL
    for spelling in ("http://later.test", "HTTP://LATER.TEST:80/#top", "http://later.test/?#"):
        story = json.loads(cli_ok("explain", crawl_dir, spelling, "--format", "json").stdout)
        assert (story["url"], story["outcome"]) == ("http://later.test/", "captured"), spelling
    # revoke: each spelling finds the one capture; only the first revokes it.
    for spelling in ("HTTP://LATER.TEST/p1", "http://later.test/p1#x", "http://later.test:80/%70%31"):
        cli_ok("revoke", crawl_dir, "--url", spelling, "--reason", "DMCA #9")
    assert rows(crawl_dir, "select url, purpose from revocations") == [
        {"url": "http://later.test/p1", "purpose": None}
    ]
    assert [r["count"] for r in rows(crawl_dir, "select count from ledger order by id")] == [1, 0, 0]
    story = cli_ok("explain", crawl_dir, "http://LATER.test/p1#frag").stdout
    assert "Outcome: revoked" in story and "DMCA #9" in story


def page_urls(*args: str | Path) -> set[str]:
    out = cli_ok("pages", *args, "--format", "jsonl").stdout
    return {json.loads(line)["url"] for line in out.splitlines()}


def test_pages_reads_a_time_with_an_offset_as_the_time_it_is(base_crawl: Path) -> None:
    # fetched_at is stored in UTC; the times given were compared with it as strings, so that
    # 15:00+02:00 (13:00 UTC) came after 14:00 UTC, and '2026-11-29 13:00' before 2026-11-29T12:00.
    from datetime import UTC, datetime, timedelta, timezone

    times = [row["fetched_at"] for row in rows(base_crawl, "select fetched_at from captures")]
    first, last = (datetime.fromisoformat(t) for t in (min(times), max(times)))
    everything = page_urls(base_crawl)
    before = (first - timedelta(minutes=1)).astimezone(timezone(timedelta(hours=2))).isoformat()
    after = (last + timedelta(minutes=1)).astimezone(timezone(timedelta(hours=-5))).isoformat()
    assert page_urls(base_crawl, "--since", before) == everything
    assert page_urls(base_crawl, "--since", after) == set()
    assert page_urls(base_crawl, "--until", after) == everything
    assert page_urls(base_crawl, "--until", before) == set()
    spaced = (last + timedelta(minutes=1)).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")  # no offset: UTC
    assert page_urls(base_crawl, "--since", spaced) == set()
    assert page_urls(base_crawl, "--since", first.strftime("%Y%m%d")) == everything  # a date, ISO basic


def test_pages_takes_a_host_or_domain_however_it_is_spelled(base_crawl: Path) -> None:
    later = {"http://later.test/", "http://later.test/p1", "http://later.test/p2"}
    assert {url for url in page_urls(base_crawl) if url.startswith("http://later.test/")} == later
    for option in ("--host", "--domain"):
        assert page_urls(base_crawl, option, "LATER.Test.") == later  # was: nothing
        result = run_cli("pages", base_crawl, option, "%")
        assert result.returncode == 2, result.stderr
        assert "'%' is not usable; expected a domain or host name" in result.stderr


def test_pages_refuses_a_directory_given_twice(base_crawl: Path) -> None:
    # Its pages were listed twice: a dataset manifest built from it held every page twice.
    result = run_cli("pages", base_crawl, f"{base_crawl}/", "--format", "jsonl")
    assert result.returncode == 2
    assert f"{base_crawl} is given twice" in result.stderr
    assert result.stdout == ""


def test_explain_rejects_what_is_not_a_url(crawl_dir: Path) -> None:
    for bad in ("not a url", "ftp://later.test/", "/p1"):
        result = run_cli("explain", crawl_dir, bad)
        assert result.returncode == 1, bad
        assert (
            result.stderr
            == f"Error: URL: {bad!r} is not usable; expected an absolute http:// or https:// URL\n"
        )


def test_two_urls_in_one_argument_are_an_error_not_a_url_never_seen(crawl_dir: Path) -> None:
    # explain said 'never seen' (exit 0) of 'http://later.test/ http://later.test/p1', read as one URL.
    two = "http://later.test/ http://later.test/p1"
    explained = run_cli("explain", crawl_dir, two)
    assert explained.returncode == 1 and explained.stdout == ""
    assert explained.stderr.startswith(f"Error: URL: {two!r} is not usable (it holds whitespace")
    before = revoked_urls(crawl_dir)
    revoked = run_cli("revoke", crawl_dir, "--url", two, "--url", "http://later.test/p2", "--reason", "x")
    assert revoked.returncode == 1
    assert revoked.stderr.startswith(f"Error: --url: {two!r} is not usable (it holds whitespace")
    assert revoked_urls(crawl_dir) == before  # nothing revoked, not even the good one


def test_revoking_again_counts_only_what_is_newly_revoked(crawl_dir: Path) -> None:
    args = ("--url", "http://later.test/p2", "--reason", "request #1")
    first = cli_ok("revoke", crawl_dir, *args, "--purpose", "ai-train")
    assert "revoked 1 capture for ai-train" in first.stderr
    again = cli_ok("revoke", crawl_dir, *args, "--purpose", "ai-train")
    assert "revoked 0 captures for ai-train" in again.stderr
    assert "1 capture already revoked for ai-train: left as it was" in again.stderr
    # For every purpose: new for the others, so revoked; then nothing new at all.
    assert "revoked 1 capture for every purpose" in cli_ok("revoke", crawl_dir, *args).stderr
    assert "already revoked" in cli_ok("revoke", crawl_dir, *args, "--purpose", "search").stderr
    assert [(r["purpose"]) for r in rows(crawl_dir, "select purpose from revocations order by id")] == [
        "ai-train",
        None,
    ]
    ledger = rows(crawl_dir, "select count, details from ledger order by id")
    assert [r["count"] for r in ledger] == [1, 0, 1, 0]
    assert json.loads(ledger[1]["details"])["already_revoked"] == 1


# -- recheck ------------------------------------------------------------------


def test_recheck_revokes_what_a_site_reserved_after_the_crawl(crawl_dir: Path, dweb: LocalWebServer) -> None:
    site: Any = dweb.sites["later.test"]
    site["/robots.txt"] = (200, TEXT, LATER_ROBOTS_AFTER)
    before = len(dweb.requests)
    try:
        result = cli_ok("recheck", crawl_dir, "--by", "ops", proxy=dweb.proxy_url)
        # The same again, the reservation still there: nothing new, and it is not said to be gone.
        same = cli_ok("recheck", crawl_dir, proxy=dweb.proxy_url)
    finally:
        site["/robots.txt"] = (200, TEXT, LATER_ROBOTS_BEFORE)
    assert "nothing revoked: no capture still usable is reserved" in same.stderr
    assert "no capture is reserved" not in same.stderr
    requested = {r.url for r in dweb.requests[before:]}
    # Evidence only: no page is fetched again.
    assert "http://later.test/robots.txt" in requested
    assert not requested & {r["url"] for r in rows(crawl_dir, "select url from captures")}
    assert "revoked 5 (capture, purpose) pairs" in result.stderr
    changed = rows(
        crawl_dir, "select url, purpose, source, actor, reason from revocations order by url, purpose"
    )
    assert [(r["url"], r["purpose"]) for r in changed] == [
        ("http://later.test/", "ai-train"),
        ("http://later.test/p1", "ai-input"),
        ("http://later.test/p1", "ai-train"),
        ("http://later.test/p1", "search"),
        ("http://later.test/p2", "ai-train"),
    ]
    assert {r["source"] for r in changed} == {"recheck"} and {r["actor"] for r in changed} == {"ops"}
    for line in ("http://later.test/p1", "http://later.test/p2"):
        assert line in result.stdout
    assert "stable.test" not in result.stdout and "erase.test" not in result.stdout
    # The new evidence is archived and recorded, with the recheck as its crawl.
    recheck = rows(crawl_dir, "select id from crawls where kind = 'recheck' order by started_at")
    assert len(recheck) == 2  # the recheck that revoked, and the one that found nothing new
    evidence = rows(
        crawl_dir,
        "select warc_file, warc_offset, sha256 from evidence where crawl_id = ? and url = ?",
        recheck[0]["id"],
        "http://later.test/robots.txt",
    )
    assert len(evidence) == 1
    stored = read_record(crawl_dir, evidence[0]["warc_file"], evidence[0]["warc_offset"])
    assert stored.decoded == LATER_ROBOTS_AFTER.encode()
    # The new basis is recorded with each revocation.
    (p2,) = rows(crawl_dir, "select decision from revocations where url = 'http://later.test/p2'")
    basis = json.loads(p2["decision"])
    assert basis["signal"] == "content-signal" and not basis["allowed"]
    # Nothing is deleted; listings follow.
    assert rows(crawl_dir, "select count(*) as n from captures")[0]["n"] == 9
    assert usable(crawl_dir) == {"http://stable.test/", "http://stable.test/s1", "http://erase.test/",
                                 "http://erase.test/secret", "http://erase.test/keep"}  # fmt: skip
    assert {"http://later.test/", "http://later.test/p2"} <= usable(crawl_dir, "search")
    assert "http://later.test/p1" not in usable(crawl_dir, "search")
    ledger = rows(crawl_dir, "select action, actor, count from ledger")
    assert ledger == [{"action": "recheck", "actor": "ops", "count": 5}]
    cli_ok("audit", crawl_dir)
    # Again, the reservation lifted: nothing changes (a revocation stays).
    result = cli_ok("recheck", crawl_dir, proxy=dweb.proxy_url)
    assert "nothing revoked: no capture still usable is reserved" in result.stderr
    assert rows(crawl_dir, "select count(*) as n from revocations")[0]["n"] == 5


@contextlib.contextmanager
def changed_web(web: LocalWebServer, changes: dict[str, dict[str, Any] | None]) -> Iterator[None]:
    """The test web with hosts changed (path: reply; None drops the path) or gone (None), then restored."""
    saved = {host: copy.copy(web.sites.get(host)) for host in changes}
    try:
        for host, paths in changes.items():
            if paths is None:
                web.sites.pop(host, None)
                continue
            site: Any = web.sites[host]
            for path, reply in paths.items():
                if reply is None:
                    site.pop(path, None)
                else:
                    site[path] = reply
        yield
    finally:
        for host, site in saved.items():
            if site is not None:
                web.sites[host] = site


def usable_everywhere(crawl_dir: Path) -> dict[str, set[str]]:
    return {purpose: usable(crawl_dir, purpose) for purpose in ("ai-train", "ai-input", "search")}


def test_recheck_takes_an_unreachable_host_for_no_answer_not_for_an_opt_out(
    crawl_dir: Path, dweb: LocalWebServer
) -> None:
    before = usable_everywhere(crawl_dir)
    # later.test answers 503 for its robots.txt; stable.test is gone (the proxy answers 502).
    with changed_web(dweb, {"later.test": {"/robots.txt": Reply(503, tuple(TEXT.items()), b"busy")},
                            "stable.test": None}):  # fmt: skip
        result = run_cli("recheck", crawl_dir, proxy=dweb.proxy_url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""  # nothing changed
    assert "Rechecking 9 captured URLs on 3 hosts" in result.stderr
    assert "[3/3] " in result.stderr  # progress, one line per host
    assert (
        "not rechecked: http://later.test: robots.txt unreachable: http://later.test/robots.txt: HTTP 503"
        in (result.stderr)
    )
    assert (
        "not rechecked: http://stable.test: robots.txt unreachable: http://stable.test/robots.txt: HTTP 502"
        in (result.stderr)
    )
    assert "not rechecked: http://erase.test" not in result.stderr
    assert "Error: 2 of 3 hosts could not be rechecked" in result.stderr
    assert rows(crawl_dir, "select count(*) as n from revocations")[0]["n"] == 0
    assert rows(crawl_dir, "select action from ledger") == []
    assert usable_everywhere(crawl_dir) == before
    # The README's next step then erases nothing.
    assert "nothing to purge" in cli_ok("export", crawl_dir, "--purge", "--yes").stderr
    assert rows(crawl_dir, "select count(*) as n from captures")[0]["n"] == 9


def test_recheck_revokes_on_what_it_read_whole_and_on_nothing_else(
    crawl_dir: Path, dweb: LocalWebServer
) -> None:
    cut = b'[{"location": "/", "tdm-reservation": 0}, {"location": "/secret", "tdm-re'
    changes: dict[str, dict[str, Any] | None] = {
        # Read whole and reserving: a new tdmrep.json reserves /p2.
        "later.test": {
            "/.well-known/tdmrep.json": (
                200,
                {"Content-Type": "application/json"},
                '[{"location": "/p2", "tdm-reservation": 1}]',
            )
        },
        # A new Disallow, read whole; and a tdmrep.json cut short, not read whole.
        "erase.test": {
            "/robots.txt": (200, TEXT, "User-agent: *\nDisallow: /keep\n"),
            "/.well-known/tdmrep.json": Reply(
                200, (("Content-Type", "application/json"), ("Content-Length", "500")), cut, close=True
            ),
        },
    }
    with changed_web(dweb, changes):
        result = run_cli("recheck", crawl_dir, proxy=dweb.proxy_url)
    assert result.returncode == 1, result.stdout + result.stderr
    changed = rows(crawl_dir, "select url, purpose, reason from revocations order by url, purpose")
    assert [(r["url"], r["purpose"]) for r in changed] == [
        ("http://erase.test/keep", "ai-input"),
        ("http://erase.test/keep", "ai-train"),
        ("http://erase.test/keep", "search"),
        ("http://later.test/p2", "ai-input"),
        ("http://later.test/p2", "ai-train"),
    ]
    assert all("robots.txt disallows /keep" in r["reason"] for r in changed[:3])
    assert all("tdmrep.json rule 0 (location '/p2') reserves" in r["reason"] for r in changed[3:])
    # The cut tdmrep.json reserves nothing: erase.test's other pages keep their standing.
    assert {"http://erase.test/", "http://erase.test/secret"} <= usable(crawl_dir)
    assert "http://erase.test/keep" in result.stdout and "http://later.test/p2" in result.stdout
    assert "not rechecked: http://erase.test: tdmrep.json was not read whole" in result.stderr
    assert "Error: 1 of 3 hosts could not be rechecked" in result.stderr
    (ledger,) = rows(crawl_dir, "select action, count, details from ledger")
    assert (ledger["action"], ledger["count"]) == ("recheck", 5)
    assert list(json.loads(ledger["details"])["not_rechecked"]) == ["http://erase.test"]
    cli_ok("audit", crawl_dir)


def test_recheck_in_the_opt_in_regime_does_not_take_a_failed_fetch_for_a_withdrawn_grant(
    dweb: LocalWebServer, tmp_path: Path
) -> None:
    from tests.conftest import crawl

    run = crawl(dweb, tmp_path / "opt-in", "--default-policy", "deny", seeds=["http://erase.test/"])
    assert run.result.returncode == 0, run.result.stderr
    granted = usable(run.out)  # by tdmrep.json's tdm-reservation 0, the only grant
    assert {"http://erase.test/", "http://erase.test/secret", "http://erase.test/keep"} <= granted
    with changed_web(dweb, {"erase.test": {"/.well-known/tdmrep.json": (503, TEXT, "busy")}}):
        result = run_cli("recheck", run.out, proxy=dweb.proxy_url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not rechecked: http://erase.test: http://erase.test/.well-known/tdmrep.json: HTTP 503" in (
        result.stderr
    )
    assert rows(run.out, "select count(*) as n from revocations")[0]["n"] == 0
    assert usable(run.out) == granted
    # Once the grant is withdrawn, read whole, the default policy refuses: that is revoked.
    with changed_web(dweb, {"erase.test": {"/.well-known/tdmrep.json": None}}):
        withdrawn = run_cli("recheck", run.out, proxy=dweb.proxy_url)
    assert withdrawn.returncode == 0, withdrawn.stdout + withdrawn.stderr
    assert usable(run.out) == set()


def test_recheck_after_the_demo_web_is_gone_revokes_nothing(tmp_path: Path) -> None:
    # The README's quick start, then recheck: the demo web stops with the demo.
    demo = tmp_path / "demo"
    cli_ok("demo", "--out", demo)
    before = usable_everywhere(demo)
    gone = serve({})  # a port nobody listens on once closed: every connection is refused
    gone.close()
    result = run_cli("recheck", demo, "-s", "RETRY_TIMES=0", proxy=gone.proxy_url)
    assert result.returncode == 1, result.stdout + result.stderr
    hosts = rows(demo, "select count(distinct host) as n from captures")[0]["n"]
    assert f"Error: {hosts} of {hosts} hosts could not be rechecked" in result.stderr
    assert result.stderr.count("not rechecked: ") == hosts
    assert rows(demo, "select count(*) as n from revocations")[0]["n"] == 0
    assert usable_everywhere(demo) == before
    assert "nothing to purge" in cli_ok("export", demo, "--purge", "--yes").stderr


# -- export -------------------------------------------------------------------


@pytest.mark.parametrize("made", [False, True], ids=["new directory", "empty directory"])
def test_an_export_that_cannot_be_written_leaves_nothing(crawl_dir: Path, tmp_path: Path, made: bool) -> None:
    # A full disk half-way (here, a file size limit) ended in a traceback and left WARC files
    # without a database, which no command reads and the next export refused as not empty.
    import resource
    import signal

    from tests.conftest import cli_env

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))

    out = tmp_path / "export"
    if made:
        out.mkdir()
    ledger = rows(crawl_dir, "select * from ledger")
    # Held open, so that the database's shared-memory file exists at its full size: the limit is
    # then met by the export's WARC files, not by the crawl's own database being opened.
    with contextlib.closing(sqlite3.connect(crawl_dir / "provenance.db")) as held:
        held.execute("select count(*) from captures").fetchone()
        result = subprocess.run(
            [sys.executable, "-m", "crawler", "export", str(crawl_dir), "--out", str(out)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=cli_env(None),
            preexec_fn=small_files,
            timeout=120,
            check=False,
        )
    assert result.returncode == 1
    assert (
        result.stderr
        == f"Error: {out}: the export could not be written (File too large); nothing was exported\n"
    )
    assert (list(out.iterdir()) == []) if made else not out.exists()
    assert rows(crawl_dir, "select * from ledger") == ledger
    cli_ok("export", crawl_dir, "--out", out)  # and it can be made again there


def test_export_holds_only_usable_captures_and_passes_its_own_audit(crawl_dir: Path, tmp_path: Path) -> None:
    cli_ok("revoke", crawl_dir, "--url", "http://erase.test/secret", "--reason", "erasure")
    cli_ok("revoke", crawl_dir, "--url", "http://later.test/p2", "--purpose", "search", "--reason", "x")
    out = tmp_path / "export"
    result = cli_ok("export", crawl_dir, "--out", out, "--purpose", "ai-train", "--by", "data-team")
    expected = {
        "http://later.test/",
        "http://later.test/p1",
        "http://later.test/p2",
        "http://stable.test/",
        "http://stable.test/s1",
        "http://erase.test/",
        "http://erase.test/keep",
    }
    assert "exported 7 captures" in result.stderr
    audit = cli_ok("audit", out)
    assert "audited 7 captures and 0 refusals: 0 differences" in audit.stderr
    assert usable(out) == expected
    # The revocation for search travelled with its capture.
    assert "http://later.test/p2" not in usable(out, "search")
    records = warc_records(out)
    captures = {r["warc_record_id"]: r["url"] for r in rows(out, "select warc_record_id, url from captures")}
    evidence_ids = {r["warc_record_id"] for r in rows(out, "select warc_record_id from evidence")}
    responses = [(h.get_header("WARC-Record-ID"), h.get_header("WARC-Target-URI")) for t, h, _ in records
                 if t == "response"]  # fmt: skip
    assert {url for rid, url in responses if rid in captures} == expected
    # Every other response is an evidence document a decision cites, in the evidence files only.
    assert {rid for rid, _ in responses if rid not in captures} == evidence_ids
    page_responses = {
        h.get_header("WARC-Record-ID") for t, h, _ in warc_records(out, ("warc",)) if t == "response"
    }
    assert page_responses == set(captures)
    # (a 404 is evidence too: it proves the file was looked for and absent)
    documents = ("/robots.txt", "/.well-known/tdmrep.json", "/ai.txt")
    assert {url for rid, url in responses if rid in evidence_ids} == {
        f"http://{host}{path}" for host in ("later.test", "stable.test", "erase.test") for path in documents
    }
    # Request and metadata records come along; nothing refused or revoked does.
    assert sum(t == "request" for t, _, _ in records) == len(responses)
    targets = {h.get_header("WARC-Target-URI") for _, h, _ in records}
    assert not targets & {"http://erase.test/secret", "http://erase.test/missing", "http://erase.test/noai",
                          "http://stable.test/closed/x"}  # fmt: skip
    assert ERASE_MARKER.encode() not in all_bytes(out) and NOAI_MARKER.encode() not in all_bytes(out)
    assert records[0][0] == "warcinfo" and b"export of the captures usable for ai-train" in records[0][2]
    assert rows(out, "select count(*) as n from refusals")[0]["n"] == 0
    assert rows(out, "select kind from crawls order by kind") == [{"kind": "crawl"}, {"kind": "export"}]
    # Ledger entries on both sides, and an index ready for replay.
    assert rows(crawl_dir, "select action, actor from ledger where action = 'export'") == [
        {"action": "export", "actor": "data-team"}
    ]
    assert (out / "index.cdxj").read_text().count('"url": "http://erase.test/keep"') == 1


def test_export_refuses_a_directory_in_use(crawl_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "precious.txt").write_text("mine")
    result = run_cli("export", crawl_dir, "--out", out)
    assert result.returncode == 1
    assert "exists and is not empty" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["precious.txt"]
    assert run_cli("export", crawl_dir).returncode == 2


# -- purge --------------------------------------------------------------------


def test_purge_erases_the_bytes_and_keeps_a_tombstone(crawl_dir: Path) -> None:
    cli_ok("index", crawl_dir)
    secret = rows(crawl_dir, "select * from captures where url = 'http://erase.test/secret'")[0]
    cli_ok("revoke", crawl_dir, "--url", "http://erase.test/secret", "--reason", "GDPR Art. 17 #42")
    cli_ok("revoke", crawl_dir, "--url", "http://erase.test/keep", "--purpose", "ai-train", "--reason", "x")
    result = cli_ok("export", crawl_dir, "--purge", "--yes", "--by", "dpo")
    assert "purged 1 capture (3 records" in result.stderr
    everything = all_bytes(crawl_dir)
    assert ERASE_MARKER.encode() not in everything
    assert secret["payload_digest"].encode() not in b"".join(
        h.get_header("WARC-Payload-Digest", "").encode() for _, h, _ in warc_records(crawl_dir)
    )
    # Revoked for one purpose only: still usable for the others, so kept.
    assert KEEP_MARKER.encode() in everything
    assert rows(crawl_dir, "select url from captures where url like 'http://erase.test/%' order by url") == [
        {"url": "http://erase.test/"},
        {"url": "http://erase.test/keep"},
        {"url": "http://erase.test/missing"},
    ]
    tombstone = rows(crawl_dir, "select * from tombstones")
    assert len(tombstone) == 1
    assert tombstone[0]["url"] == "http://erase.test/secret"
    assert tombstone[0]["payload_digest"] == secret["payload_digest"]
    assert tombstone[0]["payload_sha256"] == secret["payload_sha256"]
    assert tombstone[0]["reason"] == "GDPR Art. 17 #42"
    assert rows(crawl_dir, "select action, actor, count from ledger where action = 'purge'") == [
        {"action": "purge", "actor": "dpo", "count": 1}
    ]
    # The WARC file says what was removed from it.
    purge_uri = "urn:permitcrawl:purge:"
    notes = [json.loads(p) for t, h, p in warc_records(crawl_dir)
             if t == "resource" and h.get_header("WARC-Target-URI").startswith(purge_uri)]  # fmt: skip
    assert len(notes) == 1
    assert {r["id"] for r in notes[0]["records"]} == {
        secret["warc_record_id"], secret["request_record_id"], secret["metadata_record_id"]
    }  # fmt: skip
    # Every surviving row points at its record, and the index was rebuilt.
    cli_ok("audit", crawl_dir)
    for line in (crawl_dir / "index.cdxj").read_text().splitlines():
        fields = json.loads(line.split(" ", 2)[2])
        record = read_record(crawl_dir, fields["filename"], int(fields["offset"]))
        assert record.rec_headers.get_header("WARC-Target-URI") == fields["url"]
    assert "Outcome: erased" in cli_ok("explain", crawl_dir, "http://erase.test/secret").stdout
    # Nothing left to purge the second time.
    assert "nothing to purge" in cli_ok("export", crawl_dir, "--purge").stderr


def test_purge_erases_nothing_it_cannot_find(crawl_dir: Path, tmp_path: Path) -> None:
    # With the WARC file moved away, the purge said "purged 1 capture (0 records, 0 bytes)", exit 0,
    # explain said "erased", and a tombstone stood over bytes still in the file.
    cli_ok("revoke", crawl_dir, "--url", "http://erase.test/secret", "--reason", "GDPR Art. 17 #42")
    (row,) = rows(crawl_dir, "select warc_file from captures where url = 'http://erase.test/secret'")
    original = crawl_dir / row["warc_file"]
    held = tmp_path / "elsewhere.warc.gz"
    shutil.move(original, held)
    result = run_cli("export", crawl_dir, "--purge", "--yes")
    assert result.returncode == 1
    assert (
        f"Error: {crawl_dir}: cannot erase 1 of 1 captures: their records are in no WARC file here: "
        f"http://erase.test/secret ({row['warc_file']}); expected the WARC files the database names"
    ) in result.stderr
    assert rows(crawl_dir, "select count(*) as n from tombstones")[0]["n"] == 0
    assert rows(crawl_dir, "select action from ledger") == [{"action": "revoke"}]
    assert "Outcome: revoked" in cli_ok("explain", crawl_dir, "http://erase.test/secret").stdout
    shutil.move(held, original)
    assert "purged 1 capture (3 records" in cli_ok("export", crawl_dir, "--purge", "--yes").stderr
    assert ERASE_MARKER.encode() not in all_bytes(crawl_dir)


def test_a_file_left_open_by_a_killed_crawl_is_recovered_before_a_purge(crawl_dir: Path) -> None:
    # A crawl killed with kill -9 and never resumed leaves its WARC file named .open: the purge
    # found no records to erase in it. A writing command holds the lock, so no crawl is using the
    # file: it gives the file its final name, as a resumed crawl would, and erases what it must.
    cli_ok("revoke", crawl_dir, "--url", "http://erase.test/secret", "--reason", "GDPR Art. 17 #42")
    (row,) = rows(crawl_dir, "select warc_file from captures where url = 'http://erase.test/secret'")
    original = crawl_dir / row["warc_file"]
    shutil.move(original, f"{original}.open")  # named by a pid that is no longer running
    result = cli_ok("export", crawl_dir, "--purge", "--yes")
    assert f"Recovered {row['warc_file']}, left open by a crawl that stopped abruptly" in result.stderr
    assert "purged 1 capture (3 records" in result.stderr
    assert not Path(f"{original}.open").exists()
    assert ERASE_MARKER.encode() not in all_bytes(crawl_dir)
    assert run_cli("audit", crawl_dir).returncode == 0


def test_audit_finds_an_erased_capture_whose_bytes_are_still_there(crawl_dir: Path) -> None:
    # A tombstoned capture's records were passed over: an erasure that did not happen went unseen.
    cli_ok("revoke", crawl_dir, "--url", "http://erase.test/secret", "--reason", "erasure")
    (row,) = rows(crawl_dir, "select warc_file from captures where url = 'http://erase.test/secret'")
    before = (crawl_dir / row["warc_file"]).read_bytes()
    cli_ok("export", crawl_dir, "--purge", "--yes")
    (crawl_dir / row["warc_file"]).write_bytes(before)  # the file as it was before the purge
    result = run_cli("audit", crawl_dir)
    assert result.returncode == 1
    assert (
        f"http://erase.test/secret: erased by the purge of ledger entry 2, yet its records are still in "
        f"{row['warc_file']}"
    ) in result.stdout


def page_files(crawl_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((crawl_dir / "warc").iterdir())}


def at_terminal(*args: str | Path, answer: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with a terminal as its stdin, on which ``answer`` is typed."""
    import os
    import pty

    from tests.conftest import cli_env

    main, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "crawler", *map(str, args)],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(None),
        )
        os.write(main, f"{answer}\n".encode())  # typed ahead: the terminal keeps it until read
        out, err = process.communicate(timeout=120)
    finally:
        os.close(terminal)
        os.close(main)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_purge_lists_what_it_would_erase_and_erases_nothing_unconfirmed(
    crawl_dir: Path, tmp_path: Path
) -> None:
    cli_ok("revoke", crawl_dir, "--url", "http://erase.test/secret", "--reason", "GDPR Art. 17 #42")
    before = page_files(crawl_dir)
    dry = cli_ok("export", crawl_dir, "--purge", "--dry-run")
    assert "http://erase.test/secret" in dry.stdout and "GDPR Art. 17 #42" in dry.stdout
    assert "dry run: would erase 1 capture revoked for every purpose" in dry.stderr
    # No --yes and nobody at a terminal to ask (stdin empty, or a pipe): nothing changes.
    for stdin in (None, "y\n"):
        result = run_cli("export", crawl_dir, "--purge", input=stdin)
        assert result.returncode == 1, result.stderr
        assert "http://erase.test/secret" in result.stdout  # what would have been erased is shown
        assert "Error: not erasing 1 capture revoked for every purpose" in result.stderr
        assert "Give --yes" in result.stderr
    # With --out, the export does not happen either.
    result = run_cli("export", crawl_dir, "--purge", "--out", tmp_path / "dataset")
    assert result.returncode == 1 and not (tmp_path / "dataset").exists()
    assert page_files(crawl_dir) == before
    assert ERASE_MARKER.encode() in all_bytes(crawl_dir)
    assert rows(crawl_dir, "select count(*) as n from tombstones")[0]["n"] == 0
    assert rows(crawl_dir, "select action from ledger") == [{"action": "revoke"}]
    assert "Outcome: revoked" in cli_ok("explain", crawl_dir, "http://erase.test/secret").stdout


def test_purge_asks_at_a_terminal_and_erases_only_on_yes(crawl_dir: Path) -> None:
    cli_ok("revoke", crawl_dir, "--url", "http://erase.test/secret", "--reason", "erasure")
    before = page_files(crawl_dir)
    declined = at_terminal("export", crawl_dir, "--purge", answer="n")
    assert declined.returncode == 1, declined.stderr
    assert "Erase 1 capture revoked for every purpose, from 1 WARC file? This cannot be undone." in (
        declined.stderr
    )
    assert "Error: nothing erased: not confirmed" in declined.stderr
    assert page_files(crawl_dir) == before
    agreed = at_terminal("export", crawl_dir, "--purge", answer="y")
    assert agreed.returncode == 0, agreed.stderr
    assert "purged 1 capture (3 records" in agreed.stderr
    assert ERASE_MARKER.encode() not in all_bytes(crawl_dir)


@pytest.mark.parametrize(
    "args",
    [["--dry-run"], ["--yes"], ["--purge", "--dry-run", "--out", "x"]],
    ids=["dry run without purge", "yes without purge", "dry run with out"],
)
def test_purge_options_that_do_not_go_together(crawl_dir: Path, args: list[str]) -> None:
    cli_ok("revoke", crawl_dir, "--url", "http://erase.test/secret", "--reason", "erasure")
    before = page_files(crawl_dir)
    extra = [] if "--out" in args or "--purge" in args else ["--out", str(crawl_dir.parent / "out")]
    result = run_cli("export", crawl_dir, *args, *extra)
    assert result.returncode == 2, result.stderr
    assert page_files(crawl_dir) == before and not (crawl_dir.parent / "out").exists()


# -- index, datasette, report -------------------------------------------------


def test_index_lets_a_replay_tool_find_every_capture(crawl_dir: Path) -> None:
    result = cli_ok("index", crawl_dir)
    lines = (crawl_dir / "index.cdxj").read_text().splitlines()
    assert f"({len(lines)} lines)" in result.stderr
    assert lines == sorted(lines)
    indexed = {}
    for line in lines:
        key, stamp, block = line.split(" ", 2)
        fields = json.loads(block)
        assert len(stamp) == 14 and stamp.isdigit()
        record = read_record(crawl_dir, fields["filename"], int(fields["offset"]))
        assert record.rec_type in ("response", "resource")
        assert record.rec_headers.get_header("WARC-Target-URI") == fields["url"]
        indexed[fields["url"]] = key
    for capture in rows(crawl_dir, "select url from captures"):
        assert capture["url"] in indexed
    assert indexed["http://later.test/p1"] == "test,later)/p1"


def test_datasette_queries_answer_on_the_crawl(crawl_dir: Path) -> None:
    cli_ok("revoke", crawl_dir, "--url", "http://erase.test/secret", "--reason", "erasure")
    cli_ok("datasette", crawl_dir, "--title", "Test crawl")
    config = json.loads((crawl_dir / "datasette.json").read_text())
    assert config["title"] == "Test crawl"
    queries = config["databases"]["provenance"]["queries"]
    with sqlite3.connect(crawl_dir / "provenance.db") as db:
        db.row_factory = sqlite3.Row

        def run(name: str, **params: str) -> list[dict[str, Any]]:
            return [dict(r) for r in db.execute(queries[name]["sql"], params)]

        for purpose in ("ai-train", "search"):
            assert {r["url"] for r in run("usable_pages", purpose=purpose)} == usable(crawl_dir, purpose)
        refusals = run("refusals_by_signal_and_domain")
        assert {(r["signal"], r["domain"], r["stage"], r["refused"]) for r in refusals} == {
            ("robots", "stable.test", "pre-fetch", 1),
            ("meta-robots", "erase.test", "post-fetch", 1),
        }
        top = run("top_domains_per_crawl")
        assert [(r["domain"], r["pages"], r["usable_pages"]) for r in top] == sorted(
            [("erase.test", 4, 2), ("later.test", 3, 3), ("stable.test", 2, 2)],
            key=lambda r: -next(t["bytes"] for t in top if t["domain"] == r[0]),
        )
        assert top[0]["decile"] == 1
        (summary,) = run("training_data_summary")
        assert (summary["pages"], summary["usable_pages"], summary["refused"], summary["revoked"]) == (
            9,
            7,
            2,
            1,
        )
        assert summary["domains"] == 3
        assert run("ledger")[0]["reason"] == "erasure"
        assert sum(r["captured"] for r in run("captures_by_day")) == 9


def test_report_is_self_contained_with_charts(crawl_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    cli_ok("report", crawl_dir, "--out", out)
    soup = BeautifulSoup(out.read_text(encoding="utf-8"), "lxml")
    assert len(soup.find_all("svg")) == 3
    assert not soup.find_all(["script", "link", "img", "iframe"])
    assert not [t for t in soup.find_all(True) if t.get("src") or t.get("href")]
    titles = [h.get_text() for h in soup.find_all("h2")]
    assert {"By deciding signal", "By domain (top 20)"} <= set(titles)
    totals = {d.find("b").get_text(): d.get_text() for d in soup.select(".totals div")}
    assert {"9captured", "8usable", "2refused", "0erased"} <= set(totals.values())
    tables = soup.find_all("table")
    by_domain = {tr.find_all("td")[0].get_text(): [td.get_text() for td in tr.find_all("td")[1:]]
                 for tr in tables[2].find_all("tr")[1:]}  # fmt: skip
    assert by_domain == {"erase.test": ["4", "1"], "later.test": ["3", "0"], "stable.test": ["2", "1"]}
    chart_text = " ".join(t.get_text() for t in soup.find_all("title"))
    assert "robots: 1 refused" in chart_text


@pytest.mark.parametrize(
    "args",
    [
        ["pages"],
        ["pages", "--format", "jsonl"],
        ["pages", "--format", "csv"],
        ["explain", "http://later.test/"],
    ],
    ids=["table", "jsonl", "csv", "explain"],
)
def test_a_reader_that_stops_reading_is_a_normal_end(base_crawl: Path, args: list[str]) -> None:
    # permitcrawl pages DIR | head -1: here the reader is gone before the first line.
    from tests.conftest import cli_env

    command, *rest = args
    with subprocess.Popen(
        [sys.executable, "-m", "crawler", command, str(base_crawl), *rest],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(None),
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        errors = process.stderr.read()
        assert process.wait(timeout=60) == 0
    assert errors == b""


def closed(fd: int, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI with standard stream ``fd`` closed (``<&-``, ``>&-``), capturing the other two."""
    import os

    from tests.conftest import cli_env

    return subprocess.run(
        [sys.executable, "-m", "crawler", *map(str, args)],
        capture_output=fd == 0,
        stdout=None if fd == 0 else subprocess.DEVNULL,
        stderr=None if fd == 0 else subprocess.PIPE,
        preexec_fn=lambda: os.close(fd),  # after the child's streams are set up
        text=True,
        env=cli_env(None),
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [["pages", "DIR", "--format", "csv"], ["policy", "queue", "DIR", "--format", "csv"]],
    ids=["pages", "policy queue"],
)
def test_a_stdout_closed_from_the_start_is_a_reader_that_reads_nothing(
    base_crawl: Path, args: list[str]
) -> None:
    # permitcrawl pages DIR --format csv >&- ended in a traceback (the CSV writer was given None).
    result = closed(1, *(base_crawl if arg == "DIR" else arg for arg in args))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_purge_with_stdin_closed_asks_no_one_and_erases_nothing(crawl_dir: Path) -> None:
    # permitcrawl export DIR --purge <&- ended in a traceback ('NoneType' has no attribute 'isatty').
    cli_ok("revoke", crawl_dir, "--url", "http://erase.test/secret", "--reason", "erasure")
    before = page_files(crawl_dir)
    result = closed(0, "export", crawl_dir, "--purge")
    assert result.returncode == 1, result.stderr
    assert "Error: not erasing 1 capture revoked for every purpose, from 1 WARC file: nobody confirmed" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert page_files(crawl_dir) == before


def test_a_damaged_warc_file_stops_every_command_that_reads_records(crawl_dir: Path, tmp_path: Path) -> None:
    # audit, index, export and purge ended in warcio's traceback (ArchiveLoadFailed). A purge that
    # went on would rewrite the file without what lies past the damage.
    cli_ok("revoke", crawl_dir, "--url", "http://erase.test/secret", "--reason", "erasure")
    (keep,) = rows(
        crawl_dir, "select warc_file, warc_offset from captures where url = 'http://erase.test/keep'"
    )
    damaged = crawl_dir / keep["warc_file"]
    with open(damaged, "r+b") as fh:  # the record of one capture, overwritten where it begins
        fh.seek(keep["warc_offset"])
        fh.write(b"X" * 32)
    before = page_files(crawl_dir)
    for args in (
        ["audit", crawl_dir],
        ["index", crawl_dir],
        ["export", crawl_dir, "--out", tmp_path / "dataset"],
        ["export", crawl_dir, "--purge", "--yes"],
    ):
        result = run_cli(*args)
        assert result.returncode == 1, args
        assert result.stderr.endswith(
            f"Error: {damaged}: cannot be read past offset {keep['warc_offset']} (ArchiveLoadFailed); the "
            "file is damaged or cut short; expected a WARC file as permitcrawl wrote it\n"
        ), args
        assert "Traceback" not in result.stderr
    assert page_files(crawl_dir) == before
    assert not (tmp_path / "dataset").exists() and not (crawl_dir / "index.cdxj.partial").exists()
    assert rows(crawl_dir, "select count(*) as n from tombstones")[0]["n"] == 0


def test_downstream_commands_need_a_crawl_dir(tmp_path: Path) -> None:
    for command in ("audit", "index", "datasette", "report", "recheck"):
        result = run_cli(command, tmp_path / "nowhere")
        assert result.returncode == 1, command
        assert "not a directory" in result.stderr or "no WARC files" in result.stderr, command


def test_gzip_helper_reads_every_member(tmp_path: Path) -> None:
    # The byte search above must see inside every gzip member, or it proves nothing.
    (tmp_path / "warc").mkdir()
    (tmp_path / "warc" / "x.warc.gz").write_bytes(gzip.compress(b"one") + gzip.compress(b"two-marker"))
    assert b"two-marker" in all_bytes(tmp_path)


# -- pages over several crawls -------------------------------------------------


def test_pages_over_several_crawls_with_filters(crawl_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"  # (export writes a ledger entry: work on a copy)
    cli_ok("export", crawl_dir, "--out", out)

    def listed(*args: str) -> list[dict[str, Any]]:
        lines = cli_ok("pages", crawl_dir, out, "--format", "jsonl", *args).stdout.splitlines()
        return [json.loads(line) for line in lines]

    found = listed("--domain", "erase.test")
    assert sorted((Path(r["crawl_dir"]).name, r["url"]) for r in found) == sorted(
        [("crawl", u) for u in ("http://erase.test/", "http://erase.test/secret", "http://erase.test/keep")]
        + [("crawl", "http://erase.test/missing")]
        + [
            ("export", u)
            for u in ("http://erase.test/", "http://erase.test/secret", "http://erase.test/keep")
        ]
    )
    assert [(r["url"], r["status"]) for r in listed("--unusable")] == [("http://erase.test/missing", 404)]

    def count(sql: str) -> int:
        return sum(rows(d, sql)[0]["n"] for d in (crawl_dir, out))

    html = count("select count(*) as n from captures where content_type like 'text/html%'")
    assert html >= 14 and len(listed("--content-type", "text/html")) == html
    by_default = count("select count(*) as n from usage where purpose = 'ai-train' and signal = 'default'")
    assert by_default >= 2 and len(listed("--signal", "default")) == by_default
    # erase.test's tdmrep.json (no reservation) decides its pages; nothing else does.
    assert {r["url"].split("/")[2] for r in listed("--signal", "tdmrep")} == {"erase.test"}
    assert listed("--signal", "content-usage") == []
    assert listed("--since", "2999-01-01") == []
    assert len(listed("--until", "2999-01-01")) == 9 + 8
    assert {r["url"] for r in listed("--host", "stable.test", "--usable", "--purpose", "search")} == {
        "http://stable.test/",
        "http://stable.test/s1",
    }
    csv_lines = cli_ok("pages", crawl_dir, out, "--format", "csv").stdout.splitlines()
    assert csv_lines[0].startswith("crawl_dir,url,warc_file,warc_offset") and len(csv_lines) == 1 + 9 + 8
    bad = run_cli("pages", crawl_dir, "--since", "yesterday")
    assert bad.returncode == 2 and "--since" in bad.stderr


def test_purge_and_export_of_an_uncompressed_crawl(dweb: LocalWebServer, tmp_path: Path) -> None:
    from tests.conftest import crawl

    run = crawl(dweb, tmp_path / "plain", "-s", "WARC_GZIP_LEVEL=0", seeds=["http://erase.test/"])
    assert run.result.returncode == 0, run.result.stderr
    (warc,) = (run.out / "warc").iterdir()
    assert warc.name.endswith(".warc")
    cli_ok("revoke", run.out, "--url", "http://erase.test/secret", "--reason", "erasure")
    out = tmp_path / "export"
    result = cli_ok("export", run.out, "--purge", "--yes", "--out", out)
    assert "purged 1 capture " in result.stderr and "exported 2 captures" in result.stderr
    assert ERASE_MARKER.encode() not in warc.read_bytes()
    assert KEEP_MARKER.encode() in warc.read_bytes()
    # Both still read record by record, and both pass their audit.
    assert [t for t, _, _ in warc_records(run.out, ("warc",))][-1] == "resource"
    cli_ok("audit", run.out)
    cli_ok("audit", out)
    assert usable(out) == {"http://erase.test/", "http://erase.test/keep"}


def test_a_purge_that_fails_leaves_the_crawl_as_it_was(
    crawl_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crawler.storage.queries import open_crawl
    from crawler.workflows import purge as purge_module

    cli_ok("revoke", crawl_dir, "--url", "http://erase.test/secret", "--reason", "erasure")
    before = {p.name: p.read_bytes() for p in (crawl_dir / "warc").iterdir()}
    real_replace = purge_module.os.replace

    def failing_replace(src: Any, dst: Any) -> None:
        if str(src).endswith(purge_module.PURGE_SUFFIX):
            real_replace(src, dst)
            raise OSError("disk full")  # after the swap: the rollback must undo it
        real_replace(src, dst)

    monkeypatch.setattr(purge_module.os, "replace", failing_replace)
    db = open_crawl(crawl_dir, write=True)
    with pytest.raises(OSError, match="disk full"):
        purge_module.purge(crawl_dir, db, who="t")
    db.close()
    assert {p.name: p.read_bytes() for p in (crawl_dir / "warc").iterdir()} == before
    assert rows(crawl_dir, "select count(*) as n from tombstones")[0]["n"] == 0
    assert rows(crawl_dir, "select action from ledger") == [{"action": "revoke"}]  # no purge entry
    cli_ok("audit", crawl_dir)


def test_the_demo_then_the_downstream_workflow(tmp_path: Path) -> None:
    # The README's quick start, then its downstream workflow, on the built-in demo web.
    demo = tmp_path / "demo"
    result = cli_ok("demo", "--out", demo)
    assert f"permitcrawl audit {demo}" in result.stderr
    captured = rows(demo, "select count(*) as n from captures")[0]["n"]
    refused = rows(demo, "select count(*) as n from refusals")[0]["n"]
    assert captured >= 20 and refused >= 10
    assert "0 differences" in cli_ok("audit", demo).stderr
    cli_ok("revoke", demo, "--url", "http://open.demo.test/", "--reason", "erasure")
    cli_ok("export", demo, "--purge", "--yes", "--out", tmp_path / "dataset")
    assert usable(tmp_path / "dataset") == usable(demo)
    assert "http://open.demo.test/" not in usable(demo)
    assert "0 differences" in cli_ok("audit", tmp_path / "dataset").stderr
    for command in ("report", "datasette", "index"):
        cli_ok(command, tmp_path / "dataset")
    assert {p.name for p in (tmp_path / "dataset").iterdir()} >= {
        "warc",
        "provenance.db",
        "index.cdxj",
        "report.html",
        "datasette.json",
    }
