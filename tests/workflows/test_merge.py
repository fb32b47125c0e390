"""The merge's rules on their own: when a row is stale, and the copy when no hard link is possible."""

from __future__ import annotations

import errno
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crawler.workflows import merge
from crawler.workflows.merge import Lease, MergeReport, Source, stale_because

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
LEASES = [Lease(0, 1, "w1", T0), Lease(0, 2, "w2", T0.replace(hour=13)), Lease(1, 5, "w3", T0)]


def row(**values: Any) -> dict[str, Any]:
    return {"shard": 0, "epoch": 1, "worker": "w1", **values}


def test_a_row_written_once_a_later_lease_of_its_shard_was_acquired_is_stale() -> None:
    why = stale_because(row(), "2026-11-29T13:00:00+00:00", LEASES)  # at the takeover itself
    assert why == (
        "stale: written under fencing number 1 of shard 0 by w1, after worker w2 acquired fencing "
        "number 2 at 2026-11-29T13:00:00+00:00"
    )
    assert stale_because(row(), "2026-11-29T14:00:00+00:00", LEASES) is not None


@pytest.mark.parametrize(
    ("values", "at"),
    [
        ({}, "2026-11-29T12:59:59.999999+00:00"),  # before the takeover
        ({"epoch": 2, "worker": "w2"}, "2026-11-29T14:00:00+00:00"),  # the newest lease
        ({"shard": 2}, "2026-11-29T14:00:00+00:00"),  # shard 0 and 1 leases do not count for shard 2
        ({"shard": None, "epoch": None}, "2026-11-29T14:00:00+00:00"),  # written under no lease
        ({}, None),  # no time: nothing to compare
    ],
    ids=["before", "newest", "other shard", "no lease", "no time"],
)
def test_a_row_is_not_stale_otherwise(values: dict[str, Any], at: str | None) -> None:
    assert stale_because(row(**values), at, LEASES) is None


def test_files_are_copied_byte_for_byte_where_no_hard_link_is_possible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "worker"
    (source / "warc").mkdir(parents=True)
    (source / "warc" / "a.warc.gz").write_bytes(b"\x1f\x8b bytes as written")

    def no_link(src: object, dst: object) -> None:
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(merge.os, "link", no_link)
    staging = tmp_path / "staging"
    report = MergeReport(out=tmp_path / "out", inputs=[str(source)])
    placed = merge.place_files([Source(3, source, None)], staging, report)  # type: ignore[arg-type]
    copy = staging / "warc" / "3" / "a.warc.gz"
    assert placed == {copy: source / "warc" / "a.warc.gz"}
    assert copy.read_bytes() == b"\x1f\x8b bytes as written"
    assert (report.linked, report.copied, report.warc_files) == (0, 1, 1)
