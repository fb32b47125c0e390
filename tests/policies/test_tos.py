"""The tos-policy signal: rules per purpose, unreviewed and changed terms, agreements in the engine."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from policies.decision import Decision, DefaultPolicy, Verdict
from policies.document import Document
from policies.engine import decide
from policies.evidence import HostEvidence
from policies.purpose import Purpose
from policies.robots import robots_evidence
from policies.store import PolicyStore, load_policies, write_rule
from policies.terms import TermsEvidence
from policies.tos import HELD, Unreviewed, tos_basis

NOW = datetime(2026, 11, 22, tzinfo=UTC)
TODAY = NOW.date()
BASE = {
    "ai_scraping": "No AI",
    "license": "Unrestricted Use",
    "compete": "Unrestricted Use",
    "quote": ("No AI training.",),
    "tos_url": "https://example.org/terms",
    "reviewer": "Jo",
    "reviewed": date(2026, 11, 1),
    "review_by": date(2027, 5, 1),
}
SHA_A, SHA_B = "a" * 64, "b" * 64


@pytest.fixture
def store(tmp_path: Path) -> PolicyStore:
    write_rule(tmp_path, "example.org", {**BASE, "deny": ("ai-train",), "tos_sha256": SHA_A})
    write_rule(
        tmp_path, "shop.example.org", {**BASE, "ai_scraping": "Unrestricted Use", "allow": ("search",)}
    )
    write_rule(
        tmp_path,
        "licensed.org",
        {**BASE, "allow": ("ai-train",), "agreement": "Licence #7", "tos_url": "https://licensed.org/terms"},
    )
    write_rule(
        tmp_path,
        "old.org",
        {**BASE, "deny": ("ai-train",), "review_by": date(2026, 11, 2), "tos_url": "https://old.org/t"},
    )
    return load_policies(tmp_path)


def terms(
    sha: str | None = None, passages: tuple[str, ...] = (), url: str | None = "https://x/terms"
) -> TermsEvidence:
    return TermsEvidence(
        home_url="https://x/",
        terms_url=url,
        source="https://x/terms: HTTP 200",
        text_sha256=sha,
        passages=passages,
    )


def basis(
    store: PolicyStore | None,
    url: str,
    purpose: Purpose = Purpose.AI_TRAIN,
    t: TermsEvidence | None = None,
    mode: Unreviewed = Unreviewed.HOLD,
):
    return tos_basis(store, url, purpose, terms=t, unreviewed=mode, today=TODAY)


def test_no_store() -> None:
    b = basis(None, "https://example.org/a")
    assert b.verdict is Verdict.NONE and "no review" in b.reason


def test_rule_verdicts_per_purpose(store: PolicyStore) -> None:
    denied = basis(store, "https://www.example.org/a")
    assert denied.verdict is Verdict.DENY and denied.rule == '"No AI training."'
    assert "example.org.toml:" in denied.source and "version" in denied.source
    assert basis(store, "https://www.example.org/a", Purpose.SEARCH).verdict is Verdict.NONE
    assert (
        basis(store, "https://shop.example.org/a", Purpose.SEARCH).verdict is Verdict.ALLOW
    )  # narrower scope
    assert basis(store, "https://shop.example.org/a").verdict is Verdict.NONE
    assert "overdue" in basis(store, "https://old.org/").reason


def test_changed_terms(store: PolicyStore) -> None:
    assert basis(store, "https://example.org/a", t=terms(SHA_A)).verdict is Verdict.DENY  # unchanged, denied
    # A rule that denies keeps denying when the terms change; one that does not is held.
    assert basis(store, "https://example.org/a", t=terms(SHA_B)).verdict is Verdict.DENY
    held = basis(store, "https://example.org/a", Purpose.SEARCH, t=terms(SHA_B))
    assert held.verdict is Verdict.DENY and held.rule == HELD and "changed since the review" in held.reason
    allowed = basis(store, "https://example.org/a", Purpose.SEARCH, t=terms(SHA_B), mode=Unreviewed.ALLOW)
    assert allowed.verdict is Verdict.NONE and "--unreviewed allow" in allowed.reason


def test_unreviewed_domains(store: PolicyStore) -> None:
    restrictive = terms(SHA_A, ("You may not scrape this site.",))
    for mode, verdict in (
        (Unreviewed.HOLD, Verdict.DENY),
        (Unreviewed.DENY, Verdict.DENY),
        (Unreviewed.ALLOW, Verdict.NONE),
    ):
        b = basis(store, "https://unknown.org/a", t=restrictive, mode=mode)
        assert b.verdict is verdict and "scrape" in b.reason, mode
    assert basis(store, "https://unknown.org/a", t=restrictive).rule == HELD
    assert (
        basis(store, "https://unknown.org/a", t=terms(SHA_A)).verdict is Verdict.NONE
    )  # nothing restrictive
    assert basis(store, "https://unknown.org/a", t=terms(url=None)).verdict is Verdict.NONE  # no terms found
    assert basis(store, "https://unknown.org/a").verdict is Verdict.NONE  # not examined


def _host(robots: str) -> HostEvidence:
    doc = Document(
        kind="robots.txt",
        url="https://licensed.org/robots.txt",
        status=200,
        body=robots.encode(),
        fetched_at=NOW,
    )
    return HostEvidence(
        origin="https://licensed.org",
        robots=robots_evidence(doc, "permitcrawl"),
        fetched_at=NOW,
        expires_at=NOW + timedelta(hours=1),
    )


def test_an_agreement_overrides_usage_opt_outs_but_not_access(store: PolicyStore) -> None:
    opted_out = _host(
        "User-agent: *\nContent-Signal: ai-train=no\nContent-Usage: train-ai=n\nDisallow: /private/\n"
    )
    decision = decide(
        "https://licensed.org/a",
        purpose=Purpose.AI_TRAIN,
        host=opted_out,
        default_policy=DefaultPolicy.DENY,
        now=NOW,
        store=store,
    )
    assert decision.allowed and decision.signal == "tos-policy" and "Licence #7" in decision.reason
    assert {b.signal for b in decision.bases if b.verdict is Verdict.DENY} == {
        "content-signal",
        "content-usage",
    }
    assert Decision.from_dict(decision.as_dict()) == decision  # the record reads back the same
    private = decide(
        "https://licensed.org/private/x",
        purpose=Purpose.AI_TRAIN,
        host=opted_out,
        default_policy=DefaultPolicy.ALLOW,
        now=NOW,
        store=store,
    )
    assert not private.allowed and private.signal == "robots"  # never over robots.txt access rules
    search = decide(
        "https://licensed.org/a",
        purpose=Purpose.SEARCH,
        host=opted_out,
        default_policy=DefaultPolicy.ALLOW,
        now=NOW,
        store=store,
    )
    assert search.allowed and search.signal == "default"  # the agreement grants ai-train only


def test_hosts_are_compared_canonically(store: PolicyStore) -> None:
    # Case, a final dot and an internationalised name all reach the rule written for the host.
    for url in ("https://WWW.Example.ORG/a", "https://example.org./a", "https://www.example.org.:443/a"):
        assert basis(store, url).verdict is Verdict.DENY, url


def test_an_idn_rule_matches_its_ascii_name(tmp_path: Path) -> None:
    write_rule(tmp_path, "bücher.example", {**BASE, "deny": ("ai-train",)})
    idn = load_policies(tmp_path)
    assert basis(idn, "https://xn--bcher-kva.example/a").verdict is Verdict.DENY
    assert basis(idn, "https://BÜCHER.example./a").verdict is Verdict.DENY


def test_terms_that_could_not_be_read_are_not_unchanged(store: PolicyStore) -> None:
    unread = TermsEvidence(
        home_url="https://example.org/",
        terms_url="https://example.org/terms",
        source="https://example.org/terms: HTTP 200",
        unread="not read whole (the connection was lost before the end of the body)",
    )
    # A reviewed rule that grants is held: the review cannot be shown to still stand.
    held = basis(store, "https://example.org/a", Purpose.SEARCH, t=unread)
    assert held.verdict is Verdict.DENY and held.rule == HELD and "unread: not read whole" in held.reason
    # An unreviewed domain whose terms could not be read is held too, whatever they might say.
    unknown = replace(unread, home_url="https://unknown.org/", terms_url="https://unknown.org/terms")
    assert basis(store, "https://unknown.org/a", t=unknown).verdict is Verdict.DENY
    assert basis(store, "https://unknown.org/a", t=unknown, mode=Unreviewed.ALLOW).verdict is Verdict.NONE
