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

from dataclasses import dataclass
from typing import TYPE_CHECKING

from policies.decision import Basis, Verdict
from policies.patterns import PathPattern, path_of
from policies.purpose import Purpose
from policies.robotstxt import PARSE_LIMIT, Record, RobotsTxt, decode, truncate

if TYPE_CHECKING:
    from policies.document import Document


@dataclass(frozen=True)
class AiTxt:
    """A parsed ai.txt in Spawning's format."""

    robots: RobotsTxt

    @classmethod
    def parse(cls, text: str) -> AiTxt | None:
        """Parse ``text``; None if it is not in Spawning's robots-like format."""
        robots = RobotsTxt.parse(text)
        fields = {r.field for r in robots.records}
        if "user-agent" not in fields or not fields & {"allow", "disallow"}:
            return None
        return cls(robots)

    def rules_for(self, token: str) -> list[tuple[Record, PathPattern]]:
        """The Allow/Disallow rules of the group that applies to ``token`` (ours, else ``*``)."""
        selection = self.robots.select(token)
        rules = []
        for record in selection.records("allow", "disallow"):
            if not record.value:
                continue
            pattern = record.value if record.value.startswith(("/", "*")) else "*" + record.value
            rules.append((record, PathPattern(pattern)))
        return rules

    def decide(self, token: str, url: str) -> tuple[Verdict, str | None]:
        """The verdict of the longest matching rule (Allow wins a tie), and that rule."""
        best: tuple[tuple[int, bool], Record] | None = None
        for record, pattern in self.rules_for(token):
            if pattern.matches(url):
                key = (pattern.length, record.field == "allow")
                if best is None or key > best[0]:
                    best = (key, record)
        if best is None:
            return Verdict.NONE, None
        record = best[1]
        rule = f"'{'Allow' if record.field == 'allow' else 'Disallow'}: {record.value}' (line {record.line})"
        return (Verdict.ALLOW if record.field == "allow" else Verdict.DENY), rule


@dataclass(frozen=True, kw_only=True)
class AiTxtEvidence:
    """What the host's /ai.txt said: ``file`` is None when there is none in Spawning's format."""

    url: str
    source: str
    sha256: str | None
    record_id: str | None
    file: AiTxt | None
    problem: str | None = None


def aitxt_evidence(document: Document, parse_limit: int = PARSE_LIMIT) -> AiTxtEvidence:
    """Read a fetched /ai.txt; anything but a 2xx file in the right format says nothing."""
    common = {
        "url": document.url,
        "source": document.describe(),
        "sha256": document.sha256,
        "record_id": document.record_id,
    }
    if document.error is not None or document.status is None or not 200 <= document.status < 300:
        return AiTxtEvidence(file=None, problem="no ai.txt", **common)
    body, _ = truncate(document.body, parse_limit)
    parsed = AiTxt.parse(decode(body))
    if parsed is None:
        return AiTxtEvidence(
            file=None, problem="not in Spawning's User-Agent/Allow/Disallow format", **common
        )
    return AiTxtEvidence(file=parsed, **common)


def aitxt_basis(evidence: AiTxtEvidence | None, token: str, url: str, purpose: Purpose) -> Basis | None:
    """The ``ai-txt`` basis for ``url`` (None unless the purpose is ai-train)."""
    if purpose is not Purpose.AI_TRAIN or evidence is None:
        return None
    cite = {"source": evidence.source, "sha256": evidence.sha256, "record_id": evidence.record_id}
    if evidence.file is None:
        return Basis(signal="ai-txt", verdict=Verdict.NONE, reason=f"ai.txt: {evidence.problem}", **cite)
    verdict, rule = evidence.file.decide(token, url)
    path = path_of(url)
    if verdict is Verdict.NONE:
        reason = f"ai.txt has no rule for {path}"
    elif verdict is Verdict.DENY:
        reason = f"ai.txt {rule} reserves {path} from AI training"
    else:
        reason = f"ai.txt {rule} permits {path} for AI training"
    return Basis(signal="ai-txt", verdict=verdict, reason=reason, rule=rule, **cite)
