"""The test web: ``{host: {path: reply}}``, served by crawler.localweb.server on 127.0.0.1.

Each host exercises one rule; the end-to-end tests crawl all of them in one run
and read the server's request log, the WARC files and the database.
"""

from __future__ import annotations

import gzip

from crawler.localweb.server import Reply, Site

HTML = {"Content-Type": "text/html; charset=utf-8"}
TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def page(title: str, *links: str) -> tuple[int, dict[str, str], str]:
    """A small HTML page linking to ``links``."""
    items = "".join(f'<a href="{href}">{href}</a> ' for href in links)
    return 200, HTML, f"<html><head><title>{title}</title></head><body><p>{title}</p>{items}</body></html>"


GZIP_HTML = "<html><body><p>compressed page body</p></body></html>"


def _huge_robots() -> str:
    # A robots.txt past the 500 KiB parse limit: the rule after the limit counts all the same.
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
        "/late/page": page("never requested: the whole file is read as well"),
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

RSL_NS = "https://rslstandard.org/rsl"


def rsl(*contents: tuple[str, str]) -> tuple[int, dict[str, str], str]:
    """An RSL document: (content url, inner licence XML) pairs."""
    body = "".join(f'<content url="{url}"><license>{inner}</license></content>' for url, inner in contents)
    return (
        200,
        {"Content-Type": "application/rsl+xml"},
        f'<?xml version="1.0"?><rsl xmlns="{RSL_NS}">{body}</rsl>',
    )


PROHIBIT_TRAIN = '<permits type="usage">search ai-input</permits><prohibits type="usage">ai-train</prohibits>'

# One host per AI signal. Pre-fetch reservations must never be requested;
# post-fetch ones are requested and must never reach a WARC file.
SIGNAL_SITES: dict[str, Site] = {
    "agents.test": {
        "/robots.txt": (200, TEXT, "User-agent: *\nAllow: /\n\nUser-agent: GPTBot\nDisallow: /no-train/\n"),
        "/": page("agents home", "/no-train/x", "/ok"),
        "/ok": page("ok for training"),
        "/no-train/x": page("never requested: GPTBot is refused here"),
    },
    "csignal.test": {
        "/robots.txt": (200, TEXT, "User-agent: *\nContent-Signal: search=yes, ai-train=no\nAllow: /\n"),
        "/": page("never requested for ai-train", "/a"),
        "/a": page("never requested for ai-train"),
    },
    "aipref.test": {
        "/robots.txt": (
            200,
            TEXT,
            "User-agent: *\nAllow: /\nContent-Usage: train-ai=y\nContent-Usage: /no-ai/ train-ai=n\n",
        ),
        "/": page("aipref home", "/no-ai/x", "/granted"),
        "/granted": page("granted by Content-Usage"),
        "/no-ai/x": page("never requested: train-ai=n"),
    },
    "tdm.test": {
        "/.well-known/tdmrep.json": (
            200,
            {"Content-Type": "application/json"},
            '[{"location": "/reserved/", "tdm-reservation": 1}, {"location": "/", "tdm-reservation": 0}]',
        ),
        "/": page("tdm home", "/reserved/x", "/free"),
        "/free": page("tdm free"),
        "/reserved/x": page("never requested: TDM reserved"),
    },
    "aitxt.test": {
        "/ai.txt": (200, TEXT, "User-Agent: *\nDisallow: *.txt\nDisallow: /private-ai/\n"),
        "/": page("aitxt home", "/notes.txt", "/private-ai/x", "/fine"),
        "/fine": page("fine"),
        "/notes.txt": (200, TEXT, "never requested: ai.txt refuses *.txt"),
        "/private-ai/x": page("never requested: ai.txt"),
    },
    "rsl.test": {
        "/robots.txt": (200, TEXT, "License: http://rsl.test/license.xml\nUser-agent: *\nAllow: /\n"),
        "/license.xml": rsl(("/premium/", PROHIBIT_TRAIN), ("/", '<permits type="usage">all</permits>')),
        "/": page("rsl home", "/premium/x", "/open"),
        "/open": page("licensed for free"),
        "/premium/x": page("never requested: the licence prohibits ai-train"),
    },
    "rsl-broken.test": {
        "/robots.txt": (200, TEXT, "License: http://rsl-broken.test/missing.xml\nUser-agent: *\nAllow: /\n"),
        "/": page("never requested: unlicensed"),
    },
    "noai.test": {
        "/": page("noai home", "/header-noai", "/meta-noai", "/meta-ours", "/noindex", "/fine"),
        "/header-noai": (
            200,
            {**HTML, "X-Robots-Tag": "noai"},
            "<html><body>reserved by header</body></html>",
        ),
        "/meta-noai": (
            200,
            HTML,
            '<html><head><meta name="robots" content="noai, noimageai"></head><body>reserved</body></html>',
        ),
        "/meta-ours": (
            200,
            HTML,
            '<html><head><meta name="PermitCrawl" content="NoAI"></head><body>reserved for us</body></html>',
        ),
        "/noindex": (200, {**HTML, "X-Robots-Tag": "noindex"}, "<html><body>not for search</body></html>"),
        "/fine": page("fine"),
    },
    "post-signals.test": {
        "/": page("post home", "/cu", "/csig", "/tdm-header", "/tdm-meta", "/rsl-link", "/rsl-inline"),
        "/cu": (200, {**HTML, "Content-Usage": "train-ai=n"}, "<html><body>cu</body></html>"),
        "/csig": (
            200,
            {**HTML, "Content-Signal": "ai-train=no, search=yes"},
            "<html><body>csig</body></html>",
        ),
        "/tdm-header": (200, {**HTML, "tdm-reservation": "1"}, "<html><body>tdm</body></html>"),
        "/tdm-meta": (
            200,
            HTML,
            '<html><head><meta name="tdm-reservation" content="1"></head><body>tdm meta</body></html>',
        ),
        "/rsl-link": (
            200,
            {**HTML, "Link": '</licence.xml>; rel="license"; type="application/rsl+xml"'},
            "<html><body>linked licence</body></html>",
        ),
        "/licence.xml": rsl(("/", PROHIBIT_TRAIN)),
        "/rsl-inline": (
            200,
            HTML,
            f'<html><head><script type="application/rsl+xml"><rsl xmlns="{RSL_NS}"><content url="/">'
            f"<license>{PROHIBIT_TRAIN}</license></content></rsl></script></head><body>inline</body></html>",
        ),
    },
    "redir.test": {
        "/": page("redirect home", "/go"),
        # The target is judged on its own host, against its own evidence: never requested.
        "/go": _redirect("http://agents.test/no-train/y", 302),
    },
}
SITES.update(SIGNAL_SITES)

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
    "http://robots-huge.test/late/page",
    "http://robots-bom.test/blocked/x",
    "http://robots-latin1.test/private/p",
    "http://group.test/nope/x",
    "http://version.test/v/x",
    "http://agents.test/no-train/x",
    "http://agents.test/no-train/y",
    "http://csignal.test/",
    "http://csignal.test/a",
    "http://aipref.test/no-ai/x",
    "http://tdm.test/reserved/x",
    "http://aitxt.test/notes.txt",
    "http://aitxt.test/private-ai/x",
    "http://rsl.test/premium/x",
    "http://rsl-broken.test/",
]

# Fetched, then refused on what the response said: never archived. Signal id by URL.
REFUSED_AFTER_FETCHING = {
    "http://noai.test/header-noai": "x-robots-tag",
    "http://noai.test/meta-noai": "meta-robots",
    "http://noai.test/meta-ours": "meta-robots",
    "http://post-signals.test/cu": "content-usage",
    "http://post-signals.test/csig": "content-signal",
    "http://post-signals.test/tdm-header": "tdmrep",
    "http://post-signals.test/tdm-meta": "tdmrep",
    "http://post-signals.test/rsl-link": "rsl",
    "http://post-signals.test/rsl-inline": "rsl",
}

# Refused before fetching, by signal id.
REFUSED_BEFORE_FETCHING = {
    "http://agents.test/no-train/x": "robots-ai-agents",
    "http://agents.test/no-train/y": "robots-ai-agents",
    "http://csignal.test/": "content-signal",
    "http://aipref.test/no-ai/x": "content-usage",
    "http://tdm.test/reserved/x": "tdmrep",
    "http://aitxt.test/notes.txt": "ai-txt",
    "http://aitxt.test/private-ai/x": "ai-txt",
    "http://rsl.test/premium/x": "rsl",
    "http://rsl-broken.test/": "rsl",
}

# The pages of the signal hosts that are usable for ai-train, exactly.
USABLE_SIGNAL_PAGES = {
    "http://agents.test/",
    "http://agents.test/ok",
    "http://aipref.test/",
    "http://aipref.test/granted",
    "http://tdm.test/",
    "http://tdm.test/free",
    "http://aitxt.test/",
    "http://aitxt.test/fine",
    "http://rsl.test/",
    "http://rsl.test/open",
    "http://noai.test/",
    "http://noai.test/noindex",
    "http://noai.test/fine",
    "http://post-signals.test/",
    "http://redir.test/",
}

TERMS_RESTRICTIVE = (
    "<html><body><h1>Terms of Service</h1><p>Welcome.</p>"
    "<p>You may not scrape, crawl or otherwise use automated means to access the Service.</p>"
    "<p>Content may not be used to train artificial intelligence models.</p></body></html>"
)
TERMS_PLAIN = "<html><body><h1>Terms of Use</h1><p>Be kind. Pay your bills on time.</p></body></html>"
TERMS_OLD = "<html><body><h1>Terms of Use</h1><p>Be kind.</p></body></html>"


def home_with_terms(title: str, *links: str, terms: str = "/legal/terms") -> tuple[int, dict[str, str], str]:
    """A home page with a footer link to its terms."""
    items = "".join(f'<a href="{href}">{href}</a> ' for href in links)
    footer = f'<footer><a href="{terms}">Terms of Service</a></footer>'
    return 200, HTML, f"<html><body><p>{title}</p>{items}{footer}</body></html>"


# Hosts for the ToS policy store (each .test host is its own registrable domain).
TOS_SITES: dict[str, Site] = {
    "tos-strict.test": {
        "/robots.txt": (200, TEXT, "User-agent: *\nAllow: /\n"),
        "/": home_with_terms("never requested: a rule denies ai-train here", "/a"),
        "/a": page("never requested"),
    },
    "tos-held.test": {
        "/": home_with_terms("held home", "/a"),
        "/legal/terms": (200, HTML, TERMS_RESTRICTIVE),
        "/a": page("never requested: held for review"),
    },
    "tos-fine.test": {
        "/": home_with_terms("fine home", "/a"),
        "/legal/terms": (200, HTML, TERMS_PLAIN),
        "/a": page("fine a"),
    },
    "tos-changed.test": {
        "/": home_with_terms("changed home", "/a"),
        "/legal/terms": (200, HTML, TERMS_PLAIN),
        "/a": page("never requested: the terms changed since review"),
    },
    "tos-agreement.test": {
        "/robots.txt": (200, TEXT, "User-agent: *\nContent-Signal: ai-train=no\nAllow: /\n"),
        "/": home_with_terms("agreement home", "/a"),
        "/legal/terms": (200, HTML, TERMS_RESTRICTIVE),
        "/a": page("licensed by agreement"),
    },
    "tos-path.test": {
        "/": home_with_terms("path home", "/members/x", "/public"),
        "/legal/terms": (200, HTML, TERMS_PLAIN),
        "/members/x": page("never requested: members area"),
        "/public": page("public"),
    },
}
TOS_SEEDS = [f"http://{host}/" for host in TOS_SITES]
SITES.update(TOS_SITES)

# The downstream tests' own web (served apart, so a test may change a site after crawling it).
ERASE_MARKER = "erase-me-7f3a9c51-only-in-this-page"
KEEP_MARKER = "keep-me-2b8e04d7-only-in-this-page"
NOAI_MARKER = "refused-after-fetching-c41d9e"
LATER_ROBOTS_BEFORE = "User-agent: *\nAllow: /\n"
# After the crawl: /p1 closed to everyone, and no AI training anywhere.
LATER_ROBOTS_AFTER = "User-agent: *\nContent-Signal: search=yes, ai-train=no\nDisallow: /p1\n"


def downstream_sites() -> dict[str, Site]:
    """A fresh copy of the downstream test web (tests change it)."""
    return {
        "later.test": {
            "/robots.txt": (200, TEXT, LATER_ROBOTS_BEFORE),
            "/": page("later home", "/p1", "/p2"),
            "/p1": page("later p1"),
            "/p2": page("later p2"),
        },
        "stable.test": {
            "/robots.txt": (200, TEXT, "User-agent: *\nDisallow: /closed/\n"),
            "/": page("stable home", "/s1", "/closed/x"),
            "/s1": page("stable s1"),
            "/closed/x": page("never requested"),
        },
        "erase.test": {
            "/robots.txt": (200, TEXT, "User-agent: *\nAllow: /\n"),
            "/.well-known/tdmrep.json": (
                200,
                {"Content-Type": "application/json"},
                '[{"location": "/", "tdm-reservation": 0}]',
            ),
            "/": page("erase home", "/secret", "/keep", "/noai", "/missing"),
            "/secret": page(ERASE_MARKER),
            "/keep": page(KEEP_MARKER),
            "/noai": (
                200,
                HTML,
                f'<html><head><meta name="robots" content="noai"></head><body>{NOAI_MARKER}</body></html>',
            ),
        },
    }


DOWNSTREAM_SEEDS = ["http://later.test/", "http://stable.test/", "http://erase.test/"]
