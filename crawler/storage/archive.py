"""Reading a crawl's WARC files back: every record by id, located by a scan, read by offset.

No Scrapy here. The scan keeps one small entry per record (file, offset,
length, type, target, links); payloads are read only when asked for.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from crawler.errors import WarcError

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class RecordEntry:
    """Where one record is, and what the scan saw of it."""

    record_id: str
    warc_file: str  # relative to the crawl directory
    offset: int
    length: int
    rec_type: str
    target: str | None
    concurrent_to: tuple[str, ...]
    warcinfo_id: str | None


@dataclass
class ReadRecord:
    """A record's headers and payload as stored (``raw``: content-coding kept, never decoded here).

    Decoding a response's content-coding is :func:`policies.contentcoding.decode_content`'s
    job, within a bound (see ``audit``): a hostile archive cannot make a reader inflate a bomb.
    """

    entry: RecordEntry
    headers: dict[str, str]
    status: int | None
    http_headers: list[tuple[str, str]]
    raw: bytes
    extra: dict[str, Any] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.raw.decode("utf-8"))

    def header_values(self, name: str) -> tuple[str, ...]:
        """Every value of HTTP header ``name`` (any case), in order."""
        wanted = name.lower()
        return tuple(value for key, value in self.http_headers if key.lower() == wanted)

    @property
    def payload_sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


# The directories of a crawl that hold WARC files: captured pages, and the evidence documents.
WARC_DIRS = ("warc", "evidence")


def warc_files(crawl_dir: Path) -> list[Path]:
    """The finished WARC files of a crawl directory, pages first (files still being written are left out).

    Files one level down count too: a merge keeps each input's files in a
    folder of their own (``warc/<n>/``), under the names their worker gave them.
    """
    found: list[Path] = []
    for name in WARC_DIRS:
        directory = crawl_dir / name
        found += sorted(
            p
            for pattern in ("*.warc.gz", "*.warc", "*/*.warc.gz", "*/*.warc")
            for p in directory.glob(pattern)
        )
    return found


class WarcArchive:
    """The records of every WARC file of a crawl directory (``warc/`` and ``evidence/``)."""

    def __init__(self, crawl_dir: Path) -> None:
        self.crawl_dir = crawl_dir
        self.entries: dict[str, RecordEntry] = {}
        # record id -> the records naming it with WARC-Concurrent-To (request, metadata)
        self._links: dict[str, list[RecordEntry]] = {}
        self.files = warc_files(crawl_dir)
        for path in self.files:
            self._scan(path)

    def _scan(self, path: Path) -> None:
        """Index every record of ``path``; raise WarcError naming the file if it cannot be read whole.

        A damaged file stops every command that reads the crawl's records
        (audit, export, purge): a purge that rewrote it would drop what lies
        past the damage, an export would leave it out unsaid.
        """
        scanned: list[RecordEntry] = []
        try:
            self._scan_records(path, scanned)
        except (ArchiveLoadFailed, zlib.error, EOFError, ValueError) as exc:
            good = scanned[-1].offset + scanned[-1].length if scanned else 0
            raise WarcError(
                f"{path}: cannot be read past offset {good} ({type(exc).__name__}); the file is damaged "
                "or cut short; expected a WARC file as permitcrawl wrote it"
            ) from exc
        if not path.name.endswith(".gz"):
            # warcio leaves the blank lines that end an uncompressed record out of its length;
            # a record as stored runs to the next one, so that copies of it stay readable.
            ends = [e.offset for e in scanned[1:]] + [path.stat().st_size]
            scanned = [replace(e, length=end - e.offset) for e, end in zip(scanned, ends, strict=True)]
        for entry in scanned:
            self.entries[entry.record_id] = entry
            for target in entry.concurrent_to:
                self._links.setdefault(target, []).append(entry)

    def _scan_records(self, path: Path, scanned: list[RecordEntry]) -> None:
        """Append an entry to ``scanned`` for each record of ``path``, in file order."""
        relative = path.relative_to(self.crawl_dir).as_posix()
        with open(path, "rb") as fh:
            iterator = ArchiveIterator(fh)
            for record in iterator:
                headers = record.rec_headers
                record_id = headers.get_header("WARC-Record-ID")
                record.raw_stream.read()  # consume, so that the offset and length are known
                entry = RecordEntry(
                    record_id=record_id,
                    warc_file=relative,
                    offset=iterator.get_record_offset(),
                    length=iterator.get_record_length(),
                    rec_type=record.rec_type,
                    target=headers.get_header("WARC-Target-URI"),
                    concurrent_to=tuple(v for k, v in headers.headers if k.lower() == "warc-concurrent-to"),
                    warcinfo_id=headers.get_header("WARC-Warcinfo-ID"),
                )
                scanned.append(entry)

    def linked(self, record_id: str) -> list[RecordEntry]:
        """The records that name ``record_id`` with WARC-Concurrent-To (a response's request and metadata)."""
        return list(self._links.get(record_id, ()))

    def in_file(self, warc_file: str) -> list[RecordEntry]:
        """The records of one WARC file (relative name), in file order."""
        return sorted((e for e in self.entries.values() if e.warc_file == warc_file), key=lambda e: e.offset)

    def read(self, record_id: str) -> ReadRecord:
        """Read one record by id; KeyError if no WARC file has it."""
        entry = self.entries[record_id]
        return read_at(self.crawl_dir, entry)

    def raw_bytes(self, entry: RecordEntry) -> bytes:
        """The record's bytes as stored in the file (one gzip member)."""
        with open(self.crawl_dir / entry.warc_file, "rb") as fh:
            fh.seek(entry.offset)
            return fh.read(entry.length)


def read_at(crawl_dir: Path, entry: RecordEntry) -> ReadRecord:
    """Read the record an entry points at: its payload as stored, its HTTP headers as stored.

    The HTTP header block is read here, as Latin-1 bytes, rather than by
    warcio (which reads UTF-8 first): a header value reads exactly as the
    crawler read it off the wire.
    """
    path = crawl_dir / entry.warc_file
    with open(path, "rb") as fh:
        fh.seek(entry.offset)
        record = next(iter(ArchiveIterator(fh, no_record_parse=True)))
        headers = dict(record.rec_headers.headers)
        block = record.raw_stream.read()
    status = None
    http_headers: list[tuple[str, str]] = []
    raw = block
    if entry.rec_type in ("response", "revisit", "request") and "application/http" in (
        headers.get("Content-Type") or ""
    ):
        status_line, http_headers, raw = split_http(block)
        if entry.rec_type != "request":
            code = status_line.split(" ", 2)[1] if status_line.count(" ") else ""
            status = int(code) if code.isdigit() else None
    return ReadRecord(entry, headers, status, http_headers, raw)


_HEADER_END = re.compile(rb"\r?\n\r?\n")
_LINE = re.compile(r"\r?\n")


def split_http(block: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    """An HTTP message's status line, headers (Latin-1, in order) and payload."""
    end = _HEADER_END.search(block)
    head, payload = (block[: end.start()], block[end.end() :]) if end else (block, b"")
    lines = _LINE.split(head.decode("latin-1"))  # not splitlines(): a value may hold \x85 or \x1c
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip(), value.strip(" \t")))
    return (lines[0] if lines else ""), headers, payload
