"""Signing keys: RFC 7638 / RFC 8037 thumbprints, key files checked strictly, the key directory."""

from __future__ import annotations

import json
import stat
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crawler.identity.keys import KeyFileError, directory, load_key, private_jwk, thumbprint, write_key

if TYPE_CHECKING:
    from pathlib import Path

# RFC 8037 Appendix A.1 (the private key) and A.3 (its thumbprint).
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
# The Web Bot Auth drafts' test key (RFC 9421 B.1.4) and the keyid their test vectors name.
WBA_X = "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"
WBA_KEYID = "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U"


def test_thumbprints_are_those_of_the_rfc_and_the_draft() -> None:
    assert thumbprint({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X}) == RFC8037_THUMBPRINT
    assert thumbprint({"kty": "OKP", "crv": "Ed25519", "x": WBA_X, "use": "sig"}) == WBA_KEYID


def test_a_private_key_gives_the_rfc_public_key_and_kid(tmp_path: Path) -> None:
    path = tmp_path / "rfc.jwk"
    path.write_text(json.dumps({"kty": "OKP", "crv": "Ed25519", "d": RFC8037_D, "x": RFC8037_X}))
    jwk, key = load_key(path)
    assert jwk["kid"] == RFC8037_THUMBPRINT
    assert private_jwk(key) == jwk


def test_a_key_file_is_written_for_its_owner_only_and_never_over_another(tmp_path: Path) -> None:
    path = tmp_path / "k.jwk"
    jwk = private_jwk(Ed25519PrivateKey.generate())
    write_key(path, jwk)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(path)[0] == jwk
    with pytest.raises(FileExistsError):
        write_key(path, private_jwk(Ed25519PrivateKey.generate()))
    assert load_key(path)[0] == jwk
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.jwk"]


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("", "is not JSON text"),
        ("[1]", "holds a JSON list, not an object"),
        ('{"kty": "RSA", "crv": "Ed25519"}', "kty is 'RSA', not 'OKP'"),
        ('{"kty": "OKP", "crv": "X25519"}', "crv is 'X25519', not 'Ed25519'"),
        (json.dumps({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X}), "has no private key (member d)"),
        (json.dumps({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "d": "a+b/"}), "not base64url"),
        (json.dumps({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "d": "AAAA"}), "must each be 32 bytes"),
        (
            json.dumps({"kty": "OKP", "crv": "Ed25519", "x": WBA_X, "d": RFC8037_D}),
            "x is not the public key of d",
        ),
        (
            json.dumps({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "d": RFC8037_D, "kid": "mine"}),
            "kid is 'mine', but the key's thumbprint is",
        ),
    ],
)
def test_a_file_that_is_not_exactly_a_private_ed25519_jwk_is_refused_saying_why(
    tmp_path: Path, content: str, said: str
) -> None:
    path = tmp_path / "bad.jwk"
    path.write_text(content)
    with pytest.raises(KeyFileError) as caught:
        load_key(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert said in str(caught.value)
    assert "expected a private Ed25519 JWK" in str(caught.value)


def test_the_directory_lists_each_public_key_once_without_its_private_half() -> None:
    one, two = (private_jwk(Ed25519PrivateKey.generate()) for _ in range(2))
    listed = directory([one, two, one])
    assert [entry["kid"] for entry in listed["keys"]] == [one["kid"], two["kid"]]
    assert all(set(entry) == {"kty", "crv", "x", "kid", "use"} for entry in listed["keys"])
