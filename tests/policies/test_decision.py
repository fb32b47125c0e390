"""The decision model: combination precedence (the README table, one test per row), and round trips."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from policies.decision import Basis, Decision, DefaultPolicy, Stage, Verdict, combine
from policies.purpose import Purpose

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def basis(verdict: Verdict, signal: str = "robots") -> Basis:
    return Basis(signal=signal, verdict=verdict, reason=f"{signal} says {verdict}")


def decide(bases: list[Basis], policy: DefaultPolicy) -> Decision:
    return combine(
        bases,
        url="http://x/",
        purpose=Purpose.AI_TRAIN,
        default_policy=policy,
        decided_at=NOW,
        stage=Stage.PRE_FETCH,
    )


# The precedence table in README.md, row by row.
@pytest.mark.parametrize(
    ("verdicts", "policy", "allowed", "deciding", "default_added"),
    [
        ([Verdict.DENY], DefaultPolicy.ALLOW, False, "robots", False),  # any deny excludes
        ([Verdict.ALLOW, Verdict.DENY], DefaultPolicy.ALLOW, False, "robots", False),  # deny beats allow
        ([Verdict.ALLOW], DefaultPolicy.DENY, True, "robots", False),  # an explicit grant, even opt-in
        ([Verdict.NONE], DefaultPolicy.ALLOW, True, "default", True),  # nothing said: opt-out regime
        ([Verdict.NONE], DefaultPolicy.DENY, False, "default", True),  # nothing said: opt-in regime
        ([], DefaultPolicy.ALLOW, True, "default", True),
    ],
)
def test_precedence(verdicts, policy, allowed, deciding, default_added) -> None:
    decision = decide([basis(v) for v in verdicts], policy)
    assert decision.allowed is allowed
    assert decision.signal == deciding
    assert (decision.bases[-1].signal == "default") is default_added


def test_reason_is_the_first_denial() -> None:
    decision = decide(
        [basis(Verdict.NONE), basis(Verdict.DENY, "tos-policy"), basis(Verdict.DENY)], DefaultPolicy.ALLOW
    )
    assert decision.reason == "tos-policy says deny"
    assert [b.signal for b in decision.denying] == ["tos-policy", "robots"]


def test_round_trip_and_pickle() -> None:
    decision = decide(
        [
            Basis(
                signal="robots",
                verdict=Verdict.NONE,
                reason="r",
                source="s",
                sha256="ab",
                record_id="<id>",
                rule="x",
            )
        ],
        DefaultPolicy.ALLOW,
    )
    assert Decision.from_dict(decision.as_dict()) == decision
    assert pickle.loads(pickle.dumps(decision)) == decision  # request meta may be pickled (JOBDIR)


def test_basis_rejects_unknown_signals() -> None:
    with pytest.raises(ValueError, match="must be one of"):
        Basis(signal="robots.txt", verdict=Verdict.DENY, reason="x")
    with pytest.raises(TypeError):
        Basis(signal="robots", verdict="deny", reason="x")  # type: ignore[arg-type]


def test_purpose_parse() -> None:
    assert Purpose.parse(" AI-Train ") is Purpose.AI_TRAIN
    with pytest.raises(ValueError, match="expected one of ai-train, ai-input, search"):
        Purpose.parse("training")
