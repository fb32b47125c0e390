"""The decision engine: every signal producer, run for one URL, combined into one Decision.

Each signal is a producer (:mod:`policies.producers`): a function from a
:class:`~policies.context.Context` to zero or more :class:`~policies.decision.Basis`. Before
fetching, producers read the host's evidence; after fetching, the response
too. A producer that raises yields a ``deny`` basis naming the error: nothing
is ever allowed on error.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from typing import TYPE_CHECKING

from policies.context import Context
from policies.decision import Basis, Decision, DefaultPolicy, Stage, Verdict, combine
from policies.memo import Memo
from policies.patterns import equivalent_urls
from policies.producers import PRODUCERS, Producer
from policies.purpose import Purpose
from policies.readings import Readings
from policies.tos import Unreviewed
from policies.urls import check_url

if TYPE_CHECKING:
    from datetime import datetime

    from policies.evidence import HostEvidence
    from policies.page import Page
    from policies.store import PolicyStore


# URLs whose work a UrlMemos keeps unless told otherwise: a few times the requests a crawler has
# in flight at once (between a URL's decisions). Kept work costs memory and garbage-collector time.
URL_MEMOS_KEPT = 256


class UrlMemos:
    """The work done for the most recent URLs, kept for the next decision on the same URL.

    A page is judged before it is fetched (for the crawl's purpose) and again
    once it is (for every purpose): what the second decision reads of the
    host's evidence for the URL is what the first one read, if the evidence
    is the same object. Each URL's :class:`~policies.memo.Memo` is kept with
    the evidence it was computed under and used only with that very object
    (evidence refreshed in between starts a new memo); at most ``kept`` URLs
    are kept, the least recently used going first. Not thread-safe: one
    judging thread (the crawl's reactor, ``audit``) uses one.
    """

    def __init__(self, kept: int = URL_MEMOS_KEPT) -> None:
        if kept < 1:
            raise ValueError(f"UrlMemos needs room for at least one URL, got {kept}")
        self.kept = kept
        self._memos: OrderedDict[str, tuple[HostEvidence, Memo]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._memos)

    def memo(self, url: str, host: HostEvidence) -> Memo:
        """The memo for ``url`` judged under ``host`` (a new one if the evidence is not the same object)."""
        found = self._memos.get(url)
        if found is not None and found[0] is host:
            self._memos.move_to_end(url)
            return found[1]
        memo = Memo()
        self._memos[url] = (host, memo)
        self._memos.move_to_end(url)
        if len(self._memos) > self.kept:
            self._memos.popitem(last=False)
        return memo


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
    A document that reads differently under several plausible decodings is
    judged under each, and the most restrictive decision applies.
    """
    return decide_all(
        url,
        purposes=(purpose,),
        host=host,
        default_policy=default_policy,
        now=now,
        page=page,
        token=token,
        readings=readings,
        store=store,
        unreviewed=unreviewed,
    )[purpose]


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
    memos: UrlMemos | None = None,
) -> dict[Purpose, Decision]:
    """Return :func:`decide`'s answer for each purpose, sharing the work that does not depend on it.

    The host's evidence and the page are judged as first read; if that
    permits the URL, each other plausible reading is judged too (the URL as a
    server resolves it, :func:`~policies.patterns.equivalent_urls`; the
    evidence read another way, :meth:`HostEvidence.variants`; the page read
    another way, :meth:`Page.variants`), and the first that refuses decides,
    with a basis saying which reading it was.

    ``memos`` keeps the work on the primary reading for the next decision on
    the same URL under the same evidence (:class:`UrlMemos`); the decisions
    are the same with it or without it.
    """
    check_url(url)
    readings = readings or Readings()
    # One (signal, how, url, host, page) per reading; index 0 is the primary one. Built when first needed.
    variants: list[tuple[str, str, str, HostEvidence, Page | None]] = [("", "", url, host, page)]
    # The other readings are judged only where the primary one permits: their work is not kept.
    memo_of = [memos.memo(url, host) if memos is not None else Memo()]

    def judged(index: int, purpose: Purpose) -> Decision:
        _, _, variant_url, variant_host, variant_page = variants[index]
        ctx = Context(
            url=variant_url,
            purpose=purpose,
            host=variant_host,
            page=variant_page,
            token=token,
            readings=readings,
            store=store,
            unreviewed=unreviewed,
            memo=memo_of[index],
        )
        return _decide(ctx, default_policy, now)

    decisions: dict[Purpose, Decision] = {}
    listed = False
    for purpose in purposes:
        decision = judged(0, purpose)
        if decision.allowed:
            if not listed:
                listed = True
                readings_of = [("", "", host, page)]
                readings_of += [(s, how, h, page) for s, how, h in host.variants()]
                if page is not None:
                    readings_of += [(s, how, host, p) for s, how, p in page.variants()]
                variants += [(s, how, url, h, p) for s, how, h, p in readings_of[1:]]
                # The URL as a server resolves it, under every reading of the evidence.
                for other in equivalent_urls(url):
                    resolved = f"the URL as a server resolves it, {other}"
                    variants += [
                        (s or "robots", f"{resolved}; {how}" if how else resolved, other, h, p)
                        for s, how, h, p in readings_of
                    ]
                memo_of += [Memo() for _ in variants[1:]]
            for index in range(1, len(variants)):
                under_variant = judged(index, purpose)
                if not under_variant.allowed:
                    decision = replace(_under_reading(under_variant, *variants[index][:2]), url=url)
                    break
        decisions[purpose] = decision
    return decisions


def _under_reading(decision: Decision, signal: str, how: str) -> Decision:
    note = Basis(
        signal=signal,
        verdict=Verdict.NONE,
        reason=f"judged under another plausible reading ({how}); the most restrictive reading applies",
    )
    return replace(decision, bases=(note, *decision.bases))


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
