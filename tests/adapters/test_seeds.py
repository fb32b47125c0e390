"""Seeds are checked whole before a crawl starts, and compared with links on one spelling of the host."""

from __future__ import annotations

import pytest

from crawler.adapters.spiders.seeds import SeedSpider, check_seed
from crawler.errors import SeedsError


@pytest.mark.parametrize(
    "url",
    ["http://example.test/", " https://example.test:8443/a?b ", "http://bücher.test/", "http://[::1]:8080/"],
)
def test_usable_seeds(url: str) -> None:
    assert check_seed(url) == url.strip()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://x.test/", ""),
        ("not a url", ""),
        ("http:///path", ""),
        ("http://[::1", " (it does not parse: Invalid IPv6 URL)"),
        ("http://x.test:99999/", " (its port is not a number from 1 to 65535)"),
        ("http://x.test:0/", " (its port is not a number from 1 to 65535)"),
        ("http://x.test:http/", " (its port is not a number from 1 to 65535)"),
        (
            "http://a.test/\thttp://b.test/",
            " (it holds whitespace, as two URLs on one line would: give one URL per line, or per argument)",
        ),
    ],
)
def test_unusable_seeds_say_why(url: str, problem: str) -> None:
    with pytest.raises(SeedsError) as caught:
        check_seed(url, "seeds.txt:3")
    assert str(caught.value) == (
        f"seeds.txt:3: {url!r} is not usable{problem}; expected an absolute http:// or https:// URL"
    )


def test_hosts_are_compared_as_requests_spell_them() -> None:
    spider = SeedSpider(seeds=["http://bücher.test/"])
    assert spider.in_scope("http://xn--bcher-kva.test/about")
    assert spider.in_scope("https://Bücher.TEST/")
    assert not spider.in_scope("http://other.test/")
    assert not spider.in_scope("http://[::1/broken")
    assert not spider.in_scope("mailto:someone@bücher.test")
