"""Recheck's decisions without Scrapy: the regime a crawl was judged under, and what is reserved since."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from crawler.errors import PermitcrawlError
from crawler.storage.provenance import ProvenanceDB
from crawler.workflows.recheck import judged_as_crawled, plan_recheck, reserved_since, revoke_reserved
from policies.decision import Basis, Decision, Stage, Verdict
from policies.purpose import Purpose
from tests.storage.test_provenance import capture

if TYPE_CHECKING:
    from pathlib import Path

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def test_the_recorded_regime_becomes_the_settings_that_give_it_back() -> None:
    recorded = {
        "default_policy": "deny",
        "unreviewed": "hold",
        "robots_token": "permitcrawl",
        "max_crawl_delay": None,  # not recorded: left to the current default
        "readings": {"noarchive": False, "rsl_user": "education"},
        "purpose": "ai-train",  # given to the recheck separately, not as a setting
    }
    assert judged_as_crawled(recorded) == {
        "POLICY_DEFAULT": "deny",
        "POLICY_UNREVIEWED": "hold",
        "POLICY_ROBOTS_TOKEN": "permitcrawl",
        "POLICY_READ_NOARCHIVE": False,
        "POLICY_RSL_USER": "education",
        "POLICY_AIPREF_VOCAB": "07",  # recorded before the vocab-08 reading: read as it was judged
    }


def test_a_directory_without_a_crawl_cannot_be_rechecked(tmp_path: Path) -> None:
    db = ProvenanceDB.open(tmp_path / "provenance.db")
    with pytest.raises(PermitcrawlError, match="no crawl recorded here"):
        plan_recheck(db.db, tmp_path, None)


def test_the_plan_is_the_last_crawls(tmp_path: Path) -> None:
    db = ProvenanceDB.open(tmp_path / "provenance.db")
    settings = {"permitcrawl": {"default_policy": "deny", "store_dir": str(tmp_path / "gone")}}
    db.start_crawl({"id": "c1", "purpose": "search", "started_at": "2026-11-01", "settings": "{}"})
    db.start_crawl(
        {"id": "c2", "purpose": "ai-input", "started_at": "2026-11-02", "settings": json.dumps(settings)}
    )
    for i in (2, 1):
        db.add_capture(*capture(i))
    db.flush()
    plan = plan_recheck(db.db, tmp_path, None)
    assert plan.purpose == "ai-input"
    assert plan.settings == {"POLICY_DEFAULT": "deny"}
    assert plan.store_dir is None  # the crawl's store is gone: no ToS store, rather than a failure
    assert plan.urls == ["http://h.test/1", "http://h.test/2"]


class Found:
    """A recheck's answers: a reservation for the URLs and purposes listed, nothing for the others."""

    def __init__(self, reserved: set[tuple[str, Purpose]]) -> None:
        self.reserved = reserved
        self.asked: list[tuple[str, Purpose]] = []

    def reservation(self, url: str, purpose: Purpose) -> tuple[Decision, Basis] | None:
        self.asked.append((url, purpose))
        if (url, purpose) not in self.reserved:
            return None
        basis = Basis(signal="tdmrep", verdict=Verdict.DENY, reason="tdmrep.json reserves it now")
        decision = Decision(
            url=url, purpose=purpose, allowed=False, bases=(basis,), decided_at=NOW, stage=Stage.PRE_FETCH
        )
        return decision, basis


def test_only_usable_captures_that_are_reserved_now_are_revoked(tmp_path: Path) -> None:
    db = ProvenanceDB.open(tmp_path / "provenance.db")
    db.start_crawl({"id": "c1", "purpose": "ai-train"})
    db.add_capture(*capture(1))
    db.add_capture(*capture(2, usable=False))  # usable for search only
    db.flush()
    found = Found({("http://h.test/1", Purpose.AI_INPUT), ("http://h.test/2", Purpose.AI_TRAIN)})
    changes = reserved_since(db.db, found)
    assert [(c["url"], c["purpose"], c["signal"]) for c in changes] == [
        ("http://h.test/1", "ai-input", "tdmrep")
    ]
    assert ("http://h.test/2", Purpose.AI_TRAIN) not in found.asked  # not usable: nothing to revoke
    assert isinstance(changes[0]["decision"], Decision) and not changes[0]["decision"].allowed
    ledger_id = revoke_reserved(db.db, changes, who="t", crawl_id="r1", not_rechecked={})
    revoked = list(db.db.query("select capture_id, purpose, ledger_id from revocations"))
    assert revoked == [{"capture_id": "<urn:uuid:1>", "purpose": "ai-input", "ledger_id": ledger_id}]
    assert reserved_since(db.db, found) == []  # revoked already: not again
