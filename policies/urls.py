"""URLs and hosts as every part of permitcrawl compares them. No Scrapy, no network.

A host is compared canonically (:func:`canonical_host`: lower case, no final
dot, IDNA); an origin is ``scheme://host[:port]`` (:func:`origin_of`); a
host's registrable domain comes from the Public Suffix List
(``publicsuffixlist``, its bundled snapshot: nothing is downloaded).
"""

from __future__ import annotations

import contextlib
import ipaddress
from functools import cache
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

DEFAULT_PORTS = {"http": 80, "https": 443}


def is_http_url(url: str) -> bool:
    """True if ``url`` is an absolute http(s) URL with a host; ValueError if it does not parse."""
    parts = urlsplit(url)
    return parts.scheme in DEFAULT_PORTS and bool(parts.hostname)


def check_url(url: str) -> None:
    """Raise ValueError unless ``url`` is an absolute http(s) URL."""
    if not is_http_url(url):
        raise ValueError(f"expected an absolute http(s) URL, got {url!r}")


@cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


def canonical_host(host: str) -> str:
    """``host`` as it is compared everywhere: lower case, no final dot, IDNA (``bücher.test`` is
    ``xn--bcher-kva.test``, the name a crawler asks DNS for)."""
    host = host.strip().rstrip(".").lower()
    if not host.isascii():
        with contextlib.suppress(UnicodeError):  # a name IDNA cannot write is compared as it is
            host = host.encode("idna").decode("ascii")
    return host


def registrable_domain(host: str) -> str:
    """The registrable domain of ``host`` (``www.example.co.uk`` -> ``example.co.uk``); a host with none
    (an IP address, ``localhost``, a public suffix) is its own. Hosts are compared canonically."""
    host = canonical_host(host)
    try:
        ipaddress.ip_address(host.strip("[]"))
        return host  # an address has no suffix to speak of
    except ValueError:
        pass
    return _psl().privatesuffix(host) or host


def is_registrable(domain: str) -> bool:
    """True if ``domain`` is a registrable domain itself (not a public suffix, not a subdomain)."""
    return _psl().privatesuffix(domain) == domain


def host_covers(scope: str, host: str) -> bool:
    """True if ``host`` is ``scope`` or one of its subdomains."""
    return host == scope or host.endswith("." + scope)


def origin_of(url: str) -> str:
    """Return ``scheme://host[:port]`` of ``url``, lower-cased, default port and a final dot left out."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = DEFAULT_PORTS.get(scheme)
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


def request_host(url: str) -> str | None:
    """The host of ``url`` as requests name it: IDNA (punycode), lower-cased, no final dot.

    Scrapy encodes every request's host this way, so a seed written
    ``http://bücher.test/`` and the links of its pages (``xn--bcher-kva.test``)
    are compared on one spelling. Raise ValueError for a URL that cannot be encoded.
    """
    # Imported here: w3lib loads urllib.request (http.client, ssl), which only this function needs,
    # and a read-only command would pay for it at start-up.
    from w3lib.url import safe_url_string

    host = urlsplit(safe_url_string(url)).hostname
    return host.rstrip(".") if host else None
