"""robots.txt access rules (RFC 9309): the matcher, the fetch outcome, and the ``robots`` basis.

Group selection follows Google's reference parser (see :mod:`policies.robotstxt`);
path matching is :class:`policies.patterns.RuleIndex`, linear in the URL and
cheap however many rules a file has. Protego, Scrapy's parser, was the matcher
until a hostile robots.txt showed its cost (every rule re-parsed, and scanned
per URL once a short prefix matches); it stays the oracle that the tests
compare this matcher with, rule for rule.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING

from policies.decision import Basis, Cite, Verdict
from policies.memo import Memo
from policies.patterns import RuleIndex, path_of
from policies.robotstxt import (
    MAX_RECORDS,
    MAX_WILD_PATTERNS,
    OTHER_BREAKS,
    PARSE_LIMIT,
    Record,
    RobotsTxt,
    Selection,
    google_text,
    readings,
)

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


# RFC 9309 §2.2.2: the robots.txt file itself is always allowed.
_ROBOTS_PATH = "/robots.txt"
# Google's reference parser reads 'Allow: /dir/index.htm(l)' as allowing '/dir/' as well.
_INDEX_PAGE = "/index.htm"


def access_rules(records: tuple[Record, ...]) -> RuleIndex[Record]:
    """The Allow/Disallow records as a :class:`RuleIndex`: the longest pattern wins, Allow wins a tie.

    Empty patterns are no rules. An Allow of ``/dir/index.htm(l)`` also allows
    ``/dir/`` exactly, as Google's reference parser does.
    """
    entries: list[tuple[str, Record]] = []
    for record in records:
        if record.field not in ("allow", "disallow") or not record.value:
            continue
        entries.append((record.value, record))
        slash = record.value.rfind("/")
        if record.field == "allow" and slash >= 0 and record.value[slash:].startswith(_INDEX_PAGE):
            entries.append((record.value[: slash + 1] + "$", record))
    return RuleIndex(entries, lambda length, record: 2 * length + (record.field == "allow"))


def _describe(rule: Record | None) -> str | None:
    if rule is None:
        return None
    return f"'{_rule_line(rule.field, rule.value)}' (line {rule.line})"


class RobotsRules:
    """The access rules of one robots.txt for one product token, ready to match URLs.

    Matching is :class:`~policies.patterns.RuleIndex`'s: linear in the URL,
    and independent of the number of plain rules (a robots.txt of hundreds of
    thousands of lines costs a dictionary probe per distinct pattern length).
    """

    # Kept per host for as long as its evidence is: no instance dictionary.
    __slots__ = ("_index", "_rules", "crawl_delay", "robots", "selection")

    def __init__(self, robots: RobotsTxt, token: str) -> None:
        self.robots = robots
        self.selection: Selection = robots.select(token)
        self._rules = self.selection.records("allow", "disallow")
        self._index = access_rules(self._rules)
        # The first readable Crawl-delay in the selected groups, in seconds (may be ``inf``), or None.
        self.crawl_delay: float | None = self._crawl_delay()

    def deciding_rule(self, url: str) -> Record | None:
        """The record that decides ``url`` (longest match, Allow on a tie), or None when none matches."""
        found = self._index.best(url)
        if not found:
            return None
        allows = [r for r in found if r.field == "allow"]
        return min(allows or found, key=lambda r: r.line)

    def can_fetch(self, url: str) -> bool:
        """Return True if the selected group lets the token fetch ``url``."""
        if path_of(url) == _ROBOTS_PATH:
            return True
        rule = self.deciding_rule(url)
        return rule is None or rule.field == "allow"

    def matching_rule(self, url: str) -> str | None:
        """Return the rule that decides ``url`` (``"'Disallow: /x' (line 4)"``), or None."""
        return _describe(self.deciding_rule(url))

    def access(self, url: str) -> tuple[bool, str | None]:
        """``(can_fetch(url), matching_rule(url))``, matching ``url`` against the rules once."""
        rule = self.deciding_rule(url)
        allowed = rule is None or rule.field == "allow" or path_of(url) == _ROBOTS_PATH
        return allowed, _describe(rule)

    def _crawl_delay(self) -> float | None:
        for record in self.selection.records("crawl-delay"):
            delay = read_delay(record.value)
            if delay is not None:
                return delay
        return None


# A number as sites write one, and the unit some add ('120 seconds', '1,5', '500ms', 'inf').
_DELAY = re.compile(
    r"\s*(?P<number>inf(?:inity)?|(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:e[+-]?\d+)?)\s*(?P<unit>[a-z]*)",
    re.IGNORECASE,
)
_UNITS = {"ms": 0.001, "msec": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
          "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0}  # fmt: skip


def read_delay(value: str) -> float | None:
    """A Crawl-delay value in seconds, read as its author meant it; None when it holds no delay.

    No standard defines the field; a number of seconds is the convention. A
    decimal comma, a unit after the number (seconds unless it says ms or
    minutes) and trailing text are read; a delay too large to represent
    (``1e400``, ``inf``) is ``inf``; a negative or NaN value is no delay.
    """
    match = _DELAY.match(value)
    if match is None:
        return None
    delay = float(match["number"].replace(",", "."))
    delay *= _UNITS.get(match["unit"].lower(), 1.0)
    return delay if delay >= 0 and not math.isnan(delay) else None


def can_fetch(robots_txt: str, user_agent: str, url: str) -> bool:
    """Return True if ``robots_txt`` lets the product token ``user_agent`` fetch ``url``.

    ``user_agent`` is cut to its product token (``permitcrawl/2.0`` and
    ``permitcrawl bot`` are ``permitcrawl``); one with no product token in it
    (``""``) gets the ``*`` groups. Never raises. The text is judged as
    :func:`~policies.robotstxt.readings` judges a document's text: as written,
    with lines split at every line separator, and as Google's reference
    parser reads it; the URL is fetchable only if every reading allows it.
    """
    texts = {robots_txt, robots_txt.translate(OTHER_BREAKS), google_text(robots_txt)}
    return all(RobotsRules(RobotsTxt.parse(text), user_agent).can_fetch(url) for text in texts)


@dataclass(frozen=True, kw_only=True, slots=True)
class RobotsEvidence:
    """What is known about one origin's robots.txt, for one product token.

    ``source`` names the document for a reason sentence (URL, redirect, HTTP
    status, how it was read); ``rules`` is None unless the file was parsed.
    ``variants`` are the file's other plausible readings (another decoding,
    the whole file past the parse limit), each complete evidence of its own:
    the engine judges under each and the most restrictive applies.
    """

    url: str
    outcome: RobotsOutcome
    source: str
    sha256: str | None = None
    record_id: str | None = None
    rules: RobotsRules | None = None
    max_crawl_delay: float | None = None
    variants: tuple[RobotsEvidence, ...] = ()
    # Per-host work the signals derive from this file (agent rules, group
    # selections), computed once and kept with it.
    derived: Memo = field(default_factory=Memo, compare=False, repr=False)

    @property
    def cite(self) -> Cite:
        """This file, as the bases read from it cite it."""
        return Cite(source=self.source, sha256=self.sha256, record_id=self.record_id)

    @property
    def readings(self) -> tuple[RobotsEvidence, ...]:
        """This reading and its variants."""
        return (self, *self.variants)

    def permits(self, url: str) -> bool:
        """True if every reading lets us fetch ``url`` (for our own evidence requests)."""
        if self.outcome is RobotsOutcome.UNREACHABLE:
            return False
        return all(r.rules is None or r.rules.can_fetch(url) for r in self.readings)

    @property
    def crawl_delay(self) -> float | None:
        """The Crawl-delay that applies to us (the longest any reading asks for), or None."""
        delays = [r.rules.crawl_delay for r in self.readings if r.rules and r.rules.crawl_delay is not None]
        return max(delays) if delays else None

    @property
    def sitemaps(self) -> tuple[str, ...]:
        """Sitemap URLs named in the file (in any reading)."""
        found = (url for r in self.readings if r.rules for url in r.rules.robots.sitemaps)
        return tuple(dict.fromkeys(found))


def robots_basis(evidence: RobotsEvidence, url: str) -> Basis:
    """Return the ``robots`` basis for ``url``: ``deny`` if access is refused, else ``none``.

    robots.txt governs access only: permission to fetch is not a grant of any
    use, so an allowed URL gets ``none`` and the other signals (or the default
    policy) decide the use.
    """
    cite = evidence.cite
    if evidence.outcome is RobotsOutcome.UNREACHABLE:
        reason = f"robots.txt unreachable ({evidence.source}): complete disallow (RFC 9309 §2.3.1.4)"
        return cite.basis("robots", Verdict.DENY, reason)
    if evidence.outcome is RobotsOutcome.UNAVAILABLE:
        reason = f"robots.txt unavailable ({evidence.source}): access allowed (RFC 9309 §2.3.1.3)"
        return cite.basis("robots", Verdict.NONE, reason)
    rules = evidence.rules
    assert rules is not None, "a parsed robots.txt has rules"
    token = rules.selection.token
    delay = rules.crawl_delay
    limit = evidence.max_crawl_delay if evidence.max_crawl_delay is not None else math.inf
    if delay is not None and (delay > limit or math.isinf(delay)):
        reason = (
            f"robots.txt asks {token} for Crawl-delay {delay:g} s, above the "
            f"{limit:g} s this crawl accepts; host not crawled"
        )
        return cite.basis("robots", Verdict.DENY, reason)
    path = _path_of(url)
    allowed, rule = rules.access(url)
    group = rules.selection.describe()
    if not allowed:
        reason = f"robots.txt disallows {path} for {token}: {rule or 'a Disallow rule'} in {group}"
        return cite.basis("robots", Verdict.DENY, reason, rule=rule)
    if rule:
        why = f"{rule} in {group}"
    elif rules.selection.groups:
        why = f"no rule in {group} matches"
    else:
        why = group
    reason = f"robots.txt allows {path} for {token} ({why}); access only, no use granted"
    return cite.basis("robots", Verdict.NONE, reason, rule=rule)


def _path_of(url: str) -> str:
    rest = url.split("://", 1)[-1]
    slash = rest.find("/")
    return rest[slash:] if slash >= 0 else "/"


def robots_evidence(
    document: Document,
    token: str,
    *,
    max_crawl_delay: float | None = None,
    parse_limit: int = PARSE_LIMIT,
) -> RobotsEvidence:
    """Read a fetched robots.txt document into evidence for ``token``; never raises.

    The fetch status decides per RFC 9309 §2.3.1 (see :func:`classify`). A 2xx
    body is read in every plausible way (:func:`~policies.robotstxt.readings`):
    the first reading is the evidence, the others its ``variants``. A body
    not read whole (cut by the server, over the size bound, a content-coding
    that does not decode), one with more than ``MAX_WILD_PATTERNS`` wildcard
    patterns or more than ``MAX_RECORDS`` records in all its readings, and
    anything that goes wrong while reading it count as unreachable (complete
    disallow), with the reason named.
    """
    outcome = classify(document.status if document.error is None else None)
    of_document = partial(
        RobotsEvidence,
        url=document.url,
        sha256=document.sha256,
        record_id=document.record_id,
        max_crawl_delay=max_crawl_delay,
    )

    def unreachable(why: str) -> RobotsEvidence:
        source = f"{document.describe()}; {why}"
        return of_document(outcome=RobotsOutcome.UNREACHABLE, source=source)

    if outcome is not RobotsOutcome.PARSED:
        return of_document(outcome=outcome, source=document.describe())
    if document.incomplete is not None:
        return unreachable("a robots.txt not read whole is no robots.txt")
    try:
        evidence = []
        records = 0
        for reading in readings(document, parse_limit):
            robots = RobotsTxt.parse(reading.text)
            records += len(robots.records)
            if robots.wild_patterns > MAX_WILD_PATTERNS:
                return unreachable(
                    f"it has {robots.wild_patterns} patterns with '*' or '$', more than the "
                    f"{MAX_WILD_PATTERNS} this crawler evaluates"
                )
            if records > MAX_RECORDS:
                return unreachable(
                    f"its readings hold more than the {MAX_RECORDS} records this crawler keeps for a file"
                )
            source = document.describe() + (f"; {reading.how}" if reading.how else "")
            rules = RobotsRules(robots, token)
            evidence.append(of_document(outcome=outcome, source=source, rules=rules))
    except Exception as exc:  # fail closed: a file we cannot read forbids everything
        return unreachable(f"could not be read: {type(exc).__name__}: {exc}")
    primary, *others = evidence
    return replace(primary, variants=tuple(others))
