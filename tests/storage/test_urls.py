"""The one URL key captured URLs and typed URLs are matched by."""

from __future__ import annotations

import pytest
from scrapy import Request

from crawler.storage.urls import UrlError, origin_prefix, url_key


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("http://example.org/a", "http://example.org/a"),
        ("HTTP://EXAMPLE.ORG/a", "http://example.org/a"),
        ("http://example.org", "http://example.org/"),
        ("http://example.org:80/a", "http://example.org/a"),
        ("https://example.org:443/a", "https://example.org/a"),
        ("http://example.org:8080/a", "http://example.org:8080/a"),
        ("http://example.org/a#part", "http://example.org/a"),
        ("http://example.org/%7efoo%2f", "http://example.org/~foo%2F"),
        ("http://example.org/a?b=2&a=1", "http://example.org/a?a=1&b=2"),
        ("http://example.org./a", "http://example.org/a"),
        ("http://bücher.example/", "http://xn--bcher-kva.example/"),
        ("  http://example.org/a  ", "http://example.org/a"),
    ],
)
def test_url_key(url: str, key: str) -> None:
    assert url_key(url) == key


@pytest.mark.parametrize("url", ["not a url", "example.org/a", "/a", "ftp://example.org/", "http://", ""])
def test_what_is_not_an_absolute_http_url_is_refused(url: str) -> None:
    with pytest.raises(UrlError, match="expected an absolute http:// or https:// URL"):
        url_key(url)


@pytest.mark.parametrize(
    "url", ["HTTP://Example.ORG:80/a b#x", "http://example.org", "http://bücher.example/%7e?b=1&a=2"]
)
def test_a_url_as_scrapy_stores_it_has_the_key_of_the_url_as_typed(url: str) -> None:
    # Captured URLs are Scrapy's request URLs: both sides meet in the same key, under the same prefix.
    stored = Request(url).url
    assert url_key(stored) == url_key(url)
    assert stored.startswith(origin_prefix(url_key(url)))
