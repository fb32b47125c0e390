"""The crawl directory end to end: whole rows, only our own database read or written, a checked layout.

Every command runs through the CLI in a subprocess, against a test web of its own.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from typing import TYPE_CHECKING, Any

import pytest

from crawler.localweb import LocalWebServer, serve
from crawler.storage.provenance import ProvenanceDB, create_db, dumps, inspect_db
from tests.conftest import run_cli
from tests.sites import TEXT, page

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


def _sites() -> dict[str, Any]:
    inject = {
        "/robots.txt": (200, TEXT, "User-agent: *\nAllow: /\n"),
        "/": page("inject home", "/a", "/boom"),
        "/a": page("inject a", "/b"),
        "/b": page("inject b"),
        "/boom": page("the page whose usage rows cannot be written"),
    }
    return {"inject.test": inject}


@pytest.fixture(scope="module")
def lweb() -> Iterator[LocalWebServer]:
    server = serve(_sites())
    yield server
    server.close()


CRAWL_ARGS = ("-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "DOWNLOAD_TIMEOUT=5")


def query(out: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``out``'s provenance.db, read through a read-only connection of our own."""
    uri = f"{(out / 'provenance.db').as_uri()}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
        return conn.execute(sql).fetchall()


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


# -- item: a capture's rows commit together ---------------------------------------


def test_a_capture_row_is_never_committed_without_its_usage_rows(
    lweb: LocalWebServer, tmp_path: Path
) -> None:
    out = tmp_path / "crawl"
    out.mkdir()
    create_db(out / "provenance.db")
    with sqlite3.connect(out / "provenance.db") as conn:
        # A fault injected in the database: the usage rows of one capture cannot be written.
        conn.execute(
            "create trigger fail_one before insert on usage when new.capture_id in "
            "(select warc_record_id from captures where url = 'http://inject.test/boom') "
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
        ["demo", "--out", out],
    ]
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
        db.add_capture(
            {"warc_record_id": f"<r{i}>", "crawl_id": "c1", "url": f"http://h.test/{i}", "host": "h.test"},
            [{"capture_id": f"<r{i}>", "purpose": "ai-train", "usable": 1, "decision": dumps({"i": i})}],
        )
    db.close()
    with sqlite3.connect(database) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        (last_leaf,) = conn.execute(
            "select max(pageno) from dbstat where name = 'usage' and pagetype = 'leaf'"
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
        ("job", lambda p: p.write_text(""), "is a file; expected the directory of Scrapy's job state"),
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
