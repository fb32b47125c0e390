"""End to end: a bad seed is named before anything is created; IDN seeds are crawled past their first page."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
import sqlite_utils

from crawler.localweb.server import LocalWebServer, serve
from tests.conftest import crawl, run_cli
from tests.sites import page

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def _rows(out: Path, sql: str) -> list[dict]:
    return list(sqlite_utils.Database(out / "provenance.db").query(sql))


@contextmanager
def local_web(sites: dict) -> Iterator[LocalWebServer]:
    server = serve(sites)
    try:
        yield server
    finally:
        server.close()


@pytest.mark.parametrize(
    ("seed", "problem"),
    [
        ("http://[::1", "it does not parse: Invalid IPv6 URL"),
        ("http://site-a.test:99999/", "its port is not a number from 1 to 65535"),
        ("http://site-a.test/ http://robots-404.test/", "it holds whitespace"),
    ],
)
def test_an_unusable_seed_is_named_and_nothing_is_created(seed: str, problem: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli("crawl", seed, "--out", out)
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: seed URL: {seed!r} is not usable ({problem}")
    assert result.stderr.endswith("; expected an absolute http:// or https:// URL\n")
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_two_urls_on_one_line_of_a_seed_file_are_an_error_naming_the_line(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# two hosts\nhttp://site-a.test/\n\nhttp://robots-404.test/ http://group.test/\n")
    out = tmp_path / "out"
    result = run_cli("crawl", "--seeds", seeds, "--out", out)
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"Error: {seeds}:4: 'http://robots-404.test/ http://group.test/' is not usable (it holds whitespace"
    )
    assert not out.exists()


IDN_SITES = {
    "xn--bcher-kva.test": {
        "/": page("Bücher", "/about", "http://BÜCHER.test/upper", "http://other.test/"),
        "/about": page("about"),
        "/upper": page("upper"),
    },
    "other.test": {"/": page("another host: out of scope")},
}


def test_an_idn_seed_is_crawled_beyond_its_first_page(tmp_path: Path) -> None:
    with local_web(IDN_SITES) as web:
        run = crawl(web, tmp_path / "idn", seeds=["http://bücher.test/"])
    assert run.result.returncode == 0, run.result.stderr
    requested = set(run.requested())
    assert {"http://xn--bcher-kva.test/about", "http://xn--bcher-kva.test/upper"} <= requested
    assert "http://other.test/" not in requested
    captured = {row["url"] for row in _rows(run.out, "select url from captures")}
    assert captured == {
        "http://xn--bcher-kva.test/",
        "http://xn--bcher-kva.test/about",
        "http://xn--bcher-kva.test/upper",
    }
