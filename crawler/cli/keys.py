"""``permitcrawl keys``: make the crawler's signing keys and the key directory operators serve.

``keys generate --out KEY.jwk`` writes a new Ed25519 private key (mode 0600,
never over an existing file) and says its key id on stderr; ``keys directory
KEY.jwk...`` prints the JSON key directory (the public halves, each once) on
stdout, for ``/.well-known/http-message-signatures-directory``. Several keys
are listed together while one replaces another (rotation).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from crawler.cli.group import CommandGroup


@click.group(cls=CommandGroup)
def keys() -> None:
    """Signing keys (Web Bot Auth) and the key directory that publishes them.

    \b
    Example:
        permitcrawl keys generate --out keys/2026-12.jwk
        permitcrawl keys directory keys/2026-11.jwk keys/2026-12.jwk
    """


@keys.command("generate")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The private key file to write (JWK, mode 0600); an existing file is refused.",
)
def generate(out: Path) -> None:
    """Make a new Ed25519 signing key and write it to --out.

    The file is a private JWK, readable by its owner only; its key id (the
    key's JWK thumbprint) is said on stderr. An existing file is refused.

    \b
    Example:
        permitcrawl keys generate --out keys/2026-12.jwk
    """
    from crawler.identity.keys import generate_key

    if out.exists() or out.is_symlink():
        raise click.ClickException(f"{out}: exists; a key file is never overwritten (choose another name)")
    if not out.parent.is_dir():
        raise click.ClickException(
            f"{out.parent}: no such directory; expected the directory to write the key in"
        )
    try:
        jwk = generate_key(out)
    except FileExistsError:
        raise click.ClickException(
            f"{out}: exists; a key file is never overwritten (choose another name)"
        ) from None
    except OSError as exc:
        raise click.ClickException(f"{out}: cannot be written ({exc.strerror})") from None
    click.echo(f"wrote {out} (mode 0600): key id {jwk['kid']}", err=True)
    click.echo(f"publish its directory with: permitcrawl keys directory {out}", err=True)


@keys.command("directory")
@click.argument("key_files", nargs=-1, required=True, type=click.Path(path_type=Path))
def directory_command(key_files: tuple[Path, ...]) -> None:
    """Print the key directory (a JWK Set of the public keys) of KEY_FILES on stdout.

    Serve it at /.well-known/http-message-signatures-directory as
    application/http-message-signatures-directory+json; list the old and the
    new key together while one replaces the other.

    \b
    Example:
        permitcrawl keys directory keys/2026-11.jwk keys/2026-12.jwk > directory.json
    """
    from crawler.identity.keys import DIRECTORY_MEDIA_TYPE, DIRECTORY_PATH, KeyFileError, directory, load_key

    try:
        loaded = [load_key(path)[0] for path in key_files]
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(directory(loaded), indent=2))
    click.echo(f"serve it at {DIRECTORY_PATH} as {DIRECTORY_MEDIA_TYPE}", err=True)
