"""End to end: what a crawl logs (every decision with -v, errors by name) and what it listens on."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING

import sqlite_utils

from tests.conftest import crawl, run_cli

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def _rows(out: Path, sql: str) -> list[dict]:
    return list(sqlite_utils.Database(out / "provenance.db").query(sql))


def test_verbose_logs_every_capture_with_its_basis(web, tmp_path: Path) -> None:
    run = crawl(web, tmp_path / "v", "-v", seeds=["http://site-a.test/"])
    assert run.result.returncode == 0, run.result.stderr
    captured = {row["url"]: row for row in _rows(run.out, "select url, signal, reason from captures")}
    assert captured
    for url, row in captured.items():
        assert f"Captured {url}, permitted by {row['signal']}: {row['reason']}\n" in run.result.stderr
    for row in _rows(run.out, "select url from refusals"):
        assert f"Refused {row['url']} " in run.result.stderr


def test_no_console_listens_during_a_crawl_unless_asked(web, tmp_path: Path) -> None:
    quiet = crawl(web, tmp_path / "quiet", "-v", seeds=["http://robots-404.test/"])
    assert quiet.result.returncode == 0, quiet.result.stderr
    assert "Telnet console listening" not in quiet.result.stderr
    assert "Remote control HTTP server listening" not in quiet.result.stderr
    asked = crawl(
        web, tmp_path / "asked", "-v", "-s", "TELNETCONSOLE_ENABLED=true", seeds=["http://robots-404.test/"]
    )
    assert asked.result.returncode == 0, asked.result.stderr
    assert "Telnet console listening" in asked.result.stderr


@contextmanager
def hang_up_proxy() -> Iterator[str]:
    """A proxy that accepts each connection and closes it without a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve_forever() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(1)
                with contextlib.suppress(OSError):
                    connection.recv(65536)  # the request, unanswered

    thread = threading.Thread(target=serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        listener.close()


def test_a_refusal_names_the_error_not_a_twisted_failure(tmp_path: Path) -> None:
    out = tmp_path / "hangup"
    with hang_up_proxy() as proxy:
        result = run_cli(
            "crawl", "http://site-a.test/", "--out", out, "-v", "-s", "RETRY_TIMES=0", proxy=proxy
        )
    assert result.returncode == 0, result.stderr
    refusal = _rows(out, "select reason, decision from refusals")[0]
    error = _rows(out, "select error from evidence where kind = 'robots.txt'")[0]["error"]
    # The connection closed, cleanly or not: named, with Twisted's own message.
    named = (
        r"DownloadFailedError: Connection(Done: Connection was closed cleanly"
        r"|Lost: Connection to the other side was lost in a non-clean fashion)\."
    )
    assert re.fullmatch(named, error), error
    assert re.search(rf"\(http://site-a\.test/robots\.txt: {named}\)", refusal["reason"]), refusal["reason"]
    for text in (refusal["reason"], refusal["decision"], error):
        assert "Failure" not in text and "twisted" not in text
    refused_lines = [line for line in result.stderr.splitlines() if "Refused http://site-a.test/" in line]
    assert refused_lines and not any("Failure" in line for line in refused_lines)
