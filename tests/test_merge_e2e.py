"""``permitcrawl merge`` end to end through the CLI, on two real crawls of the downstream test web.

The two worker directories are real crawls of the same web, one after the
other, so that every URL is captured in both. Each crawl, run alone on its
embedded frontier, records itself as one worker holding every shard under
fencing number 1; the tests replace those columns and leases with SQL to model
a distributed crawl: each host is one shard; worker ``w1`` (the first crawl)
held every shard under fencing number 1 from its start; worker ``w2`` (the
second crawl) took every shard over under fencing number 2, the shard of one
host at the moment of ``w1``'s last capture there (so that capture, and
anything ``w1`` wrote on that shard from then on, is stale), every other shard
once ``w1`` had finished (so the second crawl's captures of them are duplicates
a takeover re-fetched).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from crawler.localweb.server import LocalWebServer, serve
from tests.conftest import run_cli
from tests.sites import DOWNSTREAM_SEEDS, downstream_sites

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="module")
def mweb() -> Iterator[LocalWebServer]:
    server = serve(downstream_sites())
    yield server
    server.close()


def rows(crawl_dir: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    with sqlite3.connect(crawl_dir / "provenance.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(sql, params)]


def cli_ok(*args: str | Path) -> Any:
    result = run_cli(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _model_workers(first: Path, second: Path) -> str:
    """Set shard, epoch, worker and leases in both directories (see the module docstring).

    Returns the URL of the capture that becomes stale.
    """
    hosts = sorted({r["host"] for d in (first, second) for t in ("captures", "refusals")
                    for r in rows(d, f"select distinct host from {t}")})  # fmt: skip
    shard = {host: number for number, host in enumerate(hosts)}
    # The last capture worker 1 made on some host, a usable one (a 404 captured is not), whichever
    # order the crawl took: nothing else of w1's on that host comes after it.
    by_host: dict[str, dict[str, Any]] = {}
    for row in rows(first, "select url, host, fetched_at, status from captures"):
        if row["host"] not in by_host or _when(row["fetched_at"]) > _when(by_host[row["host"]]["fetched_at"]):
            by_host[row["host"]] = row
    last = max((r for r in by_host.values() if r["status"] == 200), key=lambda r: _when(r["fetched_at"]))
    first_start = min(_when(r["started_at"]) for r in rows(first, "select started_at from crawls"))
    second_start = min(_when(r["started_at"]) for r in rows(second, "select started_at from crawls"))
    assert second_start > _when(last["fetched_at"])
    for directory, worker, epoch in ((first, "w1", 1), (second, "w2", 2)):
        with sqlite3.connect(directory / "provenance.db") as db:
            db.execute("delete from leases")  # the single worker's own, replaced by the model's
            for host, number in shard.items():
                for table in ("captures", "refusals"):
                    db.execute(
                        f"update {table} set shard = ?, epoch = ?, worker = ? where host = ?",
                        (number, epoch, worker, host),
                    )
                if epoch == 1:
                    acquired = first_start
                elif host == last["host"]:
                    acquired = _when(last["fetched_at"])  # the takeover, while w1 still wrote there
                else:
                    acquired = second_start
                crawl_id = db.execute("select id from crawls").fetchone()[0]
                db.execute(
                    "insert into leases (shard, epoch, worker, acquired_at, crawl_id) values (?, ?, ?, ?, ?)",
                    (number, epoch, worker, acquired.isoformat(), crawl_id),
                )
    return str(last["url"])


@dataclass
class Workers:
    first: Path
    second: Path
    stale_url: str


@pytest.fixture(scope="module")
def workers(mweb: LocalWebServer, tmp_path_factory: pytest.TempPathFactory) -> Workers:
    """Two worker directories: two real crawls, then shards, fencing numbers and leases set with SQL."""
    from tests.conftest import crawl

    base = tmp_path_factory.mktemp("workers")
    dirs = []
    for name in ("worker-1", "worker-2"):
        run = crawl(mweb, base / name, seeds=DOWNSTREAM_SEEDS)
        assert run.result.returncode == 0, run.result.stderr
        dirs.append(run.out)
    stale_url = _model_workers(*dirs)
    return Workers(dirs[0], dirs[1], stale_url)


def page_urls(*args: str | Path) -> list[str]:
    out = cli_ok("pages", *args, "--format", "jsonl").stdout
    return [json.loads(line)["url"] for line in out.splitlines()]


def test_merge_keeps_each_url_once_drops_stale_and_duplicate_rows_and_passes_audit(
    workers: Workers, tmp_path: Path
) -> None:
    first, second = workers.first, workers.second
    out = tmp_path / "merged"
    result = cli_ok("merge", first, second, "--out", out, "--by", "ops", "--format", "json")
    said = json.loads(result.stdout)

    union = set(page_urls(first)) | set(page_urls(second))
    merged = page_urls(out)
    assert sorted(merged) == sorted(union)  # each URL once, and every one of them
    assert len(merged) == len(set(merged))

    # The stale capture is w1's last one: dropped, and w2's capture of that URL kept in its place.
    (kept,) = rows(out, "select * from captures where url = ?", workers.stale_url)
    w2_ids = {r["warc_record_id"] for r in rows(second, "select warc_record_id from captures")}
    assert kept["warc_record_id"] in w2_ids
    assert kept["warc_file"].startswith("warc/2/")
    # Every other URL: w1's capture, the earlier one; w2's are duplicates.
    w1 = {r["url"]: r["warc_record_id"] for r in rows(first, "select url, warc_record_id from captures")}
    for row in rows(
        out, "select url, warc_record_id, warc_file from captures where url != ?", workers.stale_url
    ):
        assert row["warc_record_id"] == w1[row["url"]]
        assert row["warc_file"].startswith("warc/1/")

    captures_in = {d: len(rows(d, "select url from captures")) for d in (first, second)}
    dropped = said["dropped"]["captures"]
    assert dropped == {"stale": 1, "duplicate": captures_in[second] - 1}
    assert said["kept"]["captures"] == len(union)

    (entry,) = rows(out, "select * from ledger where action = 'merge'")
    details = json.loads(entry["details"])
    assert entry["actor"] == "ops"
    assert details["dropped"]["captures"] == dropped
    assert details["inputs"] == {"1": str(first.resolve()), "2": str(second.resolve())}
    stale = [
        d for d in details["dropped_rows"] if d["table"] == "captures" and d["reason"].startswith("stale")
    ]
    assert [(d["url"], d["input"]) for d in stale] == [(workers.stale_url, 1)]
    assert "after worker w2 acquired fencing number 2" in stale[0]["reason"]

    # The dropped captures' records are named as superseded: response, request, metadata each.
    superseded = rows(out, "select * from superseded")
    assert len(superseded) == 3 * (1 + dropped["duplicate"])
    assert all(r["reason"].startswith("merge: ") for r in superseded)

    audit = run_cli("audit", out)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "refusals: 0 differences;" in audit.stderr

    # Hard links: the same bytes, the same files, nothing rewritten; the inputs keep theirs.
    for number, directory in ((1, first), (2, second)):
        for path in sorted((directory / "warc").glob("*.warc.gz")):
            assert os.path.samefile(path, out / "warc" / str(number) / path.name)
    assert "2 crawl directories" in result.stderr and "stale" in result.stderr


def test_merge_refuses_a_destination_that_is_not_empty(workers: Workers, tmp_path: Path) -> None:
    out = tmp_path / "merged"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    result = run_cli("merge", workers.first, workers.second, "--out", out)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {out}: exists and is not empty; expected a new or empty directory for the merge\n"
    )
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_merge_refuses_an_input_that_is_not_a_crawl_directory(workers: Workers, tmp_path: Path) -> None:
    other = tmp_path / "photos"
    other.mkdir()
    (other / "a.jpg").write_bytes(b"\xff\xd8")
    out = tmp_path / "merged"
    result = run_cli("merge", workers.first, other, "--out", out)
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: {other / 'provenance.db'}: no provenance database here")
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert sorted(p.name for p in other.iterdir()) == ["a.jpg"]  # not even a lock file


def test_a_merge_that_fails_half_way_leaves_nothing(workers: Workers, tmp_path: Path) -> None:
    # A WARC file of the second input cannot be read through: the merge stops, naming it, and
    # neither the destination nor the directory it was being built in is left behind.
    second = Path(shutil.copytree(workers.second, tmp_path / "worker-2"))
    damaged = sorted((second / "warc").glob("*.warc.gz"))[0]
    with open(damaged, "r+b") as fh:
        fh.seek(damaged.stat().st_size // 2)
        fh.write(b"X" * 64)
    parent = tmp_path / "out"
    parent.mkdir()
    out = parent / "merged"
    result = run_cli("merge", workers.first, second, "--out", out)
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: {damaged}: cannot be read past offset ")
    assert result.stderr.endswith("nothing was merged\n")
    assert list(parent.iterdir()) == []
    cli_ok("merge", workers.first, workers.second, "--out", out)  # and it can be made again there


def test_merge_move_takes_the_files_out_of_the_inputs(workers: Workers, tmp_path: Path) -> None:
    first = Path(shutil.copytree(workers.first, tmp_path / "worker-1"))
    second = Path(shutil.copytree(workers.second, tmp_path / "worker-2"))
    names = {d: sorted(p.name for p in (d / "warc").glob("*.warc.gz")) for d in (first, second)}
    out = tmp_path / "merged"
    result = cli_ok("merge", first, second, "--out", out, "--move")
    assert "moved" in result.stderr
    for number, directory in ((1, first), (2, second)):
        assert list((directory / "warc").glob("*.warc.gz")) == []
        assert sorted(p.name for p in (out / "warc" / str(number)).iterdir()) == names[directory]
    cli_ok("audit", out)


# -- reading several worker directories without merging them --------------------------------


def test_pages_lists_the_pages_of_every_worker_directory(workers: Workers) -> None:
    out = cli_ok("pages", workers.first, workers.second, "--format", "jsonl").stdout
    listed = [(json.loads(line)["crawl_dir"], json.loads(line)["url"]) for line in out.splitlines()]
    expected = [(str(d), url) for d in (workers.first, workers.second) for url in page_urls(d)]
    assert sorted(listed) == sorted(expected)


def test_explain_tells_a_url_story_across_worker_directories(workers: Workers) -> None:
    # explain took one directory: a second was read as the URL and refused.
    first, second = workers.first, workers.second
    story = json.loads(cli_ok("explain", first, second, workers.stale_url, "--format", "json").stdout)
    assert story["outcome"] == "captured"
    captured = [(e["outcome"], e["crawl_dir"]) for e in story["events"] if e["outcome"] == "captured"]
    assert captured == [("captured", str(first)), ("captured", str(second))]  # in time order
    text = cli_ok("explain", first, second, workers.stale_url).stdout
    assert f") in {first}\n" in text and f") in {second}\n" in text
    never = cli_ok("explain", first, second, "http://later.test/never-linked").stdout
    assert "No capture or refusal of this URL is recorded in any of these 2 crawl directories." in never


def _totals(report: Path) -> dict[str, str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(report.read_text(encoding="utf-8"), "lxml")
    return {d.get_text(): d.find("b").get_text() for d in soup.select(".totals div")}


def test_report_over_worker_directories_counts_each_url_once(workers: Workers, tmp_path: Path) -> None:
    # report took one directory. Over several it counts what a merge keeps, and writes nothing else.
    first, second = workers.first, workers.second

    # SQLite's own side files (-wal, -shm) come and go with any connection: not ours to count.
    def files(d: Path) -> list[str]:
        return sorted(p.name for p in d.rglob("*") if not p.name.endswith(("-wal", "-shm")))

    before = {d: files(d) for d in (first, second)}
    together = tmp_path / "workers.html"
    cli_ok("report", first, second, "--out", together)
    assert {d: files(d) for d in (first, second)} == before
    merged = tmp_path / "merged"
    cli_ok("merge", first, second, "--out", merged)
    cli_ok("report", merged, "--out", tmp_path / "merged.html")
    assert _totals(together) == _totals(tmp_path / "merged.html")
    union = set(page_urls(first)) | set(page_urls(second))
    assert f"{len(union)}captured" in _totals(together)
    html = together.read_text(encoding="utf-8")
    assert f"<h1>Crawl report: {first}, {second}</h1>" in html
    missing = run_cli("report", first, second)
    assert missing.returncode == 2
    assert "give --out: with several crawl directories, the report belongs to none of them" in missing.stderr


def test_a_takedown_of_a_dropped_capture_holds_for_the_capture_kept(workers: Workers, tmp_path: Path) -> None:
    # Worker 1's capture of the stale URL is revoked in its own directory, then dropped by the
    # merge: the revocation moves to worker 2's capture of that URL, so the URL stays unusable.
    first = Path(shutil.copytree(workers.first, tmp_path / "worker-1"))
    cli_ok("revoke", first, "--url", workers.stale_url, "--reason", "DMCA #7")
    assert workers.stale_url in page_urls(workers.second, "--usable")
    out = tmp_path / "merged"
    said = json.loads(cli_ok("merge", first, workers.second, "--out", out, "--format", "json").stdout)
    assert said["revocations_moved"] == 1
    assert workers.stale_url not in page_urls(out, "--usable")
    (kept,) = rows(out, "select warc_record_id from captures where url = ?", workers.stale_url)
    (revocation,) = rows(out, "select * from revocations")
    assert (revocation["capture_id"], revocation["reason"]) == (kept["warc_record_id"], "DMCA #7")
    cli_ok("audit", out)
