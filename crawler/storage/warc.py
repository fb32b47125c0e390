"""WARC 1.1 output through warcio: captures, evidence, rotation and record locations.

No Scrapy here: the archive extension turns Scrapy objects into
:class:`HttpExchange` values. Conventions, with the reasons in
``../shared/reference/warc.md``:

* one gzip member per record, at a configurable level (warcio hard-codes 9,
  which costs 3x the time of 6 for the same size);
* bodies as the server sent them, content-coding kept, with an HTTP
  ``Content-Length`` equal to the stored length (a wrong or missing one is
  corrected, the original kept as ``X-Crawler-Content-Length``);
* request, response and metadata records of one capture share ``WARC-Date``
  (when the capture began) and are linked with ``WARC-Concurrent-To``;
* every record carries ``WARC-Warcinfo-ID``; each file starts with warcinfo;
* files are written as ``*.warc.gz.open`` and renamed when closed, rotated
  near ``max_size``; names are unique per process and host.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from io import BytesIO
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    Clock = Callable[[], datetime]

OPEN_SUFFIX = ".open"
BUFFER_SIZE = 1 << 20
_HOSTNAME_UNSAFE = re.compile(r"[^A-Za-z0-9.-]")
# Hop-by-hop framing that no longer describes the stored body (Twisted de-chunks).
_MASKED = ("transfer-encoding",)


@dataclass(frozen=True, slots=True)
class WarcLocation:
    """Where one record lives: file name (no directory), byte offset and length, record id."""

    filename: str
    offset: int
    length: int
    record_id: str


@dataclass(frozen=True, kw_only=True)
class HttpExchange:
    """One HTTP request and its response, as sent and received.

    ``body`` is the response body exactly as received (content-coding kept).
    ``truncated`` is a WARC-Truncated reason (``length``, ``disconnect``...) or None.
    """

    url: str
    method: str = "GET"
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    request_body: bytes = b""
    status: int
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    protocol: str = "HTTP/1.1"
    ip_address: str | None = None
    started_at: datetime
    truncated: str | None = None


@dataclass(frozen=True, kw_only=True)
class CaptureRecords:
    """The records written for one capture, and the response's digests."""

    response: WarcLocation
    request: WarcLocation
    metadata: WarcLocation | None
    payload_digest: str
    block_digest: str


class _GzipMember:
    """Collects one record's bytes, then writes them as one gzip member on flush().

    One compress call and one write per record, rather than one per piece:
    each zlib or file call hands the GIL over, and on a busy crawl every
    handover can cost a whole switch interval.
    """

    def __init__(self, out: IO[bytes], level: int) -> None:
        self._out = out
        self._level = level
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self._parts.append(data)

    def flush(self) -> None:
        compressor = zlib.compressobj(self._level, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        data = b"".join(self._parts)
        self._parts = []
        self._out.write(compressor.compress(data) + compressor.flush())


class _Writer(WARCWriter):
    """warcio's writer with a chosen gzip level, and record ids and dates from the store."""

    def __init__(self, out: IO[bytes], level: int, record_id: Callable[[], str], clock: Clock) -> None:
        super().__init__(out, gzip=False, warc_version="1.1")
        self._level = level
        self._record_id = record_id
        self._clock = clock

    # warcio asks these two for every id and every date a record is not given (the warcinfo
    # record's, the records' ids): a test pins them to compare a file's bytes.
    def _make_warc_id(self) -> str:  # type: ignore[override]
        return self._record_id()

    def _make_warc_date(self, use_micros: bool = False) -> str:  # type: ignore[override]
        return warc_date(self._clock(), use_micros=use_micros)

    def write_record(self, record: Any, params: Any = None) -> None:
        out: Any = _GzipMember(self.out, self._level) if self._level else self.out
        self._write_warc_record(out, record)


class _RawHeaders(StatusAndHeaders):
    """HTTP headers stored byte for byte as received.

    warcio percent-encodes a header value that is not ASCII (``yes\xa0``
    becomes ``yes%C2%A0``), which changes what a signal says; here every value
    (decoded as Latin-1 from the bytes received) goes back to those bytes.
    """

    def compute_headers_buffer(self, header_filter: Any = None) -> None:
        text = self.to_str(header_filter)
        try:
            self.headers_buff = text.encode("latin-1") + b"\r\n"
        except UnicodeEncodeError:  # not from the wire (our own values): UTF-8, as warcio would read it
            self.headers_buff = text.encode("utf-8") + b"\r\n"


def sha1_digest(*parts: bytes) -> str:
    """Return a WARC digest value, ``sha1:`` + Base32, as warcio and the wider ecosystem write it."""
    digest = hashlib.sha1()
    for part in parts:
        digest.update(part)
    return "sha1:" + base64.b32encode(digest.digest()).decode("ascii")


def _digests(http: StatusAndHeaders | None, payload: bytes) -> dict[str, str]:
    # Computed here in one pass: warcio would read every payload twice to digest it.
    head = b""
    if http is not None:
        http.compute_headers_buffer()
        head = http.headers_buff
    return {"WARC-Payload-Digest": sha1_digest(payload), "WARC-Block-Digest": sha1_digest(head, payload)}


def warc_date(moment: datetime, *, use_micros: bool = True) -> str:
    """Format a datetime as a WARC 1.1 date (UTC, microseconds)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return datetime_to_iso_date(moment, use_micros=use_micros)


def new_record_id() -> str:
    """A fresh ``<urn:uuid:...>`` record id, as warcio makes them."""
    return f"<urn:uuid:{uuid.uuid4()}>"


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def response_headers(exchange: HttpExchange) -> list[tuple[str, str]]:
    """Return the response headers to store, framing corrected for the stored body.

    Transfer-Encoding is masked (the body is stored de-chunked) and
    Content-Length is made to equal the stored length.
    """
    headers: list[tuple[str, str]] = []
    lengths: list[str] = []
    for name, value in exchange.response_headers:
        lower = name.lower()
        if lower == "content-length":
            lengths.append(value)
        elif lower in _MASKED:
            headers.append((f"X-Crawler-{name}", value))
        else:
            headers.append((name, value))
    actual = str(len(exchange.body))
    if lengths and lengths != [actual]:
        headers.extend(("X-Crawler-Content-Length", v) for v in lengths)
    headers.append(("Content-Length", actual))
    return headers


def request_line(exchange: HttpExchange) -> tuple[str, list[tuple[str, str]]]:
    """Return the request line and headers as sent to the origin (Host first, path and query)."""
    parts = urlsplit(exchange.url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    headers = [("Host", parts.netloc)]
    headers.extend(
        (name, value)
        for name, value in exchange.request_headers
        # Credentials for our own proxy are not part of the request to the origin.
        if name.lower() not in ("host", "proxy-authorization")
    )
    return f"{exchange.method} {target} HTTP/1.1", headers


class WarcStore:
    """Writes WARC files into one directory; not thread-safe (one writer per process)."""

    def __init__(
        self,
        directory: Path,
        *,
        prefix: str = "permitcrawl",
        max_size: int = 1_000_000_000,
        gzip_level: int = 6,
        info: dict[str, str] | None = None,
        hostname: str | None = None,
        pid: int | None = None,
        record_id: Callable[[], str] = new_record_id,
        clock: Clock = utc_now,
    ) -> None:
        """``record_id()`` gives each new record's id and ``clock()`` the time of file names and
        warcinfo records (a capture's records are dated by its exchange); tests pin both."""
        if max_size <= 0:
            raise ValueError(f"max_size must be positive, got {max_size}")
        if not 0 <= gzip_level <= 9:
            raise ValueError(f"gzip_level must be 0-9, got {gzip_level}")
        self.directory = directory
        self.prefix = prefix
        self.max_size = max_size
        self.gzip_level = gzip_level
        self.info = dict(info or {})
        self.hostname = _HOSTNAME_UNSAFE.sub("_", hostname or socket.gethostname())
        self.pid = os.getpid() if pid is None else pid
        self.record_id = record_id
        self.clock = clock
        self._serial = 0
        self._fh: IO[bytes] | None = None
        self._writer: _Writer | None = None
        self._name = ""
        self._warcinfo_id = ""
        self.closed_files: list[str] = []

    # -- files -----------------------------------------------------------------

    def _file_name(self) -> str:
        stamp = self.clock().astimezone(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
        ext = ".warc.gz" if self.gzip_level else ".warc"
        return f"{self.prefix}-{stamp}-{self._serial:05d}-{self.pid}~{self.hostname}{ext}"

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._name = self._file_name()
        self._serial += 1
        # A large buffer: records reach the OS in few writes (see flush()).
        self._fh = open(self.directory / (self._name + OPEN_SUFFIX), "xb", buffering=BUFFER_SIZE)  # noqa: SIM115
        self._writer = _Writer(self._fh, self.gzip_level, self.record_id, self.clock)
        fields = {
            "software": self.info.get("software", "permitcrawl"),
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "hostname": socket.gethostname(),
            **self.info,
        }
        record = self._writer.create_warcinfo_record(self._name, fields)
        self._warcinfo_id = record.rec_headers.get_header("WARC-Record-ID")
        self._writer.write_record(record)

    def _ready(self) -> _Writer:
        if self._fh is not None and self._fh.tell() >= self.max_size:
            self._close_file()
        if self._fh is None:
            self._open()
        assert self._writer is not None
        return self._writer

    def _close_file(self) -> None:
        if self._fh is None:
            return
        self._fh.close()
        os.replace(self.directory / (self._name + OPEN_SUFFIX), self.directory / self._name)
        self.closed_files.append(self._name)
        self._fh = None
        self._writer = None

    def flush(self) -> None:
        """Hand buffered records to the OS, so that rows pointing at them may be committed."""
        if self._fh is not None:
            self._fh.flush()

    def close(self) -> None:
        """Close the current file and give it its final name."""
        self._close_file()

    # -- records ---------------------------------------------------------------

    def _write(self, writer: _Writer, record: Any) -> WarcLocation:
        assert self._fh is not None
        offset = self._fh.tell()
        writer.write_record(record)
        length = self._fh.tell() - offset
        return WarcLocation(self._name, offset, length, record.rec_headers.get_header("WARC-Record-ID"))

    def _common(self, exchange: HttpExchange) -> dict[str, str]:
        return {"WARC-Date": warc_date(exchange.started_at), "WARC-Warcinfo-ID": self._warcinfo_id}

    def _response_record(self, writer: _Writer, exchange: HttpExchange) -> Any:
        reason = _reason(exchange.status)
        http = _RawHeaders(
            f"{exchange.status} {reason}".strip(), response_headers(exchange), protocol="HTTP/1.1"
        )
        warc_headers = {**self._common(exchange), **_digests(http, exchange.body)}
        if exchange.ip_address:
            warc_headers["WARC-IP-Address"] = exchange.ip_address
        if exchange.protocol and exchange.protocol.lower() not in ("http/1.1", "http/1.0"):
            # The status line stays HTTP/1.1 for readers; the real protocol goes here.
            warc_headers["WARC-Protocol"] = exchange.protocol.lower()
        if exchange.truncated:
            warc_headers["WARC-Truncated"] = exchange.truncated
        return _http_record(writer, exchange.url, "response", http, exchange.body, warc_headers)

    def _request_record(self, writer: _Writer, exchange: HttpExchange, response_id: str) -> Any:
        line, headers = request_line(exchange)
        http = _RawHeaders(line, headers, is_http_request=True)
        warc_headers = {
            **self._common(exchange),
            "WARC-Concurrent-To": response_id,
            **_digests(http, exchange.request_body),
        }
        return _http_record(writer, exchange.url, "request", http, exchange.request_body, warc_headers)

    def write_resource(
        self, uri: str, body: bytes, content_type: str, when: datetime, *, record_id: str | None = None
    ) -> WarcLocation:
        """Write a ``resource`` record (crawl configuration, an exclusion list) and return where it is.

        ``record_id``: the id it gets (one a decision already cites); None, a fresh one.
        """
        writer = self._ready()
        record = writer.create_warc_record(
            uri,
            "resource",
            payload=BytesIO(body),
            length=len(body),
            warc_content_type=content_type,
            warc_headers_dict={
                **({"WARC-Record-ID": record_id} if record_id else {}),
                "WARC-Date": warc_date(when),
                "WARC-Warcinfo-ID": self._warcinfo_id,
                **_digests(None, body),
            },
        )
        return self._write(writer, record)

    def begin_unit(self) -> str:
        """Open or rotate the current file before a unit of copied records; return its name."""
        self._ready()
        return self._name

    def copy_record(self, raw: bytes, record_id: str) -> WarcLocation:
        """Append one record as stored elsewhere (a whole gzip member, or an uncompressed record).

        Never rotates: call :meth:`begin_unit` first, so that records that
        belong together land in one file.
        """
        if self._fh is None:
            raise RuntimeError("copy_record before begin_unit")
        offset = self._fh.tell()
        self._fh.write(raw)
        return WarcLocation(self._name, offset, len(raw), record_id)

    def write_exchange(self, exchange: HttpExchange, metadata: bytes | None = None) -> CaptureRecords:
        """Write response, request and (if given) a metadata record (JSON bytes) for one exchange.

        The three records go to the same file; the returned locations let a
        reader seek straight to each one.
        """
        writer = self._ready()
        response = self._response_record(writer, exchange)
        response_loc = self._write(writer, response)
        request_loc = self._write(writer, self._request_record(writer, exchange, response_loc.record_id))
        metadata_loc = None
        if metadata is not None:
            block = metadata
            record = writer.create_warc_record(
                exchange.url,
                "metadata",
                payload=BytesIO(block),
                length=len(block),
                warc_content_type="application/json",
                warc_headers_dict={
                    **self._common(exchange),
                    "WARC-Concurrent-To": response_loc.record_id,
                    **_digests(None, block),
                },
            )
            metadata_loc = self._write(writer, record)
        return CaptureRecords(
            response=response_loc,
            request=request_loc,
            metadata=metadata_loc,
            payload_digest=response.rec_headers.get_header("WARC-Payload-Digest"),
            block_digest=response.rec_headers.get_header("WARC-Block-Digest"),
        )


def _http_record(
    writer: _Writer, url: str, kind: str, http: StatusAndHeaders, body: bytes, warc_headers: dict[str, str]
) -> Any:
    return writer.create_warc_record(
        url, kind, payload=BytesIO(body), length=len(body), http_headers=http, warc_headers_dict=warc_headers
    )


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def recover_open_files(directory: Path, hostname: str | None = None) -> list[str]:
    """Give their final names to ``*.open`` files left by dead processes on this host.

    A crawl killed mid-file leaves its last file under the temporary name; its
    records are complete up to the last whole gzip member. A cut member past it
    (a write stopped by a full disk) is moved to ``NAME.cut`` beside the file,
    byte for byte, so that every reader finds whole records: no row points at it,
    since a record reaches the file before any row naming it is committed. Files
    of processes still running (same host, live pid) are left alone.
    """
    host = _HOSTNAME_UNSAFE.sub("_", hostname or socket.gethostname())
    recovered = []
    for path in sorted(directory.glob(f"*{OPEN_SUFFIX}")):
        match = re.search(r"-(\d+)~([^~]+?)\.warc(?:\.gz)?\.open$", path.name)
        if not match or match.group(2) != host or _alive(int(match.group(1))):
            continue
        final = path.with_name(path.name.removesuffix(OPEN_SUFFIX))
        if final.name.endswith(".gz"):
            _set_cut_tail_aside(path, final.with_name(final.name + CUT_SUFFIX))
        os.replace(path, final)
        recovered.append(final.name)
    return recovered


# Beside a recovered WARC file: the bytes of a gzip member cut short at its end (see recover_open_files).
CUT_SUFFIX = ".cut"
_SCAN_CHUNK = 1 << 20


def _set_cut_tail_aside(path: Path, cut: Path) -> None:
    """Move what follows the last whole gzip member of ``path`` to ``cut`` (written whole, then truncated).

    Done again from the start if interrupted: ``cut`` is rewritten with the same bytes.
    """
    end = _whole_members_end(path)
    if end >= path.stat().st_size:
        return
    with open(path, "rb") as fh:
        fh.seek(end)
        tail = fh.read()
    partial = cut.with_name(cut.name + ".new")
    with open(partial, "wb") as out:
        out.write(tail)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, cut)
    os.truncate(path, end)


def _whole_members_end(path: Path) -> int:
    """The offset just past the last whole gzip member of ``path`` (0 if none is whole)."""
    end = consumed = 0
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    pending = b""
    with open(path, "rb") as fh:
        while True:
            chunk, pending = pending or fh.read(_SCAN_CHUNK), b""
            if not chunk:
                return end
            try:
                inflater.decompress(chunk)
            except zlib.error:
                return end  # not gzip past here: set aside with the rest
            if not inflater.eof:
                consumed += len(chunk)
                continue
            pending = inflater.unused_data
            consumed += len(chunk) - len(pending)
            end = consumed
            inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether ``pid`` has ended but is not reaped yet (Linux; elsewhere: not known, so no).

    A writer process killed with its crawl stays a zombie until init reaps it:
    its files are no one's any more.
    """
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]
