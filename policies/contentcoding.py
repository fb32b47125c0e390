"""HTTP content-coding removed strictly, within a size bound counted after decompression.

Scrapy's own decompression is lenient by design: a gzip stream cut short gives
what could be decompressed, silently. A document read that way may have lost
the line that reserves it, so here a body is decoded whole or not at all:
``gzip``/``x-gzip``, ``deflate`` (zlib, or raw deflate as some servers send),
``br`` and ``zstd`` (when their modules are installed, as Scrapy installs them),
applied in reverse order of the ``Content-Encoding`` list; ``identity`` is a
no-op. A stream that ends early, fails its checksum, names a coding we do not
know, or would decompress past ``max_size`` raises :class:`ContentCodingError`
with the reason. Bytes after the end of a stream are not part of the document
and are ignored, as browsers ignore them (another gzip member there is decoded
too). Memory stays within about ``max_size`` whatever the compression ratio.

The crawler's decompression middleware and ``audit`` both call
:func:`decode_content`, so a document reads the same live and from the WARC.
"""

from __future__ import annotations

import importlib
import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from types import ModuleType

_CHUNK = 64 * 1024


class ContentCodingError(ValueError):
    """A body that cannot be decoded whole within the bound; the message says why."""


def undecodable(applied: list[str], error: ContentCodingError) -> str:
    """Why a body whose content-codings ``applied`` did not decode is not the whole document.

    The crawler and ``audit`` say it in these words, so that a decision re-derived
    from the archive gives the reason the crawl gave.
    """
    return f"its content-coding ({', '.join(applied)}) could not be removed: {error}"


class _Output:
    """Decompressed chunks, refused as soon as together they pass the bound."""

    def __init__(self, max_size: int, name: str) -> None:
        self.max_size, self.name = max_size, name
        self.chunks: list[bytes] = []
        self.size = 0

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_size:
            raise ContentCodingError(f"larger than {self.max_size} bytes once decompressed ({self.name})")
        self.chunks.append(chunk)

    def value(self) -> bytes:
        return b"".join(self.chunks)


def codings(header_values: Iterable[str]) -> list[str]:
    """The content-codings of ``Content-Encoding`` field values, in the order they were applied."""
    found = []
    for value in header_values:
        found += [c.strip().lower() for c in value.split(",") if c.strip()]
    return [c for c in found if c != "identity"]


def _zlib(body: bytes, wbits: int, max_size: int, name: str) -> bytes:
    out = _Output(max_size, name)
    data = body
    while True:
        decompressor = zlib.decompressobj(wbits)
        try:
            while data:
                chunk = decompressor.decompress(data, _CHUNK)
                data = decompressor.unconsumed_tail
                out.add(chunk)
                if decompressor.eof:
                    break
        except zlib.error as exc:
            raise ContentCodingError(f"not valid {name} data ({exc})") from None
        if not decompressor.eof:
            raise ContentCodingError(f"the {name} stream is cut short")
        data = decompressor.unused_data
        # gzip allows several members one after the other. Other bytes after the end are
        # not part of the document (browsers ignore them too), so they are left out.
        if name != "gzip" or not data.startswith(b"\x1f\x8b"):
            break
    return out.value()


def _gzip(body: bytes, max_size: int) -> bytes:
    return _zlib(body, 16 + zlib.MAX_WBITS, max_size, "gzip")


def _deflate(body: bytes, max_size: int) -> bytes:
    # RFC 9110 says zlib-wrapped; some servers send raw deflate, which browsers accept too.
    try:
        return _zlib(body, zlib.MAX_WBITS, max_size, "deflate")
    except ContentCodingError as exc:
        if "larger than" in str(exc):
            raise
        return _zlib(body, -zlib.MAX_WBITS, max_size, "deflate")


def _brotli(body: bytes, max_size: int) -> bytes:
    try:
        import brotli
    except ImportError:
        raise ContentCodingError("content-coding 'br' needs the brotli module") from None
    decompressor = brotli.Decompressor()
    out = _Output(max_size, "br")
    try:
        chunk = decompressor.process(body, output_buffer_limit=_CHUNK)
        while True:
            out.add(chunk)
            if decompressor.is_finished() or not chunk:
                break
            chunk = decompressor.process(b"", output_buffer_limit=_CHUNK)
    except brotli.error as exc:
        raise ContentCodingError(f"not valid br data ({exc})") from None
    if not decompressor.is_finished():
        raise ContentCodingError("the br stream is cut short")
    return out.value()


def _zstd_module() -> ModuleType | None:
    """Python's zstd module (3.14+), else the backport Scrapy installs before 3.14; None without either."""
    for name in ("compression.zstd", "backports.zstd"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def _zstd(body: bytes, max_size: int) -> bytes:
    zstd = _zstd_module()
    if zstd is None:
        raise ContentCodingError("content-coding 'zstd' needs the zstd module")
    out = _Output(max_size, "zstd")
    data = body
    try:
        while data:
            decompressor = zstd.ZstdDecompressor()
            chunk = decompressor.decompress(data, max_length=_CHUNK)
            while True:
                out.add(chunk)
                if decompressor.eof or decompressor.needs_input:
                    break
                chunk = decompressor.decompress(b"", max_length=_CHUNK)
            if not decompressor.eof:
                raise ContentCodingError("the zstd stream is cut short")
            data = decompressor.unused_data  # zstd frames may follow each other
    except zstd.ZstdError as exc:
        raise ContentCodingError(f"not valid zstd data ({exc})") from None
    return out.value()


DECODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "gzip": _gzip,
    "x-gzip": _gzip,
    "deflate": _deflate,
    "br": _brotli,
    "zstd": _zstd,
}


def decode_content(body: bytes, content_codings: list[str], max_size: int) -> bytes:
    """Remove ``content_codings`` (as :func:`codings` lists them) from ``body``, last applied first.

    Raises :class:`ContentCodingError` unless every coding is known and decodes
    whole, and the result (and each step) stays within ``max_size`` bytes.
    """
    for coding in reversed(content_codings):
        decoder = DECODERS.get(coding)
        if decoder is None:
            raise ContentCodingError(f"unknown content-coding {coding!r}")
        body = decoder(body, max_size)
    if len(body) > max_size:
        raise ContentCodingError(f"larger than {max_size} bytes")
    return body
