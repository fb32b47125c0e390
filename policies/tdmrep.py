"""The ``tdmrep`` signal: the W3C TDM Reservation Protocol (CG Final Report, 2024).

Three places, read in this order, each later one superseding the earlier:
``/.well-known/tdmrep.json`` (a JSON array of ``{location, tdm-reservation,
tdm-policy}``; the first rule whose location matches, in array order, applies),
the ``tdm-reservation``/``tdm-policy`` response headers, and the HTML
``<meta name="tdm-reservation">`` tags. ``1`` reserves text and data mining,
``0`` says it is not reserved; any other value is a protocol error and counts
as unset; absence never resets a value. A missing, unreachable or malformed
tdmrep.json means the site does not implement the protocol.

The conservative reading ``tdmrep_keep_reservation`` keeps a ``1`` from an
earlier place even when a later place says ``0``. A reservation speaks for
ai-train and ai-input (both are text and data mining); TDMRep is not read for
search.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from policies.decision import Basis, Verdict
from policies.patterns import PathPattern
from policies.purpose import Purpose

if TYPE_CHECKING:
    from policies.document import Document

PURPOSES = frozenset({Purpose.AI_TRAIN, Purpose.AI_INPUT})


def reservation_value(value: Any) -> int | None:
    """1 or 0 for a valid tdm-reservation value (number or string), else None (a protocol error)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value in (0, 1):
        return value
    if isinstance(value, str) and value.strip() in ("0", "1"):
        return int(value.strip())
    return None


@dataclass(frozen=True)
class TdmRule:
    """One entry of tdmrep.json (``index`` is its position in the array)."""

    index: int
    location: PathPattern
    reservation: int | None
    policy: str | None


class TdmRepError(ValueError):
    """tdmrep.json is not the JSON array of rules the spec describes."""


@dataclass(frozen=True)
class TdmRepFile:
    """A parsed ``/.well-known/tdmrep.json``."""

    rules: tuple[TdmRule, ...]

    @classmethod
    def parse(cls, body: bytes) -> TdmRepFile:
        """Parse the file; raise TdmRepError if it is not a JSON array of rule objects."""
        try:
            data = json.loads(body.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TdmRepError(f"not JSON: {exc}") from None
        if not isinstance(data, list):
            raise TdmRepError(f"expected a JSON array of rules, got {type(data).__name__}")
        rules = []
        for index, entry in enumerate(data):
            if not isinstance(entry, dict) or not isinstance(entry.get("location"), str):
                continue  # not a rule: location is mandatory
            policy = entry.get("tdm-policy")
            rules.append(
                TdmRule(
                    index,
                    PathPattern(entry["location"]),
                    reservation_value(entry.get("tdm-reservation")),
                    policy if isinstance(policy, str) else None,
                )
            )
        return cls(tuple(rules))

    def rule_for(self, url: str) -> TdmRule | None:
        """The first rule, in array order, whose location matches ``url`` ("the first in sequence")."""
        return next((rule for rule in self.rules if rule.location.matches(url)), None)


@dataclass(frozen=True, kw_only=True)
class TdmRepEvidence:
    """What the host's tdmrep.json said: ``file`` is None when the protocol is not implemented."""

    url: str
    source: str
    sha256: str | None
    record_id: str | None
    file: TdmRepFile | None
    problem: str | None = None


def tdmrep_evidence(document: Document) -> TdmRepEvidence:
    """Read a fetched tdmrep.json; failures mean "not implemented", never an error."""
    common = {
        "url": document.url,
        "source": document.describe(),
        "sha256": document.sha256,
        "record_id": document.record_id,
    }
    if document.error is not None or document.status is None or not 200 <= document.status < 300:
        return TdmRepEvidence(file=None, problem="no tdmrep.json", **common)
    try:
        return TdmRepEvidence(file=TdmRepFile.parse(document.body), **common)
    except TdmRepError as exc:
        return TdmRepEvidence(file=None, problem=str(exc), **common)


@dataclass(frozen=True)
class Step:
    """One place's say: value (1, 0 or None for unset), where it came from, the policy URL, what to cite."""

    value: int | None
    where: str
    policy: str | None = None
    cite: tuple[tuple[str, str | None], ...] = ()


def file_step(evidence: TdmRepEvidence | None, url: str) -> Step:
    """The tdmrep.json step for ``url``."""
    if evidence is None:
        return Step(None, "tdmrep.json: not fetched")
    cite = (("source", evidence.source), ("sha256", evidence.sha256), ("record_id", evidence.record_id))
    if evidence.file is None:
        return Step(None, f"tdmrep.json ({evidence.source}): {evidence.problem}", cite=cite)
    rule = evidence.file.rule_for(url)
    if rule is None:
        return Step(None, "no tdmrep.json rule matches", cite=cite)
    where = f"tdmrep.json rule {rule.index} (location {rule.location.pattern!r})"
    if rule.reservation is None:
        return Step(None, f"{where} has an invalid tdm-reservation (protocol error: unset)", cite=cite)
    return Step(rule.reservation, where, rule.policy, cite)


def value_step(values: tuple[str, ...], policies: tuple[str, ...], where: str) -> Step | None:
    """A header or meta step: the last valid value given (None if none was given at all)."""
    if not values:
        return None
    value = reservation_value(values[-1])
    cite = (("source", where),)
    if value is None:
        return Step(None, f"{where} {values[-1]!r} is invalid (protocol error: unset)", cite=cite)
    return Step(value, f"{where} {values[-1]!r}", policies[-1] if policies else None, cite)


def tdmrep_basis(steps: list[Step | None], purpose: Purpose, *, keep_reservation: bool) -> Basis | None:
    """Combine the steps (file, header, meta) into the ``tdmrep`` basis; None for other purposes."""
    if purpose not in PURPOSES:
        return None
    present = [s for s in steps if s is not None]
    final: Step | None = None
    for step in present:
        if step.value is not None:  # absence (or a protocol error) never resets a value
            final = step
    reserved = [s for s in present if s.value == 1]
    if final is not None and final.value == 0 and reserved and keep_reservation:
        final = reserved[-1]
        note = f"; a later {present[-1].where} says 0, but a reservation is kept (conservative reading)"
    else:
        note = ""
    if final is None:
        reason = f"TDMRep: no reservation ({'; '.join(s.where for s in present)})"
        cite = dict(present[0].cite) if present else {}
        return Basis(signal="tdmrep", verdict=Verdict.NONE, reason=reason, **cite)
    cite = dict(final.cite)
    if final.value == 1:
        policy = f"; licensing policy: {final.policy}" if final.policy else ""
        return Basis(
            signal="tdmrep",
            verdict=Verdict.DENY,
            reason=f"TDMRep {final.where} reserves text and data mining ({purpose.value}){policy}{note}",
            rule=final.where,
            **cite,
        )
    return Basis(
        signal="tdmrep",
        verdict=Verdict.ALLOW,
        reason=f"TDMRep {final.where}: text and data mining not reserved ({purpose.value})",
        rule=final.where,
        **cite,
    )
