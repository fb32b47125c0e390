"""What a signal producer may read about the URL it judges."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from policies.memo import Memo
from policies.readings import Readings
from policies.tos import Unreviewed

if TYPE_CHECKING:
    from policies.evidence import HostEvidence
    from policies.page import Page
    from policies.purpose import Purpose
    from policies.store import PolicyStore


@dataclass(frozen=True, kw_only=True)
class Context:
    """What a signal producer may read."""

    url: str
    purpose: Purpose
    host: HostEvidence
    page: Page | None = None
    token: str = "permitcrawl"
    readings: Readings = field(default_factory=Readings)
    store: PolicyStore | None = None
    unreviewed: Unreviewed = Unreviewed.HOLD
    # Shared by the decisions on one URL for several purposes: a producer whose
    # basis does not depend on the purpose computes it once.
    memo: Memo = field(default_factory=Memo, compare=False)
