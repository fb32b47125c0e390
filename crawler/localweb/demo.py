"""The built-in demo web: a few made-up hosts that show each rule the crawler applies.

``permitcrawl demo`` serves these on 127.0.0.1 (see :mod:`crawler.localweb.server`)
and crawls them; no network is needed. Its output directory carries a marker
file (:data:`DEMO_MARKER`): the next demo replaces a directory only if it has
one, so that a demo never deletes what it did not make.
"""

from __future__ import annotations

import gzip
import logging
import shutil
from pathlib import Path

from crawler.errors import PermitcrawlError
from crawler.localweb.server import Reply, Site
from crawler.storage.lock import LOCK_NAME

HTML = {"Content-Type": "text/html; charset=utf-8"}
TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def page(title: str, *links: str, body: str = "") -> tuple[int, dict[str, str], str]:
    """An HTML page with a title, a paragraph and links."""
    items = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
    text = body or f"This is {title}, a page of the permitcrawl demo web."
    return (
        200,
        HTML,
        f"<!doctype html><html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{text}</p><ul>{items}</ul></body></html>",
    )


def gzipped(title: str) -> Reply:
    """An HTML page sent gzip-encoded (archived as sent, read back decoded)."""
    _, headers, html = page(title, "/")
    body = gzip.compress(html.encode("utf-8"), mtime=0)
    return Reply(200, (*headers.items(), ("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")), body)


SITEMAP = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>http://open.demo.test/from-sitemap</loc></url>
</urlset>
"""

DEMO_SITES: dict[str, Site] = {
    # Everything allowed except /private/; a gzip page; a sitemap named in robots.txt.
    "open.demo.test": {
        "/robots.txt": (
            200,
            TEXT,
            "User-agent: *\nDisallow: /private/\n\nSitemap: http://open.demo.test/sitemap.xml\n",
        ),
        "/": page("Open site", "/articles/1", "/articles/2", "/articles/compressed", "/private/notes"),
        "/articles/1": page("Article one", "/", "/articles/2"),
        "/articles/2": page("Article two", "/", "/private/drafts"),
        "/articles/compressed": gzipped("A gzip-encoded article"),
        "/private/notes": page("Private notes (never requested)"),
        "/private/drafts": page("Private drafts (never requested)"),
        "/sitemap.xml": (200, {"Content-Type": "application/xml"}, SITEMAP),
        "/from-sitemap": page("Found through the sitemap", "/"),
    },
    # robots.txt shuts our token out entirely: only robots.txt is requested.
    "strict.demo.test": {
        "/robots.txt": (200, TEXT, "User-agent: permitcrawl\nDisallow: /\n\nUser-agent: *\nAllow: /\n"),
        "/": page("Strict site (never requested)", "/a"),
    },
    # robots.txt answers 503: complete disallow (RFC 9309), nothing else is requested.
    "down.demo.test": {
        "/robots.txt": (503, TEXT, "Service unavailable\n"),
        "/": page("Down site (never requested)"),
    },
    # No robots.txt (404): everything may be fetched.
    "norobots.demo.test": {
        "/": page("No robots.txt here", "/about"),
        "/about": page("About", "/"),
    },
    # robots.txt redirects; the rules found at the target apply to this host.
    "moved.demo.test": {
        "/robots.txt": (301, {"Location": "http://moved.demo.test/policies/robots.txt"}, ""),
        "/policies/robots.txt": (200, TEXT, "User-agent: *\nDisallow: /drafts/\n"),
        "/": page("Moved robots.txt", "/published", "/drafts/plan"),
        "/published": page("Published", "/"),
        "/drafts/plan": page("Draft (never requested)"),
    },
}

RSL = "https://rslstandard.org/rsl"
LICENCE = f"""<?xml version="1.0" encoding="UTF-8"?>
<rsl xmlns="{RSL}">
  <content url="/premium/">
    <license>
      <permits type="usage">search</permits>
      <prohibits type="usage">ai-train</prohibits>
    </license>
  </content>
  <content url="/">
    <license><permits type="usage">all</permits></license>
  </content>
</rsl>
"""

# One host per AI signal: what each reserves before fetching is never requested;
# what a response reserves is fetched but never archived.
DEMO_SITES.update(
    {
        "agents.demo.test": {
            "/robots.txt": (
                200,
                TEXT,
                "User-agent: *\nAllow: /\n\nUser-agent: GPTBot\nUser-agent: CCBot\nDisallow: /stories/\n",
            ),
            "/": page("AI crawlers refused from /stories/", "/stories/one", "/about"),
            "/about": page("About"),
            "/stories/one": page("A story (never requested: GPTBot and CCBot are refused here)"),
        },
        "signals.demo.test": {
            "/robots.txt": (200, TEXT, "User-Agent: *\nContent-Signal: search=yes, ai-train=no\nAllow: /\n"),
            "/": page("Content Signals: search yes, ai-train no (never requested for ai-train)"),
        },
        "aipref.demo.test": {
            "/robots.txt": (
                200,
                TEXT,
                "User-agent: *\nAllow: /\nContent-Usage: train-ai=y\nContent-Usage: /drafts/ train-ai=n\n",
            ),
            "/": page("AIPREF Content-Usage: training granted, except drafts", "/drafts/d1", "/essay"),
            "/essay": page("An essay (granted: train-ai=y)"),
            "/drafts/d1": page("A draft (never requested: train-ai=n)"),
        },
        "tdm.demo.test": {
            "/.well-known/tdmrep.json": (
                200,
                {"Content-Type": "application/json"},
                '[{"location": "/archive/", "tdm-reservation": 1, "tdm-policy": "http://tdm.demo.test/policy.json"},'
                ' {"location": "/", "tdm-reservation": 0}]',
            ),
            "/": page("TDMRep: mining allowed, except the archive", "/archive/1990", "/news"),
            "/news": page("News (TDM not reserved)"),
            "/archive/1990": page("Archive (never requested: TDM reserved)"),
        },
        "aitxt.demo.test": {
            "/ai.txt": (200, TEXT, "# Spawning AI\nUser-Agent: *\nDisallow: /gallery/\nAllow: /\n"),
            "/": page("ai.txt: the gallery is off limits", "/gallery/1", "/blog"),
            "/blog": page("Blog (allowed by ai.txt)"),
            "/gallery/1": page("Gallery (never requested)"),
        },
        "licensed.demo.test": {
            "/robots.txt": (
                200,
                TEXT,
                "License: http://licensed.demo.test/license.xml\nUser-agent: *\nAllow: /\n",
            ),
            "/license.xml": (200, {"Content-Type": "application/rsl+xml"}, LICENCE),
            "/": page("RSL: free to use, except premium", "/premium/report", "/free-report"),
            "/free-report": page("Free report (licensed for all uses)"),
            "/premium/report": page("Premium report (never requested: the licence prohibits ai-train)"),
        },
        "noai.demo.test": {
            "/": page("Pages that opt out in their response", "/header", "/meta", "/usage", "/ok"),
            "/header": (
                200,
                {**HTML, "X-Robots-Tag": "noai"},
                "<html><body>X-Robots-Tag: noai (not archived)</body></html>",
            ),
            "/meta": (
                200,
                HTML,
                '<html><head><meta name="robots" content="noai, noimageai"></head>'
                "<body>meta noai (not archived)</body></html>",
            ),
            "/usage": (
                200,
                {**HTML, "Content-Usage": "train-ai=n"},
                "<html><body>Content-Usage header (not archived)</body></html>",
            ),
            "/ok": page("No opt-out here"),
        },
    }
)

TERMS_LINK = '<footer><a href="/legal/terms">Terms of Service</a></footer>'
RESTRICTIVE_TERMS = (
    "<html><body><h1>Terms of Service</h1><p>Welcome to our service.</p>"
    "<p>You may not scrape, crawl or use automated means to copy the Service.</p>"
    "<p>Content may not be used to train artificial intelligence models.</p></body></html>"
)


def home(title: str, *links: str) -> tuple[int, dict[str, str], str]:
    """A home page with a footer link to the site's terms."""
    status, headers, html = page(title, *links)
    return status, headers, html.replace("</body>", TERMS_LINK + "</body>")


# Hosts for the ToS policy store (crawler/localweb/demo_policies/demo.test.toml).
DEMO_SITES.update(
    {
        # A reviewed rule refuses ai-train: only robots.txt is ever asked of this host.
        "tos-strict.demo.test": {
            "/robots.txt": (200, TEXT, "User-agent: *\nAllow: /\n"),
            "/": home("Strict terms (never requested)", "/catalogue"),
            "/catalogue": page("Catalogue (never requested)"),
        },
        # No rule, and the terms speak of scraping and AI: held for review, listed by 'policy queue'.
        "terms.demo.test": {
            "/": home("Unreviewed terms (held for review)", "/articles"),
            "/legal/terms": (200, HTML, RESTRICTIVE_TERMS),
            "/articles": page("Articles (never requested while held)"),
        },
        # robots.txt opts out of training, but a signed licence agreement grants it.
        "partner.demo.test": {
            "/robots.txt": (200, TEXT, "User-agent: *\nContent-Signal: ai-train=no\nAllow: /\n"),
            "/": home("Partner (licensed by agreement)", "/feature"),
            "/legal/terms": (200, HTML, RESTRICTIVE_TERMS),
            "/feature": page("A licensed feature"),
        },
    }
)


def demo_store() -> Path:
    """The built-in demo's ToS policy store (a package directory: copy it before editing)."""
    return Path(__file__).with_name("demo_policies")


DEMO_SEEDS = [f"http://{host}/" for host in DEMO_SITES]


# What each host shows: printed before the demo crawls, so that its refusals read as results.
DEMO_HOSTS: dict[str, str] = {
    "open.demo.test": "robots.txt disallows /private/ (never requested); a gzip page; a sitemap",
    "strict.demo.test": "robots.txt shuts permitcrawl out: only robots.txt is requested",
    "down.demo.test": "robots.txt answers 503 (on purpose): complete disallow, nothing else requested",
    "norobots.demo.test": "no robots.txt (404): everything may be fetched",
    "moved.demo.test": "robots.txt redirects; the rules at its target apply",
    "agents.demo.test": "robots.txt refuses GPTBot and CCBot /stories/: a training opt-out",
    "signals.demo.test": "Content-Signal ai-train=no: nothing requested for ai-train",
    "aipref.demo.test": "Content-Usage grants training, except /drafts/",
    "tdm.demo.test": "TDMRep reserves mining of /archive/",
    "aitxt.demo.test": "ai.txt disallows /gallery/",
    "licensed.demo.test": "an RSL licence: free to use, except /premium/ for ai-train",
    "noai.demo.test": "pages opting out in their response (X-Robots-Tag, meta, Content-Usage): not archived",
    "tos-strict.demo.test": "a reviewed ToS rule refuses ai-train: only robots.txt is asked for",
    "terms.demo.test": "unreviewed terms that speak of scraping and AI: held for review",
    "partner.demo.test": "robots.txt opts out of training, but a licence agreement grants it",
}


def describe_demo() -> list[str]:
    """What the demo web shows, host by host, for the user to read before the crawl's summary."""
    width = max(len(host) for host in DEMO_HOSTS)
    lines = ["The demo web: one host per rule; a refusal is a result, not an error."]
    lines += [f"  {host:<{width}}  {what}" for host, what in DEMO_HOSTS.items()]
    return lines


class DemoHostsDown(logging.Filter):
    """Lowers to INFO the log lines about the demo host that is down on purpose.

    Scrapy reports ``ERROR: Gave up retrying <GET http://down.demo.test/robots.txt>``;
    in the demo that is the point being shown (a robots.txt answering 503 shuts the
    host), not a fault, and :func:`describe_demo` has said so.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if "down.demo.test" in record.getMessage() and record.levelno > logging.INFO:
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


# A file in every directory the demo makes; only a directory holding it is ever replaced.
DEMO_MARKER = ".permitcrawl-demo"
MARKER_TEXT = "Made by 'permitcrawl demo'. The next 'permitcrawl demo --out' here replaces this directory.\n"


def check_demo_out(out: Path, store: Path | None) -> bool:
    """Whether ``out`` holds an earlier demo to replace; raise PermitcrawlError if the demo may not use it.

    The demo writes to a new or empty directory, or replaces one an earlier demo
    made (it holds :data:`DEMO_MARKER`). Anything else is refused and left as it
    is, and so is a ``--policies`` store inside a directory the demo would replace.
    """
    if out.is_symlink():  # what it points to may be anything, anywhere: the demo replaces only what it sees
        raise PermitcrawlError(
            f"--out {out} is a symbolic link; expected a directory itself (give the one it points to, "
            "if the demo made it), or another --out"
        )
    if out.exists() and not out.is_dir():
        raise PermitcrawlError(f"--out {out} is not a directory; choose another --out")
    if not out.exists():
        return False
    if not (out / DEMO_MARKER).is_file():
        if any(child.name != LOCK_NAME for child in out.iterdir()):
            raise PermitcrawlError(
                f"{out} exists and was not made by 'permitcrawl demo' (it has no {DEMO_MARKER} file); "
                "the demo replaces only its own directories: choose another --out"
            )
        return False
    if store is not None and store.resolve().is_relative_to(out.resolve()):
        raise PermitcrawlError(
            f"--policies {store} is inside {out}, which the demo replaces; "
            f"copy the store out first (cp -r {store} demo-policies) and pass --policies demo-policies"
        )
    return True


def prepare_demo_out(out: Path, *, replace: bool) -> None:
    """Make ``out`` an empty, marked demo directory (removing the earlier demo if ``replace``).

    The caller holds ``out``'s lock; the lock file stays, since deleting it
    would let another process lock a new one while this one writes.
    """
    out.mkdir(parents=True, exist_ok=True)
    for child in out.iterdir() if replace else ():
        if child.name == LOCK_NAME:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    (out / DEMO_MARKER).write_text(MARKER_TEXT, encoding="utf-8")


def claim_demo_out(out: Path) -> bool:
    """Unmark ``out`` as a demo's, if it was one; True if it was.

    ``crawl --out`` into a demo's directory adds captures the demo did not make;
    the next demo would delete them with the rest. The caller holds ``out``'s
    lock, so no demo is replacing the directory meanwhile.
    """
    try:
        (out / DEMO_MARKER).unlink()
    except FileNotFoundError:
        return False
    return True
