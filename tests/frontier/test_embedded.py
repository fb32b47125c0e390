"""The embedded frontier (crawler.frontier.embedded): SQLite in the crawl directory, one worker."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import pytest

from crawler.frontier.base import Entry, FrontierError
from crawler.frontier.embedded import FILE_NAME, EmbeddedFrontier, check_file, open_readonly

if TYPE_CHECKING:
    from pathlib import Path


def entry(url: str, *, filtered: bool = True, priority: int = 0, capped: bool = False) -> Entry:
    host = url.split("/")[2]
    return Entry(fingerprint=url, url=url, host=host, payload=f'{{"url": "{url}"}}', priority=priority,
                 filtered=filtered, capped=capped)  # fmt: skip


def opened(path: Path, worker: str = "w") -> EmbeddedFrontier:
    frontier = EmbeddedFrontier(path / FILE_NAME, worker=worker)
    frontier.open({"seeds": "http://a.test/"})
    return frontier


def test_a_url_is_queued_once_unless_unfiltered(tmp_path: Path) -> None:
    frontier = opened(tmp_path)
    assert (
        frontier.push([entry("http://a.test/1"), entry("http://a.test/1"), entry("http://a.test/2")]).queued
        == 2
    )
    assert frontier.push([entry("http://a.test/1")]).queued == 0
    assert frontier.push([entry("http://a.test/1", filtered=False)]).queued == 1  # a retry: dont_filter
    assert frontier.counts().queued == 3


def test_the_cap_of_urls_per_host_is_counted_on_disk_and_survives_a_reopening(tmp_path: Path) -> None:
    frontier = opened(tmp_path)
    pushed = frontier.push([entry(f"http://a.test/{i}", capped=True) for i in range(5)], host_cap=3)
    assert (pushed.queued, pushed.over_cap) == (3, {"a.test": 2})
    # A duplicate of a scheduled URL is not over the cap; uncapped entries and other hosts do not count.
    pushed = frontier.push(
        [
            entry("http://a.test/0", capped=True),
            entry("http://a.test/u"),
            entry("http://a.test/r", filtered=False, capped=True),
            entry("http://b.test/0", capped=True),
        ],
        host_cap=3,
    )
    assert (pushed.queued, pushed.over_cap) == (3, {})
    assert (frontier.scheduled("a.test"), frontier.scheduled("b.test")) == (3, 1)
    frontier.close()
    again = opened(tmp_path)
    # A URL left out was not marked seen: left out again, and counted again, while the host is full.
    pushed = again.push(
        [entry("http://a.test/3", capped=True), entry("http://b.test/1", capped=True)], host_cap=3
    )
    assert (pushed.queued, pushed.over_cap) == (1, {"a.test": 1})
    # Without a cap (0), nothing is left out.
    assert again.push([entry("http://a.test/4", capped=True)]).queued == 1
    again.close()


def test_a_version_1_frontier_is_upgraded_counting_what_is_queued(tmp_path: Path) -> None:
    frontier = opened(tmp_path)
    frontier.push([entry("http://a.test/1"), entry("http://a.test/2")])
    frontier.close()
    conn = sqlite3.connect(tmp_path / FILE_NAME)
    conn.execute("DROP TABLE hosts")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    assert open_readonly(tmp_path / FILE_NAME).counts().queued == 2  # still readable for status
    again = opened(tmp_path)
    assert again.scheduled("a.test") == 2
    pushed = again.push([entry(f"http://a.test/{i}", capped=True) for i in range(3, 6)], host_cap=3)
    assert (pushed.queued, pushed.over_cap) == (1, {"a.test": 2})
    again.close()


def test_take_by_priority_then_arrival_and_done_counts_per_shard(tmp_path: Path) -> None:
    frontier = opened(tmp_path)
    frontier.push([entry("http://a.test/1"), entry("http://b.test/2", priority=5), entry("http://a.test/3")])
    taken = frontier.take(2)
    assert [t.url for t in taken] == ["http://b.test/2", "http://a.test/1"]
    assert {t.claim.epoch for t in taken} == {1} and all(frontier.holds(t.claim) for t in taken)
    counts = frontier.counts()
    assert (counts.queued, counts.in_flight, counts.done) == (1, 2, 0)
    frontier.done([taken[0].claim.key, taken[0].claim.key])  # twice: counted once
    counts = frontier.counts()
    assert (counts.queued, counts.in_flight, counts.done) == (1, 1, 1)
    assert sum(c.done for c in frontier.status().shards.values()) == 1


def test_a_killed_runs_in_flight_urls_are_stranded_for_the_next_run_under_a_higher_epoch(
    tmp_path: Path,
) -> None:
    first = opened(tmp_path)
    first.push([entry("http://a.test/1"), entry("http://a.test/2")])
    taken = first.take(2)
    first.conn.close()  # killed: no close(), the entries stay in flight
    first._conn = None
    second = opened(tmp_path)
    assert second.epoch == 2
    stranded = second.stranded()
    assert sorted(t.url for t in stranded) == ["http://a.test/1", "http://a.test/2"]
    assert not second.holds(taken[0].claim)  # the old epoch's claims are not this run's
    second.done([stranded[0].claim.key])
    second.requeue([stranded[1].claim.key])
    again = second.take(5)
    assert [t.url for t in again] == [stranded[1].url] and again[0].claim.epoch == 2
    assert second.push([entry("http://a.test/1")]).queued == 0  # still seen: nothing fetched twice


def test_close_puts_in_flight_urls_back(tmp_path: Path) -> None:
    frontier = opened(tmp_path)
    frontier.push([entry("http://a.test/1")])
    frontier.take(1)
    frontier.close()
    again = opened(tmp_path)
    assert again.stranded() == [] and [t.url for t in again.take(1)] == ["http://a.test/1"]


def test_a_file_that_is_not_a_frontier_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.write_text("not a database")
    with pytest.raises(FrontierError, match="is not a permitcrawl frontier database"):
        check_file(path)
    with pytest.raises(FrontierError, match="frontier"):
        EmbeddedFrontier(path, worker="w").open({})
    assert path.read_text() == "not a database"
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("create table t (x)").connection.commit()
    with pytest.raises(FrontierError, match="is not a permitcrawl frontier database"):
        check_file(other)


def test_status_reads_without_writing(tmp_path: Path) -> None:
    frontier = opened(tmp_path)
    frontier.push([entry("http://a.test/1"), entry("http://b.test/1")])
    frontier.take(1)
    frontier.close()
    reader = open_readonly(tmp_path / FILE_NAME)
    status = reader.status()
    reader.close()
    assert (status.total.queued, status.total.in_flight) == (2, 0)
    assert status.hosts == 2 and len(status.leases) == 64 and {lease.epoch for lease in status.leases} == {1}
    with pytest.raises(FrontierError, match="no frontier there"):
        open_readonly(tmp_path / "missing.db")
