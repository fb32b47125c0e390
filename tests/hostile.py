"""The hostile test web: one host per way a site can try to keep a reservation from being seen,
or to stall or exhaust the crawl (issue: hostile sites).
Served by crawler.localweb.server like tests/sites.py.

Large bodies are built on first request (a table entry may be a callable), so
importing this module costs nothing.
"""

from __future__ import annotations

import gzip
import json
from functools import cache

from crawler.localweb.server import Reply, Site

HTML = (("Content-Type", "text/html; charset=utf-8"),)
TEXT = (("Content-Type", "text/plain; charset=utf-8"),)
JSON = (("Content-Type", "application/json"),)
NOAI_PAGE = '<html><head><meta name="robots" content="noai"></head><body><p>reserved</p></body></html>'
MiB = 1024 * 1024


def page(title: str, *links: str) -> Reply:
    """A small HTML page linking to ``links``."""
    items = "".join(f'<a href="{href}">{href}</a> ' for href in links)
    return Reply(200, HTML, f"<html><body><p>{title}</p>{items}</body></html>".encode())


@cache
def _tdmrep_padded(size: int) -> bytes:
    # The reservation comes first; the padding makes the file larger than the parse limit
    # (the old reader cut it at 500 KiB, failed to parse the cut JSON and saw no TDMRep at all).
    rules = [{"location": "/", "tdm-reservation": 1}]
    pad = {"location": "/padding-" + "x" * 64, "tdm-reservation": 0}
    count = size // (len(json.dumps(pad)) + 2)
    return json.dumps(rules + [pad] * count).encode()


@cache
def _tdmrep_reservation_last(size: int) -> bytes:
    # Past 500 KiB but under the evidence bound: the reservation is the last rule.
    pads = [{"location": f"/pad-{i:07d}/", "tdm-reservation": 0} for i in range(size // 48)]
    return json.dumps([*pads, {"location": "/", "tdm-reservation": 1}]).encode()


@cache
def _gzip_bomb(decompressed: int) -> bytes:
    # gzip members one after the other are one gzip body; 16 MiB of zeros is ~16 KiB compressed.
    member = gzip.compress(b"\0" * (16 * MiB), compresslevel=9, mtime=0)
    return member * (decompressed // (16 * MiB))


@cache
def _big_sitemap(entries: int) -> Reply:
    locs = "".join(f"<url><loc>http://sitemap.test/s/{i}</loc></url>" for i in range(entries))
    xml = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
    return Reply(200, (("Content-Type", "application/gzip"),), gzip.compress(xml.encode(), mtime=0))


RSL = (("Content-Type", "application/rsl+xml"),)


def _rsl(location: str, permits: str, *, prohibits: str = "") -> bytes:
    inner = f'<permits type="usage">{permits}</permits>'
    if prohibits:
        inner += f'<prohibits type="usage">{prohibits}</prohibits>'
    return (
        f'<rsl xmlns="https://rslstandard.org/rsl"><content url="{location}">'
        f"<license>{inner}</license></content></rsl>"
    ).encode()


def _tdm_huge() -> Reply:
    return Reply(200, JSON, _tdmrep_padded(20 * MiB))


def _tdm_mid() -> Reply:
    return Reply(200, JSON, _tdmrep_reservation_last(2 * MiB))


def _bomb_page() -> Reply:
    return Reply(200, (*HTML, ("Content-Encoding", "gzip")), _gzip_bomb(1024 * MiB))


def _bomb_robots() -> Reply:
    # Served gzipped although the crawler asks for identity: the bound counts decompressed bytes.
    return Reply(200, (*TEXT, ("Content-Encoding", "gzip")), _gzip_bomb(592 * MiB))


@cache
def _big_page_body() -> bytes:
    return b"<html><body>" + b"<p>filler</p>" * (12 * MiB // 13) + b"</body></html>"


def _big_page() -> Reply:
    return Reply(200, HTML, _big_page_body())


STARS = "*" * 30
LONG = "a" * 60

HOSTILE_SITES: dict[str, Site] = {
    # 1. A tdmrep.json larger than the evidence bound: the host is refused, not read as silent.
    "tdm-huge.test": {
        "/.well-known/tdmrep.json": _tdm_huge,
        "/": page("never requested", "/a", "/b"),
        "/a": page("never requested"),
        "/b": page("never requested"),
    },
    # ... and one past 500 KiB but under the bound: read whole.
    "tdm-mid.test": {
        "/.well-known/tdmrep.json": _tdm_mid,
        "/": page("never requested", "/a"),
        "/a": page("never requested"),
    },
    # 2. Charset confusion: plain ASCII sent as UTF-16 or EBCDIC hides the meta from a decoder.
    "utf16-meta.test": {
        "/": Reply(200, (("Content-Type", "text/html; charset=utf-16"),), NOAI_PAGE.encode("ascii")),
    },
    "cp500-meta.test": {
        "/": Reply(200, (("Content-Type", "text/html; charset=cp500"),), NOAI_PAGE.encode("ascii")),
    },
    # 3. A byte-order mark that names the wrong encoding, before a page and before a robots.txt.
    "bom-page.test": {"/": Reply(200, (("Content-Type", "text/html"),), b"\xff\xfe" + NOAI_PAGE.encode())},
    "bom-robots.test": {
        "/robots.txt": Reply(200, TEXT, b"\xff\xfeUser-agent: *\nDisallow: /\n"),
        "/": page("never requested"),
    },
    # ... a NUL a parser may stop at, an unclosed comment, a tag in a script.
    "nul-meta.test": {"/": Reply(200, HTML, b"<html>\x00" + NOAI_PAGE.encode())},
    "comment-meta.test": {"/": Reply(200, HTML, b"<html><!-- " + NOAI_PAGE.encode())},
    # 4. A robots.txt cut short: the server declares 1432 bytes and closes after 'Disall'.
    "trunc-robots.test": {
        "/robots.txt": Reply(200, (*TEXT, ("Content-Length", "1432")), b"User-agent: *\nDisall", close=True),
        "/": page("never requested", "/secret/x"),
        "/secret/x": page("never requested"),
    },
    # ... and a page cut short (its reservation would have been in the part not sent).
    "trunc-page.test": {
        "/": page("home", "/cut"),
        "/cut": Reply(
            200, (*HTML, ("Content-Length", "5000")), b"<html><head><title>cut</title>", close=True
        ),
    },
    # 5. A reservation overridden on its own line.
    "csig-maybe.test": {
        "/robots.txt": Reply(
            200, TEXT, b"User-agent: *\nContent-Signal: ai-train=no, ai-train=maybe\nAllow: /\n"
        ),
        "/": page("never requested"),
    },
    "csig-yes.test": {
        "/robots.txt": Reply(
            200, TEXT, b"User-agent: *\nContent-Signal: ai-train=no, ai-train=yes\nAllow: /\n"
        ),
        "/": page("never requested"),
    },
    "cu-lines.test": {
        "/": page("home", "/cu"),
        "/cu": Reply(
            200,
            (*HTML, ("Content-Usage", "train-ai=n"), ("Content-Usage", "Bad=x")),
            b"<html><body>one unparsable line beside a parsable n</body></html>",
        ),
    },
    # 6. Patterns that backtrack catastrophically in a regex matcher, in every file that has patterns.
    "redos.test": {
        "/robots.txt": Reply(200, TEXT, f"User-agent: *\nDisallow: /{STARS}q\n".encode()),
        "/ai.txt": Reply(200, TEXT, f"User-Agent: *\nDisallow: /{STARS}x\n".encode()),
        "/.well-known/tdmrep.json": Reply(
            200, JSON, json.dumps([{"location": f"/{STARS}z", "tdm-reservation": 1}]).encode()
        ),
        "/": page("redos home", f"/{LONG}", f"/{LONG}x", f"/{LONG}z", f"/{LONG}q"),
        f"/{LONG}": page("long but fine"),
        f"/{LONG}x": page("never requested: ai.txt"),
        f"/{LONG}z": page("never requested: TDMRep"),
        f"/{LONG}q": page("never requested: robots.txt"),
    },
    # 7. Decompression bombs: a page, and a robots.txt sent gzipped against Accept-Encoding: identity.
    "bomb-page.test": {"/": page("home", "/bomb"), "/bomb": _bomb_page},
    "bomb-robots.test": {"/robots.txt": _bomb_robots, "/": page("never requested")},
    # A page larger than DOWNLOAD_MAXSIZE: refused with the reason, never archived.
    "big-page.test": {"/": page("home", "/big"), "/big": _big_page},
    # 9. Parsers that raised: a Link header urllib cannot join, an RSL content url it cannot split.
    "link-raise.test": {
        "/": page("home", "/linked"),
        "/linked": Reply(
            200,
            (*HTML, ("Link", '<http://[>; rel="license"; type="application/rsl+xml"')),
            b"<html><body>a licence nobody can fetch</body></html>",
        ),
    },
    "rsl-raise.test": {
        "/robots.txt": Reply(200, TEXT, b"License: /l.xml\nUser-agent: *\nAllow: /\n"),
        "/l.xml": Reply(
            200,
            (("Content-Type", "application/rsl+xml"),),
            b'<rsl xmlns="https://rslstandard.org/rsl"><content url="http://[x">'
            b'<license><permits type="usage">all</permits></license></content></rsl>',
        ),
        "/": page("never requested: its licence cannot be read"),
    },
    # 10. Traps: a calendar of ever-new URLs, and a chain of links deeper than the depth limit.
    "calendar.test": {"/": page("calendar", "/cal?m=1")},
    "deep.test": {
        "/": page("deep", "/d/1"),
        **{f"/d/{i}": page(f"depth {i}", f"/d/{i + 1}") for i in range(60)},
    },
    # Stalls: a robots.txt trickled out byte by byte, a redirect loop.
    "slow-robots.test": {
        "/robots.txt": Reply(200, TEXT, b"User-agent: *\nAllow: /\n" * 64, trickle=0.5),
        "/": page("never requested"),
    },
    "loop.test": {
        "/": page("loop home", "/go"),
        "/go": Reply(302, (("Location", "/back"),)),
        "/back": Reply(302, (("Location", "/go"),)),
    },
    # Found by attacking the first version of these defences:
    # dot segments and double slashes that a server resolves to a disallowed path;
    "dot.test": {
        "/robots.txt": Reply(200, TEXT, b"User-agent: *\nDisallow: /private\n"),
        "/": page(
            "dots",
            "http://dot.test/a/../private/1",
            "/a/%2e%2e/private/2",
            "/./private/3",
            "http://dot.test//private/4",
            "/r",
        ),
        "/r": Reply(302, (("Location", "http://dot.test/b/../private/5"),)),
    },
    # line separators other than CR and LF (str.splitlines and Protego split there);
    "ff-robots.test": {
        "/robots.txt": Reply(200, TEXT, b"User-agent: *\x0cDisallow: /private\n"),
        "/": page("form feed", "/private/a"),
        "/private/a": page("never requested"),
    },
    # a key given twice, rules nested one array deeper, a 206 robots.txt;
    "tdm-dup.test": {
        "/.well-known/tdmrep.json": Reply(
            200, JSON, b'[{"location":"/","tdm-reservation":1,"tdm-reservation":0}]'
        ),
        "/": page("never requested"),
    },
    "tdm-nest.test": {
        "/.well-known/tdmrep.json": Reply(200, JSON, b'[[{"location":"/","tdm-reservation":1}]]'),
        "/": page("never requested"),
    },
    "partial-robots.test": {
        "/robots.txt": Reply(
            206, (*TEXT, ("Content-Range", "bytes 0-22/5000")), b"User-agent: *\nAllow: /\n"
        ),
        "/": page("never requested"),
    },
    # one place saying two things, eleven licences, a namespaced XHTML meta;
    "tdm-repeat.test": {
        "/": page("home", "/twice"),
        "/twice": Reply(200, (*HTML, ("tdm-reservation", "1"), ("tdm-reservation", "0")), b"<p>twice</p>"),
    },
    "rsl-eleven.test": {
        "/": page("home", "/many"),
        "/many": Reply(
            200,
            (
                *HTML,
                *(("Link", f'</n{i}.xml>; rel="license"; type="application/rsl+xml"') for i in range(10)),
                ("Link", '</p.xml>; rel="license"; type="application/rsl+xml"'),
            ),
            b"<p>many licences</p>",
        ),
        **{f"/n{i}.xml": Reply(200, RSL, _rsl("/nothing-here", "all")) for i in range(10)},
        "/p.xml": Reply(200, RSL, _rsl("/", "search", prohibits="all")),
    },
    "xhtml-ns.test": {
        "/": page("home", "/x"),
        "/x": Reply(
            200,
            (("Content-Type", "application/xhtml+xml"),),
            b'<h:html xmlns:h="http://www.w3.org/1999/xhtml"><h:head>'
            b'<h:meta name="robots" content="noai"/></h:head><h:body>x</h:body></h:html>',
        ),
    },
    # header bytes that are not ASCII (the archive must keep them as received, for audit);
    "nbsp-header.test": {
        "/": Reply(
            200, (*HTML, ("Content-Signal", "ai-train=yes\xa0"), ("tdm-reservation", "0\xa0")), b"<p>nbsp</p>"
        ),
    },
    # evidence linked as pages; a page of many links; redirects that hop to another host.
    "evid.test": {
        "/robots.txt": Reply(200, TEXT, b"License: /lic.xml\nUser-agent: *\nAllow: /\n"),
        "/lic.xml": Reply(200, RSL, _rsl("/", "all")),
        "/": page("evidence links", "/robots.txt", "/ai.txt", "/.well-known/tdmrep.json", "/lic.xml", "/go"),
        "/go": Reply(302, (("Location", "/robots.txt?x=1"),)),
    },
    "fanout.test": {"/": page("fan-out", *(f"/f/{i}" for i in range(2000)))},
    "hop-a.test": {"/": page("hops", *(f"/r{i}" for i in range(60)))},
    "hop-b.test": {},
    # Found by attacking the second version:
    # paths a server resolves past their spelling (%2F, %5C, ;parameters), evidence spelled otherwise;
    "enc.test": {
        "/robots.txt": Reply(200, TEXT, b"User-agent: *\nDisallow: /private\n"),
        "/": page(
            "encoded",
            "/a%2F..%2Fprivate/1",
            "/private;x=1/2",
            "/a%5C..%5Cprivate/3",
            "/%2Fprivate/4",
            "http://enc.test//robots.txt",
            "/ROBOTS.TXT",
            "/open",
        ),
        "/open": page("open"),
    },
    # evidence that points or redirects to another site's disallowed URL (we would be the attack);
    "victim.test": {
        "/robots.txt": Reply(200, TEXT, b"User-agent: *\nDisallow: /admin/\n"),
        "/": page("victim"),
    },
    "lic-hop.test": {
        "/robots.txt": Reply(
            200, TEXT, b"License: http://victim.test/admin/delete?id=1\nUser-agent: *\nAllow: /\n"
        ),
        "/": page("never requested"),
    },
    "tdm-hop.test": {
        "/.well-known/tdmrep.json": Reply(302, (("Location", "http://victim.test/admin/tdm"),)),
        "/": page("never requested"),
    },
    "robots-hop.test": {
        "/robots.txt": Reply(302, (("Location", "http://victim.test/admin/robots"),)),
        "/": page("never requested"),
    },
    # documents whose end is the connection closing: cut mid-way, or visibly whole;
    "unframed-robots.test": {
        "/robots.txt": Reply(200, TEXT, b"User-agent: *\nAllow: /\nDisallow: /priv", unframed=True),
        "/": page("never requested"),
    },
    "unframed-page.test": {
        "/": page("home", "/cut", "/whole"),
        "/cut": Reply(200, HTML, b"<html><body><p>the first half of a page", unframed=True),
        "/whole": Reply(200, HTML, b"<html><body><p>whole</p></body></html>\n", unframed=True),
    },
    # a page of 12,000 links and a sitemap of 60,000 URLs (more than sitemaps.org allows).
    "anchors.test": {"/": lambda: page("anchors", *(f"/l/{i}" for i in range(12_000)))},
    "sitemap.test": {
        "/robots.txt": Reply(
            200, TEXT, b"User-agent: *\nAllow: /\nSitemap: http://sitemap.test/sitemap.xml.gz\n"
        ),
        "/": page("sitemap"),
        "/sitemap.xml.gz": lambda: _big_sitemap(60_000),
    },
    # A host with nothing wrong: crawled in full while the others try their tricks.
    "bystander.test": {
        "/": page("bystander", "/1", "/2", "/3"),
        "/1": page("one"),
        "/2": page("two"),
        "/3": page("three"),
    },
}


class Calendar(dict):  # type: ignore[type-arg]
    """Every /cal?m=N page exists and links to four new ones: a crawl trap, wider than it is deep."""

    def get(self, path: str, default: object = None) -> object:
        if path.startswith("/cal?m="):
            month = int(path.split("=", 1)[1])
            return page(f"month {month}", *(f"/cal?m={4 * month + i}" for i in range(1, 5)))
        return super().get(path, default)


class Pages(dict):  # type: ignore[type-arg]
    """A host where every path is a small page (for fan-out and redirect targets)."""

    def get(self, path: str, default: object = None) -> object:
        return super().get(path) or page(f"page {path}")


class Hops(dict):  # type: ignore[type-arg]
    """/rN redirects to hop-b.test/pN: each hop is a page of the other host."""

    def get(self, path: str, default: object = None) -> object:
        if path.startswith("/r") and path[2:].isdigit():
            return Reply(302, (("Location", f"http://hop-b.test/p{path[2:]}"),))
        return super().get(path, default)


HOSTILE_SITES["calendar.test"] = Calendar(HOSTILE_SITES["calendar.test"])
HOSTILE_SITES["fanout.test"] = Pages(HOSTILE_SITES["fanout.test"])
HOSTILE_SITES["hop-a.test"] = Hops(HOSTILE_SITES["hop-a.test"])
HOSTILE_SITES["hop-b.test"] = Pages()
HOSTILE_SITES["anchors.test"] = Pages(HOSTILE_SITES["anchors.test"])
HOSTILE_SITES["sitemap.test"] = Pages(HOSTILE_SITES["sitemap.test"])

HOSTILE_SEEDS = [
    *(f"http://{host}/" for host in HOSTILE_SITES),
    # Pages linked only from refused ones are seeds too, so that each is judged and refused.
    "http://tdm-huge.test/a",
    "http://tdm-huge.test/b",
    "http://tdm-mid.test/a",
    "http://trunc-robots.test/secret/x",
]

# Reserved, or on a host that could not be read: never requested.
NEVER_REQUESTED = {
    "http://tdm-huge.test/",
    "http://tdm-huge.test/a",
    "http://tdm-huge.test/b",
    "http://tdm-mid.test/",
    "http://tdm-mid.test/a",
    "http://bom-robots.test/",
    "http://trunc-robots.test/",
    "http://trunc-robots.test/secret/x",
    "http://csig-maybe.test/",
    "http://csig-yes.test/",
    f"http://redos.test/{LONG}x",
    f"http://redos.test/{LONG}z",
    f"http://redos.test/{LONG}q",
    "http://bomb-robots.test/",
    "http://rsl-raise.test/",
    "http://slow-robots.test/",
    "http://dot.test/a/../private/1",
    "http://dot.test/a/%2e%2e/private/2",
    "http://dot.test/private/3",  # linked as '/./private/3': resolved when the link is joined
    "http://dot.test//private/4",
    "http://dot.test/b/../private/5",
    "http://ff-robots.test/private/a",
    "http://tdm-dup.test/",
    "http://tdm-nest.test/",
    "http://partial-robots.test/",
    "http://enc.test/a%2F..%2Fprivate/1",
    "http://enc.test/private;x=1/2",
    "http://enc.test/a%5C..%5Cprivate/3",
    "http://enc.test/%2Fprivate/4",
    "http://lic-hop.test/",
    "http://tdm-hop.test/",
    "http://robots-hop.test/",
    "http://unframed-robots.test/",
}

# Requested, then refused on what came back: never in a page WARC file. Deciding signal by URL.
REFUSED_AFTER_FETCHING = {
    "http://utf16-meta.test/": "meta-robots",
    "http://cp500-meta.test/": "meta-robots",
    "http://bom-page.test/": "meta-robots",
    "http://nul-meta.test/": "meta-robots",
    "http://comment-meta.test/": "meta-robots",
    "http://cu-lines.test/cu": "content-usage",
    "http://bomb-page.test/bomb": "incomplete",
    "http://big-page.test/big": "incomplete",
    "http://link-raise.test/linked": "rsl",
    "http://trunc-page.test/cut": "incomplete",  # cut by the server: refused once retries are spent
    "http://tdm-repeat.test/twice": "tdmrep",
    "http://rsl-eleven.test/many": "rsl",
    "http://xhtml-ns.test/x": "meta-robots",
    "http://unframed-page.test/cut": "incomplete",
}

# Evidence documents, linked from a page as if they were pages: never captured as pages.
EVIDENCE_AS_PAGES = {
    "http://evid.test/robots.txt",
    "http://evid.test/ai.txt",
    "http://evid.test/.well-known/tdmrep.json",
    "http://evid.test/lic.xml",
    "http://evid.test/robots.txt?x=1",
    "http://enc.test//robots.txt",
    "http://enc.test/ROBOTS.TXT",
}

# Captured in full, whatever the other hosts do.
BYSTANDER_PAGES = {f"http://bystander.test{path}" for path in ("/", "/1", "/2", "/3")}
