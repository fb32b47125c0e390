"""Ed25519 signing keys as JWK files, their RFC 7638 thumbprints, and the key directory.

No Scrapy here. A key file holds one private JWK (RFC 8037: ``kty`` OKP,
``crv`` Ed25519, ``x`` the public key, ``d`` the private one, both base64url
without padding) and its ``kid``, the key's JWK SHA-256 thumbprint (RFC 7638),
which is the ``keyid`` a Web Bot Auth signature names
(draft-ietf-webbotauth-httpsig-protocol). The directory an operator serves at
``/.well-known/http-message-signatures-directory`` is a JWK Set of the public
halves (draft-meunier-http-message-signatures-directory), media type
:data:`DIRECTORY_MEDIA_TYPE`.

Key files are ours to check strictly: a file that is not exactly such a key
is refused with the file and what was wrong named (:class:`KeyFileError`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crawler.errors import PermitcrawlError

if TYPE_CHECKING:
    from pathlib import Path

DIRECTORY_PATH = "/.well-known/http-message-signatures-directory"
DIRECTORY_MEDIA_TYPE = "application/http-message-signatures-directory+json"
# A key file is a few hundred bytes; anything much larger is not one.
MAX_KEY_FILE = 64 * 1024
# RFC 4648 §5's alphabet, no padding: what RFC 7515 §2 allows in a JWK member.
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
EXPECTED = (
    "expected a private Ed25519 JWK as `permitcrawl keys generate` writes it "
    '({"kty": "OKP", "crv": "Ed25519", "x": ..., "d": ..., "kid": ...})'
)


class KeyFileError(PermitcrawlError):
    """A key file that cannot be used: missing, unreadable, or not a private Ed25519 JWK."""


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2), as JWK members are written."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(value: str) -> bytes:
    if not isinstance(value, str) or not _BASE64URL.fullmatch(value):
        raise ValueError("not base64url without padding")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def thumbprint(jwk: dict[str, Any]) -> str:
    """The JWK SHA-256 thumbprint of an OKP key (RFC 7638 §3.2, RFC 8037 §2): base64url of the digest.

    Only the required members count, ``crv``, ``kty`` and ``x``, in that
    (lexicographic) order, with no white space.
    """
    canonical = json.dumps({"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def private_jwk(key: Ed25519PrivateKey) -> dict[str, str]:
    """The private JWK of ``key``, with its thumbprint as ``kid``."""
    d = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    x = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(x), "d": b64url(d)}
    return {**jwk, "kid": thumbprint(jwk)}


def public_jwk(jwk: dict[str, Any]) -> dict[str, str]:
    """The public half of a key, as a directory lists it: no ``d``; ``kid`` the thumbprint; ``use`` sig."""
    return {"kty": "OKP", "crv": "Ed25519", "x": jwk["x"], "kid": thumbprint(jwk), "use": "sig"}


def directory(keys: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """The JWK Set served as the key directory: each key's public half once, in the order given."""
    seen: dict[str, dict[str, str]] = {}
    for jwk in keys:
        public = public_jwk(jwk)
        seen.setdefault(public["kid"], public)
    return {"keys": list(seen.values())}


def write_key(path: Path, jwk: dict[str, str]) -> None:
    """Write a private key file readable by its owner only (mode 0600), never over an existing file.

    Whole or not at all: written beside and linked into place once on disk.
    """
    partial = path.with_name(f".{path.name}.{os.getpid()}.new")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(jwk, indent=2) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.link(partial, path)  # refuses an existing file, where a rename would replace it
    finally:
        partial.unlink(missing_ok=True)


def load_key(path: Path) -> tuple[dict[str, str], Ed25519PrivateKey]:
    """Read and check a private key file: its JWK (with ``kid``) and the key.

    Raise KeyFileError naming the file and what is wrong: missing, not a
    regular file, too large, not JSON, not an Ed25519 private JWK, a public
    key that is not the private key's, a ``kid`` that is not its thumbprint.
    """

    def refuse(what: str) -> KeyFileError:
        return KeyFileError(f"{path}: {what}; {EXPECTED}")

    if not path.exists():
        raise refuse("no such file")
    if not path.is_file():
        raise refuse("is not a regular file")
    if path.stat().st_size > MAX_KEY_FILE:
        raise refuse(f"is larger than {MAX_KEY_FILE} bytes")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise refuse(f"is not JSON text ({exc})") from None
    except OSError as exc:
        raise refuse(f"cannot be read ({exc.strerror})") from None
    if not isinstance(data, dict):
        raise refuse(f"holds a JSON {type(data).__name__}, not an object")
    for member, wanted in (("kty", "OKP"), ("crv", "Ed25519")):
        if data.get(member) != wanted:
            raise refuse(f"{member} is {data.get(member)!r}, not {wanted!r}")
    if "d" not in data:
        raise refuse("has no private key (member d): a public key cannot sign")
    try:
        d, x = _unb64url(data["d"]), _unb64url(data.get("x", ""))
    except (ValueError, binascii.Error):
        raise refuse("d or x is not base64url without padding") from None
    if len(d) != 32 or len(x) != 32:
        raise refuse(f"d and x must each be 32 bytes, found {len(d)} and {len(x)}")
    key = Ed25519PrivateKey.from_private_bytes(d)
    if private_jwk(key)["x"] != data["x"]:
        raise refuse("x is not the public key of d")
    kid = thumbprint(data)
    if data.get("kid", kid) != kid:
        raise refuse(f"kid is {data['kid']!r}, but the key's thumbprint is {kid!r}")
    return {"kty": "OKP", "crv": "Ed25519", "x": data["x"], "d": data["d"], "kid": kid}, key


def generate_key(path: Path) -> dict[str, str]:
    """Make a new Ed25519 key and write it to ``path`` (mode 0600, never over a file); return its JWK."""
    jwk = private_jwk(Ed25519PrivateKey.generate())
    write_key(path, jwk)
    return jwk
