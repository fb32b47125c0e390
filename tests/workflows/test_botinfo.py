"""The crawler's public page: every opt-out it shows refuses what it says, judged by the crawl's engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crawler.workflows.botinfo import (
    Identity,
    content_hash,
    feed_atom,
    next_feed,
    opt_outs,
    page_data,
    read_feed,
)
from policies.aitxt import aitxt_evidence
from policies.decision import SIGNAL_IDS, DefaultPolicy
from policies.document import Document
from policies.engine import decide
from policies.evidence import HostEvidence
from policies.page import Page
from policies.purpose import Purpose
from policies.robots import robots_evidence
from policies.rsl import FoundLicence, rsl_evidence
from policies.tdmrep import tdmrep_evidence

NOW = datetime(2026, 11, 29, tzinfo=UTC)
TOKEN = "examplebot"


def _doc(kind: str, body: str) -> Document:
    return Document(
        kind=kind,
        url=f"http://x.test/{kind}",
        status=200 if body else 404,
        body=body.encode(),
        fetched_at=NOW,
    )


def _judge(where: str, text: str, purpose: Purpose, robots: str = ""):  # type: ignore[no-untyped-def]
    """The decision on a page of a site that wrote ``text`` in ``where`` (and nothing else)."""
    robots = text if where == "robots.txt" else robots
    host = HostEvidence(
        origin="http://x.test",
        robots=robots_evidence(_doc("robots.txt", robots), TOKEN),
        fetched_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        tdmrep=tdmrep_evidence(_doc("tdmrep.json", text if where == "/.well-known/tdmrep.json" else "")),
        aitxt=aitxt_evidence(_doc("ai.txt", text if where == "/ai.txt" else "")),
        licences=(FoundLicence(rsl_evidence(_doc("rsl", text)), "robots.txt"),)
        if where == "/license.xml"
        else (),
    )
    headers: dict[str, tuple[str, ...]] = {"content-type": ("text/html",)}
    body = "<html><head></head><body>x</body></html>"
    if where == "HTTP header":
        name, _, value = text.partition(": ")
        headers[name.lower()] = (value,)
    elif where == "HTML":
        body = f"<html><head>{text}</head><body>x</body></html>"
    page = Page(url="http://x.test/a", status=200, headers=headers, body=body.encode())
    return decide(
        "http://x.test/a",
        purpose=purpose,
        host=host,
        default_policy=DefaultPolicy.ALLOW,
        now=NOW,
        page=page,
        token=TOKEN,
    )


@pytest.mark.parametrize("purpose", list(Purpose))
def test_every_opt_out_shown_refuses_its_purpose_with_its_signal(purpose: Purpose) -> None:
    shown = opt_outs(TOKEN, purpose)
    assert set(shown) == set(SIGNAL_IDS)
    assert sum(len(v) for v in shown.values()) >= 6
    for signal, examples in shown.items():
        for example in examples:
            if example.where == "robots.txt" and example.text.startswith("License:"):
                continue  # the pointer; the licence itself is judged below
            decision = _judge(example.where, example.text, purpose)
            assert not decision.allowed, (signal, example)
            assert signal in {b.signal for b in decision.denying}, (signal, example, decision.reason)


def test_an_unrelated_site_is_permitted() -> None:
    assert _judge("robots.txt", "User-agent: *\nAllow: /", Purpose.AI_TRAIN).allowed


def _identity(**changes: object) -> Identity:
    base: dict[str, object] = {
        "token": TOKEN,
        "user_agent": f"{TOKEN}/1 (+https://bot.example/)",
        "page_url": "https://bot.example/",
        "purposes": (Purpose.AI_TRAIN,),
    }
    return Identity(**{**base, **changes})  # type: ignore[arg-type]


def test_the_feed_grows_only_when_the_content_changes() -> None:
    data = page_data(_identity(), {})
    first = next_feed(None, data, None, NOW)
    assert len(first.entries) == 1 and first.entries[0].sha256 == content_hash(data)
    again = read_feed(feed_atom(first, data))
    assert again == first
    assert next_feed(again, data, data, NOW + timedelta(days=1)) is again
    changed = page_data(_identity(email="bots@example.org"), {})
    second = next_feed(again, changed, data, NOW + timedelta(days=2))
    assert [e.id for e in second.entries[1:]] == [e.id for e in first.entries]
    assert second.id == first.id and second.entries[0].summary == "Changed: contact."
    assert second.entries[0].updated == "2026-12-01T00:00:00Z"
