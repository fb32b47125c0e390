"""The ``content-usage`` signal: IETF AIPREF usage preferences, in robots.txt and in the response header.

Vocabulary: a Structured Fields Dictionary (RFC 9651) whose keys are labels
and whose values are the Tokens ``y`` and ``n`` (vocab §6, §6.5). Two drafts
can be read (``Readings.aipref_vocab``): draft-ietf-aipref-vocab-08 (the
default), where ``train-ai`` (AI Training, §4.1, now generative models only)
speaks for ai-train, ``ai-use`` (AI Use, §4.2: input to a generative model,
not provided by the user) for ai-input and ``search`` (§4.3) for search, and
Search overrides the other categories; or draft-ietf-aipref-vocab-07, where
only ``train-ai`` (§4.1) and ``search`` (§4.2) exist and nothing speaks for
ai-input. Any other value is "unknown", an unparseable field makes every
preference unknown (uppercase keys included), a repeated key keeps its last
value (§6.5.1), and unknown labels are ignored - except the superseded labels
of earlier drafts set to ``n``, which the conservative reading
``aipref_legacy`` counts as reservations of what they covered.

Attachment (draft-ietf-aipref-attach-05): ``Content-Usage`` rules in robots.txt
groups, each with an optional path; the longest matching path wins and rules
on the same path combine most-restrictively. Statements from robots.txt and
from the header combine most-restrictively too.

The conservative reading ``aipref_any_n`` keeps any ``n`` that parses on its
own (a field line, a comma-separated member, read in any case and with spaces
round ``=`` if it must): ``train-ai=n, Bad=x`` does not parse as a whole,
``Train-AI = n`` not at all, and ``train-ai=n, train-ai=y`` reads as ``y`` by
the spec, but each still says ``n`` in so many words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import http_sf

from policies.decision import Basis, Cite, Verdict
from policies.patterns import PathPattern, RuleIndex
from policies.purpose import Purpose
from policies.robotstxt import Group

if TYPE_CHECKING:
    from policies.robotstxt import Record, RobotsTxt

# The labels of each vocabulary draft we read (vocab-08 and -07 §6.1, "Mappings for Categories").
# Under -08 §4.3 Search "overrides any usage that falls into other categories": a search crawl is
# governed by 'search' alone, never by train-ai or ai-use - which is what mapping each label to one
# purpose gives.
VOCABS: dict[str, dict[str, frozenset[Purpose]]] = {
    "08": {
        "train-ai": frozenset({Purpose.AI_TRAIN}),
        "ai-use": frozenset({Purpose.AI_INPUT}),
        "search": frozenset({Purpose.SEARCH}),
    },
    "07": {
        "train-ai": frozenset({Purpose.AI_TRAIN}),
        "search": frozenset({Purpose.SEARCH}),
    },
}
DEFAULT_VOCAB = "08"
# The labels of the newest draft.
LABELS = VOCABS[DEFAULT_VOCAB]
# Labels of earlier drafts and what they covered (vocab-01 to -04).
LEGACY_LABELS: dict[str, frozenset[Purpose]] = {
    "all": frozenset(Purpose),
    "bots": frozenset(Purpose),
    "tdm": frozenset(Purpose),
    "ai": frozenset({Purpose.AI_TRAIN, Purpose.AI_INPUT}),
    "genai": frozenset({Purpose.AI_TRAIN, Purpose.AI_INPUT}),
    "train-genai": frozenset({Purpose.AI_TRAIN}),
    "inference": frozenset({Purpose.AI_INPUT}),
    "ai-use": frozenset({Purpose.AI_INPUT}),
    "ai-output": frozenset({Purpose.AI_INPUT, Purpose.SEARCH}),
}


def labels_of(vocab: str) -> dict[str, frozenset[Purpose]]:
    """The current labels of vocabulary draft ``vocab`` ("08" or "07"); KeyError for any other."""
    return VOCABS[vocab]


def legacy_of(vocab: str) -> dict[str, frozenset[Purpose]]:
    """The superseded labels under ``vocab``: ``ai-use`` is one under -07, a current label under -08."""
    current = VOCABS[vocab]
    return {label: covered for label, covered in LEGACY_LABELS.items() if label not in current}


SEPARATORS = frozenset({"allow", "disallow", "content-usage"})


@dataclass(frozen=True)
class Preferences:
    """One parsed statement of preference: per purpose, True (allowed), False (disallowed); absent: unknown.

    ``error`` is set when the field did not parse (every preference unknown).
    ``legacy`` lists superseded labels set to ``n`` and the purposes they covered.
    ``reserved`` lists, per purpose, a member that says ``n`` for it when read
    on its own (``train-ai=n``), for the conservative reading ``aipref_any_n``:
    it keeps a reservation that the spec's reading loses to an unparsable
    neighbour or a later ``y``.
    """

    text: str
    allowed: dict[Purpose, bool]
    legacy: dict[str, frozenset[Purpose]]
    error: str | None = None
    reserved: dict[Purpose, str] = field(default_factory=dict)
    reserved_legacy: dict[str, frozenset[Purpose]] = field(default_factory=dict)
    vocab: str = DEFAULT_VOCAB

    def verdict(self, purpose: Purpose, *, legacy: bool, any_n: bool = False) -> tuple[Verdict, str]:
        """The verdict for ``purpose`` and the label (or member) that gave it."""
        value = self.allowed.get(purpose)
        if value is False:
            return Verdict.DENY, _label_for(purpose, self.vocab)
        if legacy:
            for label, covered in self.legacy.items():
                if purpose in covered:
                    return Verdict.DENY, label
        if any_n and purpose in self.reserved:
            return Verdict.DENY, self.reserved[purpose]
        if any_n and legacy:
            for member, covered in self.reserved_legacy.items():
                if purpose in covered:
                    return Verdict.DENY, member
        if value is True:
            return Verdict.ALLOW, _label_for(purpose, self.vocab)
        return Verdict.NONE, ""


ANY_N_NOTE = "read on its own; conservative reading 'aipref_any_n'"


def _label_for(purpose: Purpose, vocab: str) -> str:
    return next(label for label, purposes in VOCABS[vocab].items() if purpose in purposes)


def members(text: str) -> list[str]:
    """The members of a Structured Fields dictionary, split at commas outside strings (never raises)."""
    found, start, in_string, escaped = [], 0, False, False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == ",":
            found.append(text[start:index].strip())
            start = index + 1
    found.append(text[start:].strip())
    return [member for member in found if member]


_LENIENT_EQUALS = re.compile(r"\s*=\s*")
MEANS_N = frozenset({"n", "no"})


def _dictionary(text: str) -> dict[str, object]:
    """``text`` as a Structured Fields Dictionary: each key's value, parameters left aside.

    Raises (http_sf's errors) if ``text`` is not one.
    """
    parsed = http_sf.parse(text.encode("utf-8"), tltype="dictionary")
    if not isinstance(parsed, dict):  # asked for a dictionary, the parser gives one or raises
        raise ValueError(f"{text!r} did not parse as a dictionary")
    # Each member is (value, parameters); the parameters carry no preference.
    return {key: member[0] if isinstance(member, tuple) else member for key, member in parsed.items()}


def _reserved(parts: list[str], vocab: str) -> tuple[dict[Purpose, str], dict[str, frozenset[Purpose]]]:
    """The purposes each member reserves when read on its own: by current labels, by superseded ones."""
    labels, superseded = VOCABS[vocab], legacy_of(vocab)
    reserved: dict[Purpose, str] = {}
    legacy: dict[str, frozenset[Purpose]] = {}
    for member in parts:
        try:
            parsed = _dictionary(member)
        except Exception:
            # Read as its author meant it: any case, spaces round '=', a stray ';' ('Train-AI = n;').
            lenient = _LENIENT_EQUALS.sub("=", member.strip().lower()).rstrip("; \t")
            try:
                parsed = _dictionary(lenient)
            except Exception:
                continue
        for label, value in parsed.items():
            # 'n' as the spec writes it, and as authors also write it: "n", no, N (lower-cased above).
            if isinstance(value, (str, http_sf.Token)) and str(value).lower() in MEANS_N:
                for purpose in labels.get(label, ()):
                    reserved.setdefault(purpose, member)
                if label in superseded:
                    legacy.setdefault(member, superseded[label])
    return reserved, legacy


def parse_preferences(text: str, lines: tuple[str, ...] = (), vocab: str = DEFAULT_VOCAB) -> Preferences:
    """Parse a usage preference (header value or robots.txt rule value) by draft ``vocab``; never raises.

    ``lines`` are the field lines ``text`` joins, if several: for ``reserved``,
    each is split into members on its own, so that a stray quote on one line
    cannot swallow the next.
    """
    parts = [member for line in lines or (text,) for member in members(line)]
    try:
        parsed = _dictionary(text)
    except Exception as exc:
        error = f"not a Structured Fields dictionary ({exc})"
        reserved, reserved_legacy = _reserved(parts, vocab)
        return Preferences(
            text, {}, {}, error=error, reserved=reserved, reserved_legacy=reserved_legacy, vocab=vocab
        )
    allowed: dict[Purpose, bool] = {}
    legacy: dict[str, frozenset[Purpose]] = {}
    labels, superseded = VOCABS[vocab], legacy_of(vocab)
    for label, value in parsed.items():
        if not isinstance(value, http_sf.Token) or value not in ("y", "n"):
            continue  # a String, Boolean or other Token is "unknown" (vocab §6.5), not an error
        if label in labels:
            for purpose in labels[label]:
                allowed[purpose] = value == "y"
        elif label in superseded and value == "n":
            legacy[label] = superseded[label]
    # A repeated key keeps its last value (vocab §6.5.1), and 'N', "n" or no are "unknown": each
    # member is read on its own too, for the 'aipref_any_n' reading.
    reserved, reserved_legacy = _reserved(parts, vocab)
    return Preferences(text, allowed, legacy, reserved=reserved, reserved_legacy=reserved_legacy, vocab=vocab)


@dataclass(frozen=True)
class UsageRule:
    """One ``Content-Usage`` line of robots.txt."""

    record: Record
    path: PathPattern | None
    preferences: Preferences

    @classmethod
    def of(cls, record: Record, vocab: str = DEFAULT_VOCAB) -> UsageRule:
        value = record.value
        path = None
        if value.startswith("/"):
            # attach §3.2: the path ends at the first space or tab; the rest is the preference.
            head, _, rest = value.replace("\t", " ").partition(" ")
            path, value = PathPattern(head), rest.strip()
        return cls(record, path, parse_preferences(value, vocab=vocab))

    def describe(self) -> str:
        return f"'Content-Usage: {self.record.value}' (line {self.record.line})"


@dataclass(frozen=True)
class GroupRules:
    """The Content-Usage rules of one group, indexed by path (a rule without a path matches everything)."""

    group: Group
    rules: tuple[UsageRule, ...]
    index: RuleIndex[UsageRule] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        entries = ((rule.path.pattern if rule.path else "", rule) for rule in self.rules)
        object.__setattr__(self, "index", RuleIndex(entries, lambda length, _rule: length))

    def applicable(self, url: str) -> list[UsageRule]:
        """The rules with the longest path matching ``url``, in file order."""
        return sorted(self.index.best(url), key=lambda rule: rule.record.line)


def group_rules(
    robots: RobotsTxt, token: str, *, wildcard: bool, vocab: str = DEFAULT_VOCAB
) -> list[GroupRules]:
    """The Content-Usage rules that apply to ``token``, by group, read by draft ``vocab``.

    Our group(s) if any name us, else the ``*`` groups; with ``wildcard`` the
    ``*`` groups count as well when ours exist. Computed once per file.
    """
    key = ("content-usage", token, wildcard, vocab)
    return robots.derived.get(key, lambda: _group_rules(robots, token, wildcard=wildcard, vocab=vocab))


def _group_rules(robots: RobotsTxt, token: str, *, wildcard: bool, vocab: str) -> list[GroupRules]:
    selection = robots.select(token, SEPARATORS)
    groups = list(selection.groups)
    if wildcard and selection.matched not in ("*", None):
        groups += [g for g in robots.groups(SEPARATORS) if g.names("*") and g not in groups]
    found = []
    for group in groups:
        rules = tuple(UsageRule.of(r, vocab) for r in group.records if r.field == "content-usage")
        if rules:
            found.append(GroupRules(group, rules))
    return found


def applicable(rules: list[UsageRule], url: str) -> list[UsageRule]:
    """The rules with the longest path matching ``url`` (a rule without a path matches with length 0)."""
    return GroupRules(Group((), ()), tuple(rules)).applicable(url)


LEGACY_NOTE = " (a superseded label; conservative reading 'aipref_legacy')"


def _draft_note(vocab: str) -> str:
    """The draft a current label was read by, in a reason: said from vocab-08 on.

    Under vocab-07 nothing is added, so that the reasons of crawls judged
    before -08 was read are re-derived word for word (audit compares them).
    """
    return "" if vocab == "07" else f" (vocab-{vocab})"


def _note(label: str, vocab: str) -> str:
    """What the reason adds about the label (or member) that gave a verdict."""
    if label in legacy_of(vocab):
        return LEGACY_NOTE
    if label and label not in VOCABS[vocab]:
        return f" (the member {label!r} {ANY_N_NOTE})"
    return _draft_note(vocab) if label else ""


def _where(rule: UsageRule, group: Group, label: str) -> str:
    return f"{rule.describe()} in {group.describe()}{_note(label, rule.preferences.vocab)}"


def robots_usage_basis(
    robots: RobotsTxt,
    token: str,
    url: str,
    purpose: Purpose,
    *,
    wildcard: bool,
    legacy: bool,
    any_n: bool = False,
    cite: Cite,
    vocab: str = DEFAULT_VOCAB,
) -> Basis:
    """The ``content-usage`` basis of the robots.txt rules for ``url``: the most restrictive applies.

    Rules on the same longest path combine most-restrictively (attach-05 §3.1,
    vocab §5.1: any disallow wins, then any allow, else unknown).
    """
    verdicts: list[tuple[Verdict, str]] = []
    malformed = []
    for group_rules_ in group_rules(robots, token, wildcard=wildcard, vocab=vocab):
        for rule in group_rules_.applicable(url):
            verdict, label = rule.preferences.verdict(purpose, legacy=legacy, any_n=any_n)
            if rule.preferences.error and verdict is Verdict.NONE:
                malformed.append(f"{rule.describe()} {rule.preferences.error}")
                continue
            verdicts.append((verdict, _where(rule, group_rules_.group, label)))
    for wanted in (Verdict.DENY, Verdict.ALLOW):
        hits = [where for verdict, where in verdicts if verdict is wanted]
        if hits:
            word = "reserves" if wanted is Verdict.DENY else "grants"
            reason = f"robots.txt {hits[0]} {word} {purpose.value}"
            return cite.basis("content-usage", wanted, reason, rule=hits[0])
    if malformed:
        reason = f"robots.txt {malformed[0]}: preferences unknown"
    elif verdicts:
        reason = f"robots.txt Content-Usage says nothing about {purpose.value} ({verdicts[0][1]})"
    else:
        reason = "robots.txt has no Content-Usage rule for this URL"
    return cite.basis("content-usage", Verdict.NONE, reason)


def header_usage_basis(
    values: tuple[str, ...],
    purpose: Purpose,
    *,
    legacy: bool,
    any_n: bool = False,
    vocab: str = DEFAULT_VOCAB,
) -> Basis | None:
    """The ``content-usage`` basis from the response's Content-Usage field lines, or None if absent.

    Field lines are joined with ", " before parsing, so a later line's key
    overrides an earlier one's (vocab §6.5.1: the last value applies); with
    ``any_n``, an ``n`` that parses on its own (one line, one member) still reserves.
    """
    if not values:
        return None
    text = ", ".join(values)
    preferences = parse_preferences(text, values, vocab)
    source = "response header Content-Usage"
    verdict, label = preferences.verdict(purpose, legacy=legacy, any_n=any_n)
    if preferences.error and verdict is Verdict.NONE:
        reason = f"Content-Usage header {text!r} is {preferences.error}: preferences unknown"
        return Basis(signal="content-usage", verdict=Verdict.NONE, reason=reason, source=source)
    if verdict is Verdict.NONE:
        reason = f"Content-Usage header {text!r} says nothing about {purpose.value}"
    else:
        word = "reserves" if verdict is Verdict.DENY else "grants"
        if label in legacy_of(vocab):
            note = LEGACY_NOTE
        elif label not in VOCABS[vocab]:
            note = f" ({ANY_N_NOTE})"
        else:
            note = _draft_note(vocab)
        reason = f"Content-Usage header {text!r} {word} {purpose.value} ({label}){note}"
    return Basis(signal="content-usage", verdict=verdict, reason=reason, source=source, rule=text)
