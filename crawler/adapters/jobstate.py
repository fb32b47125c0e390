"""Whether Scrapy's job state in ``DIR/job`` can be resumed: a crawl killed mid-way cannot be.

Scrapy writes its request queue's index (``requests.queue/active.json``) only
when a crawl closes, but appends every URL it schedules to ``requests.seen``
as it goes. A crawl killed (``kill -9``, out of memory, power lost) leaves
URLs marked seen whose queue was never saved: resuming it would skip them as
seen, find the queue empty and finish at once, saying ``finished`` with pages
missing. We mark the job state while a crawl runs and refuse to resume one
whose crawl did not end.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from crawler.errors import ProvenanceError

if TYPE_CHECKING:
    from pathlib import Path

RUNNING_MARKER = "permitcrawl.running"


def _seen_count(job: Path) -> int:
    try:
        with open(job / "requests.seen", "rb") as fh:
            return sum(1 for line in fh if line.strip())
    except FileNotFoundError:
        return 0


def check_resumable(job: Path) -> None:
    """Raise ProvenanceError if ``job`` holds the state of a crawl that did not end.

    That is: requests marked seen, and either our running marker left behind
    or no saved queue index (a crawl killed before this check existed). Job
    state with nothing seen is resumable whatever else it holds: every seed is
    requested again. Call only while holding the crawl directory's lock, since
    a running crawl's marker is legitimately there.
    """
    seen = _seen_count(job)
    if not seen:
        return
    unsaved = (job / RUNNING_MARKER).exists() or not (job / "requests.queue" / "active.json").exists()
    if unsaved:
        raise ProvenanceError(
            f"{job}: the crawl that last used this job state did not end (killed?), so its queue "
            f"was never saved; resuming would skip the URLs it had marked seen (at least {seen}) and finish "
            f"without the pages not yet captured. Crawl into a new --out, or move {job} aside to "
            "crawl again from the seeds (pages captured already are then captured again)"
        )


def mark_running(job: Path) -> None:
    """Mark ``job`` as in use by a crawl that has not ended (creating the directory if need be)."""
    try:
        job.mkdir(parents=True, exist_ok=True)
        (job / RUNNING_MARKER).touch()
    except OSError as exc:
        raise ProvenanceError(f"{job}: cannot mark the job state as in use ({exc.strerror})") from exc


def mark_ended(job: Path) -> None:
    """Clear the mark: the crawl ended and Scrapy saved its queue.

    A crawl that never started leaves no job state: the directory goes if the mark was all it held.
    """
    (job / RUNNING_MARKER).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty: Scrapy's job state, kept for resuming
        job.rmdir()
