"""An independent Web Bot Auth verifier for the tests: http-message-signatures fed only a published directory.

It knows nothing of permitcrawl's signer: it reads the key directory a test
got from ``permitcrawl keys directory`` (JSON text), and verifies a request
given as method, URL and header field lines, as a site would.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from http_message_signatures import HTTPMessageVerifier, HTTPSignatureKeyResolver, algorithms

from crawler.identity.keys import thumbprint

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from http_message_signatures.structures import VerifyResult

    from crawler.localweb.server import LoggedRequest, ReplySpec

TAG = "web-bot-auth"
MEMBER = '"signature-agent";key="sig1"'


class _DirectoryKeys(HTTPSignatureKeyResolver):
    """The public keys of one directory, by thumbprint (checked against each key's ``x``)."""

    def __init__(self, directory: Mapping[str, Any]) -> None:
        self.keys: dict[str, Ed25519PublicKey] = {}
        for jwk in directory["keys"]:
            assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and "d" not in jwk, jwk
            kid = thumbprint(jwk)
            assert jwk.get("kid", kid) == kid, "the draft: a directory's kid MUST be the thumbprint"
            raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
            self.keys[kid] = Ed25519PublicKey.from_public_bytes(raw)

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey | None:
        return self.keys.get(key_id)

    def resolve_private_key(self, key_id: str) -> Any:
        raise KeyError(key_id)  # a verifier has no private key


class _Headers:
    """Header field lines as the library reads them (text, case-insensitive look-up)."""

    def __init__(self, lines: Iterable[tuple[str, str]]) -> None:
        self.lines = list(lines)

    def items(self) -> list[tuple[str, str]]:
        return self.lines

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(n.lower() == name.lower() for n, _ in self.lines)

    def __iter__(self) -> Any:
        return iter([n for n, _ in self.lines])

    def __getitem__(self, name: str) -> str:
        return ", ".join(v for n, v in self.lines if n.lower() == name.lower())


@dataclass(frozen=True)
class Message:
    """A request as a site received it."""

    method: str
    url: str
    headers: _Headers


class DirectoryVerifier:
    """Verifies requests against the keys of one published directory, as the draft says a site does."""

    def __init__(self, directory_json: str) -> None:
        self.resolver = _DirectoryKeys(json.loads(directory_json))
        self.verifier = HTTPMessageVerifier(
            signature_algorithm=algorithms.ED25519, key_resolver=self.resolver
        )

    def verify(
        self,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]],
        *,
        require: tuple[str, ...] = ("@authority", MEMBER),
        sent_at: datetime | None = None,
    ) -> VerifyResult:
        """The one web-bot-auth signature of the request, verified; raise the library's error otherwise.

        The signature must carry tag web-bot-auth, be at most a minute and a
        half old, cover ``require``, and name a key of the directory by its
        thumbprint. ``sent_at`` verifies an archived request as of when it was
        sent (its expiry then, not now).
        """
        message = Message(method, url, _Headers(headers))
        verifier = self.verifier
        if sent_at is not None:  # the library checks against its clock: widen the skew by the age
            verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=self.resolver)
            verifier.max_clock_skew = datetime.now(UTC) - sent_at + timedelta(seconds=5)
        results = verifier.verify(message, expect_tag=TAG, max_age=None, require_components=require)
        if sent_at is None:
            created = datetime.fromtimestamp(results[0].parameters["created"], UTC)
            assert datetime.now(UTC) - created <= timedelta(seconds=90), results[0].parameters
        assert len(results) == 1, results
        assert results[0].parameters["keyid"] in self.resolver.keys
        return results[0]


@dataclass
class Verdict:
    """What the verifying site made of one request: its path, and the key id verified or the error."""

    path: str
    keyid: str | None
    error: str | None


def verifying_guard(
    verifier: DirectoryVerifier, host: str, verdicts: list[Verdict]
) -> Callable[[LoggedRequest], ReplySpec | None]:
    """A LocalWebServer guard: requests to ``host`` without a valid web-bot-auth signature get 403.

    The draft's SHOULD for a site that wants a signature; every verdict is
    kept in ``verdicts``.
    """

    def guard(request: LoggedRequest) -> ReplySpec | None:
        if request.host != host:
            return None
        try:
            result = verifier.verify(request.method, request.url, list(request.headers.items()))
        except Exception as exc:  # every failure is a refusal, as a site's would be
            verdicts.append(Verdict(request.path, None, f"{type(exc).__name__}: {exc}"))
            return 403, {"Content-Type": "text/plain"}, "a valid Web Bot Auth signature is required\n"
        verdicts.append(Verdict(request.path, result.parameters["keyid"], None))
        return None

    return guard
