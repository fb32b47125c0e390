"""The decision model: combination precedence (the README table, one test per row), and round trips."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.decision import (
    SIGNAL_IDS,
    USAGE_SIGNALS,
    Basis,
    Decision,
    DefaultPolicy,
    Stage,
    Verdict,
    combine,
)
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


def _deciding_as_specified(bases: tuple[Basis, ...]) -> Basis | None:
    """The rule, written plainly: the first standing denial, else the first grant (agreements first)."""
    agreed = any(b.verdict is Verdict.ALLOW and b.agreement for b in bases)
    denying = [b for b in bases if b.verdict is Verdict.DENY and not (agreed and b.signal in USAGE_SIGNALS)]
    if denying:
        return denying[0]
    grants = sorted((b for b in bases if b.verdict is Verdict.ALLOW), key=lambda b: b.agreement is None)
    return grants[0] if grants else None


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.builds(
            Basis,
            signal=st.sampled_from(SIGNAL_IDS),
            verdict=st.sampled_from(Verdict),
            reason=st.text(max_size=3),
            agreement=st.one_of(st.none(), st.just(""), st.just("Licence #1")),
        ),
        max_size=8,
    ),
    st.sampled_from(DefaultPolicy),
)
def test_the_deciding_basis_is_the_specified_one(bases: list[Basis], policy: DefaultPolicy) -> None:
    decision = decide(bases, policy)
    expected = _deciding_as_specified(decision.bases)
    assert decision.signal == (expected.signal if expected else "default")
    assert decision.reason == (expected.reason if expected else "no signal was consulted")
    assert decision.as_dict()["signal"] == decision.signal and decision.as_dict()["reason"] == decision.reason
    assert decision.denying == tuple(
        b for b in decision.bases if b.verdict is Verdict.DENY and b not in _set_aside(decision.bases)
    )
    assert decision.allowed == (
        not decision.denying and any(b.verdict is Verdict.ALLOW for b in decision.bases)
    )


def _set_aside(bases: tuple[Basis, ...]) -> list[Basis]:
    agreed = any(b.verdict is Verdict.ALLOW and b.agreement for b in bases)
    return [b for b in bases if agreed and b.signal in USAGE_SIGNALS and b.verdict is Verdict.DENY]
