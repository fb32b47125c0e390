"""The engine: producers run in order, and an error in any of them denies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from policies import engine
from policies.context import Context
from policies.decision import DefaultPolicy, Stage, Verdict
from policies.document import Document
from policies.engine import decide
from policies.evidence import HostEvidence
from policies.page import Page
from policies.purpose import Purpose
from policies.robots import robots_evidence

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def host(robots: bytes = b"User-agent: *\nDisallow: /p/\n", status: int = 200) -> HostEvidence:
    doc = Document(
        kind="robots.txt", url="http://x.test/robots.txt", status=status, body=robots, fetched_at=NOW
    )
    return HostEvidence(
        origin="http://x.test",
        robots=robots_evidence(doc, "permitcrawl"),
        fetched_at=NOW,
        expires_at=NOW + timedelta(days=1),
    )


def test_pre_and_post_fetch() -> None:
    pre = decide(
        "http://x.test/a", purpose=Purpose.AI_TRAIN, host=host(), default_policy=DefaultPolicy.ALLOW, now=NOW
    )
    assert pre.allowed and pre.stage is Stage.PRE_FETCH
    post = decide(
        "http://x.test/a",
        purpose=Purpose.AI_TRAIN,
        host=host(),
        default_policy=DefaultPolicy.ALLOW,
        now=NOW,
        page=Page(url="http://x.test/a", status=200),
    )
    assert post.stage is Stage.POST_FETCH
    refused = decide(
        "http://x.test/p/1",
        purpose=Purpose.AI_TRAIN,
        host=host(),
        default_policy=DefaultPolicy.ALLOW,
        now=NOW,
    )
    assert not refused.allowed and refused.signal == "robots"


def test_a_failing_producer_denies(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ctx: Context) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(engine, "PRODUCERS", (*engine.PRODUCERS, ("tdmrep", broken)))
    decision = decide(
        "http://x.test/a", purpose=Purpose.AI_TRAIN, host=host(), default_policy=DefaultPolicy.ALLOW, now=NOW
    )
    assert not decision.allowed
    assert decision.signal == "tdmrep"
    assert decision.denying[0].verdict is Verdict.DENY
    assert "KeyError" in decision.reason


def test_opt_in_regime_needs_a_grant() -> None:
    decision = decide(
        "http://x.test/a", purpose=Purpose.AI_TRAIN, host=host(), default_policy=DefaultPolicy.DENY, now=NOW
    )
    assert not decision.allowed and decision.signal == "default"


@pytest.mark.parametrize("url", ["ftp://x.test/a", "/relative", "http://", "mailto:a@b"])
def test_only_absolute_http_urls(url: str) -> None:
    with pytest.raises(ValueError, match="absolute http"):
        decide(url, purpose=Purpose.AI_TRAIN, host=host(), default_policy=DefaultPolicy.ALLOW, now=NOW)
