"""RSL licence servers, the client's side without the network: credentials, token requests and answers.

RSL 1.0 (https://rslstandard.org/rsl, the licence server protocol, OLP) lets a
``<content>`` name a licence ``server``; a client registered there holds a
``client_id`` and ``client_secret`` and asks ``POST <server>/token`` for a
licence token, authenticating with HTTP Basic (RFC 6749 §2.3.1). The request
is a form: ``grant_type=client_credentials``, ``license`` (the complete
``<license>`` element), ``license_type`` and ``resource``. The answer is
OAuth 2.0 JSON: ``access_token``, ``token_type`` (``License``; the 2025 OLP
draft said ``rsl``: either is accepted), ``expires_in`` (seconds, 0 none);
or ``error`` and ``error_description``.

The credentials file (``crawl --rsl-credentials FILE``) is TOML, one
``[[server]]`` table per licence server::

    [[server]]
    url = "https://licensing.example.com"
    client_id = "crawler-42"
    client_secret = "..."

It holds secrets: a file readable or writable by its group or by others is
refused, and the secret is kept out of every repr and message. No Scrapy here:
the crawler sends what this module builds (``crawler/adapters/licensing.py``).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus, urlencode, urlsplit

from policies.files import InputFileError
from policies.rsl import MEDIA_TYPE

if TYPE_CHECKING:
    from pathlib import Path

    from policies.rsl import TokenNeed

CREDENTIALS_MAX = 1024 * 1024  # bytes: a file of a few servers is a few hundred
FIELDS = ("url", "client_id", "client_secret")
EXPECTED = (
    "a TOML file of [[server]] tables, each with url, client_id and client_secret "
    '(url = "https://licensing.example.com"), mode 0600'
)
GRANT_TYPE = "client_credentials"  # RSL 1.0; the 2025 OLP draft's "rsl" is not sent
TOKEN_TYPES = frozenset({"license", "rsl"})  # RSL 1.0 says License, the OLP draft rsl
TOKEN_MAX = 8192  # characters of a token: it travels in a header on every licensed request
EXPIRES_MAX = 10 * 365 * 86400  # seconds: a larger expires_in is no expiry one could plan on
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")  # what a header value may carry without quoting


class CredentialsError(InputFileError):
    """The credentials file cannot be used: ``path:line: what was wrong; expected ...``."""


@dataclass(frozen=True)
class ClientCredentials:
    """One licence server's client credentials; the secret never appears in a repr."""

    server: str
    client_id: str
    client_secret: str = field(repr=False)
    line: int = 0

    def basic_authorization(self) -> str:
        """The ``Authorization`` value of HTTP Basic client authentication (RFC 6749 §2.3.1: form-encoded)."""
        pair = f"{quote_plus(self.client_id)}:{quote_plus(self.client_secret)}"
        return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


@dataclass(frozen=True)
class RslCredentials:
    """Every licence server's credentials, by normalised server URL."""

    path: str
    servers: dict[str, ClientCredentials]

    def for_server(self, server: str) -> ClientCredentials | None:
        """The credentials for a licence's ``server`` attribute, however spelled (None: none given)."""
        try:
            return self.servers.get(server_key(server))
        except ValueError:
            return None


def _is_local(host: str) -> bool:
    # Names that never leave the machine: loopback addresses, localhost, and the reserved .test (RFC 6761).
    if host == "localhost" or host.endswith((".localhost", ".test")) or host == "test":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_key(url: str) -> str:
    """A licence server URL as compared: scheme and host lower-cased, default port and final ``/`` dropped.

    Raise ValueError unless it is an absolute https URL (http only for a
    loopback address, ``localhost`` or a ``.test`` name) with no user, query or
    fragment.
    """
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        raise ValueError(f"{url!r} is not an absolute https URL")
    if scheme == "http" and not _is_local(host):
        raise ValueError(f"{url!r} is http: credentials go to a licence server over https only")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise ValueError(f"{url!r} has a user, a query or a fragment")
    port = parts.port  # raises ValueError for a port out of range
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def _read_secret_file(path: Path) -> str:
    """The file's text; refuse anything but a regular UTF-8 file no one but its owner may read or write."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise CredentialsError(f"{path}: cannot be read ({exc.strerror}); expected {EXPECTED}") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise CredentialsError(f"{path}: is not a regular file; expected {EXPECTED}")
        if mode & 0o077:
            raise CredentialsError(
                f"{path}: its mode is {stat.S_IMODE(mode):04o}, so its group or others may read or change "
                f"the secrets it holds; expected mode 0600 (chmod 600 {path})"
            )
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(CREDENTIALS_MAX + 1)
    except OSError as exc:
        raise CredentialsError(f"{path}: cannot be read ({exc.strerror}); expected {EXPECTED}") from None
    finally:
        os.close(descriptor)
    if len(data) > CREDENTIALS_MAX:
        raise CredentialsError(f"{path}: larger than {CREDENTIALS_MAX} bytes; expected {EXPECTED}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CredentialsError(f"{path}: not UTF-8 (byte {exc.start}); expected {EXPECTED}") from None


_TABLE_LINE = re.compile(r"^\s*\[\[\s*server\s*\]\]\s*(#.*)?$")
_KEY_LINE = re.compile(r"""^\s*["']?([A-Za-z0-9_.-]+)["']?\s*=""")


def _lines(text: str) -> tuple[list[int], dict[tuple[int, str], int]]:
    """The line of each ``[[server]]``, and of each key in it ((table index or -1, key) -> line)."""
    tables: list[int] = []
    keys: dict[tuple[int, str], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if _TABLE_LINE.match(line):
            tables.append(number)
        elif match := _KEY_LINE.match(line):
            keys.setdefault((len(tables) - 1, match.group(1)), number)
    return tables, keys


def load_rsl_credentials(path: Path) -> RslCredentials:
    """Read and check a credentials file; raise CredentialsError (``path:line: ...``) at its first problem."""
    text = _read_secret_file(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"at line (\d+)", str(exc))
        line = match.group(1) if match else "1"
        # The parser's message may quote the line, and the line may hold a secret: not repeated.
        raise CredentialsError(f"{path}:{line}: not valid TOML; expected {EXPECTED}") from None
    tables, keys = _lines(text)
    for name in data:
        if name != "server":
            line = keys.get((-1, name), 1)
            raise CredentialsError(f"{path}:{line}: unknown key {name!r}; expected only [[server]] tables")
    entries = data.get("server", [])
    if not isinstance(entries, list) or not entries:
        raise CredentialsError(f"{path}:1: no [[server]] table; expected {EXPECTED}")
    servers: dict[str, ClientCredentials] = {}
    for index, entry in enumerate(entries):
        line = tables[index] if index < len(tables) else 1
        credentials = _entry(path, entry, index, line, keys)
        earlier = servers.get(credentials.server)
        if earlier is not None:
            raise CredentialsError(
                f"{path}:{line}: licence server {credentials.server} is given twice (first at line "
                f"{earlier.line}); expected one [[server]] table per server"
            )
        servers[credentials.server] = credentials
    return RslCredentials(str(path), servers)


def _entry(
    path: Path, entry: Any, index: int, line: int, keys: dict[tuple[int, str], int]
) -> ClientCredentials:
    def at(key: str) -> int:
        return keys.get((index, key), line)

    if not isinstance(entry, dict):
        raise CredentialsError(f"{path}:{line}: a server is not a table; expected {EXPECTED}")
    for key in entry:
        if key not in FIELDS:
            raise CredentialsError(
                f"{path}:{at(key)}: unknown key {key!r} in a [[server]] table; expected {', '.join(FIELDS)}"
            )
    for key in FIELDS:
        if key not in entry:
            raise CredentialsError(f"{path}:{line}: this [[server]] table has no {key}; expected {EXPECTED}")
        value = entry[key]
        if not isinstance(value, str) or not value.strip():
            what = "an empty string" if isinstance(value, str) else f"a {type(value).__name__}"
            raise CredentialsError(f"{path}:{at(key)}: {key} is {what}; expected a non-empty string")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise CredentialsError(
                f"{path}:{at(key)}: {key} holds a control character; expected printable text"
            )
    try:
        server = server_key(entry["url"])
    except ValueError as exc:
        raise CredentialsError(
            f"{path}:{at('url')}: {exc}; expected the licence server's https URL, as RSL documents name it "
            "(http only for loopback, localhost or .test hosts)"
        ) from None
    return ClientCredentials(server, entry["client_id"], entry["client_secret"], line)


# -- the token exchange ------------------------------------------------------------------------


def token_url(server: str) -> str:
    """Where a licence server issues tokens: its ``/token`` endpoint (RSL 1.0, OLP)."""
    return server.rstrip("/") + "/token"


def token_request_body(need: TokenNeed) -> bytes:
    """The form a token request sends: grant type, the complete ``<license>``, its type, the resource."""
    return urlencode(
        {
            "grant_type": GRANT_TYPE,
            "license": need.licence,
            "license_type": MEDIA_TYPE,
            "resource": need.resource,
        }
    ).encode("ascii")


@dataclass(frozen=True)
class IssuedToken:
    """A token as a licence server issued it; ``expires_in`` 0: no expiry. Kept in memory only."""

    token: str = field(repr=False)
    token_type: str
    expires_in: int


class TokenRefused(Exception):
    """The licence server gave no token; the message says what it answered (never a token or secret)."""


def _said(value: object, limit: int = 300) -> str:
    # What a server said, quoted and bounded: it goes into a reason and the log.
    text = value if isinstance(value, str) else json.dumps(value)
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


def _oauth_error(status: int, data: object) -> str:
    if isinstance(data, dict) and "error" in data:
        said = f"error {_said(data['error'])}"
        if "error_description" in data:
            said += f", error_description {_said(data['error_description'])}"
        return f"HTTP {status}, {said}"
    return f"HTTP {status}, no OAuth error in the answer"


def parse_token_response(status: int, body: bytes) -> IssuedToken:
    """Read a licence server's answer to a token request; raise TokenRefused saying why there is no token.

    A 200 must be a JSON object with a non-empty ``access_token`` of header-safe
    characters, ``token_type`` ``License`` or ``rsl`` (any case), and
    ``expires_in`` a whole number of seconds from 0 (no expiry) on; when
    absent, 0. Anything else (another status, an OAuth ``error``, not JSON)
    is a refusal naming what came.
    """
    try:
        data: object = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        data = None
    if status != 200:
        raise TokenRefused(
            _oauth_error(status, data) if data is not None else f"HTTP {status}, not an OAuth answer"
        )
    if not isinstance(data, dict):
        raise TokenRefused("HTTP 200, but the answer is not a JSON object")
    if "error" in data:
        raise TokenRefused(_oauth_error(status, data))
    token = data.get("access_token")
    if not isinstance(token, str) or not token or len(token) > TOKEN_MAX or not _TOKEN_CHARS.fullmatch(token):
        raise TokenRefused(
            f"HTTP 200, but access_token is missing or not a header-safe string of up to {TOKEN_MAX}"
        )
    token_type = data.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() not in TOKEN_TYPES:
        raise TokenRefused(f"HTTP 200, but token_type is {_said(token_type)}; expected License (or rsl)")
    expires_in = data.get("expires_in", 0)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or not 0 <= expires_in <= EXPIRES_MAX:
        raise TokenRefused(
            f"HTTP 200, but expires_in is {_said(expires_in)}; expected whole seconds, 0 or more"
        )
    return IssuedToken(token, token_type, expires_in)
