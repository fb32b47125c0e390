"""The ``ai-txt`` signal: Spawning's ``/ai.txt``, robots.txt-like permissions for AI training.

No formal grammar is published. The file is read like robots.txt: User-Agent
groups (ours, else ``*``), Allow and Disallow rules, longest pattern wins and
Allow wins a tie. Patterns often are file-extension globs that do not start
with ``/`` (``Disallow: *.jpg``); a pattern that starts with neither ``/`` nor
``*`` is read as if it started with ``*``, so it matches anywhere in the path.
A matching Disallow reserves ai-train, a matching Allow grants it. A file with
no User-Agent line or no Allow/Disallow line is not in this format (another
"ai.txt" convention) and says nothing; so does a missing or unreadable file.
ai.txt speaks for training only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING

from policies.decision import Basis, Cite, Verdict
from policies.patterns import RuleIndex, path_of
from policies.purpose import Purpose
from policies.robotstxt import MAX_RECORDS, MAX_WILD_PATTERNS, PARSE_LIMIT, Record, RobotsTxt, readings

if TYPE_CHECKING:
    from policies.document import Document


@dataclass(frozen=True, slots=True)
class AiTxt:
    """A parsed ai.txt in Spawning's format."""

    robots: RobotsTxt
    derived: dict[str, RuleIndex[Record]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> AiTxt | None:
        """Parse ``text``; None if it is not in Spawning's robots-like format."""
        robots = RobotsTxt.parse(text)
        fields = {r.field for r in robots.records}
        if "user-agent" not in fields or not fields & {"allow", "disallow"}:
            return None
        return cls(robots)

    def rules_for(self, token: str) -> RuleIndex[Record]:
        """The Allow/Disallow rules of the group that applies to ``token`` (ours, else ``*``), indexed."""
        if token not in self.derived:
            entries = []
            for record in self.robots.select(token).records("allow", "disallow"):
                if record.value:
                    relative = not record.value.startswith(("/", "*"))
                    entries.append(("*" + record.value if relative else record.value, record))
            self.derived[token] = RuleIndex(entries, lambda length, r: 2 * length + (r.field == "allow"))
        return self.derived[token]

    def decide(self, token: str, url: str) -> tuple[Verdict, str | None]:
        """The verdict of the longest matching rule (Allow wins a tie), and that rule."""
        found = self.rules_for(token).best(url)
        if not found:
            return Verdict.NONE, None
        allows = [r for r in found if r.field == "allow"]
        record = min(allows or found, key=lambda r: r.line)
        rule = f"'{'Allow' if record.field == 'allow' else 'Disallow'}: {record.value}' (line {record.line})"
        return (Verdict.ALLOW if record.field == "allow" else Verdict.DENY), rule


@dataclass(frozen=True, kw_only=True, slots=True)
class AiTxtEvidence:
    """What the host's /ai.txt said: ``file`` is None when there is none in Spawning's format.

    ``error`` is set when there is a file but it could not be read (not read
    whole, too many wildcard patterns): the ``ai-txt`` signal then denies.
    ``variants`` are its other plausible readings (another decoding, the
    whole file past the parse limit).
    """

    url: str
    source: str
    sha256: str | None
    record_id: str | None
    file: AiTxt | None
    problem: str | None = None
    error: str | None = None
    variants: tuple[AiTxtEvidence, ...] = ()

    @property
    def cite(self) -> Cite:
        """This file, as the bases read from it cite it."""
        return Cite(source=self.source, sha256=self.sha256, record_id=self.record_id)


def aitxt_evidence(document: Document, parse_limit: int = PARSE_LIMIT) -> AiTxtEvidence:
    """Read a fetched /ai.txt; never raises.

    No file, or one not in Spawning's format, says nothing; a file that could
    not be read is an error (deny).
    """
    described = document.describe()
    of_document = partial(
        AiTxtEvidence,
        url=document.url,
        source=described,
        sha256=document.sha256,
        record_id=document.record_id,
    )
    if document.incomplete is not None:
        return of_document(file=None, error=f"ai.txt was not read whole ({document.incomplete})")
    if not document.succeeded:
        return of_document(file=None, problem="no ai.txt")
    found: list[AiTxtEvidence] = []
    try:
        records = 0
        for reading in readings(document, parse_limit):
            parsed = AiTxt.parse(reading.text)
            records += len(parsed.robots.records) if parsed is not None else 0
            if records > MAX_RECORDS:
                raise ValueError(f"its readings hold more than the {MAX_RECORDS} records kept for a file")
            if parsed is not None and parsed.robots.wild_patterns > MAX_WILD_PATTERNS:
                raise ValueError(
                    f"it has {parsed.robots.wild_patterns} patterns with '*' or '$', more than the "
                    f"{MAX_WILD_PATTERNS} this crawler evaluates"
                )
            source = described + (f"; {reading.how}" if reading.how else "")
            if parsed is not None:
                found.append(of_document(file=parsed, source=source))
    except Exception as exc:  # fail closed
        return of_document(file=None, error=f"ai.txt could not be read: {exc}")
    if not found:
        return of_document(file=None, problem="not in Spawning's User-Agent/Allow/Disallow format")
    return replace(found[0], variants=tuple(found[1:]))


def aitxt_basis(evidence: AiTxtEvidence | None, token: str, url: str, purpose: Purpose) -> Basis | None:
    """The ``ai-txt`` basis for ``url`` (None unless the purpose is ai-train)."""
    if purpose is not Purpose.AI_TRAIN or evidence is None:
        return None
    cite = evidence.cite
    if evidence.error is not None:
        reason = f"{evidence.error}; a reservation cannot be ruled out"
        return cite.basis("ai-txt", Verdict.DENY, reason)
    if evidence.file is None:
        return cite.basis("ai-txt", Verdict.NONE, f"ai.txt: {evidence.problem}")
    verdict, rule = evidence.file.decide(token, url)
    path = path_of(url)
    if verdict is Verdict.NONE:
        reason = f"ai.txt has no rule for {path}"
    elif verdict is Verdict.DENY:
        reason = f"ai.txt {rule} reserves {path} from AI training"
    else:
        reason = f"ai.txt {rule} permits {path} for AI training"
    return cite.basis("ai-txt", verdict, reason, rule=rule)
