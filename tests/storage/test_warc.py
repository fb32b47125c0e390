"""WarcStore: records as warcio reads them, framing fixed for the stored body, rotation and names."""

from __future__ import annotations

import gzip
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.storage.warc import HttpExchange, WarcStore, recover_open_files, response_headers

STARTED = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)


def exchange(**kwargs) -> HttpExchange:
    values = {
        "url": "http://site.test/a?b=1",
        "request_headers": [("User-Agent", "permitcrawl/0.1"), ("Proxy-Authorization", "Basic c2VjcmV0")],
        "status": 200,
        "response_headers": [("Content-Type", "text/html"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")],
        "body": b"<html>hello</html>",
        "started_at": STARTED,
    }
    values.update(kwargs)
    return HttpExchange(**values)


def records(path: Path) -> list:
    with open(path, "rb") as fh:
        return [
            (r.rec_type, r.rec_headers, r.http_headers, r.content_stream().read())
            for r in ArchiveIterator(fh)
        ]


def test_capture_records(tmp_path: Path) -> None:
    store = WarcStore(tmp_path, info={"isPartOf": "crawl-1"}, hostname="host", pid=42)
    written = store.write_exchange(exchange(), b'{"decision": {"allowed": true}}')
    store.close()
    [name] = os.listdir(tmp_path)
    assert name.startswith("permitcrawl-2") and name.endswith("-00000-42~host.warc.gz")
    found = records(tmp_path / name)
    assert [r[0] for r in found] == ["warcinfo", "response", "request", "metadata"]
    info, response, request, metadata = found
    assert b"isPartOf: crawl-1" in info[3]
    assert response[1].get_header("WARC-Date") == "2026-11-22T10:00:00.123456Z"
    assert (
        request[1].get_header("WARC-Date")
        == response[1].get_header("WARC-Date")
        == metadata[1].get_header("WARC-Date")
    )
    assert request[1].get_header("WARC-Concurrent-To") == written.response.record_id
    assert metadata[1].get_header("WARC-Concurrent-To") == written.response.record_id
    assert response[1].get_header("WARC-Warcinfo-ID") == info[1].get_header("WARC-Record-ID")
    assert [v for k, v in response[2].headers if k == "Set-Cookie"] == ["a=1", "b=2"]  # repeated headers kept
    assert response[2].get_header("Content-Length") == str(len(b"<html>hello</html>"))
    assert request[2].protocol == "GET" and request[2].statusline.startswith("/a?b=1 HTTP/1.1")
    assert request[2].get_header("Host") == "site.test"
    assert request[2].get_header("Proxy-Authorization") is None  # our proxy credentials stay ours
    assert json.loads(metadata[3]) == {"decision": {"allowed": True}}
    assert written.payload_digest.startswith("sha1:") and len(written.payload_digest) == 37


def test_offsets_open_each_record(tmp_path: Path) -> None:
    store = WarcStore(tmp_path)
    locations = [store.write_exchange(exchange(url=f"http://site.test/{i}")) for i in range(5)]
    store.close()
    for i, written in enumerate(locations):
        with open(tmp_path / written.response.filename, "rb") as fh:
            fh.seek(written.response.offset)
            data = fh.read(written.response.length)
        record = next(iter(ArchiveIterator(__import__("io").BytesIO(data))))
        assert record.rec_headers.get_header("WARC-Target-URI") == f"http://site.test/{i}"


def test_encoded_body_kept_and_framing_corrected(tmp_path: Path) -> None:
    body = gzip.compress(b"decoded text", mtime=0)
    headers = [("Content-Encoding", "gzip"), ("Content-Length", "999"), ("Transfer-Encoding", "chunked")]
    fixed = response_headers(exchange(response_headers=headers, body=body))
    assert ("Content-Encoding", "gzip") in fixed
    assert ("Content-Length", str(len(body))) in fixed
    assert ("X-Crawler-Content-Length", "999") in fixed
    assert ("X-Crawler-Transfer-Encoding", "chunked") in fixed
    assert not any(name == "Transfer-Encoding" for name, _ in fixed)
    store = WarcStore(tmp_path)
    store.write_exchange(exchange(response_headers=headers, body=body))
    store.close()
    [path] = tmp_path.iterdir()
    response = records(path)[1]
    assert response[3] == b"decoded text"  # warcio decodes on read; the file holds the gzip bytes


def test_protocol_truncation_and_ip(tmp_path: Path) -> None:
    store = WarcStore(tmp_path)
    store.write_exchange(exchange(protocol="h2", truncated="length", ip_address="192.0.2.1"))
    store.close()
    [path] = tmp_path.iterdir()
    headers = records(path)[1][1]
    assert headers.get_header("WARC-Protocol") == "h2"
    assert headers.get_header("WARC-Truncated") == "length"
    assert headers.get_header("WARC-IP-Address") == "192.0.2.1"


def test_rotation_and_open_suffix(tmp_path: Path) -> None:
    store = WarcStore(tmp_path, max_size=1, gzip_level=1)  # every capture starts a new file
    store.write_exchange(exchange())
    assert [p.suffix for p in tmp_path.iterdir()] == [".open"]
    store.write_exchange(exchange())
    store.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and all(n.endswith(".warc.gz") for n in names)
    assert "-00000-" in names[0] and "-00001-" in names[1]
    for name in names:
        assert records(tmp_path / name)[0][0] == "warcinfo"  # each file starts with warcinfo


def test_recover_files_of_dead_processes(tmp_path: Path) -> None:
    dead = tmp_path / "permitcrawl-20260101000000000-00000-999999999~myhost.warc.gz.open"
    alive = tmp_path / f"permitcrawl-20260101000000000-00000-{os.getpid()}~myhost.warc.gz.open"
    other = tmp_path / "permitcrawl-20260101000000000-00000-999999999~otherhost.warc.gz.open"
    for path in (dead, alive, other):
        path.write_bytes(b"")
    assert recover_open_files(tmp_path, hostname="myhost") == [dead.name.removesuffix(".open")]
    assert alive.exists() and other.exists()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_size"):
        WarcStore(Path("x"), max_size=0)
    with pytest.raises(ValueError, match="gzip_level"):
        WarcStore(Path("x"), gzip_level=10)


def test_a_recovered_file_cut_mid_record_keeps_its_whole_records_and_sets_the_rest_aside(
    tmp_path: Path,
) -> None:
    store = WarcStore(tmp_path, prefix="permitcrawl")
    store.write_exchange(exchange())
    store.write_exchange(exchange())
    store.close()
    whole = next(tmp_path.glob("*.warc.gz"))
    data = whole.read_bytes()
    expected = records(whole)
    cut = data[: len(data) // 3 * 2]  # a write stopped by a full disk, mid-member
    whole.unlink()
    dead = tmp_path / "permitcrawl-20260101000000000-00000-999999999~myhost.warc.gz.open"
    dead.write_bytes(cut)
    assert recover_open_files(tmp_path, hostname="myhost") == [dead.name.removesuffix(".open")]
    final = tmp_path / dead.name.removesuffix(".open")
    kept = records(final)  # every reader finds whole records
    assert 0 < len(kept) < len(expected) and kept == expected[: len(kept)]
    aside = tmp_path / (final.name + ".cut")
    assert final.read_bytes() + aside.read_bytes() == cut  # nothing lost: the cut bytes are beside it
