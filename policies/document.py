"""An evidence document as fetched: what was asked for, what came back, and its digest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime


@dataclass(frozen=True, kw_only=True)
class Document:
    """One evidence document (robots.txt, ...) as the crawler fetched it.

    ``status`` is None when no response came back; ``error`` then says why.
    ``final_url`` differs from ``url`` when redirects were followed. ``record_id``
    is the WARC record the document was archived as, when it was.
    """

    kind: str
    url: str
    fetched_at: datetime
    status: int | None = None
    body: bytes = b""
    final_url: str | None = None
    error: str | None = None
    record_id: str | None = None
    truncated: bool = False

    @cached_property
    def sha256(self) -> str | None:
        """Hex sha256 of the body as received, or None when nothing was received."""
        if self.status is None:
            return None
        return hashlib.sha256(self.body).hexdigest()

    def describe(self) -> str:
        """Say where the document came from, for a reason sentence."""
        where = self.url
        if self.final_url and self.final_url != self.url:
            where = f"{self.url} redirected to {self.final_url}"
        if self.error is not None:
            return f"{where}: {self.error}"
        return f"{where}: HTTP {self.status}"
