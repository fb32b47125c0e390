"""The crawl directory end to end: one writer at a time, whole rows, and only our own database.

Every command runs through the CLI in a subprocess, against a test web of its
own whose pages can be made slow (so that a crawl is still running when a
second command comes) and fast again (so that a resumed crawl ends quickly).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from crawler.localweb.server import LocalWebServer, Reply, serve
from crawler.storage.provenance import ProvenanceDB, create_db, dumps, inspect_db
from policies.decision import DefaultPolicy, Stage, combine
from policies.purpose import Purpose
from tests.conftest import cli_env, run_cli
from tests.sites import HTML, TEXT, page

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

PAGES = 40
NOW = datetime(2026, 11, 29, tzinfo=UTC)
SLOW = {"delay": 0.5}
WIDE = 400


def _slow(path: str) -> Callable[[], Reply]:
    def reply() -> Reply:
        body = f"<html><body><p>slow page {path}</p></body></html>".encode()
        return Reply(200, tuple(HTML.items()), body, delay=SLOW["delay"])

    return reply


def _sites() -> dict[str, Any]:
    slow: dict[str, Any] = {f"/p{i}": _slow(f"/p{i}") for i in range(PAGES)}
    slow["/robots.txt"] = (200, TEXT, "User-agent: *\nAllow: /\n")
    slow["/"] = page("slow home", *(f"/p{i}" for i in range(PAGES)))
    inject = {
        "/robots.txt": (200, TEXT, "User-agent: *\nAllow: /\n"),
        "/": page("inject home", "/a", "/boom"),
        "/a": page("inject a", "/b"),
        "/b": page("inject b"),
        "/boom": page("the page whose usage rows cannot be written"),
    }
    # Links enough that Scrapy's buffered requests.seen is written to before the pages come back.
    wide: dict[str, Any] = {f"/w{i}": _slow(f"/w{i}") for i in range(WIDE)}
    wide["/robots.txt"] = (200, TEXT, "User-agent: *\nAllow: /\n")
    wide["/"] = page("wide home", *(f"/w{i}" for i in range(WIDE)))
    return {"slow.test": slow, "inject.test": inject, "wide.test": wide}


@pytest.fixture(scope="module")
def lweb() -> Iterator[LocalWebServer]:
    server = serve(_sites())
    yield server
    server.close()


@pytest.fixture(autouse=True)
def slow_pages() -> Iterator[None]:
    SLOW["delay"] = 0.5
    yield
    SLOW["delay"] = 0.5


CRAWL_ARGS = ("-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "DOWNLOAD_TIMEOUT=5")


def start_crawl(web: LocalWebServer, out: Path, *args: str) -> subprocess.Popen[str]:
    """Start a crawl of slow.test in the background."""
    command = [sys.executable, "-m", "crawler", "crawl", "http://slow.test/", "--out", str(out)]
    return subprocess.Popen(
        [*command, *CRAWL_ARGS, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(web.proxy_url),
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def holder(out: Path) -> dict[str, Any]:
    try:
        return json.loads((out / "permitcrawl.lock").read_text())
    except (OSError, ValueError):
        return {}


def query(out: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``out``'s provenance.db, read through a read-only connection of our own."""
    uri = f"{(out / 'provenance.db').as_uri()}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
        return conn.execute(sql).fetchall()


def captures(out: Path) -> int:
    try:
        return query(out, "select count(*) from captures")[0][0]
    except sqlite3.Error:
        return 0  # not made yet


def orphans(out: Path) -> list[str]:
    """Captures committed without their three usage rows (one per purpose)."""
    sql = (
        "select url from captures c "
        "where (select count(*) from usage u where u.capture_id = c.warc_record_id) != 3"
    )
    return [row[0] for row in query(out, sql)]


def snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``directory``: size and modification time (SQLite's shared-memory index aside)."""
    return {
        str(path.relative_to(directory)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(directory.rglob("*"))
        if path.is_file() and not path.name.endswith("-shm")
    }


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=30)


# -- item: one writer per crawl directory -------------------------------------------


def test_a_second_writer_is_refused_naming_the_holder_and_touches_nothing(
    lweb: LocalWebServer, tmp_path: Path
) -> None:
    out = tmp_path / "crawl"
    first = start_crawl(lweb, out)
    try:
        wait_for(lambda: captures(out) > 0, "the first crawl's first commit")
        first.send_signal(signal.SIGSTOP)  # it holds the directory, and changes nothing while we look
        time.sleep(0.5)  # requests it sent before stopping reach the server's log
        before, requests = snapshot(out), len(lweb.requests)
        writers = {
            "crawl": ["crawl", "http://slow.test/", "--out", out],
            "demo": ["demo", "--out", out],
            "recheck": ["recheck", out],
            "revoke": ["revoke", out, "--url", "http://slow.test/", "--reason", "takedown"],
            "export --purge": ["export", out, "--purge"],
            "export --out": ["export", out, "--out", tmp_path / "export"],
        }
        held = holder(out)
        for name, args in writers.items():
            result = run_cli(*args, *(CRAWL_ARGS if name == "crawl" else ()), proxy=lweb.proxy_url)
            assert result.returncode == 1, (name, result.stderr)
            assert "Traceback" not in result.stderr, name
            if name == "demo":  # a crawl directory is not the demo's to replace, in use or not
                assert "was not made by 'permitcrawl demo'" in result.stderr
                continue
            assert result.stderr.startswith(f"Error: {out}: in use by another permitcrawl process"), name
            for part in (f"pid {first.pid}", f"host {socket.gethostname()}", "since "):
                assert part in result.stderr, (name, part, result.stderr)
            assert f"running {held['command']!r}" in result.stderr, name
            assert held["started_at"] in result.stderr, name
            assert "Traceback" not in result.stderr, name
        assert held["command"].startswith(f"permitcrawl crawl http://slow.test/ --out {out}")
        assert snapshot(out) == before
        assert len(lweb.requests) == requests  # nothing was fetched either
        assert not (tmp_path / "export").exists()
        # Reading needs no lock: a crawl can be looked at while it runs.
        assert run_cli("pages", out).returncode == 0
        assert run_cli("explain", out, "http://slow.test/").returncode == 0
        first.send_signal(signal.SIGCONT)
    finally:
        stop(first)


def test_a_crawl_killed_with_sigkill_blocks_no_one_and_leaves_whole_rows(
    lweb: LocalWebServer, tmp_path: Path
) -> None:
    out = tmp_path / "crawl"
    # A commit after every capture: a kill at any moment falls near one.
    first = start_crawl(lweb, out, "-s", "PROVENANCE_BATCH_SIZE=1")
    try:
        wait_for(lambda: captures(out) >= 3, "three captures")
        time.sleep(random.uniform(0, 0.6))
        first.send_signal(signal.SIGKILL)
    finally:
        stop(first)
    assert first.returncode == -signal.SIGKILL
    assert holder(out)["pid"] == first.pid  # its lock file is still there, naming a dead process
    assert orphans(out) == []
    # Audit cannot read the files the kill left open, and says so beside the differences that follow.
    audited = run_cli("audit", out)
    left_open = sorted((out / "evidence").glob("*.open"))
    assert audited.returncode == 1 and left_open, audited.stderr
    for path in left_open:
        assert f"Note: {path}: still open (a crawl is writing it, or one was killed)" in audited.stderr
    before = captures(out)
    SLOW["delay"] = 0
    resumed = run_cli("crawl", "http://slow.test/", "--out", out, *CRAWL_ARGS, proxy=lweb.proxy_url)
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming the crawl" in resumed.stderr
    assert holder(out)["pid"] not in (first.pid, None)
    assert captures(out) > before
    assert orphans(out) == []


# -- item: a capture's rows commit together ---------------------------------------


def test_a_capture_row_is_never_committed_without_its_usage_rows(
    lweb: LocalWebServer, tmp_path: Path
) -> None:
    out = tmp_path / "crawl"
    out.mkdir()
    create_db(out / "provenance.db")
    with sqlite3.connect(out / "provenance.db") as conn:
        # A fault injected in the database: one capture's row cannot be written, after the decisions,
        # manifest and verdicts it uses were inserted in the same transaction.
        conn.execute(
            "create trigger fail_one before insert on capture_rows when new.url = 'http://inject.test/boom' "
            "begin select raise(abort, 'injected failure'); end"
        )
    conn.close()
    result = run_cli(
        "crawl",
        "http://inject.test/",
        "--out",
        out,
        *CRAWL_ARGS,
        "-s",
        "PROVENANCE_BATCH_SIZE=1",
        "-s",
        "CONCURRENT_REQUESTS=1",
        proxy=lweb.proxy_url,
    )
    assert result.returncode == 1, result.stderr
    assert "output could not be written" in result.stderr
    assert orphans(out) == []
    urls = {row[0] for row in query(out, "select url from captures")}
    assert "http://inject.test/boom" not in urls
    assert "http://inject.test/" in urls  # committed before, with its usage rows


# -- item: only a permitcrawl database is read or written ---------------------------


def _foreign(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("create table foo(x)")
    conn.close()


def _truncated(path: Path) -> None:
    db = ProvenanceDB.open(path, batch_size=50)
    db.start_crawl({"id": "c1", "purpose": "ai-train"})
    for i in range(200):
        db.add_capture(
            {"warc_record_id": f"<r{i}>", "crawl_id": "c1", "url": f"http://h.test/{i}", "host": "h.test"},
            [{"capture_id": f"<r{i}>", "purpose": "ai-train", "usable": 1, "decision": dumps({"i": i})}],
        )
    db.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])


DAMAGE: dict[str, tuple[Callable[[Path], object], str]] = {
    "empty": (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
    "foreign": (_foreign, "holds another schema (tables foo), not permitcrawl's"),
    "garbage": (lambda p: p.write_bytes(os.urandom(8192)), "is not an SQLite database"),
    "truncated": (_truncated, "is damaged"),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_every_command_refuses_a_database_that_is_not_a_permitcrawl_one_and_leaves_it_alone(
    tmp_path: Path, kind: str
) -> None:
    out = tmp_path / "crawl"
    out.mkdir()
    database = out / "provenance.db"
    make, message = DAMAGE[kind]
    make(database)
    before = snapshot(out)
    commands = [
        ["pages", out],
        ["explain", out, "http://h.test/1"],
        ["audit", out],
        ["report", out],
        ["policy", "queue", out],
        ["revoke", out, "--url", "http://h.test/1", "--reason", "takedown"],
        ["export", out, "--purge"],
        ["export", out, "--out", tmp_path / "export"],
        ["recheck", out],
        ["crawl", "http://h.test/", "--out", out],
    ]
    demo = run_cli("demo", "--out", out)  # not a demo's directory: refused before the database is looked at
    assert demo.returncode == 1 and "was not made by 'permitcrawl demo'" in demo.stderr, demo.stderr
    for args in commands:
        result = run_cli(*args)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.startswith(f"Error: {database}: {message}"), (args, result.stderr)
        assert "expected a permitcrawl provenance database" in result.stderr, args
        assert "Traceback" not in result.stderr, args
    # Nothing written: not the database (bytes, time), nor a lock file, a report or a crawl's output.
    assert snapshot(out) == before
    assert sorted(p.name for p in out.iterdir()) == ["provenance.db"]
    assert not (tmp_path / "export").exists()


def test_damage_found_half_way_through_a_command_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    out = tmp_path / "crawl"
    out.mkdir()
    database = out / "provenance.db"
    db = ProvenanceDB.open(database, batch_size=100)
    db.start_crawl({"id": "c1", "purpose": "ai-train"})
    for i in range(300):
        url = f"http://h.test/{i}"
        # A whole decision, as a crawl records it: the rows read back well until the damaged page.
        decision = combine(
            [], url=url, purpose=Purpose.AI_TRAIN, default_policy=DefaultPolicy.ALLOW, decided_at=NOW,
            stage=Stage.POST_FETCH,
        )  # fmt: skip
        db.add_capture(
            {"warc_record_id": f"<r{i}>", "crawl_id": "c1", "url": url, "host": "h.test"},
            [
                {
                    "capture_id": f"<r{i}>",
                    "purpose": "ai-train",
                    "usable": 1,
                    "decision": dumps(decision.as_dict()),
                }
            ],
        )
    db.close()
    with sqlite3.connect(database) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        (last_leaf,) = conn.execute(
            "select max(pageno) from dbstat where name = 'capture_rows' and pagetype = 'leaf'"
        ).fetchone()
    conn.close()
    data = bytearray(database.read_bytes())
    data[(last_leaf - 1) * page_size : last_leaf * page_size] = b"\xff" * page_size
    database.write_bytes(bytes(data))
    inspect_db(database)  # the damage is past what opening checks: the command itself meets it
    result = run_cli("pages", out, "--format", "jsonl")
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: {database}: could not be read or written (")
    assert "Traceback" not in result.stderr


# -- smaller: the directory's layout is checked before a crawl starts --------------


@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        ("frontier.db", lambda p: p.mkdir(), "is not a file; expected the crawl's frontier database"),
        ("frontier.db", lambda p: p.write_text("not sqlite"), "is not a permitcrawl frontier database"),
        ("warc", lambda p: p.write_text(""), "is a file; expected the directory of the captured pages'"),
        ("evidence", lambda p: p.write_text(""), "is a file; expected the directory of the evidence WARC"),
        ("warc", lambda p: p.symlink_to(p.parent / "nowhere"), "is a broken symbolic link; expected"),
        ("provenance.db", lambda p: p.mkdir(), "is not a regular file; expected a permitcrawl provenance"),
    ],
)
def test_a_crawl_directory_of_the_wrong_shape_is_refused_before_anything_starts(
    lweb: LocalWebServer, tmp_path: Path, name: str, make: Callable[[Path], object], expected: str
) -> None:
    out = tmp_path / "crawl"
    out.mkdir()
    make(out / name)
    before = sorted(p.name for p in out.iterdir())
    requests = len(lweb.requests)
    result = run_cli("crawl", "http://inject.test/", "--out", out, *CRAWL_ARGS, proxy=lweb.proxy_url)
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: {out / name}: {expected}"), result.stderr
    assert sorted(p.name for p in out.iterdir()) == before  # nothing created
    assert len(lweb.requests) == requests
