"""A multi-host web served on 127.0.0.1, reached as an HTTP forward proxy.

The demo, the tests and the benchmarks crawl made-up hosts (``blog.demo.test``)
without DNS or network: crawls are pointed at this server with ``http_proxy``,
and it answers from a table ``{host: {path: reply}}``, routing on the
absolute-form request line (``GET http://host/path HTTP/1.1``). Unknown hosts
get 502, unknown paths 404. Every request is logged, so a test can prove what
was never requested.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Reply:
    """One canned response. ``delay`` seconds pass before the status line is sent.

    ``trickle`` sends the body one 16-byte piece at a time, that many seconds
    apart (a server that stalls a crawler); ``close`` drops the connection
    after the body (with a Content-Length header larger than the body, a
    response cut short); ``unframed`` sends no Content-Length and closes the
    connection after the body, which is then all a client can know of its end.
    """

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    delay: float = 0.0
    trickle: float = 0.0
    close: bool = False
    unframed: bool = False


ReplySpec = Reply | tuple[int, Mapping[str, str] | list[tuple[str, str]], bytes | str]
Site = Mapping[str, ReplySpec | Callable[[], ReplySpec]]


def as_reply(spec: ReplySpec | Callable[[], ReplySpec]) -> Reply:
    """Normalise a table entry: a Reply, a (status, headers, body) tuple, or a callable giving one."""
    if callable(spec):
        spec = spec()
    if isinstance(spec, Reply):
        return spec
    status, headers, body = spec
    items = tuple(headers.items()) if isinstance(headers, Mapping) else tuple(headers)
    return Reply(status, items, body.encode("utf-8") if isinstance(body, str) else body)


@dataclass(frozen=True)
class LoggedRequest:
    """One request the server received."""

    method: str
    host: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    at: float = 0.0  # time.monotonic() when received

    @property
    def url(self) -> str:
        return f"http://{self.host}{self.path}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one write: separate small writes meet delayed ACKs (40 ms each).
    wbufsize = -1
    server: LocalWebServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the log is self.server.requests
        pass

    def handle(self) -> None:
        # A client that gives up (a timeout, a stopped download) is part of every test here.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle()

    def finish(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().finish()

    def _route(self) -> tuple[str, str]:
        if self.path.startswith(("http://", "https://")):
            parts = urlsplit(self.path)
            host = parts.netloc.lower()
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            return host, path
        return (self.headers.get("Host") or "").lower(), self.path

    def _serve(self, *, head: bool) -> None:
        host, path = self._route()
        logged = LoggedRequest(self.command, host, path, dict(self.headers.items()), time.monotonic())
        self.server.record(logged)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        site = self.server.sites.get(host)
        guarded = self.server.guard(logged) if self.server.guard is not None else None
        if guarded is not None:
            reply = as_reply(guarded)
        elif site is None:
            reply = Reply(502, (("Content-Type", "text/plain"),), f"unknown host {host}\n".encode())
        else:
            # A site that answers by what the request carries (a price header, say) has a ``respond``.
            respond = getattr(site, "respond", None)
            spec = respond(logged) if respond is not None else site.get(path)
            reply = (
                as_reply(spec)
                if spec is not None
                else Reply(404, (("Content-Type", "text/plain"),), b"not found\n")
            )
        if reply.delay:
            time.sleep(reply.delay)
        try:
            self.send_response(reply.status)
            names = {name.lower() for name, _ in reply.headers}
            for name, value in reply.headers:
                self.send_header(name, value)
            if "content-length" not in names and not reply.unframed:
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if not head:
                self._write_body(reply)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts, stopped downloads)
            self.close_connection = True
        if reply.close or reply.unframed:
            self.close_connection = True

    def _write_body(self, reply: Reply) -> None:
        if not reply.trickle:
            self.wfile.write(reply.body)
            return
        for start in range(0, len(reply.body), 16):
            self.wfile.write(reply.body[start : start + 16])
            self.wfile.flush()
            time.sleep(reply.trickle)

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_POST(self) -> None:
        self._serve(head=False)


class LocalWebServer(ThreadingHTTPServer):
    """The server; use :func:`serve` to run it in a background thread."""

    daemon_threads = True
    allow_reuse_address = True
    # socketserver listens with a backlog of 5: a crawler opening more connections at once has
    # its SYNs dropped and retried a second later, which looked like a slow crawler.
    request_queue_size = 128

    def __init__(self, sites: Mapping[str, Site], address: tuple[str, int] = ("127.0.0.1", 0)) -> None:
        super().__init__(address, _Handler)
        self.sites = {host.lower(): site for host, site in sites.items()}
        self.requests: list[LoggedRequest] = []
        self._lock = threading.Lock()
        # Asked first about every request: a reply of its own (a site that checks what it is sent,
        # such as a signature), or None for the table's.
        self.guard: Callable[[LoggedRequest], ReplySpec | None] | None = None

    def record(self, request: LoggedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    @property
    def proxy_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        """Stop serving and release the listening socket."""
        self.shutdown()
        self.server_close()

    def requested(self, host: str | None = None) -> list[str]:
        """URLs requested so far (optionally for one host), in order."""
        with self._lock:
            return [r.url for r in self.requests if host is None or r.host == host]


def serve(sites: Mapping[str, Site], port: int = 0) -> LocalWebServer:
    """Start a :class:`LocalWebServer` on 127.0.0.1 in a daemon thread; call ``close()`` when done."""
    server = LocalWebServer(sites, ("127.0.0.1", port))
    thread = threading.Thread(target=server.serve_forever, name="localweb", daemon=True)
    thread.start()
    return server
