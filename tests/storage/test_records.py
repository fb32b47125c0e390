"""Storage's record and row shapes: decisions read back typed, and what a stored decision may not say."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from crawler.errors import DecisionRecordError
from crawler.storage.provenance import dumps
from crawler.storage.records import misstatements, read_decision, refusal_row
from policies.decision import Basis, Decision, DefaultPolicy, Stage, Verdict, combine
from policies.purpose import Purpose

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def refused() -> Decision:
    return combine(
        [
            Basis(
                signal="robots", verdict=Verdict.DENY, reason="Disallow: /private", record_id="<urn:uuid:r>"
            ),
            Basis(signal="tdmrep", verdict=Verdict.NONE, reason="no tdmrep.json"),
        ],
        url="http://h.test/private/café",
        purpose=Purpose.SEARCH,
        default_policy=DefaultPolicy.DENY,
        decided_at=NOW,
        stage=Stage.PRE_FETCH,
    )


def test_a_stored_decision_reads_back_as_the_decision_written() -> None:
    decision = refused()
    text = dumps(decision.as_dict())
    assert read_decision(text) == decision
    assert read_decision(json.loads(text)) == decision
    assert misstatements(text, decision) == {}


@pytest.mark.parametrize(
    ("stored", "said"),
    [
        ("not json", "not a recorded decision (Expecting value"),
        ("[1, 2]", "not a recorded decision (expected a JSON object, found [1, 2])"),
        (None, "not a recorded decision (expected a JSON object, found None)"),
        ('{"url": "http://h.test/"}', "not a recorded decision (no 'purpose')"),
        (
            dumps(
                {**refused().as_dict(), "bases": [{"signal": "robots", "verdict": "maybe", "reason": "r"}]}
            ),
            "not a recorded decision ('maybe' is not a valid Verdict)",
        ),
        (
            dumps({**refused().as_dict(), "bases": [{"signal": "rumour", "verdict": "deny", "reason": "r"}]}),
            "not a recorded decision (Basis.signal must be one of",
        ),
        (dumps({**refused().as_dict(), "bases": "none"}), "not a recorded decision ("),
    ],
)
def test_what_is_not_a_decision_is_said_to_be_none(stored: str | None, said: str) -> None:
    with pytest.raises(DecisionRecordError) as caught:
        read_decision(stored)
    assert str(caught.value).startswith(said)


def test_a_stored_signal_or_reason_its_bases_do_not_give_is_a_misstatement() -> None:
    decision = refused()
    tampered = {**decision.as_dict(), "signal": "tdmrep", "note": "extra"}
    assert read_decision(tampered) == decision  # the typed reading follows the bases...
    assert misstatements(tampered, decision) == {  # ...and says what the text claims otherwise
        "note": ("extra", None),
        "signal": ("tdmrep", "robots"),
    }


def test_a_refusal_row_holds_the_decision_serialised_once() -> None:
    decision = refused()
    row = refusal_row(
        "c1",
        decision,
        status=None,
        response_headers=None,
        evidence={"origin": "http://h.test", "robots.txt": {"record_id": "<urn:uuid:r>"}},
    )
    assert row == {
        "crawl_id": "c1",
        "url": "http://h.test/private/café",
        "host": "h.test",
        "domain": "h.test",
        "decided_at": "2026-11-29T12:00:00+00:00",
        "stage": "pre-fetch",
        "status": None,
        "purpose": "search",
        "signal": "robots",
        "reason": "Disallow: /private",
        "decision": dumps(decision.as_dict()),
        "response_headers": None,
        "evidence": '{"origin": "http://h.test", "robots.txt": {"record_id": "<urn:uuid:r>"}}',
        # No frontier lease: a refusal recorded outside a crawl's frontier (recheck).
        "shard": None,
        "epoch": None,
        "worker": None,
    }
    assert read_decision(row["decision"]) == decision
    fetched = refusal_row("c1", decision, status=403, response_headers=[], evidence=None)
    assert (fetched["status"], fetched["response_headers"], fetched["evidence"]) == (403, "[]", None)
