"""Audit keeps the host evidence it rebuilt for the next capture naming the same documents.

The audit's answers must not change: every difference found with the evidence
kept is found with it rebuilt for each row, and the other way round.
"""

from __future__ import annotations

import shutil
import sqlite3
from typing import TYPE_CHECKING, Any

import pytest
import sqlite_utils

from crawler.storage.archive import WarcArchive
from crawler.workflows import audit as audit_module
from crawler.workflows.audit import RebuiltHosts, audit

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import CrawlRun


def audited(crawl_dir: Path, monkeypatch: pytest.MonkeyPatch, *, keep: bool) -> tuple[list[str], int]:
    """The audit's differences, and how many times host evidence was rebuilt from WARC records."""
    rebuilt = []
    original = audit_module.rebuild_host

    def counting(*args: Any, **kwargs: Any) -> Any:
        rebuilt.append(args[1]["origin"])
        return original(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(audit_module, "rebuild_host", counting)
        if not keep:  # every row rebuilt from its records, as before evidence was kept
            patch.setattr(RebuiltHosts, "get", lambda self, archive, manifest, judge, page=None: counting(
                archive, manifest, judge, page))  # fmt: skip
        report = audit(WarcArchive(crawl_dir), sqlite_utils.Database(crawl_dir / "provenance.db"))
    return report.differences, len(rebuilt)


def test_an_untouched_crawl_audits_the_same_and_rebuilds_each_host_once_per_manifest(
    main_crawl: CrawlRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept, rebuilt_kept = audited(main_crawl.out, monkeypatch, keep=True)
    each, rebuilt_each = audited(main_crawl.out, monkeypatch, keep=False)
    assert kept == each == []
    assert rebuilt_kept < rebuilt_each  # most hosts have several pages naming the same documents


def test_a_tampered_crawl_gives_the_same_differences(
    main_crawl: CrawlRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crawl_dir = shutil.copytree(main_crawl.out, tmp_path / "crawl")
    with sqlite3.connect(crawl_dir / "provenance.db") as db:
        # captures and refusals are views (schema 6): rows picked by their tables' ids, written through.
        db.execute(
            "update captures set signal = 'tdmrep' "
            "where warc_record_id in (select warc_record_id from capture_rows where id % 3 = 0)"
        )
        db.execute("update refusals set reason = 'made up' where id % 2 = 0")
    kept, _ = audited(crawl_dir, monkeypatch, keep=True)
    each, _ = audited(crawl_dir, monkeypatch, keep=False)
    assert kept and kept == each


def test_a_manifest_is_kept_for_the_same_configuration_only(main_crawl: CrawlRun) -> None:
    archive = WarcArchive(main_crawl.out)
    db = sqlite_utils.Database(main_crawl.out / "provenance.db")
    row = next(db.query("select * from captures"))
    manifest = archive.read(row["metadata_record_id"]).json()["evidence"]
    judge = audit_module._judge_of(archive, db, row["crawl_id"], {})
    hosts = RebuiltHosts(kept=1)
    first = hosts.get(archive, manifest, judge)
    assert hosts.get(archive, dict(manifest), judge) is first  # an equal manifest
    other = audit_module._judge_of(archive, db, row["crawl_id"], {})  # equal, but another object
    assert hosts.get(archive, manifest, other) is not first
    assert hosts.get(archive, {**manifest, "fetched_at": "2026-01-01T00:00:00+00:00"}, other) is not first
