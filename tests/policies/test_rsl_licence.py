"""RSL licence servers without the network.

The licence's XML, the tokens a URL needs, the basis under a token, the token
exchange's parsing, the credentials file, a content host's License challenge.
"""

from __future__ import annotations

import base64
import json
import os
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote_plus

import defusedxml.ElementTree as SafeET
import pytest

from policies.decision import Verdict
from policies.purpose import Purpose
from policies.rsl import (
    FoundLicence,
    LicenceToken,
    RslDocument,
    RslError,
    RslEvidence,
    challenge_reason,
    licence_needs,
    license_challenge,
    redact_authorization,
    rsl_basis,
    token_id,
)
from policies.rslclient import (
    CredentialsError,
    TokenRefused,
    load_rsl_credentials,
    parse_token_response,
    server_key,
    token_request_body,
)

if TYPE_CHECKING:
    from pathlib import Path

NS = "https://rslstandard.org/rsl"
SERVER = "https://licensing.example"
DOC = (
    f'<rsl xmlns="{NS}"><content url="/news/" server="{SERVER}">'
    '<license><permits type="usage">search</permits></license>'
    '<license><permits type="usage">ai-train ai-input</permits><payment type="free"/></license>'
    "</content>"
    f'<content url="/shop/" server="{SERVER}"><license><payment type="purchase"/></license></content>'
    '<content url="/"><license><permits type="usage">all</permits></license></content></rsl>'
)
LICENCE_URL = "https://site.example/license.xml"


def found(body: str = DOC) -> FoundLicence:
    document = RslDocument.parse(body.encode())
    evidence = RslEvidence(url=LICENCE_URL, source="s", sha256=None, record_id=None, document=document)
    return FoundLicence(evidence, "robots.txt line 1, site-wide")


def test_each_licence_keeps_its_complete_xml_standing_alone() -> None:
    content = RslDocument.parse(DOC.encode()).contents[0]
    xml = content.licenses[1].xml
    element = SafeET.fromstring(xml)
    assert element.tag == f"{{{NS}}}license"
    assert [e.get("type") for e in element] == ["usage", "free"]
    assert "content" not in xml and xml.endswith("</license>")


def test_a_url_needs_a_token_for_the_first_licence_granting_the_purpose_free() -> None:
    (need,) = licence_needs(
        found(), "https://site.example/news/a", Purpose.AI_TRAIN, user="commercial", geo=""
    )
    assert need.server == SERVER
    assert need.resource == "https://site.example/news/"  # the <content>'s url, made absolute
    assert "ai-train" in need.licence and "search" not in need.licence
    # A paid licence is never requested; a content without a server needs no token.
    assert (
        licence_needs(found(), "https://site.example/shop/x", Purpose.AI_TRAIN, user="commercial", geo="")
        == []
    )
    assert (
        licence_needs(found(), "https://site.example/about", Purpose.AI_TRAIN, user="commercial", geo="")
        == []
    )


def _basis(tokens: tuple[LicenceToken, ...] = ()) -> tuple[Verdict, str]:
    basis = rsl_basis(
        found(), "https://site.example/news/a", Purpose.AI_TRAIN, user="commercial", geo="", tokens=tokens
    )
    return basis.verdict, basis.reason


def test_a_server_licence_grants_only_under_a_token_naming_it_by_id() -> None:
    (need,) = licence_needs(
        found(), "https://site.example/news/a", Purpose.AI_TRAIN, user="commercial", geo=""
    )
    verdict, reason = _basis()
    assert verdict is Verdict.DENY and "needs a token from licence server https://licensing.example" in reason
    token = LicenceToken(
        server=need.server,
        resource=need.resource,
        licence_sha256=need.key[2],
        token_id=token_id("secret-token"),
        issued_at="2026-11-29T10:00:00+00:00",
        expires_at="2026-11-29T10:05:00+00:00",
    )
    verdict, reason = _basis((token,))
    assert verdict is Verdict.ALLOW
    assert token_id("secret-token") in reason and "secret-token" not in reason
    assert "expires 2026-11-29T10:05:00+00:00" in reason and "permits usage ai-input ai-train" in reason
    refused = LicenceToken(
        server=need.server, resource=need.resource, licence_sha256=need.key[2], problem="HTTP 401, error 'x'"
    )
    verdict, reason = _basis((refused,))
    assert verdict is Verdict.DENY and "gave no token: HTTP 401, error 'x'" in reason
    # A token for another licence is not this one's.
    other = LicenceToken(
        server=need.server, resource=need.resource, licence_sha256="0" * 64, token_id="sha256:1"
    )
    assert _basis((other,))[0] is Verdict.DENY


def test_without_asking_for_tokens_a_server_licence_grants_while_it_grants_the_purpose() -> None:
    # A recheck: whether the site reserved the content since, not whether a token was obtained.
    basis = rsl_basis(found(), "https://site.example/news/a", Purpose.AI_TRAIN, user="c", geo="", tokens=None)
    assert basis.verdict is Verdict.ALLOW and "tokens are not asked for here" in basis.reason
    paid = rsl_basis(found(), "https://site.example/shop/x", Purpose.AI_TRAIN, user="c", geo="", tokens=None)
    assert paid.verdict is Verdict.DENY


def test_a_licence_nested_too_deeply_is_unreadable() -> None:
    deep = "<x>" * 5000 + "</x>" * 5000
    with pytest.raises(RslError, match="nested too deeply"):
        RslDocument.parse(
            f'<rsl xmlns="{NS}"><content url="/"><license>{deep}</license></content></rsl>'.encode()
        )


def test_a_token_record_reads_back_as_written() -> None:
    token = LicenceToken(server="s", resource="r", licence_sha256="h", token_id="sha256:a", issued_at="t")
    assert LicenceToken.from_dict(json.loads(json.dumps(token.as_dict()))) == token


def test_the_token_request_is_rsl_1_0s_form() -> None:
    (need,) = licence_needs(
        found(), "https://site.example/news/a", Purpose.AI_TRAIN, user="commercial", geo=""
    )
    form = parse_qs(token_request_body(need).decode("ascii"), strict_parsing=True)
    assert form == {
        "grant_type": ["client_credentials"],
        "license": [need.licence],
        "license_type": ["application/rsl+xml"],
        "resource": ["https://site.example/news/"],
    }


@pytest.mark.parametrize("token_type", ["License", "license", "rsl"])
def test_a_token_answer_is_read(token_type: str) -> None:
    body = json.dumps({"access_token": "abc.def", "token_type": token_type, "expires_in": 300}).encode()
    issued = parse_token_response(200, body)
    assert (issued.token, issued.expires_in) == ("abc.def", 300)
    assert "abc.def" not in repr(issued)
    assert parse_token_response(200, b'{"access_token": "t", "token_type": "License"}').expires_in == 0


@pytest.mark.parametrize(
    ("status", "body", "said"),
    [
        (
            400,
            b'{"error": "invalid_license", "error_description": "no"}',
            "HTTP 400, error 'invalid_license'",
        ),
        (401, b'{"error": "invalid_client"}', "HTTP 401, error 'invalid_client'"),
        (502, b"<html>bad gateway</html>", "HTTP 502, not an OAuth answer"),
        (302, b"", "HTTP 302, not an OAuth answer"),
        (200, b"[]", "not a JSON object"),
        (200, b'{"error": "server_error"}', "error 'server_error'"),
        (200, b'{"token_type": "License"}', "access_token is missing"),
        (200, b'{"access_token": "a b", "token_type": "License"}', "access_token is missing"),
        (200, b'{"access_token": "a\\r\\nX: y", "token_type": "License"}', "access_token is missing"),
        (200, b'{"access_token": "a", "token_type": "Bearer"}', "token_type is 'Bearer'"),
        (200, b'{"access_token": "a", "token_type": "License", "expires_in": -1}', "expires_in is"),
        (200, b'{"access_token": "a", "token_type": "License", "expires_in": "60"}', "expires_in is"),
        (200, b'{"access_token": "a", "token_type": "License", "expires_in": true}', "expires_in is"),
        (200, b"not json", "not a JSON object"),
    ],
)
def test_a_refused_or_malformed_answer_gives_no_token(status: int, body: bytes, said: str) -> None:
    with pytest.raises(TokenRefused) as caught:
        parse_token_response(status, body)
    assert said in str(caught.value)


def test_license_challenges_are_read_from_www_authenticate() -> None:
    value = 'Basic realm="x", License error="invalid_token", error_description="expired, \\"old\\""'
    assert license_challenge([value]) == {"error": "invalid_token", "error_description": 'expired, "old"'}
    assert license_challenge(["license error=insufficient_scope"]) == {"error": "insufficient_scope"}
    assert license_challenge(["License"]) == {}
    assert license_challenge(['Bearer error="invalid_token"']) is None
    assert "error='invalid_token'" in challenge_reason(401, {"error": "invalid_token"})


def test_a_licence_token_is_recorded_by_its_id_only() -> None:
    assert redact_authorization("License abc") == f"License [token {token_id('abc')}]"
    assert redact_authorization("Basic Zm9vOmJhcg==") == "Basic Zm9vOmJhcg=="
    assert token_id("abc").startswith("sha256:") and len(token_id("abc")) == 71


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_a_credentials_file_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        '# ours\n[[server]]\nurl = "https://Licensing.Example:443/"\n'
        'client_id = "me:1"\nclient_secret = "p w&"\n'
        '[[server]]\nurl = "http://127.0.0.1:8080/api"\nclient_id = "b"\nclient_secret = "c"\n',
    )
    credentials = load_rsl_credentials(path)
    found_one = credentials.for_server("https://licensing.example")
    assert found_one is not None and found_one.client_id == "me:1"
    assert "p w&" not in repr(credentials)
    scheme, _, encoded = found_one.basic_authorization().partition(" ")
    client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    assert (scheme, unquote_plus(client_id), unquote_plus(secret)) == ("Basic", "me:1", "p w&")
    assert credentials.for_server("http://127.0.0.1:8080/api/") is not None
    assert credentials.for_server("http://licensing.example") is None  # never over http to it
    assert credentials.for_server("https://other.example") is None


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://a.example", True),
        ("http://localhost:9000", True),
        ("http://[::1]/x", True),
        ("http://server.test", True),
        ("http://a.example", False),
        ("ftp://a.example", False),
        ("https://u:p@a.example", False),
        ("https://a.example/?q=1", False),
        ("/token", False),
    ],
)
def test_licence_server_urls(url: str, accepted: bool) -> None:
    if accepted:
        server_key(url)
    else:
        with pytest.raises(ValueError, match=r"https URL|is http|a user, a query"):
            server_key(url)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[[server]\n", ":1: not valid TOML"),
        (
            '[[server]]\nurl = "https://a.example"\nclient_id = "a"\nclient_secret = "b"\nextra = 1\n',
            ":5: unknown key",
        ),
        (
            '[[server]]\nurl = "https://a.example"\nclient_secret = "b"\n',
            ":1: this [[server]] table has no client_id",
        ),
        (
            '[[server]]\nurl = "https://a.example"\nclient_id = ""\nclient_secret = "b"\n',
            ":3: client_id is an empty",
        ),
        (
            '[[server]]\nurl = "https://a.example"\nclient_id = "a\\u0007"\nclient_secret = "b"\n',
            ":3: client_id holds",
        ),
        ("", ":1: no [[server]] table"),
        ("title = 'x'\n", ":1: unknown key 'title'"),
        (
            '[[server]]\nurl = "https://a.example"\nclient_id = "a"\nclient_secret = "b"\n' * 2,
            ":5: licence server",
        ),
    ],
)
def test_a_bad_credentials_file_names_its_line(tmp_path: Path, text: str, where: str) -> None:
    path = write(tmp_path / "c.toml", text)
    with pytest.raises(CredentialsError) as caught:
        load_rsl_credentials(path)
    assert str(caught.value).startswith(f"{path}{where}"), str(caught.value)
    assert '"b"' not in str(caught.value)


def test_a_credentials_file_its_group_may_read_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml", '[[server]]\nurl = "https://a.example"\nclient_id = "a"\nclient_secret = "b"\n'
    )
    os.chmod(path, 0o640)
    with pytest.raises(CredentialsError, match="its mode is 0640"):
        load_rsl_credentials(path)
    with pytest.raises(CredentialsError, match="is not a regular file"):
        load_rsl_credentials(tmp_path)
