"""End to end: the evidence of at most POLICY_HOSTS_KEPT hosts is kept; a dropped host's is fetched again.

Each of HOSTS hosts is a seed whose home page links to one more page. The
frontier serves the seeds first (same priority, older first), so every host
is asked about once before any second page is: when the second pages come,
a cache of KEPT hosts (fewer than HOSTS) holds at most KEPT of them, and at
least HOSTS - KEPT hosts must have their robots.txt fetched again. With the
default (more than HOSTS), every robots.txt is fetched once. Each host's
robots.txt names a sitemap: it is fetched once whatever happens to the
evidence (the frontier's seen set, on disk, drops it the second time).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import pytest

from crawler.localweb.server import serve
from tests.conftest import crawl

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from crawler.localweb.server import LocalWebServer

HOSTS = 130
KEPT = 100  # the smallest POLICY_HOSTS_KEPT accepted
HTML = {"Content-Type": "text/html; charset=utf-8"}
XML = {"Content-Type": "application/xml"}


def _host(index: int) -> str:
    return f"h{index:03d}.kept.test"


def _site(host: str) -> dict[str, tuple[int, dict[str, str], str]]:
    robots = f"User-agent: *\nDisallow: /nowhere/\nSitemap: http://{host}/sitemap.xml\n"
    sitemap = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>http://{host}/p/1</loc></url></urlset>"
    )
    return {
        "/robots.txt": (200, {"Content-Type": "text/plain"}, robots),
        "/": (200, HTML, '<html><body><a href="/p/1">one</a></body></html>'),
        "/p/1": (200, HTML, "<html><body>one</body></html>"),
        "/sitemap.xml": (200, XML, sitemap),
    }


@pytest.fixture(scope="module")
def kept_web() -> Iterator[LocalWebServer]:
    server = serve({_host(i): _site(_host(i)) for i in range(HOSTS)})
    yield server
    server.close()


def _fetches(web: LocalWebServer, out: Path, *settings: str) -> tuple[Counter[str], Counter[str]]:
    """Crawl every host; return how often each host's robots.txt and sitemap were requested."""
    options = [arg for pair in settings for arg in ("-s", pair)]
    run = crawl(
        web, out, *options, "-s", "DOWNLOAD_DELAY=0", seeds=[f"http://{_host(i)}/" for i in range(HOSTS)]
    )
    assert run.result.returncode == 0, run.result.stderr
    pages = [r for r in run.requests if r.path == "/p/1"]
    assert len({r.host for r in pages}) == HOSTS  # every host's second page was crawled
    robots = Counter(r.host for r in run.requests if r.path == "/robots.txt")
    sitemaps = Counter(r.host for r in run.requests if r.path == "/sitemap.xml")
    return robots, sitemaps


def test_the_evidence_of_at_most_the_hosts_kept_is_held(kept_web: LocalWebServer, tmp_path: Path) -> None:
    robots, sitemaps = _fetches(kept_web, tmp_path / "kept", f"POLICY_HOSTS_KEPT={KEPT}")
    again = [host for host, count in robots.items() if count > 1]
    assert len(again) >= HOSTS - KEPT, robots
    assert set(robots) == {_host(i) for i in range(HOSTS)}
    assert set(sitemaps.values()) == {1}  # evidence fetched again schedules no sitemap twice
    assert len(sitemaps) == HOSTS


def test_with_room_for_every_host_each_robots_txt_is_fetched_once(
    kept_web: LocalWebServer, tmp_path: Path
) -> None:
    robots, sitemaps = _fetches(kept_web, tmp_path / "all")
    assert len(robots) == HOSTS and set(robots.values()) == {1}
    assert len(sitemaps) == HOSTS and set(sitemaps.values()) == {1}
