"""Page links: the streaming reader gives the links Scrapy's LinkExtractor gives, without a tree.

The oracle is ``LinkExtractor(restrict_xpaths=...)`` on the same response, with
the spider's own rules applied (rel=nofollow dropped, a robots meta nofollow or
none drops every link). Vectors first, then random pages built from the
fragments sites write, in several encodings.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy.http import HtmlResponse
from scrapy.linkextractors import LinkExtractor

from crawler.adapters.links import read_links

URL = "http://x.test/dir/page.html"
LIMIT = 5


def _oracle(response: HtmlResponse, limit: int) -> list[str]:
    meta = " ".join(
        response.xpath(
            "//meta[translate(@name, 'ROBTSPEMICAW', 'robtspemicaw')='robots' "
            "or translate(@name, 'ROBTSPEMICAW', 'robtspemicaw')='permitcrawl']/@content"
        ).getall()
    ).lower()
    if "nofollow" in meta or "none" in meta.replace(",", " ").split():
        return []
    extractor = LinkExtractor(restrict_xpaths=f"(//a|//area)[position() <= {limit}]")
    return [link.url for link in extractor.extract_links(response) if not link.nofollow]


def _both(body: bytes, encoding: str = "utf-8", limit: int = LIMIT) -> tuple[list[str], list[str]]:
    response = HtmlResponse(URL, body=body, headers={"Content-Type": f"text/html; charset={encoding}"})
    return read_links(body, URL, response.encoding, limit).urls, _oracle(response, limit)


VECTORS = [
    b'<a href="a">1</a><a href="/b">2</a><a href="http://other.test/c">3</a>',
    b'<base href="http://x.test/base/"><a href="rel">x</a><a href="/abs">y</a>',
    b'<a href="  \n spaced \t ">x</a><a href="a#frag">f</a><a href="a">dup</a>',
    b'<a href="n" rel="nofollow">x</a><a href="n">again</a><a href="m" rel="NoFollow,other">y</a>',
    b'<meta name="ROBOTS" content="noindex, nofollow"><a href="a">x</a>',
    b'<meta name="permitcrawl" content="none"><a href="a">x</a>',
    b'<meta name="robots" content="noindex"><a href="a">x</a>',
    b'<a href="doc.pdf">x</a><a href="img.JPG">y</a><a href="page.html">z</a>',
    b'<a href="javascript:void(0)">x</a><a href="mailto:a@b">y</a><a href="ftp://f.test/x">z</a>',
    b'<map><area href="area1"><area href="area2" rel="nofollow"></map><a>no href</a>',
    b'<a href="caf\xc3\xa9?q=\xc3\xa9">utf-8</a><a href="http://[::1">bogus</a>',
    b"<a href=1><a href=2><a href=3><a href=4><a href=5><a href=6><a href=7>",
    b'<svg><a href="svg-link">s</a></svg><a href="x\x00y">nul</a>',
    b'<!-- <a href="commented">c</a> -->',
    b'<script>var s = "<a href=\'scripted\'>";</script><a href="real">r</a>',
    b'<a href="a"><a href="b" rel="nofollow"><a href="c"></a></a></a>',
]


@pytest.mark.parametrize("body", VECTORS)
def test_links_as_link_extractor(body: bytes) -> None:
    ours, scrapy_links = _both(body)
    assert ours == scrapy_links


def test_links_in_a_legacy_encoding() -> None:
    body = '<a href="café">x</a><a href="/ü?q=é">y</a>'.encode("cp1252")
    ours, scrapy_links = _both(body, "cp1252")
    assert ours == scrapy_links
    assert ours[0] == "http://x.test/dir/caf%C3%A9"  # the path in UTF-8, as browsers send it


def test_the_limit_counts_every_anchor_and_reads_the_first() -> None:
    body = b"".join(b'<a href="/p/%d">x</a>' % n for n in range(12))
    page = read_links(body, URL, "utf-8", 5)
    assert page.anchors == 12
    assert page.urls == [f"http://x.test/p/{n}" for n in range(5)]


def test_nofollow_page_reports_it() -> None:
    page = read_links(b'<meta name=robots content=nofollow><a href="/a">a</a>', URL, "utf-8", 5)
    assert page.nofollow and page.urls == [] and page.anchors == 1


def test_unknown_encoding_reads_as_utf8() -> None:
    assert read_links(b'<a href="/a">a</a>', URL, "no-such-codec", 5).urls == ["http://x.test/a"]


fragments = st.sampled_from(
    [
        b'<a href="a">', b'<a href="/b" rel="nofollow">', b"</a>", b'<area href="c.pdf">',
        b"<base href='/base/'>",
        b'<meta name="robots" content="nofollow">', b"<!--", b"-->", b"<script>", b"</script>", b'<a href="',
        b"caf\xc3\xa9", b"caf\xe9", b"\x00", b"<svg>", b"<table>", b"<p>", b"<", b"'", b'"', b" ", b"#x",
        b"?q=1",
        b'<a href=" d ">', b"<a href=http://x.test/e>", b"<a href=//other.test/f>", b"<a href=mailto:g>",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(fragments | st.binary(max_size=6), max_size=16).map(b"".join),
    st.sampled_from(["utf-8", "cp1252", "latin-1"]),
)
def test_random_pages_as_link_extractor(body: bytes, encoding: str) -> None:
    ours, scrapy_links = _both(body, encoding)
    assert ours == scrapy_links


def test_memory_is_flat_on_a_page_of_tags() -> None:
    """A 10 MiB page of anchors: reading its links costs far less memory than the page's tree would."""
    code = (
        "import resource, sys\n"
        "from crawler.adapters.links import read_links\n"
        "body = b''.join(b'<a href=\"/p/%d\">x</a>' % n for n in range(500_000))\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "page = read_links(body, 'http://x.test/', 'utf-8', 10_000)\n"
        "assert page.anchors == 500_000 and len(page.urls) == 10_000, page.anchors\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    grown_kib = int(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    )
    # The tree of this page takes about 150 MB; the stream, the 10,000 links it keeps.
    assert grown_kib < 30 * 1024, grown_kib
