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
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from policies.charset import declared_charset, decodings
from policies.decision import Basis, Verdict
from policies.patterns import PathPattern, RuleIndex
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


MAX_RULES = 10_000  # rules per file; every URL may be matched against each


@dataclass(frozen=True)
class TdmRepFile:
    """A parsed ``/.well-known/tdmrep.json``."""

    rules: tuple[TdmRule, ...]
    index: RuleIndex[TdmRule] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # "The most specific match is the first in sequence": the earliest rule ranks highest.
        entries = ((rule.location.pattern, rule) for rule in self.rules)
        object.__setattr__(self, "index", RuleIndex(entries, lambda _length, rule: -rule.index))

    @classmethod
    def parse(cls, body: bytes | str) -> TdmRepFile:
        """Parse the file; raise TdmRepError if it is not a JSON array of rule objects.

        Raises ValueError (not TdmRepError) when it has more than ``MAX_RULES`` rules.
        """
        try:
            data = json.loads(body.decode("utf-8-sig") if isinstance(body, bytes) else body)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise TdmRepError(f"not JSON: {type(exc).__name__}: {exc}") from None
        if not isinstance(data, list):
            raise TdmRepError(f"expected a JSON array of rules, got {type(data).__name__}")
        entries = [
            (i, e) for i, e in enumerate(data) if isinstance(e, dict) and isinstance(e.get("location"), str)
        ]
        if len(entries) > MAX_RULES:
            raise ValueError(f"it has {len(entries)} rules, more than the {MAX_RULES} this crawler evaluates")
        rules = []
        for index, entry in entries:  # an entry without a location is not a rule: location is mandatory
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
        found = self.index.best(url)
        return found[0] if found else None


@dataclass(frozen=True, kw_only=True)
class TdmRepEvidence:
    """What the host's tdmrep.json said: ``file`` is None when the protocol is not implemented.

    ``error`` is set when the file exists but could not be read (not read
    whole, undecodable, too many rules): the ``tdmrep`` signal then denies.
    ``variants`` are the file's other plausible readings (another decoding;
    for a file that is not valid JSON, the rules :func:`salvage` finds in it).
    """

    url: str
    source: str
    sha256: str | None
    record_id: str | None
    file: TdmRepFile | None
    problem: str | None = None
    error: str | None = None
    variants: tuple[TdmRepEvidence, ...] = ()
    salvaged: bool = False  # rules read from a file that is not valid JSON (see salvage())


def tdmrep_evidence(document: Document) -> TdmRepEvidence:
    """Read a fetched tdmrep.json; never raises.

    No file (an error status, no response) or a file that is not a JSON array
    of rules means the site does not implement the protocol (the spec's
    "failure to provide access"). A file that could not be read (not read
    whole, in no plausible text encoding, too many rules) is an error.
    """
    common = {
        "url": document.url,
        "source": document.describe(),
        "sha256": document.sha256,
        "record_id": document.record_id,
    }
    if document.incomplete is not None:
        return TdmRepEvidence(
            file=None, error=f"tdmrep.json was not read whole ({document.incomplete})", **common
        )
    if document.error is not None or document.status is None or not 200 <= document.status < 300:
        return TdmRepEvidence(file=None, problem="no tdmrep.json", **common)
    declared = ((declared_charset(document.content_type), "as its Content-Type declares"),)
    texts = decodings(document.body, declared=declared, strict=True)
    if not texts:
        return TdmRepEvidence(file=None, error="tdmrep.json is in no text encoding it could be in", **common)
    parsed: list[TdmRepEvidence] = []
    problem = ""
    try:
        for decoded in texts:
            try:
                tdm = TdmRepFile.parse(decoded.text)
            except TdmRepError as exc:
                problem = problem or str(exc)
                continue
            how = f"; read as {decoded.how}" if len(texts) > 1 else ""
            parsed.append(TdmRepEvidence(file=tdm, **{**common, "source": f"{common['source']}{how}"}))
    except ValueError as exc:
        return TdmRepEvidence(file=None, error=f"tdmrep.json could not be read: {exc}", **common)
    if not parsed:
        # Not JSON in any encoding: look for rules object by object, in every reading (a stray
        # byte that breaks the strict decoding breaks nothing here).
        note = "rules found in a file that is not valid JSON"
        variants = tuple(
            TdmRepEvidence(file=found, salvaged=True, **{**common, "source": f"{common['source']}; {note}"})
            for decoded in decodings(document.body, declared=declared)
            if (found := salvage(decoded.text)) is not None
        )
        return TdmRepEvidence(file=None, problem=problem, variants=variants, **common)
    return replace(parsed[0], variants=tuple(parsed[1:]))


_OBJECT = re.compile(r"\{[^{}]*\}")
_LOCATION = re.compile(r'"location"\s*:\s*"((?:[^"\\]|\\.)*)"')
_RESERVATION = re.compile(r'"tdm-reservation"\s*:\s*"?\s*([01])\s*"?\s*(?=[,}])')


def salvage(text: str) -> TdmRepFile | None:
    """The rules of a tdmrep.json that is not valid JSON, read object by object (linear), or None.

    For the conservative reading ``tdmrep_salvage``: a trailing comma or a
    stray character does not make a file's reservation disappear.
    """
    rules = []
    for index, match in enumerate(_OBJECT.finditer(text)):
        location = _LOCATION.search(match.group())
        if location is None or len(rules) >= MAX_RULES:
            continue
        try:
            path = json.loads(f'"{location.group(1)}"')
        except ValueError:
            path = location.group(1)
        reservation = _RESERVATION.search(match.group())
        rules.append(
            TdmRule(index, PathPattern(path), int(reservation.group(1)) if reservation else None, None)
        )
    return TdmRepFile(tuple(rules)) if rules else None


@dataclass(frozen=True)
class Step:
    """One place's say: value (1, 0 or None for unset), where it came from, the policy URL, what to cite."""

    value: int | None
    where: str
    policy: str | None = None
    cite: tuple[tuple[str, str | None], ...] = ()
    error: bool = False  # the place could not be read: fail closed


def file_step(evidence: TdmRepEvidence | None, url: str, *, salvage: bool = True) -> Step:
    """The tdmrep.json step for ``url``; ``salvage`` is the conservative reading ``tdmrep_salvage``."""
    if evidence is None:
        return Step(None, "tdmrep.json: not fetched")
    if evidence.salvaged and not salvage:
        return Step(None, f"tdmrep.json ({evidence.source}): not JSON, so not read")
    cite = (("source", evidence.source), ("sha256", evidence.sha256), ("record_id", evidence.record_id))
    if evidence.error is not None:
        return Step(None, evidence.error, cite=cite, error=True)
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
    failed = next((s for s in present if s.error), None)
    if failed is not None:
        reason = f"TDMRep: {failed.where}; a reservation cannot be ruled out ({purpose.value})"
        return Basis(signal="tdmrep", verdict=Verdict.DENY, reason=reason, **dict(failed.cite))
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
