"""What the crawler knows about one host before judging its pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from policies.robots import RobotsEvidence


@dataclass(frozen=True, kw_only=True)
class HostEvidence:
    """The evidence gathered for one origin (scheme, host, port), valid until ``expires_at``."""

    origin: str
    robots: RobotsEvidence
    fetched_at: datetime
    expires_at: datetime

    def is_fresh(self, now: datetime) -> bool:
        """Return True while the evidence may still be used (RFC 9309 §2.4: 24 h at most)."""
        return now < self.expires_at
