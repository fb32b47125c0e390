"""The test web: ``{host: {path: reply}}``, served by crawler.localweb on 127.0.0.1.

Each host exercises one rule; the end-to-end tests crawl all of them in one run
and read the server's request log, the WARC files and the database.
"""

from __future__ import annotations

import gzip

from crawler.localweb import Reply, Site

HTML = {"Content-Type": "text/html; charset=utf-8"}
TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def page(title: str, *links: str) -> tuple[int, dict[str, str], str]:
    """A small HTML page linking to ``links``."""
    items = "".join(f'<a href="{href}">{href}</a> ' for href in links)
    return 200, HTML, f"<html><head><title>{title}</title></head><body><p>{title}</p>{items}</body></html>"


GZIP_HTML = "<html><body><p>compressed page body</p></body></html>"


def _huge_robots() -> str:
    # A robots.txt past the 500 KiB parse limit: the rule after the limit is ignored.
    head = "User-agent: *\nDisallow: /early/\n"
    filler = "".join(f"Disallow: /filler-{i:07d}/\n" for i in range(30_000))
    return head + filler + "Disallow: /late/\n"


def _redirect(location: str, status: int = 301) -> tuple[int, dict[str, str], str]:
    return status, {"Location": location}, ""


SITES: dict[str, Site] = {
    "site-a.test": {
        "/robots.txt": (200, TEXT, "User-agent: *\nDisallow: /private/\n"),
        "/": page("A home", "/a", "/b", "/private/x", "/gz", "/go-private", "/nofollow"),
        "/a": page("A page a", "/", "/b"),
        "/b": page("A page b", "/a", "/private/y"),
        "/gz": Reply(
            200,
            (("Content-Type", "text/html"), ("Content-Encoding", "gzip")),
            gzip.compress(GZIP_HTML.encode(), mtime=0),
        ),
        # A redirect is judged again at its target: this one is never followed.
        "/go-private": _redirect("http://site-a.test/private/target", 302),
        "/nofollow": (
            200,
            HTML,
            '<html><head><meta name="robots" content="nofollow"></head>'
            '<body><a href="/not-followed">x</a></body></html>',
        ),
        "/not-followed": page("not followed"),
        "/private/x": page("never requested"),
        "/private/y": page("never requested"),
        "/private/target": page("never requested"),
    },
    "robots-503.test": {
        "/robots.txt": (503, TEXT, "busy"),
        "/": page("never requested", "/x"),
    },
    "robots-404.test": {
        "/": page("404 home", "/x"),
        "/x": page("404 x", "/y"),
        "/y": page("404 y"),
    },
    "robots-redirect.test": {
        "/robots.txt": _redirect("http://robots-target.test/robots-real.txt"),
        "/": page("redirect home", "/open", "/secret/page"),
        "/open": page("open"),
        "/secret/page": page("never requested"),
    },
    "robots-target.test": {
        "/robots-real.txt": (200, TEXT, "User-agent: *\nDisallow: /secret\n"),
    },
    "robots-loop.test": {
        "/robots.txt": _redirect("/r1"),
        **{f"/r{i}": _redirect(f"/r{i + 1}") for i in range(1, 10)},
        "/": page("never requested"),
    },
    "robots-timeout.test": {
        "/robots.txt": Reply(200, tuple(TEXT.items()), b"User-agent: *\nAllow: /\n", delay=4.0),
        "/": page("never requested"),
    },
    "robots-huge.test": {
        "/robots.txt": (200, TEXT, _huge_robots()),
        "/": page("huge home", "/early/page", "/late/page"),
        "/early/page": page("never requested"),
        "/late/page": page("late page: the rule past the parse limit is ignored"),
    },
    "robots-garbage.test": {
        "/robots.txt": Reply(
            200, (("Content-Type", "text/plain"),), bytes(range(256)) * 20 + b"\n<html>oops</html>"
        ),
        "/": page("garbage home", "/g"),
        "/g": page("garbage g"),
    },
    "robots-bom.test": {
        "/robots.txt": Reply(200, tuple(TEXT.items()), b"\xef\xbb\xbfUser-agent: *\nDisallow: /blocked/\n"),
        "/": page("bom home", "/blocked/x", "/fine"),
        "/blocked/x": page("never requested"),
        "/fine": page("fine"),
    },
    "robots-latin1.test": {
        "/robots.txt": Reply(
            200,
            tuple(TEXT.items()),
            "User-agent: *\nDisallow: /café/\nDisallow: /private/\n".encode("latin-1"),
        ),
        "/": page("latin1 home", "/private/p", "/public"),
        "/private/p": page("never requested"),
        "/public": page("public"),
    },
    "group.test": {
        # Crawl-delay between two User-agent lines must not split the group (RFC 9309 §2.2.4).
        "/robots.txt": (
            200,
            TEXT,
            "User-agent: permitcrawl\nCrawl-delay: 0\nUser-agent: *\nDisallow: /nope/\n",
        ),
        "/": page("group home", "/nope/x", "/yes"),
        "/nope/x": page("never requested"),
        "/yes": page("yes"),
    },
    "version.test": {
        "/robots.txt": (200, TEXT, "User-agent: permitcrawl/2.0\nDisallow: /v/\n"),
        "/": page("version home", "/v/x", "/w"),
        "/v/x": page("never requested"),
        "/w": page("w"),
    },
    "crawl-delay.test": {
        "/robots.txt": (200, TEXT, "User-agent: *\nCrawl-delay: 1\n"),
        "/": page("delay home", "/1", "/2", "/3"),
        "/1": page("delay 1"),
        "/2": page("delay 2"),
        "/3": page("delay 3"),
    },
    "sitemap.test": {
        "/robots.txt": (200, TEXT, "User-agent: *\nAllow: /\nSitemap: http://sitemap.test/sitemap.xml\n"),
        "/": page("sitemap home"),
        "/sitemap.xml": (
            200,
            {"Content-Type": "application/xml"},
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            "<url><loc>http://sitemap.test/only-in-sitemap</loc></url></urlset>",
        ),
        "/only-in-sitemap": page("only in sitemap"),
    },
}

SEEDS = [f"http://{host}/" for host, site in SITES.items() if "/" in site]

# URLs that must never be requested, whatever else happens.
NEVER_REQUESTED = [
    "http://site-a.test/private/x",
    "http://site-a.test/private/y",
    "http://site-a.test/private/target",
    "http://site-a.test/not-followed",
    "http://robots-503.test/",
    "http://robots-redirect.test/secret/page",
    "http://robots-loop.test/",
    "http://robots-timeout.test/",
    "http://robots-huge.test/early/page",
    "http://robots-bom.test/blocked/x",
    "http://robots-latin1.test/private/p",
    "http://group.test/nope/x",
    "http://version.test/v/x",
]
