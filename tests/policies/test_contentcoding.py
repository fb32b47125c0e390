"""Content-coding removed strictly and within a bound: whole, or an error that says why."""

from __future__ import annotations

import gzip
import zlib

import pytest

from policies.contentcoding import ContentCodingError, codings, decode_content

DATA = b"<html><body>" + b"hello world " * 500 + b"</body></html>"


def _brotli(data: bytes) -> bytes:
    brotli = pytest.importorskip("brotli")  # Scrapy depends on it: present wherever we run
    return brotli.compress(data)


def _zstd(data: bytes) -> bytes:
    from policies.contentcoding import _zstd_module

    module = _zstd_module()
    assert module is not None, "Scrapy installs a zstd module"
    return module.compress(data)


ENCODERS = {
    "gzip": lambda d: gzip.compress(d, mtime=0),
    "x-gzip": lambda d: gzip.compress(d, mtime=0),
    "deflate": zlib.compress,
    "br": _brotli,
    "zstd": _zstd,
}


@pytest.mark.parametrize("coding", sorted(ENCODERS))
def test_each_coding_decodes_whole_or_not_at_all(coding: str) -> None:
    encoded = ENCODERS[coding](DATA)
    assert decode_content(encoded, [coding], 10**6) == DATA
    with pytest.raises(ContentCodingError, match=r"cut short|not valid"):
        decode_content(encoded[: len(encoded) // 2], [coding], 10**6)
    with pytest.raises(ContentCodingError, match="larger than 100 bytes"):
        decode_content(encoded, [coding], 100)


def test_raw_deflate_and_several_codings_in_order() -> None:
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert decode_content(raw.compress(DATA) + raw.flush(), ["deflate"], 10**6) == DATA
    twice = gzip.compress(zlib.compress(DATA), mtime=0)  # deflate applied first, then gzip
    assert decode_content(twice, codings(["deflate, gzip"]), 10**6) == DATA
    assert codings(["identity", " GZIP ", "br,identity"]) == ["gzip", "br"]


def test_gzip_members_and_trailing_bytes() -> None:
    members = gzip.compress(b"one ", mtime=0) + gzip.compress(b"two", mtime=0)
    assert decode_content(members, ["gzip"], 100) == b"one two"
    # Bytes after the stream are not part of the document: ignored, as browsers ignore them.
    assert decode_content(gzip.compress(b"page", mtime=0) + b"\n\0junk", ["gzip"], 100) == b"page"


def test_unknown_or_corrupt_codings_are_errors() -> None:
    with pytest.raises(ContentCodingError, match="unknown content-coding 'compress'"):
        decode_content(b"x", ["compress"], 100)
    with pytest.raises(ContentCodingError, match="not valid gzip"):
        decode_content(b"<html>not gzip at all</html>", ["gzip"], 100)
    with pytest.raises(ContentCodingError, match="cut short"):
        decode_content(b"\x1f\x8b\x08\x00garbage", ["gzip"], 100)
    corrupt = bytearray(gzip.compress(DATA, mtime=0))
    corrupt[-6] ^= 0xFF  # the CRC
    with pytest.raises(ContentCodingError):
        decode_content(bytes(corrupt), ["gzip"], 10**6)


def test_a_bomb_stops_at_the_bound() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9, mtime=0)  # 64 MiB in ~64 KiB
    assert len(bomb) < 100_000
    with pytest.raises(ContentCodingError, match="larger than 1048576 bytes once decompressed"):
        decode_content(bomb, ["gzip"], 1024 * 1024)
    assert decode_content(b"plain", [], 5) == b"plain"
    with pytest.raises(ContentCodingError, match="larger than 4 bytes"):
        decode_content(b"plain", [], 4)
