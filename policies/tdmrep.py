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
from functools import partial
from typing import TYPE_CHECKING

from policies.charset import declared_charset, decodings
from policies.decision import Basis, Cite, Verdict
from policies.patterns import PathPattern, RuleIndex
from policies.purpose import Purpose

if TYPE_CHECKING:
    from collections.abc import Sequence

    from policies.document import Document

PURPOSES = frozenset({Purpose.AI_TRAIN, Purpose.AI_INPUT})


# What an author plainly meant as 1: quoted, with a stray ';' or '.', or in words.
_LOOSE_ONE = re.compile(r"""["']?\s*(?:1(?:\.0*)?|true|yes|reserved)\s*["']?\s*[;.]?""", re.IGNORECASE)


def reservation_value(value: object) -> int | None:
    """1 or 0 for a valid tdm-reservation value (number or string), else None (a protocol error)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and value in (0, 1):
        return int(value)
    if isinstance(value, str) and value.strip() in ("0", "1"):
        return int(value.strip())
    return None


@dataclass(frozen=True, slots=True)
class TdmRule:
    """One entry of tdmrep.json (``index`` is its position in the array)."""

    index: int
    location: PathPattern
    reservation: int | None
    policy: str | None


class TdmRepError(ValueError):
    """tdmrep.json is not the JSON array of rules the spec describes."""


MAX_RULES = 10_000  # rules per file; every URL may be matched against each


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, kw_only=True, slots=True)
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

    @property
    def cite(self) -> Cite:
        """This file, as the bases read from it cite it."""
        return Cite(source=self.source, sha256=self.sha256, record_id=self.record_id)


def tdmrep_evidence(document: Document) -> TdmRepEvidence:
    """Read a fetched tdmrep.json; never raises.

    No file (an error status, no response) or a file that is not a JSON array
    of rules means the site does not implement the protocol (the spec's
    "failure to provide access"). A file that could not be read (not read
    whole, in no plausible text encoding, too many rules) is an error.
    """
    described = document.describe()
    of_document = partial(
        TdmRepEvidence,
        url=document.url,
        source=described,
        sha256=document.sha256,
        record_id=document.record_id,
    )
    if document.incomplete is not None:
        return of_document(file=None, error=f"tdmrep.json was not read whole ({document.incomplete})")
    if not document.succeeded:
        return of_document(file=None, problem="no tdmrep.json")
    declared = ((declared_charset(document.content_type), "as its Content-Type declares"),)
    texts = decodings(document.body, declared=declared, strict=True)
    if not texts:
        return of_document(file=None, error="tdmrep.json is in no text encoding it could be in")
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
            parsed.append(of_document(file=tdm, source=f"{described}{how}"))
    except ValueError as exc:
        return of_document(file=None, error=f"tdmrep.json could not be read: {exc}")
    # Rules found object by object, in every reading (a stray byte that breaks the strict decoding
    # breaks nothing here): for a file that is not JSON, and for one whose JSON a parser reads
    # otherwise (a repeated key, rules nested in another array or object).
    known = {_rules_of(e.file) for e in parsed}
    salvaged: list[TdmRepEvidence] = []
    for decoded in decodings(document.body, declared=declared):
        found = salvage(decoded.text)
        if found is not None and _rules_of(found) not in known:
            known.add(_rules_of(found))
            note = "rules read object by object" if parsed else "rules found in a file that is not valid JSON"
            salvaged.append(of_document(file=found, salvaged=True, source=f"{described}; {note}"))
    if not parsed:
        return of_document(file=None, problem=problem, variants=tuple(salvaged))
    return replace(parsed[0], variants=(*parsed[1:], *salvaged))


def _rules_of(file: TdmRepFile | None) -> tuple[tuple[str, int | None], ...]:
    return tuple((rule.location.pattern, rule.reservation) for rule in file.rules) if file else ()


MAX_DEPTH = 64  # objects nested deeper are no rules

# Tokens of a JSON-like text: an escape, a structural character, or a run of anything else.
# Every token consumes input and nothing backtracks, whatever the text.
_JSON_TOKEN = re.compile(r'\\.|["{}:,\[\]]|[^\\"{}:,\[\]]+', re.DOTALL)


def _salvage_value(raw: str) -> int | None:
    try:
        return reservation_value(json.loads(raw))
    except ValueError:
        return reservation_value(raw)


def salvage(text: str) -> TdmRepFile | None:
    """The rules found object by object in a tdmrep.json-like text, or None if there are none.

    For the conservative reading ``tdmrep_salvage``. Any object with a
    ``location`` is a rule, at any depth (``[[{...}]]``, a wrapper object),
    whatever surrounds it (comments, trailing commas, a stray byte), in the
    order objects open. A key given twice reserves if any of its values is 1
    (JSON parsers disagree on which one counts). Linear in the text.
    """
    stack: list[tuple[int, dict[str, list[str]]]] = []
    objects: list[tuple[int, dict[str, list[str]]]] = []
    too_deep = 0  # objects opened past MAX_DEPTH: not rules, only counted to match their '}'

    in_string = False
    pieces: list[str] = []
    key: str | None = None  # a key whose ':' was read: the next value is its
    last: str | None = None  # the last string read outside a value: a key if ':' follows
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if in_string:
            if token == '"':
                in_string, value = False, "".join(pieces)
                if key is not None and stack:
                    stack[-1][1].setdefault(key, []).append(json.dumps(_unescape(value)))
                    key = None
                else:
                    last = _unescape(value)
            else:
                pieces.append(token)
        elif token == '"':
            in_string, pieces = True, []
        elif token == "{":
            if len(stack) < MAX_DEPTH:
                stack.append((match.start(), {}))
            else:
                too_deep += 1
            key = last = None
        elif token == "}":
            if too_deep:
                too_deep -= 1
            elif stack:
                opened = stack.pop()
                if "location" in opened[1]:
                    objects.append(opened)
            key = last = None
        elif token == ":":
            key, last = last, None
        elif token in ",[]":
            key = last = None
        elif key is not None and token.strip() and stack:
            stack[-1][1].setdefault(key, []).append(token.strip())
            key = None
    objects += [opened for opened in stack if "location" in opened[1]]  # left open by a cut file
    rules: list[TdmRule] = []
    for index, (_, keys) in enumerate(sorted(objects, key=lambda item: item[0])):
        locations = [json.loads(v) for v in keys.get("location", []) if v.startswith('"')]
        if not locations or len(rules) >= MAX_RULES:
            continue
        values = {_salvage_value(v) for v in keys.get("tdm-reservation", [])}
        reservation = 1 if 1 in values else (0 if 0 in values else None)
        rules.append(TdmRule(index, PathPattern(locations[0]), reservation, None))
    return TdmRepFile(tuple(rules)) if rules else None


def _unescape(value: str) -> str:
    try:
        text = json.loads(f'"{value}"')
    except ValueError:
        return value
    return text if isinstance(text, str) else value


@dataclass(frozen=True)
class Step:
    """One place's say: value (1, 0 or None for unset), where it came from, the policy URL, what to cite."""

    value: int | None
    where: str
    policy: str | None = None
    cite: Cite = field(default_factory=Cite)
    error: bool = False  # the place could not be read: fail closed


def file_step(evidence: TdmRepEvidence | None, url: str, *, salvage: bool = True) -> Step:
    """The tdmrep.json step for ``url``; ``salvage`` is the conservative reading ``tdmrep_salvage``."""
    if evidence is None:
        return Step(None, "tdmrep.json: not fetched")
    if evidence.salvaged and not salvage:
        return Step(None, f"tdmrep.json ({evidence.source}): not JSON, so not read")
    cite = evidence.cite
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


def value_step(
    values: tuple[str, ...], policies: tuple[str, ...], where: str, *, loose: bool = False
) -> Step | None:
    """A header or meta step (None if no value was given at all).

    One place that says several things (two ``tdm-reservation`` header lines,
    two meta tags, ``1, 0`` in one header as a proxy joins repeated lines) is
    read most-restrictively: any valid ``1`` reserves; otherwise the last
    valid value applies. With ``loose`` (the conservative reading
    ``tdmrep_loose``), a value plainly meant as 1 (``1;``, ``"1"``, ``true``,
    ``yes``) reserves too; TDMRep reads it as a protocol error (unset).
    """
    if not values:
        return None
    given = [part.strip() for value in values for part in value.split(",")] or [""]
    valid = [(text, reservation_value(text)) for text in given if reservation_value(text) is not None]
    cite = Cite(source=where)
    meant = next((text for text in given if loose and _LOOSE_ONE.fullmatch(text) and text != "1"), None)
    if meant is not None and not any(value == 1 for _, value in valid):
        note = "read as 1: a reservation written loosely; conservative reading 'tdmrep_loose'"
        return Step(1, f"{where} {meant!r} ({note})", None, cite)
    if not valid:
        return Step(None, f"{where} {values[-1]!r} is invalid (protocol error: unset)", cite=cite)
    text, value = next((v for v in valid if v[1] == 1), valid[-1])
    said = f"{where} {text!r}" + (f" (of {', '.join(map(repr, values))})" if len(given) > 1 else "")
    return Step(value, said, policies[-1] if policies else None, cite)


def tdmrep_basis(steps: Sequence[Step | None], purpose: Purpose, *, keep_reservation: bool) -> Basis | None:
    """Combine the steps (file, header, meta) into the ``tdmrep`` basis; None for other purposes."""
    if purpose not in PURPOSES:
        return None
    present = [s for s in steps if s is not None]
    failed = next((s for s in present if s.error), None)
    if failed is not None:
        reason = f"TDMRep: {failed.where}; a reservation cannot be ruled out ({purpose.value})"
        return failed.cite.basis("tdmrep", Verdict.DENY, reason)
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
        cite = present[0].cite if present else Cite()
        return cite.basis("tdmrep", Verdict.NONE, reason)
    if final.value == 1:
        policy = f"; licensing policy: {final.policy}" if final.policy else ""
        reason = f"TDMRep {final.where} reserves text and data mining ({purpose.value}){policy}{note}"
        return final.cite.basis("tdmrep", Verdict.DENY, reason, rule=final.where)
    reason = f"TDMRep {final.where}: text and data mining not reserved ({purpose.value})"
    return final.cite.basis("tdmrep", Verdict.ALLOW, reason, rule=final.where)
