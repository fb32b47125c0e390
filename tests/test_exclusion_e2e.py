"""End to end: exclusion lists (crawl --exclude-list FILE, and a policy store's exclude/*.txt).

A host a list names is sent nothing, not even its robots.txt; a listed URL prefix is never requested;
each refusal names the list, its sha256 and the line; the list is archived in the evidence WARC files;
explain and audit show and re-derive the decision; a bad list stops the crawl before anything is made.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

import pytest
import sqlite_utils
from warcio.archiveiterator import ArchiveIterator

from crawler.localweb.server import serve
from tests.conftest import CrawlRun, crawl, run_cli
from tests.sites import TEXT, page

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from crawler.localweb.server import LocalWebServer

LIST = (
    "# persistently infringing sites (test list)\n"
    "\n"
    "Pirate.TEST.   # a domain: it and its subdomains\n"
    "http://keep.test/downloads/\n"
)

SITES = {
    "keep.test": {
        "/robots.txt": (200, TEXT, "User-agent: *\nAllow: /\n"),
        "/": page("Keep", "/ok", "/downloads/film", "/downloads", "/go-pirate"),
        "/ok": page("ok"),
        "/downloads": page("not under the prefix /downloads/"),
        "/downloads/film": page("listed prefix"),
        "/go-pirate": (302, {"Location": "http://www.pirate.test/landing"}, ""),
    },
    "pirate.test": {"/robots.txt": (200, TEXT, ""), "/": page("Pirate", "/a")},
    "www.pirate.test": {"/robots.txt": (200, TEXT, ""), "/landing": page("Landing")},
}


@pytest.fixture(scope="module")
def exclusion_web() -> Iterator[LocalWebServer]:
    server = serve(SITES)
    yield server
    server.close()


@pytest.fixture(scope="module")
def excluded(
    exclusion_web: LocalWebServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[CrawlRun, Path]:
    base = tmp_path_factory.mktemp("exclusion")
    listing = base / "infringing.txt"
    listing.write_text(LIST, encoding="utf-8")
    run = crawl(
        exclusion_web,
        base / "crawl",
        "--exclude-list",
        str(listing),
        seeds=["http://keep.test/", "http://pirate.test/", "http://WWW.Pirate.test./landing"],
    )
    assert run.result.returncode == 0, run.result.stderr
    return run, listing


def _refusals(run: CrawlRun) -> dict[str, dict]:
    db = sqlite_utils.Database(run.out / "provenance.db")
    return {row["url"]: row for row in db.query("select * from refusals")}


def test_an_excluded_host_is_sent_nothing_not_even_robots_txt(excluded: tuple[CrawlRun, Path]) -> None:
    run, _ = excluded
    hosts = {r.host for r in run.requests}
    assert "keep.test" in hosts
    assert not [r for r in run.requests if r.host.endswith("pirate.test")], run.requested()
    assert "http://keep.test/downloads/film" not in run.requested()
    assert "http://keep.test/downloads" in run.requested()  # a prefix is a prefix of paths, not of names
    assert "http://keep.test/ok" in run.requested()


def test_each_refusal_names_the_list_its_sha256_and_line(excluded: tuple[CrawlRun, Path]) -> None:
    run, listing = excluded
    digest = hashlib.sha256(listing.read_bytes()).hexdigest()
    refusals = _refusals(run)
    expected = {
        "http://pirate.test/": 3,
        "http://www.pirate.test/landing": 3,  # the seed as written, and the redirect's target
        "http://keep.test/downloads/film": 4,
    }
    for url, line in expected.items():
        row = refusals[url]
        assert (row["signal"], row["stage"]) == ("exclusion-list", "pre-fetch"), row
        assert digest in row["reason"] and f"line {line}" in row["reason"], row["reason"]
        (basis,) = json.loads(row["decision"])["bases"]
        assert basis["sha256"] == digest and basis["source"] == f"{listing}:{line}"
        assert basis["record_id"] == json.loads(row["evidence"])["exclusion-list"]["record_id"]


def test_the_list_is_archived_whole_as_evidence(excluded: tuple[CrawlRun, Path]) -> None:
    run, listing = excluded
    digest = hashlib.sha256(listing.read_bytes()).hexdigest()
    found = {}
    for path in (run.out / "evidence").glob("*.warc.gz"):
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                target = record.rec_headers.get_header("WARC-Target-URI") or ""
                if record.rec_type == "resource" and target.startswith("urn:permitcrawl:"):
                    found[target] = (
                        record.rec_headers.get_header("WARC-Record-ID"),
                        record.content_stream().read(),
                    )
    record_id, body = found[f"urn:permitcrawl:exclusion-list:sha256:{digest}"]
    assert body == listing.read_bytes()
    (config,) = [json.loads(b) for t, (_, b) in found.items() if t.startswith("urn:permitcrawl:crawl:")]
    assert config["exclusion_lists"] == [{"name": str(listing), "sha256": digest, "record_id": record_id}]


def test_explain_and_audit_show_and_rederive_the_decision(excluded: tuple[CrawlRun, Path]) -> None:
    run, listing = excluded
    explained = run_cli("explain", run.out, "http://pirate.test/")
    assert explained.returncode == 0, explained.stderr
    assert "exclusion-list" in explained.stdout and str(listing) in explained.stdout
    audited = run_cli("audit", run.out)
    assert audited.returncode == 0, audited.stdout + audited.stderr


def test_an_export_keeps_the_lists_and_passes_audit(excluded: tuple[CrawlRun, Path], tmp_path: Path) -> None:
    run, _ = excluded
    exported = run_cli("export", run.out, "--out", tmp_path / "export")
    assert exported.returncode == 0, exported.stderr
    audited = run_cli("audit", tmp_path / "export")
    assert audited.returncode == 0, audited.stdout + audited.stderr


def test_audit_finds_a_refusal_the_archived_list_does_not_support(
    excluded: tuple[CrawlRun, Path], tmp_path: Path
) -> None:
    import shutil

    run, _ = excluded
    copy = tmp_path / "copy"
    shutil.copytree(run.out, copy)
    db = sqlite_utils.Database(copy / "provenance.db")
    row = db.execute(
        "select manifest_id, evidence from refusals where url = 'http://pirate.test/'"
    ).fetchone()
    evidence = json.loads(row[1])
    evidence["exclusion-list"]["sha256"] = "0" * 64  # the manifest no longer names the list archived
    db.execute("update manifests set body = ? where id = ?", [json.dumps(evidence), row[0]])
    db.conn.commit()
    audited = run_cli("audit", copy)
    assert audited.returncode == 1
    assert "http://pirate.test/" in audited.stdout and "sha256" in audited.stdout


def test_a_policy_stores_exclude_directory_applies_too(exclusion_web: LocalWebServer, tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert run_cli("policy", "init", store).returncode == 0
    (store / "exclude").mkdir()
    (store / "exclude" / "eu.txt").write_text("pirate.test\n", encoding="utf-8")
    run = crawl(exclusion_web, tmp_path / "crawl", "--policies", str(store), seeds=["http://pirate.test/"])
    assert run.result.returncode == 0, run.result.stderr
    assert run.requests == []
    assert _refusals(run)["http://pirate.test/"]["signal"] == "exclusion-list"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("example.org\n*.pirate.test\n", "bad.txt:2: '*.pirate.test' is neither a host name nor a URL"),
        ("co.uk\n", "bad.txt:1: 'co.uk' is a public suffix"),
        ("a.test b.test\n", "bad.txt:1: 'a.test b.test' holds whitespace"),
        ("ftp://a.test/\n", "bad.txt:1: 'ftp://a.test/' is not an http(s) URL"),
        (b"\xff\xfe", "bad.txt: is not UTF-8 text"),
    ],
)
def test_a_bad_list_exits_1_before_anything_is_created(
    exclusion_web: LocalWebServer, tmp_path: Path, text: str | bytes, said: str
) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(text if isinstance(text, bytes) else text.encode())
    run = crawl(exclusion_web, tmp_path / "crawl", "--exclude-list", str(bad), seeds=["http://keep.test/"])
    assert run.result.returncode == 1
    assert said in run.result.stderr.replace(str(tmp_path) + "/", ""), run.result.stderr
    assert "expected a host or registrable domain" in run.result.stderr
    assert "Traceback" not in run.result.stderr
    assert not (tmp_path / "crawl").exists()
    assert run.requests == []


def test_a_missing_list_exits_1(exclusion_web: LocalWebServer, tmp_path: Path) -> None:
    run = crawl(exclusion_web, tmp_path / "crawl", "--exclude-list", str(tmp_path / "nope.txt"))
    assert run.result.returncode == 1
    assert "nope.txt: cannot be read" in run.result.stderr
    assert not (tmp_path / "crawl").exists()


def test_policy_validate_checks_the_stores_exclusion_lists(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert run_cli("policy", "init", store).returncode == 0
    (store / "exclude").mkdir()
    (store / "exclude" / "eu.txt").write_text("pirate.test\n", encoding="utf-8")
    good = run_cli("policy", "validate", store)
    assert good.returncode == 0 and "1 exclusion list, all valid" in good.stdout, good.stdout + good.stderr
    (store / "exclude" / "more.txt").write_text("ok.test\nhttps://x.test/?a\n", encoding="utf-8")
    bad = run_cli("policy", "validate", store)
    assert bad.returncode == 1
    assert f"{store / 'exclude' / 'more.txt'}:2: 'https://x.test/?a' has a query or fragment" in bad.stderr
