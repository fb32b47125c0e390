"""URLs and hosts as every part compares them: canonical hosts, registrable domains, origins."""

from __future__ import annotations

import pytest

from policies.urls import (
    canonical_host,
    check_url,
    host_covers,
    is_http_url,
    origin_of,
    registrable_domain,
    request_host,
)


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("www.example.co.uk", "example.co.uk"),  # a two-label public suffix
        ("example.co.uk", "example.co.uk"),
        ("alice.github.io", "alice.github.io"),  # a private suffix: each user is a domain
        ("a.b.example.org.", "example.org"),
        ("EXAMPLE.ORG", "example.org"),
        ("co.uk", "co.uk"),  # a public suffix has no registrable domain: itself
        ("127.0.0.1", "127.0.0.1"),
        ("site-a.test", "site-a.test"),
    ],
)
def test_registrable_domains(host: str, domain: str) -> None:
    assert registrable_domain(host) == domain


def test_hosts_are_compared_canonically() -> None:
    assert canonical_host(" WWW.Bücher.Test. ") == "www.xn--bcher-kva.test"
    assert host_covers("example.org", "a.example.org") and host_covers("example.org", "example.org")
    assert not host_covers("example.org", "badexample.org")


def test_hosts_are_compared_as_requests_spell_them() -> None:
    assert request_host("http://BÜCHER.test./x") == "xn--bcher-kva.test"
    assert request_host("http:///path") is None


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://Example.ORG./a?b", "http://example.org"),
        ("HTTPS://example.org:443/", "https://example.org"),
        ("http://example.org:8080/x", "http://example.org:8080"),
        ("http://[::1]:80/", "http://[::1]"),
    ],
)
def test_origin_of(url: str, origin: str) -> None:
    assert origin_of(url) == origin


@pytest.mark.parametrize("url", ["ftp://x.test/", "/relative", "http:///path", "not a url"])
def test_what_is_not_an_absolute_http_url_is_refused(url: str) -> None:
    assert not is_http_url(url)
    with pytest.raises(ValueError, match="expected an absolute http\\(s\\) URL"):
        check_url(url)
    assert is_http_url("https://x.test") and check_url("http://x.test/a") is None
