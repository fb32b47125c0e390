"""What the crawler knows about one host before judging its pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from policies.aitxt import AiTxtEvidence
    from policies.robots import RobotsEvidence
    from policies.rsl import FoundLicence
    from policies.tdmrep import TdmRepEvidence
    from policies.terms import TermsEvidence


@dataclass(frozen=True, kw_only=True)
class HostEvidence:
    """The evidence gathered for one origin (scheme, host, port), valid until ``expires_at``.

    ``tdmrep`` and ``aitxt`` are None when they were not fetched (robots.txt
    unreachable: nothing on the host is crawled anyway); ``licences`` are the
    RSL documents robots.txt names for us; ``terms`` the host's terms page
    (None when no policy store is in use).
    """

    origin: str
    robots: RobotsEvidence
    fetched_at: datetime
    expires_at: datetime
    tdmrep: TdmRepEvidence | None = None
    aitxt: AiTxtEvidence | None = None
    licences: tuple[FoundLicence, ...] = ()
    terms: TermsEvidence | None = None

    def is_fresh(self, now: datetime) -> bool:
        """Return True while the evidence may still be used (RFC 9309 §2.4: 24 h at most)."""
        return now < self.expires_at
