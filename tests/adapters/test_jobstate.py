"""Which job states a crawl may resume (crawler.adapters.jobstate)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from crawler.adapters.jobstate import RUNNING_MARKER, check_resumable, mark_ended, mark_running
from crawler.errors import ProvenanceError

if TYPE_CHECKING:
    from pathlib import Path


def _job(tmp_path: Path, *, seen: int, saved: bool, running: bool) -> Path:
    job = tmp_path / "job"
    (job / "requests.queue").mkdir(parents=True)
    (job / "requests.seen").write_text("".join(f"{i:040x}\n" for i in range(seen)))
    if saved:
        (job / "requests.queue" / "active.json").write_text("{}")
    if running:
        (job / RUNNING_MARKER).touch()
    return job


def test_a_crawl_that_ended_is_resumable(tmp_path: Path) -> None:
    check_resumable(_job(tmp_path, seen=5, saved=True, running=False))


@pytest.mark.parametrize(("saved", "running"), [(True, True), (False, False), (False, True)])
def test_a_crawl_that_did_not_end_with_urls_seen_is_not(tmp_path: Path, saved: bool, running: bool) -> None:
    job = _job(tmp_path, seen=5, saved=saved, running=running)
    with pytest.raises(ProvenanceError, match=r"did not end \(killed\?\).*at least 5"):
        check_resumable(job)


def test_nothing_seen_is_resumable_whatever_else_is_there(tmp_path: Path) -> None:
    check_resumable(_job(tmp_path, seen=0, saved=False, running=True))


def test_the_mark_goes_and_takes_an_empty_job_directory_with_it(tmp_path: Path) -> None:
    empty, kept = tmp_path / "empty" / "job", _job(tmp_path, seen=1, saved=True, running=False)
    for job in (empty, kept):
        mark_running(job)
        assert (job / RUNNING_MARKER).exists()
        mark_ended(job)
        assert not (job / RUNNING_MARKER).exists()
    assert not empty.exists() and (kept / "requests.seen").exists()
