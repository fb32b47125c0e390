"""The decision engine: every signal producer, run for one URL, combined into one Decision.

Each signal is a producer: a function from a :class:`Context` to zero or more
:class:`~policies.decision.Basis`. Pre-fetch producers read the host's
evidence; post-fetch producers also read the response. A producer that raises
yields a ``deny`` basis naming the error: nothing is ever allowed on error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from policies.decision import Basis, Decision, DefaultPolicy, Stage, Verdict, combine
from policies.purpose import Purpose
from policies.robots import robots_basis

if TYPE_CHECKING:
    from datetime import datetime

    from policies.evidence import HostEvidence


@dataclass(frozen=True, kw_only=True)
class Page:
    """A fetched response, as the post-fetch signals read it.

    ``headers`` maps lower-case names to every value received, in order;
    ``body`` is the decoded body (content-coding removed).
    """

    url: str
    status: int
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> tuple[str, ...]:
        """Every value of header ``name`` (any case), in the order received."""
        return tuple(self.headers.get(name.lower(), ()))


@dataclass(frozen=True, kw_only=True)
class Context:
    """What a signal producer may read."""

    url: str
    purpose: Purpose
    host: HostEvidence
    page: Page | None = None
    # Shared by the decisions on one URL for several purposes: a producer whose
    # basis does not depend on the purpose computes it once.
    memo: dict[str, Any] = field(default_factory=dict, compare=False)


Producer = Callable[[Context], Basis | Iterable[Basis] | None]


def _robots(ctx: Context) -> Basis:
    if "robots" not in ctx.memo:
        ctx.memo["robots"] = robots_basis(ctx.host.robots, ctx.url)
    return ctx.memo["robots"]


# (signal id, producer) in evaluation order.
PRE_FETCH: tuple[tuple[str, Producer], ...] = (("robots", _robots),)
POST_FETCH: tuple[tuple[str, Producer], ...] = ()


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
) -> Decision:
    """Return the Decision for ``url`` under the host's evidence (and the page, once fetched).

    Without ``page`` this is the pre-fetch decision; with it, the post-fetch
    one, which repeats the pre-fetch signals (the evidence may have been
    refreshed) and adds those read from the response.
    """
    check_url(url)
    return _decide(Context(url=url, purpose=purpose, host=host, page=page), default_policy, now)


def decide_all(
    url: str,
    *,
    purposes: tuple[Purpose, ...] = tuple(Purpose),
    host: HostEvidence,
    default_policy: DefaultPolicy,
    now: datetime,
    page: Page | None = None,
) -> dict[Purpose, Decision]:
    """Return :func:`decide`'s answer for each purpose, sharing the work that does not depend on it."""
    check_url(url)
    memo: dict[str, Any] = {}
    return {
        purpose: _decide(
            Context(url=url, purpose=purpose, host=host, page=page, memo=memo), default_policy, now
        )
        for purpose in purposes
    }


def _decide(ctx: Context, default_policy: DefaultPolicy, now: datetime) -> Decision:
    producers = PRE_FETCH if ctx.page is None else PRE_FETCH + POST_FETCH
    bases: list[Basis] = []
    for signal, producer in producers:
        bases.extend(_run(signal, producer, ctx))
    return combine(
        bases,
        url=ctx.url,
        purpose=ctx.purpose,
        default_policy=default_policy,
        decided_at=now,
        stage=Stage.PRE_FETCH if ctx.page is None else Stage.POST_FETCH,
    )
