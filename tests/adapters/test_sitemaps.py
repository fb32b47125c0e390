"""Sitemaps read incrementally: the sitemaps.org bounds, gzip bombs, broken XML, no entity expansion."""

from __future__ import annotations

import gzip
import time

import pytest

from crawler.adapters.sitemaps import MAX_URLS, SitemapError, read_sitemap

NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def urlset(count: int) -> bytes:
    locs = "".join(f"<url><loc>http://s.test/{i}</loc><lastmod>2026</lastmod></url>" for i in range(count))
    return f'<?xml version="1.0"?><urlset xmlns="{NS}">{locs}</urlset>'.encode()


def test_a_sitemap_and_an_index() -> None:
    assert read_sitemap(urlset(3)).urls == ("http://s.test/0", "http://s.test/1", "http://s.test/2")
    entry = "<sitemap><loc> http://s.test/a.xml </loc></sitemap>"
    index = read_sitemap(f'<sitemapindex xmlns="{NS}">{entry}</sitemapindex>'.encode())
    assert index.index and index.urls == ("http://s.test/a.xml",) and index.stopped is None


def test_at_most_the_sitemaps_org_count_is_read_quickly() -> None:
    body = gzip.compress(urlset(MAX_URLS + 20_000), mtime=0)
    started = time.monotonic()
    sitemap = read_sitemap(body)
    assert len(sitemap.urls) == MAX_URLS and sitemap.urls[-1] == f"http://s.test/{MAX_URLS - 1}"
    assert sitemap.stopped == f"bound: more than {MAX_URLS} entries"
    assert time.monotonic() - started < 5  # Scrapy's Sitemap would parse all 70,000 first
    exactly = read_sitemap(urlset(5), max_urls=5)
    assert len(exactly.urls) == 5 and exactly.stopped is None  # the bound reached, not passed


def test_a_gzip_bomb_is_read_to_the_size_bound_only() -> None:
    # 64 MiB of spaces after one entry, compressed to some 64 KiB.
    bomb = gzip.compress(urlset(1)[:-9] + b" " * (64 * 1024 * 1024) + b"</urlset>", mtime=0)
    bound = 8 * 1024 * 1024
    sitemap = read_sitemap(bomb, max_size=bound)
    assert sitemap.urls == ("http://s.test/0",) and sitemap.stopped == f"bound: larger than {bound} bytes"


def test_broken_sitemaps_keep_what_came_before_the_break() -> None:
    cut = gzip.compress(urlset(2000), mtime=0)
    partial = read_sitemap(cut[: len(cut) // 2])
    assert 0 < len(partial.urls) < 2000 and partial.stopped and partial.stopped.startswith("broken after")
    recovered = read_sitemap(urlset(3)[:-20])
    assert recovered.urls[:2] == ("http://s.test/0", "http://s.test/1")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "not a readable sitemap"),
        (b"User-agent: *", "no <urlset> or <sitemapindex> element"),
        (b"<html><body>not a sitemap</body></html>", "root element is <html>"),
        (b"\x1f\x8b\x08\x00garbage", "not a readable sitemap"),
    ],
)
def test_what_is_not_a_sitemap_is_an_error(body: bytes, message: str) -> None:
    with pytest.raises(SitemapError, match=message):
        read_sitemap(body)


def test_entities_are_never_expanded() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY e SYSTEM "file:///etc/passwd"><!ENTITY h "http://evil.test/">]>'
        b"<urlset><url><loc>&h;x</loc></url><url><loc>&e;</loc></url><url><loc>http://s.test/ok</loc></url></urlset>"
    )
    urls = read_sitemap(body).urls
    assert "http://s.test/ok" in urls
    assert not any("evil" in url or "root:" in url for url in urls)
