"""Which frontier a crawl uses: ``embedded`` (SQLite in the crawl directory) or ``redis://HOST:PORT/DB``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crawler.frontier.base import LEASE_SECONDS, FrontierError
from crawler.frontier.embedded import FILE_NAME, EmbeddedFrontier

if TYPE_CHECKING:
    from pathlib import Path

    from crawler.frontier.base import Frontier

EMBEDDED = "embedded"


def check_spec(spec: str) -> str:
    """Return ``spec`` if it names a frontier; raise FrontierError saying what was expected otherwise."""
    if spec == EMBEDDED or spec.startswith(("redis://", "unix://")):
        return spec
    raise FrontierError(
        f"frontier {spec!r} is not usable; expected {EMBEDDED!r} (the default: SQLite in the crawl "
        "directory) or a Redis URL, redis://HOST:PORT/DB"
    )


def open_frontier(spec: str, out: Path, *, worker: str, lease_seconds: float = LEASE_SECONDS) -> Frontier:
    """The frontier ``spec`` names, for the worker writing crawl directory ``out`` (not opened yet)."""
    check_spec(spec)
    if spec == EMBEDDED:
        return EmbeddedFrontier(out / FILE_NAME, worker=worker)
    from crawler.frontier.redis import RedisFrontier

    return RedisFrontier(spec, worker=worker, lease_seconds=lease_seconds)
