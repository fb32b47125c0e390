"""The ``content-signal`` signal: Cloudflare's Content Signals, in robots.txt groups and as a header.

``Content-Signal: search=yes, ai-train=no, use=reference`` sits in a User-agent
group. The policy text says: ``yes`` grants the use, ``no`` restricts it, an
absent key neither grants nor restricts. No formal grammar is published, so
the line is read leniently: comma-separated ``key=value`` pairs, keys and
values case-insensitive. Only ``yes`` ever grants; values that plainly mean no
(``no``, ``n``, ``false``, ``0``, ``deny``, ``disallow``) restrict; anything
else says nothing and is recorded as malformed. A key given twice on one line
is read most-restrictively, as two lines would be: a ``no`` anywhere reserves.
Pairs written otherwise (``search=yes; ai-train=no``, ``ai-train="no"``,
pairs separated by spaces) are found too, and a ``no`` among them reserves;
only the comma-separated reading can grant.
The 2026 ``use`` key limits
how content may be used (``immediate`` < ``reference`` < ``full``); below
``full`` it reserves ai-train (conservative reading ``content_signal_use``).
Several lines, robots.txt and header, combine most-restrictively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from policies.decision import Basis, Cite, Verdict
from policies.purpose import Purpose

if TYPE_CHECKING:
    from policies.robotstxt import Group, Record, RobotsTxt

KEYS: dict[str, Purpose] = {
    "ai-train": Purpose.AI_TRAIN,
    "ai-input": Purpose.AI_INPUT,
    "search": Purpose.SEARCH,
}
NEGATIVE = frozenset({"no", "n", "false", "0", "deny", "disallow"})
LIMITED_USE = frozenset({"immediate", "reference"})
SEPARATORS = frozenset({"allow", "disallow", "content-signal"})


@dataclass(frozen=True)
class Signals:
    """One parsed Content-Signal value: each key (lower-cased) and every value it was given, in order."""

    text: str
    values: dict[str, tuple[str, ...]]
    # Every key=value pair however separated or quoted: read for reservations only.
    loose: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def verdict(self, purpose: Purpose, *, use_limits: bool) -> tuple[Verdict, str]:
        """The verdict for ``purpose`` and the pair that gave it (``ai-train=no``).

        A key given several values (``ai-train=no, ai-train=yes``) is not read
        as its last value: a ``no`` anywhere reserves, and only a key whose
        every value is ``yes`` grants.
        """
        key = next(k for k, p in KEYS.items() if p is purpose)
        given = self.values.get(key, ())
        negative = next((v for v in given if v in NEGATIVE), None)
        if negative is not None:
            return Verdict.DENY, f"{key}={negative}"
        negative = next((v for v in self.loose.get(key, ()) if v in NEGATIVE), None)
        if negative is not None:
            return Verdict.DENY, f"{key}={negative} (written loosely: {self.text.strip()!r})"
        uses = (*self.values.get("use", ()), *self.loose.get("use", ()))
        limited = next((u for u in uses if u in LIMITED_USE), None)
        if use_limits and purpose is Purpose.AI_TRAIN and limited is not None:
            return (
                Verdict.DENY,
                f"use={limited} (less than full use; conservative reading 'content_signal_use')",
            )
        other = next((v for v in given if v != "yes"), None)
        if other is not None:
            return Verdict.NONE, f"{key}={other} (not yes or no: malformed)"
        if given:
            return Verdict.ALLOW, f"{key}=yes"
        return Verdict.NONE, ""


# A key, '=', a value, whatever surrounds them; linear (no nested repetition).
_PAIR = re.compile(r"""([A-Za-z][\w-]*)\s*=\s*["']?([^\s,;"']*)""")


def parse_signals(text: str) -> Signals:
    """Parse ``k=v, k=v``; items without ``=`` are skipped; never raises."""
    values: dict[str, tuple[str, ...]] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            name = key.strip().lower()
            values[name] = (*values.get(name, ()), value.strip().lower())
    loose: dict[str, tuple[str, ...]] = {}
    for key, value in _PAIR.findall(text):
        loose[key.lower()] = (*loose.get(key.lower(), ()), value.lower())
    return Signals(text, values, loose)


def group_lines(robots: RobotsTxt, token: str, *, wildcard: bool) -> list[tuple[Group, Record]]:
    """The Content-Signal lines that apply to ``token``: ours (else ``*``), plus ``*`` with ``wildcard``."""
    key = ("content-signal", token, wildcard)
    return robots.derived.get(key, lambda: _group_lines(robots, token, wildcard=wildcard))


def _group_lines(robots: RobotsTxt, token: str, *, wildcard: bool) -> list[tuple[Group, Record]]:
    selection = robots.select(token, SEPARATORS)
    groups = list(selection.groups)
    if wildcard and selection.matched not in ("*", None):
        groups += [g for g in robots.groups(SEPARATORS) if g.names("*") and g not in groups]
    return [(g, r) for g in groups for r in g.records if r.field == "content-signal"]


def _basis(found: list[tuple[Verdict, str]], purpose: Purpose, cite: Cite, where: str) -> Basis:
    for wanted, word in ((Verdict.DENY, "reserves"), (Verdict.ALLOW, "grants")):
        hits = [text for verdict, text in found if verdict is wanted]
        if hits:
            return cite.basis("content-signal", wanted, f"{hits[0]} {word} {purpose.value}", rule=hits[0])
    detail = next((text for _, text in found if text), "")
    reason = f"{detail}: says nothing about {purpose.value}" if detail else f"no Content-Signal {where}"
    return cite.basis("content-signal", Verdict.NONE, reason)


def robots_signal_basis(
    robots: RobotsTxt,
    token: str,
    purpose: Purpose,
    *,
    wildcard: bool,
    use_limits: bool,
    cite: Cite,
) -> Basis:
    """The ``content-signal`` basis from robots.txt: site-wide, so computed once per purpose."""
    key = ("content-signal-basis", token, purpose, wildcard, use_limits, cite)
    return robots.derived.get(
        key, lambda: _robots_signal_basis(robots, token, purpose, wildcard, use_limits, cite)
    )


def _robots_signal_basis(
    robots: RobotsTxt,
    token: str,
    purpose: Purpose,
    wildcard: bool,
    use_limits: bool,
    cite: Cite,
) -> Basis:
    found = []
    for group, record in group_lines(robots, token, wildcard=wildcard):
        verdict, pair = parse_signals(record.value).verdict(purpose, use_limits=use_limits)
        line = f"robots.txt 'Content-Signal: {record.value}' (line {record.line}) in {group.describe()}"
        found.append((verdict, f"{line}: {pair}" if pair else line))
    return _basis(found, purpose, cite, "line in robots.txt applies to us")


def header_signal_basis(values: tuple[str, ...], purpose: Purpose, *, use_limits: bool) -> Basis | None:
    """The ``content-signal`` basis from Content-Signal response headers, or None if there are none."""
    if not values:
        return None
    found = []
    for value in values:
        verdict, pair = parse_signals(value).verdict(purpose, use_limits=use_limits)
        line = f"Content-Signal header {value!r}"
        found.append((verdict, f"{line}: {pair}" if pair else line))
    return _basis(found, purpose, Cite(source="response header Content-Signal"), "header")
