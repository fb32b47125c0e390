"""All signals together through the engine: vectors X1-X7 of ../shared/reference/signals.md §10.1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from policies.aitxt import aitxt_evidence
from policies.decision import DefaultPolicy
from policies.document import Document
from policies.engine import decide, decide_all
from policies.evidence import HostEvidence
from policies.page import Page
from policies.purpose import Purpose
from policies.robots import robots_evidence
from policies.rsl import FoundLicence, rsl_evidence
from policies.tdmrep import tdmrep_evidence

NOW = datetime(2026, 11, 22, tzinfo=UTC)
NS = "https://rslstandard.org/rsl"
HTML = {"content-type": ("text/html",)}


def doc(kind: str, body: str, status: int = 200) -> Document:
    return Document(kind=kind, url=f"http://x.test/{kind}", status=status, body=body.encode(), fetched_at=NOW)


def host(
    robots: str = "", *, robots_status: int = 200, tdmrep: str = "", aitxt: str = "", licence: str = ""
) -> HostEvidence:
    return HostEvidence(
        origin="http://x.test",
        robots=robots_evidence(doc("robots.txt", robots, robots_status if robots else 404), "permitcrawl"),
        fetched_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        tdmrep=tdmrep_evidence(doc("tdmrep.json", tdmrep, 200 if tdmrep else 404)),
        aitxt=aitxt_evidence(doc("ai.txt", aitxt, 200 if aitxt else 404)),
        licences=(FoundLicence(rsl_evidence(doc("rsl", licence)), "robots.txt"),) if licence else (),
    )


def judge(evidence: HostEvidence, *, page: Page | None = None, policy: DefaultPolicy = DefaultPolicy.ALLOW,
          purpose: Purpose = Purpose.AI_TRAIN, url: str = "http://x.test/a"):  # fmt: skip
    return decide(url, purpose=purpose, host=evidence, default_policy=policy, now=NOW, page=page)


def page(headers: dict[str, tuple[str, ...]] | None = None, body: str = "<html></html>") -> Page:
    return Page(url="http://x.test/a", status=200, headers={**HTML, **(headers or {})}, body=body.encode())


def test_x1_cloudflare_managed_robots_txt() -> None:
    robots = (
        "User-Agent: *\nContent-Signal: search=yes,ai-train=no,use=reference\nAllow: /\n\n"
        "User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nDisallow: /admin\n"
    )
    decision = judge(host(robots))
    assert not decision.allowed
    # Both read the file as a training opt-out; the first in evaluation order decides.
    assert {b.signal for b in decision.denying} == {"robots-ai-agents", "content-signal"}
    assert judge(host(robots), purpose=Purpose.SEARCH).allowed


def test_x2_tdmrep_reservation_beats_an_aipref_grant() -> None:
    evidence = host(
        "User-agent: *\nContent-Usage: train-ai=y\n", tdmrep='[{"location": "/", "tdm-reservation": 1}]'
    )
    decision = judge(evidence)
    assert not decision.allowed and decision.signal == "tdmrep"
    assert any(b.signal == "content-usage" and b.verdict == "allow" for b in decision.bases)


def test_x3_noai_beats_a_content_signal_grant() -> None:
    evidence = host("User-agent: *\nContent-Signal: ai-train=yes\n")
    assert judge(evidence).allowed
    decision = judge(evidence, page=page({"x-robots-tag": ("noai",)}))
    assert not decision.allowed and decision.signal == "x-robots-tag"


def test_x4_page_level_tdm_reservation_beats_a_free_licence() -> None:
    grant = '<license><permits type="usage">all</permits></license>'
    licence = f'<rsl xmlns="{NS}"><content url="/">{grant}</content></rsl>'
    evidence = host("License: http://x.test/rsl\nUser-agent: *\nAllow: /\n", licence=licence)
    assert judge(evidence).allowed and judge(evidence).signal == "rsl"
    decision = judge(
        evidence, page=page(body='<html><head><meta name="tdm-reservation" content="1"></head></html>')
    )
    assert not decision.allowed and decision.signal == "tdmrep"


def test_x6_nothing_anywhere() -> None:
    decision = judge(host())
    assert decision.allowed and decision.signal == "default"
    checked = [b.signal for b in decision.bases]
    assert checked[0] == "robots" and "tdmrep" in checked and "ai-txt" in checked  # the checks performed
    assert not judge(host(), policy=DefaultPolicy.DENY).allowed


def test_x7_the_scrapy_token_binds_us_for_training() -> None:
    robots = "User-agent: GPTBot\nUser-agent: Scrapy\nDisallow: /\n"
    decision = judge(host(robots))
    assert not decision.allowed and decision.signal == "robots-ai-agents"


def test_opt_in_regime_collects_only_explicit_grants() -> None:
    grants = {
        "content-usage": host("User-agent: *\nContent-Usage: train-ai=y\n"),
        "content-signal": host("User-agent: *\nContent-Signal: ai-train=yes\n"),
        "tdmrep": host(tdmrep='[{"location": "/", "tdm-reservation": 0}]'),
        "ai-txt": host(aitxt="User-Agent: *\nAllow: /\n"),
    }
    for signal, evidence in grants.items():
        decision = judge(evidence, policy=DefaultPolicy.DENY)
        assert decision.allowed and decision.signal == signal, signal
    assert not judge(
        host("User-agent: *\nAllow: /\n"), policy=DefaultPolicy.DENY
    ).allowed  # access is no grant


def test_unreachable_robots_txt_refuses_before_anything_else() -> None:
    decisions = decide_all(
        "http://x.test/a", host=host("oops", robots_status=503), default_policy=DefaultPolicy.ALLOW, now=NOW
    )
    assert all(not d.allowed and d.signal == "robots" for d in decisions.values())


def test_every_basis_names_its_signal_and_purposes_differ() -> None:
    evidence = host("User-agent: *\nContent-Signal: search=yes, ai-train=no\n")
    decisions = decide_all(
        "http://x.test/a", host=evidence, default_policy=DefaultPolicy.ALLOW, now=NOW, page=page()
    )
    assert not decisions[Purpose.AI_TRAIN].allowed
    assert decisions[Purpose.SEARCH].allowed and decisions[Purpose.SEARCH].signal == "content-signal"
    assert decisions[Purpose.AI_INPUT].allowed and decisions[Purpose.AI_INPUT].signal == "default"
    for decision in decisions.values():
        assert all(b.signal and b.reason for b in decision.bases)
