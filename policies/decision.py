"""The decision value: verdicts, the basis each signal gives, and how they combine.

A decision is a value, never an exception: every signal consulted leaves a
:class:`Basis`, and :func:`combine` turns the bases into one :class:`Decision`
under the crawl's default policy. The combination is most-restrictive: any
``deny`` excludes; otherwise explicit ``allow``\\ s are recorded; if every signal
says ``none``, the default policy decides and is itself recorded as a basis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Self

from policies.purpose import Purpose


class Verdict(StrEnum):
    """What one signal says about one URL for one purpose."""

    ALLOW = "allow"  # an explicit grant
    DENY = "deny"  # a reservation, an opt-out, or an error while evaluating
    NONE = "none"  # the signal says nothing either way


class DefaultPolicy(StrEnum):
    """What applies when no signal says anything: the opt-out or the opt-in regime."""

    ALLOW = "allow"  # opt-out regime: collect what no one reserved
    DENY = "deny"  # opt-in regime: collect only with an explicit grant


class Stage(StrEnum):
    """When a decision was taken: before the request left, or after the response came back."""

    PRE_FETCH = "pre-fetch"
    POST_FETCH = "post-fetch"


# The signals that express a usage preference: a licence or agreement that grants
# the purpose overrides their refusals. robots (access), tos-policy and default never.
USAGE_SIGNALS: frozenset[str] = frozenset(
    {
        "robots-ai-agents",
        "content-signal",
        "content-usage",
        "tdmrep",
        "ai-txt",
        "rsl",
        "x-robots-tag",
        "meta-robots",
    }
)

# Stable signal ids, used in explain output, stats keys and the database.
SIGNAL_IDS: tuple[str, ...] = (
    "robots",
    "payment",
    "robots-ai-agents",
    "content-signal",
    "content-usage",
    "tdmrep",
    "ai-txt",
    "rsl",
    "x-robots-tag",
    "meta-robots",
    "tos-policy",
    "incomplete",
    "exclusion-list",
    "default",
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Basis:
    """One signal's verdict on one URL, with the evidence it rests on.

    ``source`` says where the signal came from (a URL and HTTP status, a header,
    a policy file and line); ``sha256`` and ``record_id`` identify the evidence
    document and its WARC record; ``rule`` names the matching rule where known.
    ``agreement`` names the licence or agreement behind a grant that overrides
    other signals' usage opt-outs. ``payment`` (``payment`` bases only) is the
    JSON text of what the response said about payment (price, charge, error,
    x402 requirements: :func:`policies.payment.payment_terms`), keys sorted.
    """

    signal: str
    verdict: Verdict
    reason: str
    source: str | None = None
    sha256: str | None = None
    record_id: str | None = None
    rule: str | None = None
    agreement: str | None = None
    payment: str | None = None

    def __post_init__(self) -> None:
        if self.signal not in SIGNAL_IDS:
            raise ValueError(f"Basis.signal must be one of {', '.join(SIGNAL_IDS)}, got {self.signal!r}")
        if not isinstance(self.verdict, Verdict):
            raise TypeError(f"Basis.verdict must be a Verdict, got {self.verdict!r}")

    def as_dict(self) -> dict[str, Any]:
        """Return the basis as JSON-ready data, leaving out empty fields."""
        data: dict[str, Any] = {"signal": self.signal, "verdict": self.verdict.value, "reason": self.reason}
        # Spelled out, in this order (the JSON's key order): called for every basis of every record.
        if self.source is not None:
            data["source"] = self.source
        if self.sha256 is not None:
            data["sha256"] = self.sha256
        if self.record_id is not None:
            data["record_id"] = self.record_id
        if self.rule is not None:
            data["rule"] = self.rule
        if self.agreement is not None:
            data["agreement"] = self.agreement
        if self.payment is not None:
            data["payment"] = json.loads(self.payment)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Rebuild a basis from :meth:`as_dict` output."""
        return cls(
            signal=data["signal"],
            verdict=Verdict(data["verdict"]),
            reason=data["reason"],
            source=data.get("source"),
            sha256=data.get("sha256"),
            record_id=data.get("record_id"),
            rule=data.get("rule"),
            agreement=data.get("agreement"),
            payment=json.dumps(data["payment"], ensure_ascii=False, sort_keys=True)
            if "payment" in data
            else None,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Cite:
    """What a signal's bases rest on: the document named for their reasons, its sha256, its WARC record."""

    source: str | None = None
    sha256: str | None = None
    record_id: str | None = None

    def basis(
        self,
        signal: str,
        verdict: Verdict,
        reason: str,
        *,
        rule: str | None = None,
        agreement: str | None = None,
    ) -> Basis:
        """A basis resting on this evidence."""
        return Basis(
            signal=signal,
            verdict=verdict,
            reason=reason,
            source=self.source,
            sha256=self.sha256,
            record_id=self.record_id,
            rule=rule,
            agreement=agreement,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Decision:
    """The combined verdict on one URL for one purpose, with every basis consulted."""

    url: str
    purpose: Purpose
    allowed: bool
    bases: tuple[Basis, ...]
    decided_at: datetime
    stage: Stage
    default_policy: DefaultPolicy = field(default=DefaultPolicy.ALLOW)

    @property
    def denying(self) -> tuple[Basis, ...]:
        """The bases that deny and are not set aside by an agreement, in evaluation order."""
        return effective_denials(self.bases)

    @property
    def signal(self) -> str:
        """The signal that decided: the first denying one, else the first grant, else the default."""
        return self._signal_and_reason()[0]

    @property
    def reason(self) -> str:
        """One sentence saying why: the first denial, else the first grant (agreements first)."""
        return self._signal_and_reason()[1]

    def _signal_and_reason(self) -> tuple[str, str]:
        deciding = self._deciding()
        return (deciding.signal, deciding.reason) if deciding else ("default", "no signal was consulted")

    def _deciding(self) -> Basis | None:
        # One pass, as effective_denials and then a stable sort of the grants (agreements first) would
        # choose: the first standing denial, else the first grant with an agreement, else the first grant.
        agreed = _agreed(self.bases)
        grant = None
        for basis in self.bases:
            verdict = basis.verdict
            if verdict is Verdict.DENY:
                if not (agreed and basis.signal in USAGE_SIGNALS):
                    return basis
            elif verdict is Verdict.ALLOW and (
                grant is None or (basis.agreement is not None and grant.agreement is None)
            ):
                grant = basis
        return grant

    def as_dict(self) -> dict[str, Any]:
        """Return one JSON-ready shape for the CLI, the database and the WARC metadata record."""
        signal, reason = self._signal_and_reason()  # found once for both
        return {
            "url": self.url,
            "purpose": self.purpose.value,
            "allowed": self.allowed,
            "signal": signal,
            "reason": reason,
            "stage": self.stage.value,
            "default_policy": self.default_policy.value,
            "decided_at": self.decided_at.isoformat(),
            "bases": [b.as_dict() for b in self.bases],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Rebuild a decision from :meth:`as_dict` output."""
        return cls(
            url=data["url"],
            purpose=Purpose(data["purpose"]),
            allowed=bool(data["allowed"]),
            bases=tuple(Basis.from_dict(b) for b in data["bases"]),
            decided_at=datetime.fromisoformat(data["decided_at"]),
            stage=Stage(data["stage"]),
            default_policy=DefaultPolicy(data.get("default_policy", "allow")),
        )


def effective_denials(bases: tuple[Basis, ...]) -> tuple[Basis, ...]:
    """The denying bases that stand: an agreement's grant sets aside the usage opt-outs."""
    denials = tuple(b for b in bases if b.verdict is Verdict.DENY)
    if not denials or not _agreed(bases):
        return denials
    return tuple(b for b in denials if b.signal not in USAGE_SIGNALS)


def _agreed(bases: tuple[Basis, ...]) -> bool:
    """True if some basis grants under an agreement (which sets the usage opt-outs aside)."""
    return any(basis.agreement and basis.verdict is Verdict.ALLOW for basis in bases)


def default_basis(purpose: Purpose, policy: DefaultPolicy) -> Basis:
    """Return the basis recording that the default policy decided, because no signal did."""
    if policy is DefaultPolicy.ALLOW:
        reason = (
            f"no signal reserved or granted {purpose.value}; default policy 'allow' (opt-out regime) applies"
        )
        return Basis(signal="default", verdict=Verdict.ALLOW, reason=reason)
    reason = f"no signal explicitly granted {purpose.value}; default policy 'deny' (opt-in regime) applies"
    return Basis(signal="default", verdict=Verdict.DENY, reason=reason)


def combine(
    bases: tuple[Basis, ...] | list[Basis],
    *,
    url: str,
    purpose: Purpose,
    default_policy: DefaultPolicy,
    decided_at: datetime,
    stage: Stage,
) -> Decision:
    """Return the most-restrictive combination of ``bases``.

    Any ``deny`` excludes, except usage opt-outs set aside by an agreement's
    grant (:func:`effective_denials`). Otherwise an explicit ``allow`` permits. If every
    basis says ``none``, the default policy decides, and a ``default`` basis is
    appended so that the record says so.
    """
    bases = tuple(bases)
    if effective_denials(bases):
        allowed = False
    elif any(b.verdict is Verdict.ALLOW for b in bases):
        allowed = True
    else:
        fallback = default_basis(purpose, default_policy)
        bases = (*bases, fallback)
        allowed = fallback.verdict is Verdict.ALLOW
    return Decision(
        url=url,
        purpose=purpose,
        allowed=allowed,
        bases=bases,
        decided_at=decided_at,
        stage=stage,
        default_policy=default_policy,
    )
