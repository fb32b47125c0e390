"""The ``tos-policy`` signal: what the maintainers decided about a domain's Terms of Service.

The most specific rule of the store applies (narrowest host scope, then longest
path prefix; equally specific rules combine most-restrictively). Its verdict
per purpose is its ``deny`` or ``allow`` list; a purpose it does not list is
left to the other signals. An ``allow`` backed by an ``agreement`` is a
licence: it overrides the usage opt-outs of the other signals (never robots.txt
access rules), and the basis names the agreement.

Where no rule applies but the host's terms speak of scraping or AI, or where
the terms found now differ from the text a rule was reviewed on, ``unreviewed``
decides: ``hold`` (refuse, and list the domain for review), ``deny``, or
``allow`` (go on, say so).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from policies.decision import Basis, Verdict
from policies.patterns import path_of
from policies.urls import canonical_host, registrable_domain

if TYPE_CHECKING:
    from datetime import date

    from policies.purpose import Purpose
    from policies.rules import Rule
    from policies.store import PolicyStore
    from policies.terms import TermsEvidence

HELD = "held for review"


class Unreviewed(StrEnum):
    """What to do where the terms speak of restrictions nobody has reviewed."""

    HOLD = "hold"
    ALLOW = "allow"
    DENY = "deny"


def _cite(terms: TermsEvidence | None) -> dict[str, str | None]:
    if terms is None or terms.terms_url is None:
        return {}
    return {"sha256": terms.sha256, "record_id": terms.record_id}


def _rule_source(rule: Rule) -> str:
    path = "" if rule.path == "/" else rule.path
    return f"{rule.where} (rule for {rule.scope}{path}, version {rule.version})"


def _rule_verdict(rule: Rule, purpose: Purpose) -> Verdict:
    if purpose in rule.deny:
        return Verdict.DENY
    if purpose in rule.allow:
        return Verdict.ALLOW
    return Verdict.NONE


def _unreviewed(mode: Unreviewed, why: str, cite: dict[str, str | None], source: str | None) -> Basis:
    if mode is Unreviewed.ALLOW:
        reason = f"{why}; collected anyway (--unreviewed allow)"
        return Basis(signal="tos-policy", verdict=Verdict.NONE, reason=reason, source=source, **cite)
    if mode is Unreviewed.DENY:
        reason = f"{why}; refused (--unreviewed deny)"
        return Basis(signal="tos-policy", verdict=Verdict.DENY, reason=reason, source=source, **cite)
    reason = f"{why}; {HELD} (--unreviewed hold)"
    return Basis(signal="tos-policy", verdict=Verdict.DENY, reason=reason, source=source, rule=HELD, **cite)


def _from_rule(
    rule: Rule, purpose: Purpose, terms: TermsEvidence | None, mode: Unreviewed, today: date
) -> Basis:
    verdict = _rule_verdict(rule, purpose)
    source = _rule_source(rule)
    cite = _cite(terms)
    quote = " / ".join(f'"{q}"' for q in rule.quote)
    overdue = f"; review overdue since {rule.review_by}" if rule.is_due(today) else ""
    reviewed = f"reviewed by {rule.reviewer} on {rule.reviewed}{overdue}"
    # Terms that could not be read cannot be shown unchanged: read as changed.
    changed = (
        terms is not None
        and rule.tos_sha256 is not None
        and (
            terms.unread is not None
            or (terms.text_sha256 is not None and terms.text_sha256 != rule.tos_sha256)
        )
    )
    agreement = rule.agreement if verdict is Verdict.ALLOW else None
    if changed and verdict is not Verdict.DENY and agreement is None:
        assert terms is not None
        found = f"found {terms.text_sha256[:12]}..." if terms.text_sha256 else f"unread: {terms.unread}"
        why = (
            f"the terms at {terms.terms_url} changed since the review of {rule.reviewed} "
            f"(reviewed {(rule.tos_sha256 or '')[:12]}..., {found})"
        )
        return _unreviewed(mode, why, cite, source)
    label = f"ToS {rule.merged!r} ({rule.ai_scraping} / {rule.license} / {rule.compete})"
    if verdict is Verdict.DENY:
        reason = f"{label} reserves {purpose.value}: {quote}; {reviewed}"
    elif agreement:
        reason = f"agreement {agreement!r} grants {purpose.value}, over other usage opt-outs; {reviewed}"
    elif verdict is Verdict.ALLOW:
        reason = f"{label} grants {purpose.value}: {quote}; {reviewed}"
    else:
        reason = f"{label} says nothing about {purpose.value}; {reviewed}"
    if changed:
        reason += f"; note: the terms changed since ({terms.terms_url if terms else ''})"
    return Basis(
        signal="tos-policy",
        verdict=verdict,
        reason=reason,
        source=source,
        rule=quote,
        agreement=agreement,
        **cite,
    )


def tos_basis(
    store: PolicyStore | None,
    url: str,
    purpose: Purpose,
    *,
    terms: TermsEvidence | None,
    unreviewed: Unreviewed,
    today: date,
) -> Basis:
    """The ``tos-policy`` basis of ``url`` for ``purpose``."""
    if store is None:
        reason = "no ToS policy store was given: no review of the terms applied"
        return Basis(signal="tos-policy", verdict=Verdict.NONE, reason=reason)
    host = canonical_host(urlsplit(url).hostname or "")
    rules = store.applicable(host, path_of(url))
    if rules:
        bases = [_from_rule(rule, purpose, terms, unreviewed, today) for rule in rules]
        for wanted in (Verdict.DENY, Verdict.ALLOW):
            for basis in bases:
                if basis.verdict is wanted:
                    return basis
        return bases[0]
    domain = registrable_domain(host)
    cite = _cite(terms)
    if terms is None:
        reason = f"no rule for {host} in the store; its terms were not examined"
        return Basis(signal="tos-policy", verdict=Verdict.NONE, reason=reason)
    if terms.terms_url is None:
        reason = f"no rule for {host} in the store; {terms.problem or 'no terms page found'}"
        return Basis(signal="tos-policy", verdict=Verdict.NONE, reason=reason, source=terms.source)
    if terms.unread is not None:
        why = (
            f"no reviewed rule for {host} (domain {domain}), and its terms ({terms.terms_url}) could not "
            f"be read ({terms.unread}): they may speak of scraping or AI"
        )
        return _unreviewed(unreviewed, why, cite, terms.source)
    if terms.mentions_restrictions:
        why = (
            f"no reviewed rule for {host} (domain {domain}), and its terms ({terms.terms_url}) "
            "speak of scraping or AI: "
            f'"{terms.passages[0][:200]}"'
        )
        return _unreviewed(unreviewed, why, cite, terms.source)
    reason = (
        f"no rule for {host}; its terms ({terms.terms_url}) do not speak of scraping, crawling, mining or AI"
    )
    return Basis(signal="tos-policy", verdict=Verdict.NONE, reason=reason, source=terms.source, **cite)
