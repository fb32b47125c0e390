"""A ToS rule: one reviewed verdict on a domain's terms, as the policy store holds it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from datetime import date
from typing import TYPE_CHECKING, Any

from policies.patterns import normalize
from policies.purpose import Purpose
from policies.urls import canonical_host, host_covers
from policies.vocabulary import merged_label

if TYPE_CHECKING:
    from collections.abc import Mapping

REQUIRED = ("ai_scraping", "license", "compete", "quote", "tos_url", "reviewer", "reviewed", "review_by")
OPTIONAL = ("scope", "path", "allow", "deny", "tos_sha256", "agreement", "note", "edited", "edited_by")
RULE_KEYS = REQUIRED + OPTIONAL
# Fields added after rules were first recorded: left out of a rule's content while unset, so
# that a rule written before they existed keeps its version (crawls cite rules by version).
LATER_KEYS = ("edited", "edited_by")


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One reviewed verdict on a domain's terms; ``file`` and ``line`` say where it is written."""

    domain: str
    scope: str
    path: str = "/"
    ai_scraping: str
    license: str
    compete: str
    allow: tuple[Purpose, ...] = ()
    deny: tuple[Purpose, ...] = ()
    quote: tuple[str, ...]
    tos_url: str
    tos_sha256: str | None = None
    reviewer: str
    reviewed: date
    review_by: date
    agreement: str | None = None
    note: str | None = None
    edited: date | None = None
    edited_by: str | None = None
    file: str = field(default="", compare=False)
    line: int = field(default=0, compare=False)

    @classmethod
    def from_content(cls, data: Mapping[str, Any], *, file: str = "", line: int = 0) -> Rule:
        """The rule :meth:`content` gave (as a crawl recorded it), written at ``file:line``."""
        edited = data.get("edited")
        return cls(
            domain=data["domain"],
            scope=data["scope"],
            path=data["path"],
            ai_scraping=data["ai_scraping"],
            license=data["license"],
            compete=data["compete"],
            allow=tuple(Purpose(p) for p in data["allow"]),
            deny=tuple(Purpose(p) for p in data["deny"]),
            quote=tuple(data["quote"]),
            tos_url=data["tos_url"],
            tos_sha256=data.get("tos_sha256"),
            reviewer=data["reviewer"],
            reviewed=date.fromisoformat(data["reviewed"]),
            review_by=date.fromisoformat(data["review_by"]),
            agreement=data.get("agreement"),
            note=data.get("note"),
            edited=date.fromisoformat(edited) if edited else None,
            edited_by=data.get("edited_by"),
            file=file,
            line=line,
        )

    def content(self) -> dict[str, Any]:
        """The rule as data, without where it is written: what its version digests."""
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("file", "line") or (f.name in LATER_KEYS and value is None):
                continue
            if isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = [str(v) for v in value]
            data[f.name] = value
        return data

    @property
    def version(self) -> str:
        """A digest of the rule's content: any edit gives a new version."""
        return hashlib.sha256(json.dumps(self.content(), sort_keys=True).encode()).hexdigest()[:16]

    @property
    def merged(self) -> str:
        """The DPI merged label of the three axes."""
        return merged_label(self.ai_scraping, self.license, self.compete)

    @property
    def where(self) -> str:
        """``file:line`` of the rule, as errors and bases cite it."""
        return f"{self.file}:{self.line}"

    def specificity(self, host: str, path: str) -> tuple[int, int] | None:
        """(scope labels, path length) when the rule covers ``host`` and ``path``, else None.

        Both are compared canonically: ``WWW.Example.org.`` is ``www.example.org``,
        ``/%62log`` is ``/blog``.
        """
        if not host_covers(canonical_host(self.scope), canonical_host(host)):
            return None
        if not normalize(path).startswith(normalize(self.path)):
            return None
        return (self.scope.count(".") + 1, len(self.path))

    def is_due(self, today: date) -> bool:
        """True once the review-by date has come."""
        return today >= self.review_by
