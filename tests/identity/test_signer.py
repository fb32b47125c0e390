"""Signed requests: the draft's test vector, our signatures verified by an independent verifier, tampering."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import HTTPMessageVerifier, MappingKeyResolver, algorithms
from http_message_signatures.exceptions import HTTPMessageSignaturesException
from scrapy import Request

from crawler.identity.keys import directory, load_key, private_jwk
from crawler.identity.signer import (
    EXPIRES_AFTER,
    NONCE_BYTES,
    RequestSigner,
    SigningError,
    check_signature_agent,
    member_component,
)
from tests.webbotauth import DirectoryVerifier, Message, _Headers

if TYPE_CHECKING:
    from pathlib import Path

# draft-ietf-webbotauth-httpsig-protocol, Test Vectors, EdDSA, "Signature-Agent Included Present on the
# Request" (dictionary form), signed with the RFC 9421 Appendix B.1.4 key (test-key-ed25519).
VECTOR_KEY = {
    "kty": "OKP",
    "crv": "Ed25519",
    "d": "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU",
    "x": "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs",
}
VECTOR_KEYID = "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U"
VECTOR_NONCE = "n9p433xm+NJ3ph3upfBIGmsuwHw387YV7Q/F+6BSpGCVjYCqQw6rznNA8PVVLySrAWsv0hQtFioQb6E1YsauiA=="
VECTOR_AGENT = 'agent2="https://signature-agent.test"'
VECTOR_INPUT = (
    'sig2=("@authority" "signature-agent";key="agent2");created=1735689600'
    f';keyid="{VECTOR_KEYID}";alg="ed25519";expires=4889289600;nonce="{VECTOR_NONCE}";tag="web-bot-auth"'
)
VECTOR_SIGNATURE = (
    "sig2=:RdNFx5Bj6au3YgAMQL/RzmUlZE8QZLIaXGRpw985hWnwPfMxT228NMk6ehRS1PSl4e8PhbNZACSanGdhEwYCCg==:"
)
# RFC 9421's test-request, which the vector signs (only its authority is covered).
TEST_REQUEST_URL = "https://example.com/foo?param=Value&Pet=dog"
TEST_REQUEST_HEADERS = [
    ("Host", "example.com"),
    ("Date", "Tue, 20 Apr 2021 02:07:55 GMT"),
    ("Content-Type", "application/json"),
    (
        "Content-Digest",
        "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
    ),
    ("Content-Length", "18"),
]


def _vector_key(tmp_path: Path) -> tuple[dict[str, str], Ed25519PrivateKey]:
    path = tmp_path / "test-key-ed25519.jwk"
    path.write_text(json.dumps(VECTOR_KEY))
    return load_key(path)


def _verify(request: Request, key: Ed25519PrivateKey, keyid: str, **kwargs: Any) -> Any:
    """Verify ``request`` with the library, fed only the public key."""
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={keyid: key.public_key()}, private_keys={}),
    )
    lines = [(n.decode(), v.decode()) for n, vs in request.headers.items() for v in vs]
    return verifier.verify(Message(request.method, request.url, _Headers(lines)), **kwargs)


def test_the_drafts_vector_verifies_with_the_library(tmp_path: Path) -> None:
    jwk, key = _vector_key(tmp_path)
    assert jwk["kid"] == VECTOR_KEYID
    lines = [
        *TEST_REQUEST_HEADERS,
        ("Signature-Agent", VECTOR_AGENT),
        ("Signature-Input", VECTOR_INPUT),
        ("Signature", VECTOR_SIGNATURE),
    ]
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={VECTOR_KEYID: key.public_key()}, private_keys={}),
    )
    message = Message("POST", TEST_REQUEST_URL, _Headers(lines))
    (result,) = verifier.verify(
        message,
        expect_tag="web-bot-auth",
        max_age=None,
        require_components=("@authority", member_component("agent2")),
    )
    assert result.parameters["keyid"] == VECTOR_KEYID
    other = Message("POST", TEST_REQUEST_URL.replace("example.com", "example.org"), _Headers(lines))
    with pytest.raises(HTTPMessageSignaturesException):
        verifier.verify(other, expect_tag="web-bot-auth", max_age=None)


def test_our_signer_reproduces_the_drafts_vector_byte_for_byte(tmp_path: Path) -> None:
    jwk, key = _vector_key(tmp_path)
    signer = RequestSigner(
        key,
        jwk["kid"],
        "https://signature-agent.test",
        label="sig2",
        member="agent2",
        components=("@authority", member_component("agent2")),
    )
    request = Request(TEST_REQUEST_URL, method="POST", headers=dict(TEST_REQUEST_HEADERS))
    signer.sign(
        request,
        created=datetime.fromtimestamp(1735689600, UTC),
        expires=datetime.fromtimestamp(4889289600, UTC),
        nonce=VECTOR_NONCE,
    )
    assert request.headers["Signature-Agent"].decode() == VECTOR_AGENT
    assert request.headers["Signature-Input"].decode() == VECTOR_INPUT
    assert request.headers["Signature"].decode() == VECTOR_SIGNATURE


def _signer() -> tuple[RequestSigner, Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    return RequestSigner(key, private_jwk(key)["kid"], "https://crawler.example"), key


def test_a_request_is_signed_as_the_draft_says() -> None:
    signer, key = _signer()
    request = Request("http://site-a.test/a/b?q=1", headers={"Authorization": "License secret"})
    before = datetime.now(UTC).replace(microsecond=0)
    signer.sign(request)
    assert request.headers["Signature-Agent"] == b'sig1="https://crawler.example"'
    (result,) = _verify(
        request,
        key,
        signer.keyid,
        expect_tag="web-bot-auth",
        require_components=("@method", "@authority", "@path", member_component("sig1")),
    )
    params = result.parameters
    assert result.label == "sig1"
    assert params["alg"] == "ed25519" and params["keyid"] == signer.keyid
    assert params["created"] >= int(before.timestamp())
    assert params["expires"] - params["created"] == EXPIRES_AFTER.total_seconds() == 60
    assert len(base64.b64decode(params["nonce"])) == NONCE_BYTES
    assert list(result.covered_components)[:-1] == [
        '"@method"',
        '"@authority"',
        '"@path"',
        '"signature-agent";key="sig1"',
    ]
    assert "authorization" not in request.headers["Signature-Input"].decode().lower()


def test_price_headers_are_covered_whenever_sent_and_authorization_never() -> None:
    signer, key = _signer()
    request = Request(
        "http://priced.test/article",
        headers={"crawler-max-price": "USD 0.01", "crawler-exact-price": "USD 0.01", "Authorization": "x"},
    )
    signer.sign(request)
    signature_input = request.headers["Signature-Input"].decode()
    assert '"crawler-max-price" "crawler-exact-price")' in signature_input
    assert "authorization" not in signature_input.lower()
    _verify(request, key, signer.keyid, require_components=("crawler-max-price", "crawler-exact-price"))


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda r: r.replace(url="http://site-a.test/other"), id="path"),
        pytest.param(lambda r: r.replace(url="http://site-b.test/a"), id="authority"),
        pytest.param(lambda r: r.replace(method="POST"), id="method"),
        pytest.param(
            lambda r: r.headers.__setitem__("Signature-Agent", 'sig1="https://evil.example"') or r,
            id="signature-agent",
        ),
        pytest.param(lambda r: r.headers.pop("Crawler-Max-Price") and r, id="dropped max price"),
        pytest.param(
            lambda r: r.headers.__setitem__("crawler-max-price", "USD 9.99") or r, id="raised max price"
        ),
    ],
)
def test_a_tampered_request_fails_verification(tamper: Any) -> None:
    signer, key = _signer()
    request = Request("http://site-a.test/a", headers={"crawler-max-price": "USD 0.01"})
    signer.sign(request)
    _verify(request, key, signer.keyid)  # untouched, it verifies
    tampered = tamper(request)
    with pytest.raises(HTTPMessageSignaturesException):
        _verify(tampered, key, signer.keyid)


def test_signing_again_replaces_the_old_signature() -> None:
    signer, key = _signer()
    request = Request("http://site-a.test/a")
    signer.sign(request)
    first = request.headers["Signature"]
    retried = request.replace(url="http://site-a.test/b")  # a redirect copies the headers
    signer.sign(retried)
    assert retried.headers.getlist("Signature") != [first] and len(retried.headers.getlist("Signature")) == 1
    assert len(retried.headers.getlist("Signature-Input")) == 1
    assert retried.headers["Signature"].decode().count("sig1=") == 1
    _verify(retried, key, signer.keyid)


def test_the_directory_verifier_accepts_our_signature_and_no_other_key() -> None:
    signer, key = _signer()
    request = Request("http://site-a.test/a")
    signer.sign(request)
    lines = [(n.decode(), v.decode()) for n, vs in request.headers.items() for v in vs]
    ours = DirectoryVerifier(json.dumps(directory([private_jwk(key)])))
    assert ours.verify("GET", request.url, lines).parameters["keyid"] == signer.keyid
    other = DirectoryVerifier(json.dumps(directory([private_jwk(Ed25519PrivateKey.generate())])))
    with pytest.raises(HTTPMessageSignaturesException):
        other.verify("GET", request.url, lines)


def test_the_test_key_is_refused_for_a_crawl(tmp_path: Path) -> None:
    path = tmp_path / "test-key-ed25519.jwk"
    path.write_text(json.dumps(VECTOR_KEY))
    with pytest.raises(SigningError, match=r"RFC 9421 Appendix B\.1\.4 test key"):
        RequestSigner.from_key_file(path, "https://crawler.example")


def test_the_description_names_the_key_and_never_its_private_half() -> None:
    signer, key = _signer()
    description = signer.description()
    assert description["keyid"] == signer.keyid
    assert description["signature_agent"] == 'sig1="https://crawler.example"'
    assert description["expires_after_seconds"] == 60
    assert re.fullmatch(r"http-message-signatures 3\.\d+\.\d+", description["library"])
    assert private_jwk(key)["d"] not in json.dumps(description)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://crawler.example", "https://crawler.example"),
        ("https://crawler.example/", "https://crawler.example"),
        ("https://crawler.example:8443", "https://crawler.example:8443"),
        ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
    ],
)
def test_an_https_origin_is_a_signature_agent(value: str, expected: str) -> None:
    assert check_signature_agent(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("http://crawler.example", "not https"),
        ("https://crawler.example/bot", "has the path '/bot'"),
        ("https://crawler.example/?a=1", "query or fragment"),
        ("https://crawler.example#x", "query or fragment"),
        ("https://me@crawler.example", "user information"),
        ("https://bücher.example", "expected https://xn--bcher-kva.example"),
        ("https://Crawler.Example", "expected https://crawler.example"),
        ("https://crawler.example:443", "expected https://crawler.example"),
        ("crawler.example", "not https"),
    ],
)
def test_anything_else_is_refused_saying_what_is_expected(value: str, message: str) -> None:
    with pytest.raises(SigningError, match=re.escape(message)):
        check_signature_agent(value)
