"""The signal producers: one function per signal id, from what is known about a URL to its bases.

Each producer reads a :class:`~policies.context.Context` and returns a Basis,
several, or None when its signal is not read for the purpose (or not at this
stage). Before fetching, only the host's evidence is known; after fetching,
the response too, and the producers that have a page-level form (Content-Usage
and Content-Signal headers, TDMRep headers and meta tags, RSL links) add it.

What a producer reads of the host's evidence for the URL (its robots.txt
rules, tdmrep.json rule, ai.txt, licences, ToS rules) is computed once per
URL, host evidence and purpose and kept in ``ctx.memo``, under a key that
names everything else it depends on; the engine shares that memo between
the decisions on one URL (every purpose; before and after fetching, with
:class:`~policies.engine.UrlMemos`). What a producer reads of the page is
read again for each decision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from policies.aiagents import ai_agents_basis
from policies.aipref import header_usage_basis, robots_usage_basis
from policies.aitxt import aitxt_basis
from policies.contentsignal import header_signal_basis, robots_signal_basis
from policies.decision import Basis, Verdict
from policies.html import HTTP_EQUIV
from policies.memo import Same
from policies.payment import payment_basis
from policies.robots import RobotsOutcome, robots_basis
from policies.robotsmeta import directives_basis, parse_header, parse_meta
from policies.rsl import rsl_basis
from policies.tdmrep import Step, file_step, tdmrep_basis, value_step
from policies.tos import tos_basis

if TYPE_CHECKING:
    from policies.context import Context

Producer = Callable[["Context"], Basis | Iterable[Basis] | None]


def robots(ctx: Context) -> Basis:
    """robots.txt access rules (the same for every purpose: computed once per URL)."""
    return ctx.memo.get("robots", lambda: robots_basis(ctx.host.robots, ctx.url))


def payment(ctx: Context) -> Basis | None:
    """What the response says of payment (HTTP 402, crawler-price, crawler-charged, x402); pages only."""
    return payment_basis(ctx.page)


def robots_ai_agents(ctx: Context) -> Basis | None:
    if not ctx.readings.ai_agents:
        return None
    return ctx.memo.get(
        ("robots-ai-agents", ctx.purpose, ctx.readings.ai_agents_dir),
        lambda: ai_agents_basis(ctx.host.robots, ctx.url, ctx.purpose, ctx.readings.ai_agents_dir),
    )


def content_signal(ctx: Context) -> list[Basis]:
    bases = []
    rules = ctx.host.robots.rules
    if rules is not None:
        bases.append(
            robots_signal_basis(
                rules.robots,
                ctx.token,
                ctx.purpose,
                wildcard=ctx.readings.wildcard_group,
                use_limits=ctx.readings.content_signal_use,
                cite=ctx.host.robots.cite,
            )
        )
    if ctx.page is not None:
        header = header_signal_basis(
            ctx.page.header("content-signal"), ctx.purpose, use_limits=ctx.readings.content_signal_use
        )
        if header is not None:
            bases.append(header)
    return bases


def content_usage(ctx: Context) -> list[Basis]:
    bases = []
    rules = ctx.host.robots.rules
    if rules is not None:
        readings = ctx.readings
        key = ("content-usage", ctx.purpose, ctx.token, readings.wildcard_group, readings.aipref_legacy,
               readings.aipref_any_n, readings.aipref_vocab)  # fmt: skip
        bases.append(
            ctx.memo.get(
                key,
                lambda: robots_usage_basis(
                    rules.robots,
                    ctx.token,
                    ctx.url,
                    ctx.purpose,
                    wildcard=readings.wildcard_group,
                    legacy=readings.aipref_legacy,
                    any_n=readings.aipref_any_n,
                    cite=ctx.host.robots.cite,
                    vocab=readings.aipref_vocab,
                ),
            )
        )
    if ctx.page is not None:
        header = header_usage_basis(
            ctx.page.header("content-usage"),
            ctx.purpose,
            legacy=ctx.readings.aipref_legacy,
            any_n=ctx.readings.aipref_any_n,
            vocab=ctx.readings.aipref_vocab,
        )
        if header is not None:
            bases.append(header)
    return bases


def tdmrep(ctx: Context) -> Basis | None:
    if ctx.host.robots.outcome is RobotsOutcome.UNREACHABLE:
        return None
    salvage = ctx.readings.tdmrep_salvage
    file = ctx.memo.get(
        ("tdmrep-file", salvage), lambda: file_step(ctx.host.tdmrep, ctx.url, salvage=salvage)
    )
    steps: list[Step | None] = [file]
    page = ctx.page
    if page is not None:
        steps.append(
            value_step(
                page.header("tdm-reservation"),
                page.header("tdm-policy"),
                "tdm-reservation header",
                loose=ctx.readings.tdmrep_loose,
            )
        )
        html = page.html_signals
        steps.append(
            value_step(
                html.meta_values("tdm-reservation"),
                html.meta_values("tdm-policy"),
                "tdm-reservation meta tag",
                loose=ctx.readings.tdmrep_loose,
            )
        )
    return tdmrep_basis(steps, ctx.purpose, keep_reservation=ctx.readings.tdmrep_keep_reservation)


def ai_txt(ctx: Context) -> Basis | None:
    return ctx.memo.get(
        ("ai-txt", ctx.purpose, ctx.token),
        lambda: aitxt_basis(ctx.host.aitxt, ctx.token, ctx.url, ctx.purpose),
    )


def rsl(ctx: Context) -> list[Basis]:
    user, geo = ctx.readings.rsl_user, ctx.readings.rsl_geo
    # The host's licences (those robots.txt names) first, then the page's own.
    tokens = ctx.host.licence_tokens
    bases = ctx.memo.get(
        ("rsl", ctx.purpose, user, geo, tokens),
        lambda: tuple(
            rsl_basis(licence, ctx.url, ctx.purpose, user=user, geo=geo, tokens=tokens)
            for licence in ctx.host.licences
        ),
    )
    page = ctx.page.licences if ctx.page is not None else ()
    return [
        *bases,
        *(rsl_basis(licence, ctx.url, ctx.purpose, user=user, geo=geo, tokens=tokens) for licence in page),
    ]


def tos_policy(ctx: Context) -> Basis:
    """The maintainers' ToS rules (the same for every page of a host: its terms are host evidence)."""
    return ctx.memo.get(
        ("tos-policy", ctx.purpose, Same(ctx.store), ctx.unreviewed),
        lambda: tos_basis(
            ctx.store,
            ctx.url,
            ctx.purpose,
            terms=ctx.host.terms,
            unreviewed=ctx.unreviewed,
            today=ctx.host.fetched_at.date(),
        ),
    )


def x_robots_tag(ctx: Context) -> Basis | None:
    if ctx.page is None:
        return None
    # <meta http-equiv="X-Robots-Tag"> says what the header would.
    lines = (*ctx.page.header("x-robots-tag"), *ctx.page.html_signals.meta_values(HTTP_EQUIV))
    directives = parse_header(lines)
    return directives_basis(
        directives, ctx.purpose, token=ctx.token, readings=ctx.readings, signal="x-robots-tag"
    )


def meta_robots(ctx: Context) -> Basis | None:
    if ctx.page is None:
        return None
    problem = ctx.page.html_signals.problem
    if problem is not None:
        reason = f"the page's tags could not be read ({ctx.page.html_signals.how or 'the page'}: {problem})"
        return Basis(signal="meta-robots", verdict=Verdict.DENY, reason=reason)
    directives = parse_meta(ctx.page.html_signals.meta)
    return directives_basis(
        directives, ctx.purpose, token=ctx.token, readings=ctx.readings, signal="meta-robots"
    )


# (signal id, producer) in evaluation order; access first (robots.txt, then payment: a 402 refusal,
# or the charge a page was fetched under, decides before any usage signal), then the usage signals.
PRODUCERS: tuple[tuple[str, Producer], ...] = (
    ("robots", robots),
    ("payment", payment),
    ("robots-ai-agents", robots_ai_agents),
    ("content-signal", content_signal),
    ("content-usage", content_usage),
    ("tdmrep", tdmrep),
    ("ai-txt", ai_txt),
    ("rsl", rsl),
    ("x-robots-tag", x_robots_tag),
    ("meta-robots", meta_robots),
    ("tos-policy", tos_policy),
)
