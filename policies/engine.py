"""The decision engine: every signal producer, run for one URL, combined into one Decision.

Each signal is a producer (:mod:`policies.producers`): a function from a
:class:`Context` to zero or more :class:`~policies.decision.Basis`. Before
fetching, producers read the host's evidence; after fetching, the response
too. A producer that raises yields a ``deny`` basis naming the error: nothing
is ever allowed on error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from policies.decision import Basis, Decision, DefaultPolicy, Stage, Verdict, combine
from policies.html import HtmlSignals, parse_html
from policies.producers import PRODUCERS, Producer
from policies.purpose import Purpose
from policies.readings import Readings
from policies.tos import Unreviewed

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from policies.evidence import HostEvidence
    from policies.rsl import FoundLicence
    from policies.store import PolicyStore


@dataclass(frozen=True, kw_only=True)
class Page:
    """A fetched response, as the post-fetch signals read it.

    ``headers`` maps lower-case names to every value received, in order;
    ``body`` is the decoded body (content-coding removed). ``html`` may be
    given by a caller that has parsed the page already; otherwise an HTML
    body is parsed when first needed. ``licences`` are the RSL documents the
    page points to, fetched by the caller.
    """

    url: str
    status: int
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    body: bytes = b""
    html: HtmlSignals | None = None
    licences: tuple[FoundLicence, ...] = ()

    def header(self, name: str) -> tuple[str, ...]:
        """Every value of header ``name`` (any case), in the order received."""
        return tuple(self.headers.get(name.lower(), ()))

    @property
    def is_html(self) -> bool:
        """True for an HTML content type, or an untyped body that starts like markup."""
        content_type = ",".join(self.header("content-type")).lower()
        return "html" in content_type or (not content_type and self.body.lstrip()[:1] == b"<")

    @cached_property
    def html_signals(self) -> HtmlSignals:
        """The page's meta tags and licence pointers (none unless it is HTML)."""
        if self.html is not None:
            return self.html
        return parse_html(self.body) if self.is_html else HtmlSignals()


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
    memo: dict[str, Any] = field(default_factory=dict, compare=False)


def _run(signal: str, producer: Producer, ctx: Context) -> list[Basis]:
    try:
        produced = producer(ctx)
        if produced is None:
            return []
        if isinstance(produced, Basis):
            return [produced]
        return list(produced)
    except Exception as exc:  # fail closed: an error while judging denies
        reason = f"{signal} could not be evaluated: {type(exc).__name__}: {exc}"
        return [Basis(signal=signal, verdict=Verdict.DENY, reason=reason)]


def check_url(url: str) -> None:
    """Raise ValueError unless ``url`` is an absolute http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an absolute http(s) URL, got {url!r}")


def decide(
    url: str,
    *,
    purpose: Purpose,
    host: HostEvidence,
    default_policy: DefaultPolicy,
    now: datetime,
    page: Page | None = None,
    token: str = "permitcrawl",
    readings: Readings | None = None,
    store: PolicyStore | None = None,
    unreviewed: Unreviewed = Unreviewed.HOLD,
) -> Decision:
    """Return the Decision for ``url`` under the host's evidence (and the page, once fetched).

    Without ``page`` this is the pre-fetch decision; with it, the post-fetch
    one, which repeats the pre-fetch signals (the evidence may have been
    refreshed) and adds those read from the response. ``token`` is our
    robots.txt product token; ``readings`` the conservative readings in force;
    ``store`` the ToS policy store (None: no review applies) and
    ``unreviewed`` what to do where terms nobody reviewed speak of scraping or AI.
    """
    check_url(url)
    ctx = Context(
        url=url,
        purpose=purpose,
        host=host,
        page=page,
        token=token,
        readings=readings or Readings(),
        store=store,
        unreviewed=unreviewed,
    )
    return _decide(ctx, default_policy, now)


def decide_all(
    url: str,
    *,
    purposes: tuple[Purpose, ...] = tuple(Purpose),
    host: HostEvidence,
    default_policy: DefaultPolicy,
    now: datetime,
    page: Page | None = None,
    token: str = "permitcrawl",
    readings: Readings | None = None,
    store: PolicyStore | None = None,
    unreviewed: Unreviewed = Unreviewed.HOLD,
) -> dict[Purpose, Decision]:
    """Return :func:`decide`'s answer for each purpose, sharing the work that does not depend on it."""
    check_url(url)
    memo: dict[str, Any] = {}
    readings = readings or Readings()
    return {
        purpose: _decide(
            Context(
                url=url,
                purpose=purpose,
                host=host,
                page=page,
                token=token,
                readings=readings,
                store=store,
                unreviewed=unreviewed,
                memo=memo,
            ),
            default_policy,
            now,
        )
        for purpose in purposes
    }


def _decide(ctx: Context, default_policy: DefaultPolicy, now: datetime) -> Decision:
    bases: list[Basis] = []
    for signal, producer in PRODUCERS:
        bases.extend(_run(signal, producer, ctx))
    return combine(
        bases,
        url=ctx.url,
        purpose=ctx.purpose,
        default_policy=default_policy,
        decided_at=now,
        stage=Stage.PRE_FETCH if ctx.page is None else Stage.POST_FETCH,
    )
