"""The crawler and audit read a page the same way: one code path, from the bytes on the wire to the readings.

The crawler's path: the raw response through the strict decompression
middleware, then the gate's page_of(). Audit's path: the same exchange written
to a WARC file by the archive's writer, read back, and archived_page(). For any
body, content type and content-coding, both give the same readings and the
same decisions (an earlier version read them through two parsers, and
fuzzing found tens of thousands of pages they read differently).
"""

from __future__ import annotations

import asyncio
import gzip
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy import Request
from scrapy.http import Response
from scrapy.responsetypes import responsetypes
from scrapy.utils.test import get_crawler

from crawler.adapters.decompression import INCOMPLETE, StrictDecompressionMiddleware
from crawler.adapters.middlewares import page_of
from crawler.storage.archive import WarcArchive
from crawler.storage.warc import HttpExchange, WarcStore
from crawler.workflows.audit import archived_page
from policies.decision import DefaultPolicy
from policies.document import Document
from policies.engine import decide_all
from policies.evidence import HostEvidence
from policies.robots import robots_evidence

NOW = datetime(2026, 11, 29, tzinfo=UTC)
URL = "http://x.test/page"
MAX = 1 << 20

fragments = st.sampled_from(
    [
        b'<meta name="robots" content="noai">', b"<meta name=tdm-reservation content=1>", b"<html>",
        b"<head>", b"<!--", b"-->", b"<script>", b"</script>", b'<meta x="', b"\x00", b"\xff\xfe",
        b"\xef\xbb\xbf", b"caf\xc3\xa9", b"caf\xe9", b"<meta charset=utf-16>", b"<meta charset=cp500>",
        b'<link rel=license type="application/rsl+xml" href=/l.xml>', b"<p>text</p>", b"<",
    ]
)  # fmt: skip
bodies = st.lists(fragments | st.binary(max_size=12), max_size=12).map(b"".join)
content_types = st.sampled_from(
    [None, "text/html", "text/html; charset=utf-8", "text/html; charset=utf-16", "text/html; charset=cp500",
     "text/html; charset=shift_jis", "text/html; charset=nonsense", "text/plain", "application/xhtml+xml"]
)  # fmt: skip


def _crawler_page(raw: bytes, headers: dict[str, str]) -> object:
    """The page as the gate sees it: the raw response through the decompression middleware."""
    middleware = StrictDecompressionMiddleware.from_crawler(
        get_crawler(settings_dict={"DOWNLOAD_MAXSIZE": MAX})
    )
    request = Request(URL)
    cls = responsetypes.from_args(headers=headers, url=URL, body=raw)
    response = middleware.process_response(
        request, cls(URL, status=200, headers=headers, body=raw, request=request)
    )
    assert isinstance(response, Response) and not request.meta.get(INCOMPLETE)
    return asyncio.run(page_of(response))


def _audit_page(raw: bytes, headers: dict[str, str]) -> object:
    """The page as audit sees it: the exchange archived, then read back from the WARC file."""
    with tempfile.TemporaryDirectory() as directory:
        crawl_dir = Path(directory)
        store = WarcStore(crawl_dir / "warc")
        exchange = HttpExchange(
            url=URL, status=200, response_headers=list(headers.items()), body=raw, started_at=NOW
        )
        record_id = store.write_exchange(exchange).response.record_id
        store.close()
        return archived_page(WarcArchive(crawl_dir).read(record_id), URL, MAX)


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(bodies, content_types, st.booleans())
def test_crawler_and_audit_read_every_page_alike(
    body: bytes, content_type: str | None, gzipped: bool
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    raw = body
    if gzipped:
        headers["Content-Encoding"] = "gzip"
        raw = gzip.compress(body, mtime=0)
    crawler_page = _crawler_page(raw, headers)
    audit_page = _audit_page(raw, headers)
    assert crawler_page.body == audit_page.body == body
    assert crawler_page.html_readings == audit_page.html_readings
    robots = robots_evidence(Document(kind="robots.txt", url="http://x.test/robots.txt", status=404,
                                      fetched_at=NOW), "permitcrawl")  # fmt: skip
    host = HostEvidence(origin="http://x.test", robots=robots, fetched_at=NOW, expires_at=NOW)
    for policy in (DefaultPolicy.ALLOW, DefaultPolicy.DENY):
        live = decide_all(URL, host=host, default_policy=policy, now=NOW, page=crawler_page)
        again = decide_all(URL, host=host, default_policy=policy, now=NOW, page=audit_page)
        assert {p: d.as_dict()["bases"] for p, d in live.items()} == {
            p: d.as_dict()["bases"] for p, d in again.items()
        }


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (gzip.compress(b"<html>" * 1000, mtime=0)[:-20], "cut short"),
        (b"not gzip at all", "not valid gzip"),
        (gzip.compress(b"\0" * (2 * MAX), mtime=0), "larger than"),
    ],
)
def test_an_undecodable_body_is_marked_not_guessed(raw: bytes, why: str) -> None:
    middleware = StrictDecompressionMiddleware.from_crawler(
        get_crawler(settings_dict={"DOWNLOAD_MAXSIZE": MAX})
    )
    request = Request(URL)
    headers = {"Content-Type": "text/html", "Content-Encoding": "gzip"}
    response = middleware.process_response(request, Response(URL, headers=headers, body=raw, request=request))
    assert why in request.meta[INCOMPLETE]
    assert response.body == raw  # passed on as received; the gate refuses it


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Signal": b"ai-train=yes\xa0", "tdm-reservation": b"0\xa0"},  # Latin-1 bytes
        {"Content-Signal": b"ai-train=yes\xc2\xa0"},  # the same character in UTF-8 bytes
        {"X-Robots-Tag": b"noai\x85, x"},  # a byte that str.splitlines() would split at
        {"Content-Usage": b"train-ai=n, caf\xe9=y"},
    ],
)
def test_header_bytes_read_alike_live_and_archived(headers: dict[str, bytes]) -> None:
    # warcio would percent-encode a header value that is not ASCII; the archive keeps the bytes.
    from scrapy.http import Headers

    from crawler.adapters.extensions import header_list

    wire = Headers({"Content-Type": b"text/html", **headers})
    live = asyncio.run(page_of(Response(URL, status=200, headers=wire, body=b"<p>x</p>")))
    archived = _audit_page(b"<p>x</p>", dict(header_list(wire)))
    for name in headers:
        assert live.header(name) == archived.header(name) == (headers[name].decode("latin-1"),)
    robots = robots_evidence(Document(kind="robots.txt", url="http://x.test/robots.txt", status=404,
                                      fetched_at=NOW), "permitcrawl")  # fmt: skip
    host = HostEvidence(origin="http://x.test", robots=robots, fetched_at=NOW, expires_at=NOW)
    for policy in (DefaultPolicy.ALLOW, DefaultPolicy.DENY):
        live_decisions = decide_all(URL, host=host, default_policy=policy, now=NOW, page=live)
        archived_decisions = decide_all(URL, host=host, default_policy=policy, now=NOW, page=archived)
        assert {p: d.as_dict()["bases"] for p, d in live_decisions.items()} == {
            p: d.as_dict()["bases"] for p, d in archived_decisions.items()
        }
