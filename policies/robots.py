"""robots.txt access rules (RFC 9309): the matcher, the fetch outcome, and the ``robots`` basis.

Path matching is Protego's. Group selection is ours (see :mod:`policies.robotstxt`):
Protego picks groups by substring score, lets unknown lines split groups and
keeps a leading byte-order mark, and each of those can fail open. So the
matcher selects the group exactly as Google's reference parser does, and hands
Protego only that group's Allow/Disallow lines, under ``User-agent: *``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

from protego import Protego

from policies.decision import Basis, Verdict
from policies.robotstxt import PARSE_LIMIT, RobotsTxt, Selection, agent_token, decode, truncate

if TYPE_CHECKING:
    from policies.document import Document


class RobotsOutcome(StrEnum):
    """What fetching /robots.txt gave, in RFC 9309 §2.3.1 terms."""

    PARSED = "parsed"  # 2xx: follow the rules in it
    UNAVAILABLE = "unavailable"  # 4xx: the crawler may access anything
    UNREACHABLE = "unreachable"  # 5xx, network error, timeout: assume complete disallow


def classify(status: int | None) -> RobotsOutcome:
    """Return the RFC 9309 outcome of a robots.txt fetch that ended with ``status``.

    ``None`` (no response: DNS failure, refused connection, timeout, too many
    redirects) is unreachable. 429 is read as unreachable, as Google does: a
    server asking us to slow down has not said that everything is allowed. A
    3xx that was not followed, and any status outside 2xx-5xx, are unreachable
    too (fail closed).
    """
    if status is None:
        return RobotsOutcome.UNREACHABLE
    if 200 <= status < 300:
        return RobotsOutcome.PARSED
    if 400 <= status < 500 and status != 429:
        return RobotsOutcome.UNAVAILABLE
    return RobotsOutcome.UNREACHABLE


def _rule_line(field: str, pattern: str) -> str:
    return f"{'Allow' if field == 'allow' else 'Disallow'}: {pattern}"


class RobotsRules:
    """The access rules of one robots.txt for one product token, ready to match URLs."""

    def __init__(self, robots: RobotsTxt, token: str) -> None:
        self.robots = robots
        self.selection: Selection = robots.select(token)
        self._rules = self.selection.records("allow", "disallow")
        lines = ["User-agent: *", *(_rule_line(r.field, r.value) for r in self._rules)]
        self._matcher = Protego.parse("\n".join(lines))

    def can_fetch(self, url: str) -> bool:
        """Return True if the selected group lets the token fetch ``url``."""
        return self._matcher.can_fetch(url, "*")

    @cached_property
    def _single_matchers(self) -> list[tuple[str, Protego]]:
        # One matcher per rule, so that the rule deciding a URL can be named.
        # Protego exposes no "which rule matched"; a Disallow matcher refuses a
        # URL exactly when its pattern matches it, and an Allow rule is tested
        # as an exception to "Disallow: /".
        matchers = []
        for record in self._rules:
            if not record.value:
                continue
            if record.field == "disallow":
                text = f"User-agent: *\nDisallow: {record.value}"
            else:
                text = f"User-agent: *\nDisallow: /\nAllow: {record.value}"
            matchers.append((record, Protego.parse(text)))
        return matchers

    def matching_rule(self, url: str) -> str | None:
        """Return the rule that decides ``url`` (``"Disallow: /x" (line 4)``), or None.

        The longest matching pattern wins and Allow wins a tie (RFC 9309 §2.2.2).
        The answer is cross-checked against the matcher's verdict: if they
        disagree, None is returned rather than a wrong explanation.
        """
        best = None
        for record, matcher in self._single_matchers:
            matched = (
                matcher.can_fetch(url, "*") if record.field == "allow" else not matcher.can_fetch(url, "*")
            )
            if not matched:
                continue
            key = (len(record.value), record.field == "allow")
            if best is None or key > best[0]:
                best = (key, record)
        if best is None:
            return None
        record = best[1]
        if (record.field == "allow") != self.can_fetch(url):
            return None
        return f"'{_rule_line(record.field, record.value)}' (line {record.line})"

    @cached_property
    def crawl_delay(self) -> float | None:
        """The first valid Crawl-delay in the selected groups, in seconds, or None."""
        for record in self.selection.records("crawl-delay"):
            try:
                delay = float(record.value)
            except ValueError:
                continue
            if math.isfinite(delay) and delay >= 0:
                return delay
        return None


def can_fetch(robots_txt: str, user_agent: str, url: str) -> bool:
    """Return True if ``robots_txt`` lets the product token ``user_agent`` fetch ``url``.

    ``user_agent`` is cut to its product token as Google's parser does
    (``permitcrawl/2.0`` is ``permitcrawl``); pass the token, not a full
    User-Agent header.
    """
    return RobotsRules(RobotsTxt.parse(robots_txt), user_agent).can_fetch(url)


@dataclass(frozen=True, kw_only=True)
class RobotsEvidence:
    """What is known about one origin's robots.txt, for one product token.

    ``source`` names the document for a reason sentence (URL, redirect, HTTP
    status); ``rules`` is None unless the file was parsed.
    """

    url: str
    outcome: RobotsOutcome
    source: str
    sha256: str | None = None
    record_id: str | None = None
    rules: RobotsRules | None = None
    max_crawl_delay: float | None = None
    # Per-host work the signals derive from this file (agent rules, group
    # selections), computed once and kept with it.
    derived: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def crawl_delay(self) -> float | None:
        """The Crawl-delay that applies to us, or None."""
        return self.rules.crawl_delay if self.rules else None

    @property
    def sitemaps(self) -> tuple[str, ...]:
        """Sitemap URLs named in the file."""
        return self.rules.robots.sitemaps if self.rules else ()


def robots_basis(evidence: RobotsEvidence, url: str) -> Basis:
    """Return the ``robots`` basis for ``url``: ``deny`` if access is refused, else ``none``.

    robots.txt governs access only: permission to fetch is not a grant of any
    use, so an allowed URL gets ``none`` and the other signals (or the default
    policy) decide the use.
    """
    common = {"source": evidence.source, "sha256": evidence.sha256, "record_id": evidence.record_id}
    if evidence.outcome is RobotsOutcome.UNREACHABLE:
        return Basis(
            signal="robots",
            verdict=Verdict.DENY,
            reason=f"robots.txt unreachable ({evidence.source}): complete disallow (RFC 9309 §2.3.1.4)",
            **common,
        )
    if evidence.outcome is RobotsOutcome.UNAVAILABLE:
        return Basis(
            signal="robots",
            verdict=Verdict.NONE,
            reason=f"robots.txt unavailable ({evidence.source}): access allowed (RFC 9309 §2.3.1.3)",
            **common,
        )
    rules = evidence.rules
    assert rules is not None, "a parsed robots.txt has rules"
    token = rules.selection.token
    delay = rules.crawl_delay
    if delay is not None and evidence.max_crawl_delay is not None and delay > evidence.max_crawl_delay:
        return Basis(
            signal="robots",
            verdict=Verdict.DENY,
            reason=(
                f"robots.txt asks {token} for Crawl-delay {delay:g} s, above the "
                f"{evidence.max_crawl_delay:g} s this crawl accepts; host not crawled"
            ),
            **common,
        )
    path = _path_of(url)
    rule = rules.matching_rule(url)
    group = rules.selection.describe()
    if not rules.can_fetch(url):
        return Basis(
            signal="robots",
            verdict=Verdict.DENY,
            reason=f"robots.txt disallows {path} for {token}: {rule or 'a Disallow rule'} in {group}",
            rule=rule,
            **common,
        )
    if rule:
        why = f"{rule} in {group}"
    elif rules.selection.groups:
        why = f"no rule in {group} matches"
    else:
        why = group
    return Basis(
        signal="robots",
        verdict=Verdict.NONE,
        reason=f"robots.txt allows {path} for {token} ({why}); access only, no use granted",
        rule=rule,
        **common,
    )


def _path_of(url: str) -> str:
    rest = url.split("://", 1)[-1]
    slash = rest.find("/")
    return rest[slash:] if slash >= 0 else "/"


def token_of(user_agent: str) -> str:
    """Return the product token of ``user_agent``; raise ValueError if it has none."""
    token = agent_token(user_agent)
    if not token or token == "*":
        raise ValueError(f"expected a robots.txt product token such as 'permitcrawl', got {user_agent!r}")
    return token


def robots_evidence(
    document: Document,
    token: str,
    *,
    max_crawl_delay: float | None = None,
    parse_limit: int = PARSE_LIMIT,
) -> RobotsEvidence:
    """Read a fetched robots.txt document into evidence for ``token``; never raises.

    The fetch status decides per RFC 9309 §2.3.1 (see :func:`classify`); a 2xx
    body is parsed up to ``parse_limit`` bytes. Anything that goes wrong while
    reading it counts as unreachable (complete disallow), with the error named.
    """
    outcome = classify(document.status if document.error is None else None)
    common = {
        "url": document.url,
        "sha256": document.sha256,
        "record_id": document.record_id,
        "max_crawl_delay": max_crawl_delay,
    }
    if outcome is not RobotsOutcome.PARSED:
        return RobotsEvidence(outcome=outcome, source=document.describe(), **common)
    try:
        body, cut = truncate(document.body, parse_limit)
        rules = RobotsRules(RobotsTxt.parse(decode(body)), token)
    except Exception as exc:  # fail closed: a file we cannot read forbids everything
        source = f"{document.describe()}; could not be read: {exc!r}"
        return RobotsEvidence(outcome=RobotsOutcome.UNREACHABLE, source=source, **common)
    source = document.describe()
    if cut or document.truncated:
        source += f"; only the first {len(body)} bytes were parsed"
    return RobotsEvidence(outcome=outcome, source=source, rules=rules, **common)
