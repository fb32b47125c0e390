"""End to end: robots.txt read to the letter (Google's reference parser's cases, RFC 9309).

One CLI crawl of a small web of its own: an empty robots.txt, and a robots.txt whose only group
for us is ``User-agent: permitcrawl bot`` (the ``*`` group disallows everything), with an
over-long line, a Disallow typo Google accepts, and non-ASCII Disallow paths written in UTF-8 and
in Latin-1 in the same file. Nothing a rule refuses may be requested; the rest is crawled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import sqlite_utils

from crawler.localweb.server import Reply, serve
from tests.conftest import CrawlRun, crawl
from tests.sites import page

if TYPE_CHECKING:
    from collections.abc import Iterator

    from crawler.localweb.server import LocalWebServer

# Past Google's 16,663-byte line cap: the Disallow on the next line must still count.
_LONG_ALLOW = b"Allow: /x/" + b"a" * 20_000 + b"/open"
LETTER_ROBOTS = b"\n".join(
    [
        b"User-agent: *",
        b"Disallow: /",
        b"",
        b"User-agent: permitcrawl bot",
        _LONG_ALLOW,
        b"Disallow: /after-long/",
        b"Disallowed: /typo/",
        "Disallow: /café/".encode(),
        "Disallow: /naïve/".encode("latin-1"),
        b"",
    ]
)
REFUSED = ["/after-long/p", "/typo/p", "/caf%C3%A9/p", "/na%C3%AFve/p"]
SITES = {
    "robots-empty.test": {
        "/robots.txt": Reply(200, (("Content-Type", "text/plain"),), b""),
        "/": page("empty home", "/a"),
        "/a": page("empty a"),
    },
    "robots-letter.test": {
        "/robots.txt": Reply(200, (("Content-Type", "text/plain"),), LETTER_ROBOTS),
        "/": page("letter home", "/ok", "/after-long/p", "/typo/p", "/café/p", "/naïve/p"),
        "/ok": page("letter ok"),
        **{path: page("never requested") for path in REFUSED},
    },
}


@pytest.fixture(scope="module")
def letter_web() -> Iterator[LocalWebServer]:
    server = serve(SITES)
    yield server
    server.close()


@pytest.fixture(scope="module")
def letter_crawl(letter_web: LocalWebServer, tmp_path_factory: pytest.TempPathFactory) -> CrawlRun:
    seeds = [f"http://{host}/" for host in SITES]
    run = crawl(letter_web, tmp_path_factory.mktemp("letter") / "crawl", seeds=seeds)
    assert run.result.returncode == 0, run.result.stderr
    return run


def test_an_empty_robots_txt_allows_everything(letter_crawl: CrawlRun) -> None:
    requested = set(letter_crawl.requested("robots-empty.test"))
    assert {"http://robots-empty.test/", "http://robots-empty.test/a"} <= requested


def test_a_user_agent_line_with_a_space_names_our_token(letter_crawl: CrawlRun) -> None:
    # The '*' group disallows everything: /ok is fetched only because 'permitcrawl bot' names us.
    requested = set(letter_crawl.requested("robots-letter.test"))
    assert {"http://robots-letter.test/", "http://robots-letter.test/ok"} <= requested


def test_what_the_letter_refuses_is_never_requested(letter_crawl: CrawlRun) -> None:
    requested = set(letter_crawl.requested("robots-letter.test"))
    assert not requested & {f"http://robots-letter.test{path}" for path in REFUSED}
    refusals = sqlite_utils.Database(letter_crawl.out / "provenance.db")
    refused = {row["url"]: row for row in refusals.query("select url, signal, decision from refusals")}
    for path in REFUSED:
        row = refused[f"http://robots-letter.test{path}"]
        assert row["signal"] == "robots", row
    # The Latin-1 line is read as windows-1252 (the file is not UTF-8), and the refusal says so.
    assert "WINDOWS-1252" in refused["http://robots-letter.test/na%C3%AFve/p"]["decision"]
