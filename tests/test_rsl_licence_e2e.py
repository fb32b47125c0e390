"""RSL licence servers, end to end through the CLI: tokens obtained, presented, renewed, recorded by id only.

A local web of its own plays each part: a licence server issuing short-lived
tokens (checking client authentication, grant type, licence XML and resource,
counting what it issues), content hosts whose robots.txt ``License:`` names an
RSL document with ``server=`` and which answer 401 ``WWW-Authenticate:
License`` to a request without a valid token, and a licence server that is down.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

import defusedxml.ElementTree as SafeET
import pytest
import sqlite_utils

from tests.conftest import run_cli

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator
    from pathlib import Path

RSL_NS = "https://rslstandard.org/rsl"
CLIENT_ID = "crawler-7"
SECRET = "s3cret-Zq9!xw"
WRONG = "wrong-Secret-42"
EXPIRES_IN = 2  # seconds: renewed after one (half its lifetime), so a crawl of a few seconds renews
PAGES = [f"/p{i}" for i in range(8)]
EVIDENCE = ("/robots.txt", "/license.xml", "/.well-known/tdmrep.json", "/ai.txt")
LICENSE_LINK = '<{}>; rel="license"; type="application/rsl+xml"'


def licence_document(server: str, permits: str = "ai-train") -> str:
    return (
        f'<?xml version="1.0"?><rsl xmlns="{RSL_NS}"><content url="/" server="{server}">'
        f'<license><permits type="usage">{permits}</permits></license></content></rsl>'
    )


def robots(host: str) -> str:
    return f"License: http://{host}/license.xml\nUser-agent: *\nAllow: /\n"


@dataclass
class Seen:
    method: str
    host: str
    path: str
    headers: dict[str, str]
    token_valid: bool | None = None  # for content pages: whether the request carried a valid token


@dataclass
class LicenceWeb:
    """The licence server's and the content hosts' state, shared by the handler threads."""

    issued: dict[str, float] = field(default_factory=dict)  # token -> monotonic expiry
    issued_for: list[str] = field(default_factory=list)  # the resource of each token issued
    requests: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def tokens(self) -> list[str]:
        with self.lock:
            return list(self.issued)

    def seen(self, host: str) -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if r.host == host]


def _check_token_request(handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, dict[str, Any]]:
    """The licence server's checks: Basic client authentication, grant type, licence XML, resource."""
    # RFC 6749 §2.3.1: each of client_id and client_secret form-encoded, then joined for Basic.
    scheme, _, encoded = (handler.headers.get("Authorization") or "").partition(" ")
    client_id, _, secret = base64.b64decode(encoded or "").decode().partition(":")
    if scheme != "Basic" or (unquote_plus(client_id), unquote_plus(secret)) != (CLIENT_ID, SECRET):
        return 401, {"error": "invalid_client", "error_description": "client authentication failed"}
    form = parse_qs(body.decode("ascii"), strict_parsing=True)
    if form.get("grant_type") != ["client_credentials"]:
        return 400, {"error": "unsupported_grant_type"}
    licence = form.get("license", [""])[0]
    try:
        element = SafeET.fromstring(licence)
    except Exception:
        return 400, {"error": "invalid_license", "error_description": "not XML"}
    if element.tag != f"{{{RSL_NS}}}license" or element.find(f"{{{RSL_NS}}}permits") is None:
        return 400, {"error": "invalid_license", "error_description": "not a complete <license>"}
    if form.get("license_type") != ["application/rsl+xml"]:
        return 400, {"error": "invalid_request", "error_description": "license_type"}
    resource = form.get("resource", [""])[0]
    if not resource.startswith("http://") or not resource.endswith(".test/"):
        return 400, {"error": "invalid_resource", "error_description": resource}
    return 200, {"resource": resource}


def make_handler(state: LicenceWeb) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _valid(self) -> bool:
            scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
            with state.lock:
                expiry = state.issued.get(token)
            return scheme == "License" and expiry is not None and time.monotonic() < expiry

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            host, path = parts.netloc.lower(), parts.path or "/"
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen = Seen(self.command, host, path, dict(self.headers.items()))
            with state.lock:
                state.requests.append(seen)
            if host == "licence-server.test" and path == "/token" and self.command == "POST":
                status, answer = _check_token_request(self, body)
                if status == 200:
                    token = secrets.token_urlsafe(24)
                    with state.lock:
                        state.issued[token] = time.monotonic() + EXPIRES_IN
                        state.issued_for.append(answer["resource"])
                    answer = {"access_token": token, "token_type": "License", "expires_in": EXPIRES_IN}
                return self._send(status, {"Content-Type": "application/json"}, json.dumps(answer).encode())
            if host in ("licensed.test", "revoked.test", "licensed-down.test"):
                server = (
                    "http://licence-down.test"
                    if host == "licensed-down.test"
                    else "http://licence-server.test"
                )
                if path == "/robots.txt":
                    return self._send(200, {"Content-Type": "text/plain"}, robots(host).encode())
                if path in EVIDENCE[2:]:
                    return self._send(404, {"Content-Type": "text/plain"}, b"not found\n")
                if path == "/license.xml":
                    return self._send(
                        200, {"Content-Type": "application/rsl+xml"}, licence_document(server).encode()
                    )
                # revoked.test refuses every token, as a host would whose licences were revoked.
                seen.token_valid = self._valid() and host != "revoked.test"
                link = LICENSE_LINK.format(f"http://{host}/license.xml")
                if not seen.token_valid:
                    challenge = (
                        'License error="invalid_token", error_description="a valid licence token is required"'
                    )
                    headers = {"WWW-Authenticate": challenge, "Link": link, "Content-Type": "text/plain"}
                    return self._send(401, headers, b"licence token required\n")
                if path == "/moved":  # a licensed page that redirects to another host
                    return self._send(302, {"Location": "http://elsewhere.test/landing", "Link": link}, b"")
                links = "".join(f'<a href="{p}">{p}</a> ' for p in (*PAGES, "/moved")) if path == "/" else ""
                page = f"<html><body><p>licensed {path}</p>{links}</body></html>".encode()
                return self._send(200, {"Content-Type": "text/html", "Link": link}, page)
            if host == "elsewhere.test" and path == "/landing":
                return self._send(200, {"Content-Type": "text/html"}, b"<html><body>elsewhere</body></html>")
            if host == "elsewhere.test":
                return self._send(404, {"Content-Type": "text/plain"}, b"not found\n")
            return self._send(502, {"Content-Type": "text/plain"}, f"unknown host {host}\n".encode())

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

    return Handler


@pytest.fixture
def licence_web() -> Iterator[tuple[LicenceWeb, str]]:
    state = LicenceWeb()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield state, f"http://{host!s}:{port}"
    server.shutdown()
    server.server_close()


def credentials_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    os.chmod(path, mode)
    return path


def good_credentials(tmp_path: Path, secret: str = SECRET) -> Path:
    entry = f'client_id = "{CLIENT_ID}"\nclient_secret = "{secret}"\n'
    return credentials_file(
        tmp_path / "rsl.toml",
        f'[[server]]\nurl = "http://licence-server.test"\n{entry}\n[[server]]\nurl = "http://licence-down.test/"\n{entry}',
    )


def crawl(proxy: str, out: Path, seed: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "crawl",
        seed,
        "--out",
        out,
        "-s",
        "AUTOTHROTTLE_START_DELAY=0",
        "-s",
        "DOWNLOAD_TIMEOUT=2",
        "-s",
        "DOWNLOAD_DELAY=0.3",
        "-v",
        *args,
        proxy=proxy,
        timeout=120,
    )


def everything_written(out: Path) -> bytes:
    """Every byte the crawl left in its directory, WARC files decompressed."""
    found = []
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if path.name.endswith((".gz", ".gz.open")):
                with contextlib.suppress(OSError, EOFError):
                    data = gzip.decompress(data)
            found.append(data)
    return b"\n".join(found)


def decisions(out: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    db = sqlite_utils.Database(out / "provenance.db")
    return list(db.query("select * from captures")), list(db.query("select * from refusals"))


def page_requests(state: LicenceWeb, host: str) -> list[Seen]:
    return [r for r in state.seen(host) if r.path not in EVIDENCE]


def test_without_credentials_licensed_pages_are_refused_and_no_token_is_asked(
    licence_web: tuple[LicenceWeb, str], tmp_path: Path
) -> None:
    state, proxy = licence_web
    result = crawl(proxy, tmp_path / "out", "http://licensed.test/")
    assert result.returncode == 0, result.stderr
    assert page_requests(state, "licensed.test") == []
    assert state.seen("licence-server.test") == []
    captures, refusals = decisions(tmp_path / "out")
    assert captures == []
    (refusal,) = refusals
    assert refusal["signal"] == "rsl"
    assert "needs a token from licence server http://licence-server.test" in refusal["reason"]


def test_with_credentials_tokens_are_obtained_presented_renewed_and_never_recorded(
    licence_web: tuple[LicenceWeb, str], tmp_path: Path
) -> None:
    state, proxy = licence_web
    out = tmp_path / "out"
    result = crawl(proxy, out, "http://licensed.test/", "--rsl-credentials", good_credentials(tmp_path))
    assert result.returncode == 0, result.stderr
    pages = page_requests(state, "licensed.test")
    assert {r.path for r in pages} == {"/", "/moved", *PAGES}
    # The redirect to another host was followed without the token.
    (landing,) = [r for r in state.seen("elsewhere.test") if r.path == "/landing"]
    assert "Authorization" not in landing.headers
    # Every licensed request carried a token the server had issued and that had not expired.
    assert all(r.token_valid for r in pages), [(r.path, r.headers.get("Authorization")) for r in pages]
    tokens = state.tokens()
    assert len(tokens) > 1  # renewed: the first expired during the crawl
    assert set(state.issued_for) == {"http://licensed.test/"}
    # Only the token endpoint was asked of the licence server, and only with Basic authentication.
    assert {(r.method, r.path) for r in state.seen("licence-server.test")} == {("POST", "/token")}
    captures, refusals = decisions(out)
    assert refusals == []
    licensed = [c for c in captures if c["host"] == "licensed.test"]
    assert {c["url"] for c in licensed} == {
        "http://licensed.test/",
        *(f"http://licensed.test{p}" for p in PAGES),
    }
    assert {c["url"] for c in captures if c["host"] != "licensed.test"} == {"http://elsewhere.test/landing"}
    ids = {"sha256:" + hashlib.sha256(t.encode()).hexdigest() for t in tokens}
    for capture in licensed:
        assert capture["signal"] == "rsl"
        assert "licence server http://licence-server.test" in capture["reason"]
        named = capture["reason"].split("under token ")[1].split(" ")[0]
        assert named in ids
        assert "expires 20" in capture["reason"] and "permits usage ai-train" in capture["reason"]
    # The token and the secret are nowhere: database, WARC files, frontier, logs, stderr.
    written = everything_written(out)
    basic = [r.headers["Authorization"].split(" ")[1] for r in state.seen("licence-server.test")]
    for secret in (*tokens, SECRET, *basic):
        assert secret.encode() not in written
        assert secret not in result.stderr
    assert b"Authorization: License [token sha256:" in written
    assert b'"licence_tokens"' in written  # the tokens' records, with the evidence manifest
    audit = run_cli("audit", out)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    # A recheck asks no licence server, and revokes nothing the licence still grants.
    asked = len(state.seen("licence-server.test"))
    recheck = run_cli("recheck", out, proxy=proxy)
    assert recheck.returncode == 0, recheck.stderr
    assert "nothing revoked" in recheck.stdout + recheck.stderr
    assert len(state.seen("licence-server.test")) == asked


def test_a_host_refusing_the_token_gets_one_fresh_token_then_a_refusal(
    licence_web: tuple[LicenceWeb, str], tmp_path: Path
) -> None:
    state, proxy = licence_web
    out = tmp_path / "out"
    result = crawl(proxy, out, "http://revoked.test/", "--rsl-credentials", good_credentials(tmp_path))
    assert result.returncode == 0, result.stderr
    pages = page_requests(state, "revoked.test")
    assert [r.path for r in pages] == ["/", "/"]  # one fresh token, once: no retry loop
    assert pages[0].headers["Authorization"] != pages[1].headers["Authorization"]
    assert len(state.tokens()) == 2
    captures, refusals = decisions(out)
    assert captures == []
    (refusal,) = refusals
    assert refusal["signal"] == "rsl" and refusal["stage"] == "post-fetch"
    assert "error='invalid_token'" in refusal["reason"]


def test_a_wrong_secret_is_refused_by_the_server_and_nothing_is_fetched(
    licence_web: tuple[LicenceWeb, str], tmp_path: Path
) -> None:
    state, proxy = licence_web
    out = tmp_path / "out"
    result = crawl(
        proxy, out, "http://licensed.test/", "--rsl-credentials", good_credentials(tmp_path, WRONG)
    )
    assert result.returncode == 0, result.stderr
    assert page_requests(state, "licensed.test") == []
    assert len(state.seen("licence-server.test")) == 1  # the refusal is held, not asked again per page
    assert state.tokens() == []
    captures, refusals = decisions(out)
    assert captures == []
    (refusal,) = refusals
    assert refusal["signal"] == "rsl"
    assert (
        "HTTP 401, error 'invalid_client', error_description 'client authentication failed'"
        in refusal["reason"]
    )
    assert WRONG.encode() not in everything_written(out) and WRONG not in result.stderr


def test_a_licence_server_that_is_down_leaves_the_content_unlicensed(
    licence_web: tuple[LicenceWeb, str], tmp_path: Path
) -> None:
    state, proxy = licence_web
    out = tmp_path / "out"
    result = crawl(proxy, out, "http://licensed-down.test/", "--rsl-credentials", good_credentials(tmp_path))
    assert result.returncode == 0, result.stderr
    assert page_requests(state, "licensed-down.test") == []
    captures, refusals = decisions(out)
    assert captures == []
    (refusal,) = refusals
    assert refusal["signal"] == "rsl"
    assert "licence server http://licence-down.test gave no token: HTTP 502" in refusal["reason"]


BAD_FILES = [
    (
        '[[server]]\nurl = "http://licence-server.test"\nclient_id = "a"\nclient_secret = \n',
        4,
        "not valid TOML",
    ),
    (
        '[[server]]\nurl = "http://licence-server.test"\nclient_id = "a"\nsecret = "x"\n',
        4,
        "unknown key 'secret'",
    ),
    ('[[server]]\nurl = "http://licence-server.test"\nclient_id = "a"\n', 1, "has no client_secret"),
    ('[[server]]\nurl = "http://licence.example"\nclient_id = "a"\nclient_secret = "x"\n', 2, "is http"),
    (
        '[[server]]\nurl = "https://l.example"\nclient_id = "a"\nclient_secret = "x"\n'
        '[[server]]\nurl = "https://L.example/"\nclient_id = "b"\nclient_secret = "y"\n',
        5,
        "given twice",
    ),
    ('[[server]]\nurl = "https://l.example"\nclient_id = 7\nclient_secret = "x"\n', 3, "client_id is a int"),
    ("servers = 1\n", 1, "unknown key 'servers'"),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD_FILES)
def test_a_bad_credentials_file_stops_the_crawl_before_anything_is_created(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = credentials_file(tmp_path / "rsl.toml", text)
    result = run_cli("crawl", "http://licensed.test/", "--out", tmp_path / "out", "--rsl-credentials", path)
    assert result.returncode == 1
    assert f"Error: {path}:{line}: " in result.stderr and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
    assert '"x"' not in result.stderr and 'client_secret = "y"' not in result.stderr


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_a_credentials_file_others_may_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = good_credentials(tmp_path)
    os.chmod(path, mode)
    result = run_cli("crawl", "http://licensed.test/", "--out", tmp_path / "out", "--rsl-credentials", path)
    assert result.returncode == 1
    assert f"Error: {path}: its mode is {mode:04o}" in result.stderr and "chmod 600" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_missing_credentials_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    result = run_cli("crawl", "http://licensed.test/", "--out", tmp_path / "out", "--rsl-credentials", path)
    assert result.returncode == 1
    assert f"Error: {path}: cannot be read" in result.stderr
    assert not (tmp_path / "out").exists()
