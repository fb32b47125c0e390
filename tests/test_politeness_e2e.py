"""End to end, politeness (draft-illyes-webbotauth-cbcp §2.3): back-off, and one request per resource.

A host answering 503 or 429 is sent nothing more until its Retry-After or back-off has passed: back-out
logic on the 5xx codes (RFC 9110 §15.6). Scrapy's RetryMiddleware alone sends its retries at once; these
tests fail without the back-off in the crawl's download handler. And no resource is requested twice, so
never twice at once, however many pages link to it and however many requests a host may have in flight.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import TYPE_CHECKING

import pytest

from crawler.adapters.backoff import HostBackoff, retry_after_seconds
from crawler.localweb.server import serve
from tests.conftest import crawl
from tests.sites import TEXT, page

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from crawler.localweb.server import LocalWebServer, ReplySpec


def _first_then_ok(status: int, headers: dict[str, str]) -> Callable[[], ReplySpec]:
    answered: list[int] = []

    def reply() -> ReplySpec:
        answered.append(1)
        return (status, headers, "busy") if len(answered) == 1 else page("fine")

    return reply


@pytest.fixture
def busy_web() -> Iterator[LocalWebServer]:
    server = serve(
        {
            "busy.test": {
                "/robots.txt": (200, TEXT, "User-agent: *\nAllow: /\n"),
                "/busy": _first_then_ok(503, {"Retry-After": "2"}),
            },
            "limited.test": {
                "/robots.txt": (200, TEXT, "User-agent: *\nAllow: /\n"),
                "/limited": _first_then_ok(429, {"Retry-After": "1"}),
            },
            "failing.test": {
                "/robots.txt": (200, TEXT, "User-agent: *\nAllow: /\n"),
                "/err": (500, {}, "always failing"),
            },
        }
    )
    yield server
    server.close()


def _times(web: LocalWebServer, host: str, path: str, since: int) -> list[float]:
    return [r.at for r in web.requests[since:] if r.host == host and r.path == path]


def test_the_next_request_waits_for_retry_after(busy_web: LocalWebServer, tmp_path: Path) -> None:
    since = len(busy_web.requests)
    run = crawl(busy_web, tmp_path / "crawl", seeds=["http://busy.test/busy", "http://limited.test/limited"])
    assert run.result.returncode == 0, run.result.stderr
    busy = _times(busy_web, "busy.test", "/busy", since)
    assert len(busy) == 2 and busy[1] - busy[0] >= 1.95, busy
    limited = _times(busy_web, "limited.test", "/limited", since)
    assert len(limited) == 2 and limited[1] - limited[0] >= 0.95, limited


def test_errors_without_retry_after_back_off_exponentially(busy_web: LocalWebServer, tmp_path: Path) -> None:
    since = len(busy_web.requests)
    run = crawl(
        busy_web, tmp_path / "crawl", "-s", "PERMITCRAWL_BACKOFF_BASE=0.5", seeds=["http://failing.test/err"]
    )
    assert run.result.returncode == 0, run.result.stderr
    times = _times(busy_web, "failing.test", "/err", since)
    assert len(times) == 3, times  # the first try and RETRY_TIMES=2 retries
    assert times[1] - times[0] >= 0.45 and times[2] - times[1] >= 0.95, times


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


def test_the_back_off_is_capped_extended_never_shortened_and_reset_by_success() -> None:
    clock = [0.0]
    backoff = HostBackoff(1.0, 10.0, clock=lambda: clock[0])
    assert backoff.observe("h", 200, None) is None and backoff.remaining("h") == 0
    assert backoff.observe("h", 503, "3600") == 10.0  # capped
    assert backoff.observe("h", 500, "1") == 1.0 and backoff.remaining("h") == 10.0  # never shortened
    clock[0] = 10.0
    assert backoff.remaining("h") == 0
    assert backoff.observe("h", 502, None) == 4.0  # the third error in a row: 1, 2, 4
    assert backoff.observe("h", 200, None) is None
    assert backoff.observe("h", 504, None) == 1.0  # a success ended the run


def test_a_long_run_of_errors_stays_at_the_cap() -> None:
    backoff = HostBackoff(1.0, 600.0, clock=lambda: 0.0)
    waits = [backoff.observe("h", 503, None) for _ in range(2000)]  # 2 ** 1024 once overflowed
    assert waits[:3] == [1.0, 2.0, 4.0] and waits[-1] == 600.0


def test_no_resource_is_requested_twice_however_often_it_is_linked(tmp_path: Path) -> None:
    links = [f"/p{i}" for i in range(12)]
    site = {
        "/robots.txt": (200, TEXT, "User-agent: *\nAllow: /\n"),
        "/": page("home", *links, "/shared", "/shared", "/robots.txt"),
        **{link: page(link, "/shared", "/", "/shared?", "/robots.txt") for link in links},
        "/shared": page("shared"),
    }
    server = serve({"many.test": site})
    try:
        run = crawl(
            server, tmp_path / "crawl", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8", seeds=["http://many.test/"]
        )
    finally:
        server.close()
    assert run.result.returncode == 0, run.result.stderr
    paths = [r.path for r in run.requests]
    assert sorted(set(paths)) == sorted(paths), paths
    assert paths.count("/robots.txt") == 1 and paths.count("/shared") == 1
