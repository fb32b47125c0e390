"""An evidence document as fetched: what was asked for, what came back, and its digest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from policies.contentcoding import ContentCodingError, codings, decode_content, undecodable

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

# How large an evidence document may be, counted after decompression. RFC 9309
# asks crawlers to parse at least 500 KiB of robots.txt; real files of any kind
# (robots.txt, tdmrep.json, ai.txt, RSL, terms pages) stay far below this.
EVIDENCE_MAX_SIZE = 10 * 1024 * 1024


PARTIAL = "the server sent only part of it (206 Partial Content)"


def closed_mid_document(body: bytes, *, kind: str | None, content_type: str | None) -> bool:
    """For a body the server ended by closing the connection (it gave no length): was it cut?

    Such an end cannot be told from a cut by the connection alone, so the
    body's own end is read: a robots.txt or ai.txt ends with a line break, a
    tdmrep.json with ``]`` or ``}``, an RSL document with ``>``, an HTML page
    with ``</html>``. Anything else ends where it ends.
    """
    tail = body.rstrip(b" \t")
    if not tail:
        return False
    if kind in ("robots.txt", "ai.txt"):
        return not tail.endswith((b"\n", b"\r"))
    tail = tail.rstrip()
    if kind == "tdmrep.json":
        return not tail.endswith((b"]", b"}"))
    if kind == "rsl":
        return not tail.endswith(b">")
    if (content_type is not None and "html" in content_type.lower()) or tail.lstrip()[:1] == b"<":
        return tail[-7:].lower() != b"</html>"
    return False


def cut_reason(truncated: str, max_size: int = EVIDENCE_MAX_SIZE) -> str:
    """Why a body is not whole, from its WARC-Truncated reason (``length``, ``disconnect``, ...)."""
    if truncated == "length":
        return f"larger than the {max_size}-byte bound; read no further"
    if truncated == "disconnect":
        return "the connection was lost before the end of the body"
    if truncated == "time":
        return "the download took longer than allowed"
    return f"cut short ({truncated})"


@dataclass(frozen=True, kw_only=True)
class Document:
    """One evidence document (robots.txt, ...) as the crawler fetched it.

    ``status`` is None when no response came back; ``error`` then says why.
    ``body`` is the content with its content-coding removed. ``incomplete``
    says why the body is not the whole document (cut by the server, larger
    than the bound, a content-coding that does not decode): every reader
    treats such a document as an error, never as absent or as complete.
    ``final_url`` differs from ``url`` when redirects were followed;
    ``record_id`` is the WARC record the document was archived as, when it was.
    """

    kind: str
    url: str
    fetched_at: datetime
    status: int | None = None
    body: bytes = b""
    final_url: str | None = None
    error: str | None = None
    record_id: str | None = None
    content_type: str | None = None
    incomplete: str | None = None

    def __post_init__(self) -> None:
        # A 206 is, by its own status, a part of the document: never read as the whole.
        if self.status == 206 and self.incomplete is None:
            object.__setattr__(self, "incomplete", PARTIAL)

    @classmethod
    def from_raw(
        cls,
        *,
        kind: str,
        url: str,
        fetched_at: datetime,
        status: int | None,
        raw: bytes,
        content_encoding: Iterable[str] = (),
        content_type: str | None = None,
        final_url: str | None = None,
        record_id: str | None = None,
        cut: str | None = None,
        max_size: int = EVIDENCE_MAX_SIZE,
    ) -> Document:
        """A document from its bytes as received: content-coding removed strictly, within ``max_size``.

        ``cut`` is the WARC-Truncated reason when the bytes received are not
        all there were (see :func:`cut_reason`). The crawler's
        decompression and ``audit`` both come through here or through
        :func:`~policies.contentcoding.decode_content` with the same bound.
        """
        incomplete = cut_reason(cut, max_size) if cut else None
        body = raw
        applied = codings(content_encoding)
        try:
            body = decode_content(raw, applied, max_size)
        except ContentCodingError as exc:
            incomplete = incomplete or undecodable(applied, exc)
        return cls(
            kind=kind,
            url=url,
            fetched_at=fetched_at,
            status=status,
            body=body,
            final_url=final_url,
            record_id=record_id,
            content_type=content_type,
            incomplete=incomplete,
        )

    @property
    def succeeded(self) -> bool:
        """True for a 2xx response (read whole or not); False for an error status or no response."""
        return self.error is None and self.status is not None and 200 <= self.status < 300

    @property
    def truncated(self) -> bool:
        """True when the body is not the whole document (see ``incomplete``)."""
        return self.incomplete is not None

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
        if self.incomplete is not None:
            return f"{where}: HTTP {self.status}, not read whole ({self.incomplete})"
        return f"{where}: HTTP {self.status}"
