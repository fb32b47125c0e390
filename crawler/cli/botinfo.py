"""``permitcrawl botinfo``: write the crawler's public page (HTML, JSON) and the Atom feed of its changes."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from crawler.cli.params import PURPOSES

KEY_HELP = "The signing key (permitcrawl keys generate) whose id the page names; needs --signature-agent."


def _behaviour() -> dict[str, Any]:
    """What the crawler does, from the settings a crawl starts with (the add-on's and ours)."""
    from crawler.adapters.addon import POLITE_DEFAULTS
    from crawler.judging.config import DEFAULTS

    return {
        "renders_javascript": "no: pages are read as served, scripts are never run",
        "methods": "GET for pages and evidence; POST only to an RSL licence server it holds credentials "
        "for, to obtain a licence token",
        "requests_per_host_at_once": POLITE_DEFAULTS["CONCURRENT_REQUESTS_PER_DOMAIN"],
        "crawl_delay": f"robots.txt Crawl-delay honoured, up to {DEFAULTS['POLICY_MAX_CRAWL_DELAY']} seconds",
        "back_off": "on 429 and every 5xx answer it waits before the host's next request: the Retry-After "
        f"the answer gives (up to {DEFAULTS['PERMITCRAWL_BACKOFF_MAX']} seconds), else "
        f"{DEFAULTS['PERMITCRAWL_BACKOFF_BASE']} second(s) doubled at each error in a row; as answers slow "
        "down, the delay between requests grows with them (Scrapy's AutoThrottle)",
        "robots_txt": "fetched before any page of a host, kept at most 24 hours (RFC 9309); an unreachable "
        "robots.txt (5xx, network error) means nothing of the host is fetched",
        "conditional_requests": "no: a re-crawl fetches pages whole",
        "paywalls_and_logins": "never bypassed: it sends no credentials (only the licence tokens an RSL "
        "licence server issued it), runs no scripts and solves no CAPTCHA; only a 2xx answer is ever usable",
    }


def _signing(sign_key: Path | None, agent: str | None) -> tuple[str | None, str | None]:
    """The key id and key directory URL of ``--sign`` and ``--signature-agent`` (checked as a crawl does)."""
    if sign_key is None and agent is None:
        return None, None
    if sign_key is None or agent is None:
        raise click.UsageError("--sign and --signature-agent go together: expected both, or neither")
    from crawler.identity.keys import DIRECTORY_PATH
    from crawler.identity.signer import RequestSigner

    signer = RequestSigner.from_key_file(sign_key, agent)
    return signer.keyid, signer.agent.rstrip("/") + DIRECTORY_PATH


def _read(path: Path) -> str | None:
    """The text of a file an earlier run wrote (None: there is none); an unreadable one is an error."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(
            f"{path}: cannot be read ({exc}); expected the file an earlier botinfo wrote"
        ) from None


def _write_all(out: Path, files: dict[str, str], order: list[str]) -> None:
    """Write every file or none: each to a temporary file beside it, synced, then renamed in ``order``.

    A failure before the renames leaves the earlier files as they were. The feed
    is renamed last: a run stopped between renames leaves a feed whose newest
    entry is not the page's, and the next run adds that entry.
    """
    temporaries: dict[str, str] = {}
    try:
        for name in order:
            descriptor, temporary = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".tmp")
            temporaries[name] = temporary
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(files[name])
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o644)  # a page to publish
        for name in order:
            os.replace(temporaries.pop(name), out / name)
    except OSError as exc:
        raise click.ClickException(
            f"{out}: the page could not be written ({exc}); nothing was changed"
        ) from exc
    finally:
        for temporary in temporaries.values():
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _check_ours(out: Path) -> None:
    """Refuse a directory holding any of the page's files unless an earlier botinfo wrote them.

    The page is written over its own earlier version only: an ``index.html`` or
    ``feed.atom`` of someone else's (a site's home page, a blog's feed) is not
    replaced. Ours is known by its ``botinfo.json`` (our schema) and a feed
    with at least one entry.
    """
    from crawler.workflows.botinfo import FEED_FILE, HTML_FILE, JSON_FILE, SCHEMA

    present = [name for name in (JSON_FILE, HTML_FILE, FEED_FILE) if (out / name).exists()]
    if not present:
        return
    data = _read(out / JSON_FILE)
    try:
        ours = data is not None and json.loads(data).get("schema") == SCHEMA
    except (ValueError, AttributeError):
        ours = False
    if not ours:
        raise click.ClickException(
            f"{out}: holds {', '.join(present)}, which an earlier 'permitcrawl botinfo' did not write "
            "(no botinfo.json of ours); nothing written: expected a new or empty directory, "
            "or one botinfo wrote"
        )


@click.command()
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Directory to write."
)
@click.option(
    "--contact",
    required=True,
    metavar="URL",
    help="The URL the page is published at: crawl with -s POLICY_CONTACT_URL=URL (the User-Agent's URL).",
)
@click.option(
    "--token", default="permitcrawl", show_default=True, help="The robots.txt token (POLICY_ROBOTS_TOKEN)."
)
@click.option(
    "--purpose",
    "purposes",
    type=PURPOSES,
    multiple=True,
    help="What the crawls collect for (repeatable) [default: ai-train].",
)
@click.option("--operator", default=None, help="Who runs the crawler (a company or person).")
@click.option("--email", default=None, metavar="ADDRESS", help="A contact address for site owners.")
@click.option(
    "--sign",
    "sign_key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="KEY.jwk",
    help=KEY_HELP,
)
@click.option(
    "--signature-agent", default=None, metavar="https://ORIGIN", help="The origin serving the key directory."
)
@click.option(
    "--client-ranges",
    default=None,
    metavar="URL",
    help="The crawler's IP ranges (JAFAR JSON), linked as rel=client-ranges.",
)
def botinfo(
    out: Path,
    contact: str,
    token: str,
    purposes: tuple[str, ...],
    operator: str | None,
    email: str | None,
    sign_key: Path | None,
    signature_agent: str | None,
    client_ranges: str | None,
) -> None:
    """Write the crawler's public page: index.html, botinfo.json and feed.atom in --out.

    The page names the User-Agent and robots token, the purposes, every signal
    the crawler honours with the robots.txt lines, headers and tags that opt
    out of each, the contact, and the key directory when it signs. Run it again
    after any change: the Atom feed gets an entry only when the page's content
    changed (its earlier entries keep their ids and dates). Publish the
    directory at --contact, and crawl with -s POLICY_CONTACT_URL=<that URL>.

    \b
    Example:
        permitcrawl botinfo --out site/bot --contact https://example.com/bot/ \\
            --operator "Example Ltd" --email bots@example.com
        permitcrawl crawl https://example.org/ --out crawls/ex -s POLICY_CONTACT_URL=https://example.com/bot/
    """
    from crawler.judging.config import load_config
    from crawler.workflows.botinfo import (
        FEED_FILE,
        HTML_FILE,
        JSON_FILE,
        FeedError,
        Identity,
        purposes_of,
        render,
    )

    config = load_config({"POLICY_ROBOTS_TOKEN": token, "POLICY_CONTACT_URL": contact})
    key_id, directory = _signing(sign_key, signature_agent)
    if client_ranges is not None and not client_ranges.startswith(("https://", "http://")):
        raise click.BadParameter(f"{client_ranges!r}; expected an http(s) URL", param_hint="--client-ranges")
    identity = Identity(
        token=config.robots_token,
        user_agent=config.user_agent,
        page_url=config.contact_url,
        purposes=purposes_of(purposes or ("ai-train",)),
        operator=operator,
        email=email,
        key_id=key_id,
        key_directory=directory,
        client_ranges=client_ranges,
    )
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise click.ClickException(f"{out}: is not a directory; expected a directory for the page")
    _check_ours(out)
    try:
        files, added = render(
            identity,
            _behaviour(),
            previous_feed=_read(out / FEED_FILE),
            previous_json=_read(out / JSON_FILE),
            now=datetime.now(UTC),
        )
    except FeedError as exc:
        raise click.ClickException(
            f"{out / FEED_FILE}: {exc}; expected the feed an earlier botinfo wrote (its history is kept: "
            "move it away to start a new one)"
        ) from None
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(f"{out}: cannot be created ({exc})") from exc
    _write_all(out, files, [JSON_FILE, HTML_FILE, FEED_FILE])
    said = "the feed has a new entry" if added else "unchanged since the feed's last entry"
    click.echo(f"Wrote {out / HTML_FILE}, {out / JSON_FILE} and {out / FEED_FILE}: {said}", err=True)
