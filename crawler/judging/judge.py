"""JudgeConfig: everything besides the evidence that a decision depends on, built once per crawl.

No Scrapy here. A crawl builds one JudgeConfig from its checked settings
(:func:`crawler.judging.config.load_config`), loading the ToS store once; the gate and
the evidence fetcher judge with it, the archive records it in the crawl's
configuration record, and ``audit`` rebuilds it from that record
(:meth:`JudgeConfig.from_record`) to judge again. The engine's keyword
arguments are spread in one place, :meth:`JudgeConfig.decide_all`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from policies.decision import DefaultPolicy, combine
from policies.document import EVIDENCE_MAX_SIZE
from policies.engine import decide_all
from policies.purpose import Purpose
from policies.readings import Readings
from policies.store import store_from_contents
from policies.tos import Unreviewed

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from policies.decision import Basis, Decision, Stage
    from policies.engine import UrlMemos
    from policies.evidence import HostEvidence
    from policies.page import Page
    from policies.rules import Rule
    from policies.store import PolicyStore

# The add-on's page bound (DOWNLOAD_MAXSIZE): a crawl recorded before its bound was reads pages with it.
PAGE_MAX_SIZE = 10 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class JudgeConfig:
    """How a crawl judges: purpose, default policy, robots token, readings, ToS store, and its bounds.

    ``store`` is the loaded ToS policy store (None: no ToS review);
    ``max_crawl_delay``, ``parse_limit`` and ``evidence_max_size`` bound how
    evidence documents are read, ``page_max_size`` how a page is (after
    decompression). Two configurations with the same rules compare equal
    wherever their stores were loaded from.
    """

    purpose: Purpose
    default_policy: DefaultPolicy
    token: str
    readings: Readings
    unreviewed: Unreviewed
    store: PolicyStore | None = field(default=None, compare=False)
    max_crawl_delay: float | None
    parse_limit: int
    evidence_max_size: int = EVIDENCE_MAX_SIZE
    page_max_size: int = PAGE_MAX_SIZE
    rules: tuple[Rule, ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        # The rules in force, as recorded: what equality compares (a store's directory is not a rule).
        object.__setattr__(self, "rules", tuple(self.store.all_rules()) if self.store is not None else ())

    @classmethod
    def from_record(cls, snapshot: Mapping[str, Any]) -> Self:
        """Rebuild the configuration a crawl recorded (its ``urn:permitcrawl:crawl:`` resource record).

        Crawls recorded before a bound existed are read with today's default for it.
        """
        config = snapshot["config"]
        rules = snapshot.get("rules") or []
        return cls(
            purpose=Purpose(config["purpose"]),
            default_policy=DefaultPolicy(config["default_policy"]),
            token=config["robots_token"],
            # A crawl recorded before the vocab-08 reading existed read Content-Usage by vocab-07.
            readings=Readings(**{"aipref_vocab": "07", **config["readings"]}),
            unreviewed=Unreviewed(config.get("unreviewed", "hold")),
            store=store_from_contents(rules) if config.get("store_dir") else None,
            max_crawl_delay=config.get("max_crawl_delay"),
            parse_limit=config["robots_parse_limit"],
            evidence_max_size=config.get("evidence_max_size") or EVIDENCE_MAX_SIZE,
            page_max_size=int((snapshot.get("scrapy") or {}).get("DOWNLOAD_MAXSIZE") or 0) or PAGE_MAX_SIZE,
        )

    def decide_all(
        self,
        url: str,
        *,
        host: HostEvidence,
        now: datetime,
        page: Page | None = None,
        purposes: tuple[Purpose, ...] = tuple(Purpose),
        memos: UrlMemos | None = None,
    ) -> dict[Purpose, Decision]:
        """The decision on ``url`` for each purpose, as :func:`policies.engine.decide_all` takes it.

        ``memos`` keeps the work on ``url`` for the next decision on it (the same decisions, sooner).
        """
        return decide_all(
            url,
            purposes=purposes,
            host=host,
            default_policy=self.default_policy,
            now=now,
            page=page,
            token=self.token,
            readings=self.readings,
            store=self.store,
            unreviewed=self.unreviewed,
            memos=memos,
        )

    def decide(
        self,
        url: str,
        *,
        host: HostEvidence,
        now: datetime,
        page: Page | None = None,
        memos: UrlMemos | None = None,
    ) -> Decision:
        """The decision on ``url`` for the crawl's purpose."""
        return self.decide_all(url, host=host, now=now, page=page, purposes=(self.purpose,), memos=memos)[
            self.purpose
        ]

    def refusal(self, url: str, basis: Basis, *, stage: Stage, now: datetime) -> Decision:
        """A decision for the crawl's purpose resting on ``basis`` alone (an error, a page not read whole)."""
        return combine(
            [basis],
            url=url,
            purpose=self.purpose,
            default_policy=self.default_policy,
            decided_at=now,
            stage=stage,
        )
