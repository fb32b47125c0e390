"""Signed requests: Web Bot Auth signatures (draft-ietf-webbotauth-httpsig-protocol) on every request sent.

No Scrapy here: a request is anything with an upper-case ``method``, an
encoded absolute ``url`` and ``headers`` that map names to a value or a list
of values, as bytes or text (Scrapy's ``Request`` is one; so is a plain
object holding a dict). The signature itself is made by the maintained RFC 9421
library, http-message-signatures; this module chooses what it signs:

* ``Signature-Agent: sig1="https://crawler.example"``, the dictionary form the
  draft tells signers to send, whose member is keyed by the signature's label;
* ``Signature-Input`` and ``Signature`` under the label ``sig1``, with
  ``tag="web-bot-auth"``, ``keyid`` the key's JWK SHA-256 thumbprint (RFC 7638,
  RFC 8037), ``alg="ed25519"``, ``created`` now, ``expires`` a minute later and
  a fresh random ``nonce``;
* covering ``@method``, ``@authority``, ``@path`` and that ``Signature-Agent``
  member, and the price headers of pay per crawl (``crawler-max-price``,
  ``crawler-exact-price``) whenever the request carries them, so that a price
  offered cannot be raised on the way. ``Authorization`` is never covered: it
  may carry a secret, and the draft asks for no such thing.

Signing again replaces the signature a request carried (retries and redirects
copy a request's headers): every send gets a signature of its own.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms

from crawler.errors import PermitcrawlError
from crawler.identity.keys import load_key

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# The draft: "tag" MUST be web-bot-auth.
TAG = "web-bot-auth"
# The signature's label, and the key of the Signature-Agent member it covers: the draft wants the
# member "keyed to the signature label" signed.
LABEL = "sig1"
ALGORITHM = "ed25519"
# How long a signature stays valid after it is made. Signing happens just before the bytes leave
# (in the download handler), so a minute covers the time on the wire with room for clock skew at
# the verifier, as Cloudflare's Web Bot Auth guidance suggests ("A minute is often sufficient");
# the draft asks for no more than 24 hours and warns against signatures used as long-lived
# credentials: a replayed one is useless after a minute.
EXPIRES_AFTER = timedelta(seconds=60)
# Random bytes in each nonce, as Cloudflare's reference signer (web-bot-auth, NONCE_LENGTH_IN_BYTES).
NONCE_BYTES = 64
# Pay per crawl's request headers: covered whenever sent, so that a verifier knows the price is ours.
PRICE_HEADERS = ("crawler-max-price", "crawler-exact-price")
# Test and demonstration keys MUST NOT be used in production (the draft, "Test and Demonstration
# Keys"): the RFC 9421 Appendix B.1.4 key, whose private half is published, by its thumbprint.
TEST_KEY_THUMBPRINTS = frozenset({"poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U"})
LIBRARY = "http-message-signatures"

_HOST_NAME = re.compile(
    r"(?=.{1,253}\Z)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)


class SigningError(PermitcrawlError):
    """Signing cannot be set up (bad key or Signature-Agent), or a request cannot be signed."""


class SignableRequest(Protocol):
    """What :meth:`RequestSigner.sign` reads and changes of a request (Scrapy's Request is one)."""

    @property
    def method(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def headers(self) -> Any: ...


def member_component(member: str) -> str:
    """The covered component id of the ``Signature-Agent`` member ``member``."""
    return f'"signature-agent";key="{member}"'


def agent_header(agent: str, member: str = LABEL) -> str:
    """The ``Signature-Agent`` field value: a Structured Fields dictionary of one member."""
    return f'{member}="{agent}"'


def check_signature_agent(value: str) -> str:
    """Return the origin ``value`` names if it is the ASCII serialization of an https origin.

    The draft: the member "MUST be the ASCII serialization of an origin", where
    verifiers find ``/.well-known/http-message-signatures-directory``. So:
    scheme ``https``, a lower-case ASCII host (an IDNA name in its A-label
    form), a port only if not 443, no user, path (``/`` alone is dropped),
    query or fragment. Raise SigningError saying what was wrong and expected.
    """

    def refuse(what: str, hint: str = "") -> SigningError:
        expected = hint or "the https origin that serves your key directory, such as https://crawler.example"
        return SigningError(f"Signature-Agent {value!r} {what}; expected {expected}")

    if not value.isascii():
        hint = ""
        with contextlib.suppress(UnicodeError, AttributeError, ValueError):
            hint = f"https://{(urlsplit(value).hostname or '').encode('idna').decode('ascii')}"
        raise refuse("is not ASCII (give an internationalised host name in its A-label form, xn--...)", hint)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise refuse(f"is not a URL ({exc})") from None
    if parts.scheme != "https":
        raise refuse(f"has scheme {parts.scheme or 'none'!r}, not https (the draft allows https only)")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise refuse("carries user information")
    if parts.path not in ("", "/"):
        raise refuse(f"has the path {parts.path!r}; an origin has none")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise refuse("has a query or fragment; an origin has none")
    host = parts.hostname or ""
    if parts.netloc.startswith("["):
        valid = _is_ip(host, 6)
    else:
        valid = _is_ip(host, 4) or bool(_HOST_NAME.fullmatch(host))
    if not valid:
        raise refuse(f"has the host {host!r}, which is not a host name (lower case) or an IP address")
    origin = f"https://{parts.netloc}"
    if port == 443 or parts.netloc != parts.netloc.lower() or parts.netloc.endswith(":"):
        netloc = parts.netloc.lower().rstrip(":").removesuffix(":443")
        raise refuse("is not written as an origin is serialised", f"https://{netloc}")
    return origin


def _is_ip(host: str, family: int) -> bool:
    try:
        return ipaddress.ip_address(host).version == family
    except ValueError:
        return False


def check_production_key(keyid: str) -> None:
    """Raise SigningError if ``keyid`` is a published test key's (the draft: never used in production)."""
    if keyid in TEST_KEY_THUMBPRINTS:
        raise SigningError(
            f"the key {keyid} is the RFC 9421 Appendix B.1.4 test key, whose private half is published: "
            "test keys MUST NOT be used in production (draft-ietf-webbotauth-httpsig-protocol); "
            "expected a key of your own (permitcrawl keys generate --out KEY.jwk)"
        )


class _OneKey(HTTPSignatureKeyResolver):
    """Resolves our one key id to our key (signing only)."""

    def __init__(self, keyid: str, key: Ed25519PrivateKey) -> None:
        self.keyid = keyid
        self.key = key

    def resolve_private_key(self, key_id: str) -> Ed25519PrivateKey:
        if key_id != self.keyid:
            raise KeyError(key_id)
        return self.key

    def resolve_public_key(self, key_id: str) -> Any:
        return self.key.public_key() if key_id == self.keyid else None


def _text(value: bytes | str) -> str:
    # Header bytes as RFC 9421 strings: Latin-1 keeps every byte (http-message-signatures' rule too).
    return value.decode("latin-1") if isinstance(value, bytes) else value


class HeaderView:
    """A request's headers as the signing library reads and writes them: text names, one item per field line.

    ``headers`` maps a name (bytes or text) to a value or a list of values
    (bytes or text), case-insensitively as Scrapy's Headers does; what the
    library sets (``Signature``, ``Signature-Input``) is set on it as text.
    """

    def __init__(self, headers: Any) -> None:
        self.headers = headers

    def items(self) -> Iterator[tuple[str, str]]:
        for name, values in self.headers.items():
            for value in values if isinstance(values, list | tuple) else [values]:
                yield _text(name), _text(value)

    def __iter__(self) -> Iterator[str]:
        return (_text(name) for name in list(self.headers))

    def __contains__(self, name: object) -> bool:
        return name in self.headers

    def __getitem__(self, name: str) -> str:
        values = self.headers[name]
        return _text(values[-1] if isinstance(values, list | tuple) else values)

    def __setitem__(self, name: str, value: str) -> None:
        self.headers[name] = value

    def __delitem__(self, name: str) -> None:
        del self.headers[name]


@dataclass(frozen=True)
class _MessageView:
    """A request as the signing library reads it: method, URL, and its headers seen through a HeaderView."""

    method: str
    url: str
    headers: HeaderView


class RequestSigner:
    """Signs requests in place with one Ed25519 key, for one Signature-Agent origin.

    Built once per crawl (the key is loaded once); :meth:`sign` is called for
    every request just before it is sent. ``label`` (the signature's label and
    the Signature-Agent member's key) and ``components`` (what is covered
    besides the price headers) have the defaults described in this module;
    they exist to reproduce published test vectors.
    """

    def __init__(
        self,
        key: Ed25519PrivateKey,
        keyid: str,
        agent: str,
        *,
        label: str = LABEL,
        member: str | None = None,
        components: Sequence[str] | None = None,
    ) -> None:
        self.keyid = keyid
        self.agent = agent
        self.label = label
        self.member = member or label
        self.components = tuple(
            components
            if components is not None
            else ("@method", "@authority", "@path", member_component(self.member))
        )
        self._signer = HTTPMessageSigner(
            signature_algorithm=algorithms.ED25519, key_resolver=_OneKey(keyid, key)
        )

    @classmethod
    def from_key_file(cls, path: Path, agent: str) -> RequestSigner:
        """The signer of the key file ``path`` for the Signature-Agent origin ``agent``, both checked.

        Raise KeyFileError naming the file and what is wrong with it, or
        SigningError for an agent that is not an https origin or a published
        test key.
        """
        origin = check_signature_agent(agent)
        jwk, key = load_key(path)
        check_production_key(jwk["kid"])
        return cls(key, jwk["kid"], origin)

    def covered(self, request: SignableRequest) -> tuple[str, ...]:
        """The components a signature of ``request`` covers: ours, and each price header it carries."""
        return self.components + tuple(name for name in PRICE_HEADERS if name in request.headers)

    def sign(
        self,
        request: SignableRequest,
        *,
        created: datetime | None = None,
        expires: datetime | None = None,
        nonce: str | None = None,
    ) -> None:
        """Set ``Signature-Agent``, ``Signature-Input`` and ``Signature`` on ``request``, replacing any.

        ``created`` defaults to now, ``expires`` to :data:`EXPIRES_AFTER` after
        it, ``nonce`` to :data:`NONCE_BYTES` fresh random bytes in base64 (the
        arguments exist for test vectors). Raise SigningError if the request
        cannot be signed (a URL or header the library refuses); the request may
        then carry a ``Signature-Agent`` but no signature.
        """
        created = created or datetime.now(UTC).replace(microsecond=0)
        expires = expires or created + EXPIRES_AFTER
        nonce = nonce or base64.b64encode(secrets.token_bytes(NONCE_BYTES)).decode("ascii")
        request.headers["Signature-Agent"] = agent_header(self.agent, self.member)
        message = _MessageView(request.method, request.url, HeaderView(request.headers))
        try:
            self._signer.sign(
                message,
                key_id=self.keyid,
                label=self.label,
                tag=TAG,
                created=created,
                expires=expires,
                nonce=nonce,
                include_alg=True,
                covered_component_ids=self.covered(request),
                # A Content-Digest sent by someone else is left as it is (not covered: no body is signed).
                use_existing_digest="Content-Digest" in request.headers,
            )
        except Exception as exc:  # the library's own errors, and what a malformed URL or header raises
            raise SigningError(
                f"cannot sign the request for {request.url}: {type(exc).__name__}: {exc}"
            ) from exc

    def description(self) -> dict[str, Any]:
        """What a crawl records about its signatures (never key material), JSON-ready."""
        return {
            "scheme": "Web Bot Auth (draft-ietf-webbotauth-httpsig-protocol, RFC 9421)",
            "keyid": self.keyid,
            "signature_agent": agent_header(self.agent, self.member),
            "label": self.label,
            "tag": TAG,
            "alg": ALGORITHM,
            "components": list(self.components),
            "components_when_sent": list(PRICE_HEADERS),
            "expires_after_seconds": int(EXPIRES_AFTER.total_seconds()),
            "nonce_bytes": NONCE_BYTES,
            "library": f"{LIBRARY} {version(LIBRARY)}",
        }
