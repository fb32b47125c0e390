"""One key per URL, for the URLs a crawl stored and the URLs people type. No Scrapy here.

A crawl stores each URL as Scrapy requested it (``safe_url_string``), and
Scrapy's duplicate filter took two spellings for the same request when their
:func:`w3lib.url.canonicalize_url` forms are equal. ``explain`` and ``revoke``
compare URLs by that same form, with what it leaves out added: so
``HTTP://Example.ORG:80/a#x``, ``http://example.org/a`` and
``http://example.org/%61`` are one URL, and ``http://example.org`` is
``http://example.org/``. Every comparison goes through :func:`url_key`, on
both sides.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from crawler.errors import PermitcrawlError
from policies.urls import canonical_host

DEFAULT_PORTS = {"http": 80, "https": 443}


class UrlError(PermitcrawlError):
    """A URL given to a command is not an absolute http(s) URL."""


def url_key(url: str) -> str:
    """Return the key ``url`` is matched by; raise UrlError unless it is an absolute http(s) URL.

    The key is :func:`~w3lib.url.canonicalize_url`'s form (percent-encoding
    normalised, dot segments resolved, query arguments sorted, fragment
    dropped, scheme and host in lower case) with the host as hosts are
    compared everywhere (IDNA, no final dot), the default port left out and
    an empty path written ``/``.
    """
    # Imported here: w3lib loads urllib.request (http.client, ssl), which a command that
    # never matches a URL (``pages --host``) would pay for at start-up.
    from w3lib.url import canonicalize_url

    text = url.strip()
    try:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError("no http or https scheme, or no host")
        parts = urlsplit(canonicalize_url(text))
        port = parts.port
    except ValueError:
        raise UrlError(f"{url!r} is not usable; expected an absolute http:// or https:// URL") from None
    host = canonical_host(parts.hostname or "")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    if parts.username is not None:  # kept apart: credentials may name another account's page
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def origin_prefix(key: str) -> str:
    """``scheme://host`` of a key (with any userinfo, without the port): every stored spelling of
    the URL starts with it, as Scrapy writes scheme and host in lower case, so a range scan of a
    ``url`` index finds them all."""
    parts = urlsplit(key)
    netloc = parts.netloc
    if parts.port is not None:
        netloc = netloc[: netloc.rfind(":")]
    return f"{parts.scheme}://{netloc}"
