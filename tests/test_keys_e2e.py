"""permitcrawl keys generate / keys directory, through the CLI."""

from __future__ import annotations

import json
import stat
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from crawler.identity.keys import thumbprint
from tests.conftest import run_cli

if TYPE_CHECKING:
    from pathlib import Path


def _unb64(value: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def test_generate_writes_a_private_key_and_directory_publishes_the_public_halves(tmp_path: Path) -> None:
    first, second = tmp_path / "2026-11.jwk", tmp_path / "2026-12.jwk"
    made = run_cli("keys", "generate", "--out", first)
    assert made.returncode == 0, made.stderr
    assert made.stdout == ""
    kid = json.loads(first.read_text())["kid"]
    assert f"key id {kid}" in made.stderr
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    assert run_cli("keys", "generate", "--out", second).returncode == 0

    listed = run_cli("keys", "directory", first, second, first)
    assert listed.returncode == 0, listed.stderr
    keys = json.loads(listed.stdout)["keys"]
    assert [entry["kid"] for entry in keys] == [kid, json.loads(second.read_text())["kid"]]
    for entry in keys:
        assert "d" not in entry
        assert entry["kid"] == thumbprint(entry)
        Ed25519PublicKey.from_public_bytes(_unb64(entry["x"]))  # a real Ed25519 public key
    assert "application/http-message-signatures-directory+json" in listed.stderr


def test_an_existing_key_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "k.jwk"
    assert run_cli("keys", "generate", "--out", path).returncode == 0
    before = path.read_bytes()
    again = run_cli("keys", "generate", "--out", path)
    assert again.returncode == 1
    assert f"Error: {path}: exists; a key file is never overwritten" in again.stderr
    assert path.read_bytes() == before


def test_wrong_key_files_are_refused_naming_the_file_and_what_was_expected(tmp_path: Path) -> None:
    public_only = tmp_path / "public.jwk"
    made = run_cli("keys", "generate", "--out", tmp_path / "k.jwk")
    assert made.returncode == 0
    jwk = json.loads((tmp_path / "k.jwk").read_text())
    public_only.write_text(json.dumps({k: v for k, v in jwk.items() if k != "d"}))
    for path, said in (
        (tmp_path / "missing.jwk", "no such file"),
        (public_only, "has no private key (member d)"),
        (tmp_path, "is not a regular file"),
    ):
        result = run_cli("keys", "directory", tmp_path / "k.jwk", path)
        assert result.returncode == 1, result
        assert result.stdout == ""
        assert f"Error: {path}: {said}" in result.stderr
        assert "Traceback" not in result.stderr
    nowhere = run_cli("keys", "generate", "--out", tmp_path / "no" / "k.jwk")
    assert nowhere.returncode == 1
    assert "no such directory" in nowhere.stderr
