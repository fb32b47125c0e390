"""The ``x-robots-tag`` and ``meta-robots`` signals: robots directives in headers and meta tags.

Directives are comma lists, compared case-insensitively. In a header, an item
``name: directive`` scopes that item, and the items after it on the same line,
to crawler ``name`` (``X-Robots-Tag: noindex, permitcrawl: noai``), unless
``name`` is itself a directive that takes a value (``max-snippet: 20``). Meta
tags are scoped by their name: ``robots`` speaks to all crawlers, any other
name to that crawler (``<meta name="permitcrawl" content="noai">``).

Directives addressed to everyone or to our token apply; with the conservative
reading ``ai_agents``, so do ``noai``-type directives addressed to a listed
AI crawler of the purpose's kind (``X-Robots-Tag: GPTBot: noai`` reserves
ai-train). What each directive does, per purpose:

- ``noai`` (DeviantArt: not to be used as input to AI models): ai-train, ai-input;
- ``noimageai``: the page's images; with ``noimageai_page`` the page too;
- ``noarchive`` (Bing: not used for training) with the ``noarchive`` reading: ai-train;
- ``noindex``, ``none``: search. They are not AI signals, but they are recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from policies.aiagents import agent_keys
from policies.decision import Basis, Verdict
from policies.purpose import Purpose
from policies.robotstxt import agent_token

if TYPE_CHECKING:
    from collections.abc import Iterable

    from policies.readings import Readings

VALUED = frozenset({"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"})
AI_PURPOSES = frozenset({Purpose.AI_TRAIN, Purpose.AI_INPUT})


@dataclass(frozen=True)
class Directive:
    """One directive; ``scope`` is the crawler token it is addressed to, None for everyone."""

    name: str
    scope: str | None
    origin: str


# Characters that end a word as sites write them: whitespace (also 'noimageai noai'), ';' and
# quotes ('noai;', '"noai"'), and the control characters HTTP forbids in a field (a NUL).
_NOT_WORD = re.compile(r"[\s;\"'\x00-\x1f\x7f]+")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Scopes that address every crawler, as sites write them ('*: noai', 'all: noai', 'robots: noai').
EVERYONE = frozenset({"*", "all", "robots"})


def _words(item: str) -> list[str]:
    """The directives of one comma-separated item, lower-cased.

    Directives are comma-separated; sites also separate them with spaces or
    semicolons, quote them, or leave a control character in: each is read
    both with that character as a separator and with it removed (``no\\x00ai``
    may be ``noai``), so that no reading of a directive is missed.
    """
    item = item.lower()
    words = [word for word in _NOT_WORD.split(item) if word]
    joined = _CONTROLS.sub("", item)
    if joined != item:
        words += [word for word in _NOT_WORD.split(joined) if word and word not in words]
    return words


def _scope(head: str) -> str | None:
    """The crawler an item's ``name:`` prefix addresses; None for everyone."""
    head = _CONTROLS.sub("", head).strip().strip("\"'").lower()
    if head in EVERYONE:
        return None
    return agent_token(head) or None


def parse_header(values: Iterable[str]) -> list[Directive]:
    """Directives of every X-Robots-Tag field line, in order."""
    found = []
    for line in values:
        scope: str | None = None
        for item in line.split(","):
            item = item.strip()
            head, sep, rest = item.partition(":")
            if sep and head.strip().lower() not in VALUED:
                scope = _scope(head)
                item = rest.strip()
            directive, valued, value = item.partition(":")
            # 'max-snippet:-1 noai': a value is one word; the words after it are directives.
            words = [directive.strip().lower(), *_words(value)[1:]] if valued else _words(directive)
            found += [Directive(word, scope, f"X-Robots-Tag: {line}") for word in words if word]
    return found


def parse_meta(meta: Iterable[tuple[str, str]]) -> list[Directive]:
    """Directives of meta tags named ``robots`` (everyone) or after a crawler token."""
    found = []
    for name, content in meta:
        if name.startswith("http-equiv:"):
            continue  # read as a header by the x-robots-tag signal
        scope = None if name == "robots" else agent_token(name)
        if scope == "":
            continue  # not a crawler name (content-type, viewport, ...)
        for item in content.split(","):
            for directive in _words(item):
                found.append(Directive(directive, scope, f'<meta name="{name}" content="{content}">'))
    return found


def _effect(directive: str, purpose: Purpose, readings: Readings) -> tuple[Verdict, str] | None:
    if purpose in AI_PURPOSES:
        if directive == "noai":
            return Verdict.DENY, "not to be used as input to AI models"
        if directive == "noimageai":
            if readings.noimageai_page:
                return (
                    Verdict.DENY,
                    "its images reserved from AI; the page too (conservative reading 'noimageai_page')",
                )
            return Verdict.NONE, "reserves the page's images from AI, not the page"
        if directive == "noarchive" and purpose is Purpose.AI_TRAIN and readings.noarchive:
            return (
                Verdict.DENY,
                "Bing reads it as 'not used for AI training' (conservative reading 'noarchive')",
            )
        if directive in ("noindex", "none"):
            return Verdict.NONE, "a search directive, not an AI signal (recorded)"
        return None
    if directive in ("noindex", "none"):
        return Verdict.DENY, "not to be indexed"
    return None


def directives_basis(
    directives: list[Directive], purpose: Purpose, *, token: str, readings: Readings, signal: str
) -> Basis | None:
    """The basis of ``signal`` from ``directives``, or None when there are none at all."""
    if not directives:
        return None
    ours = {None, token}
    agents = agent_keys(purpose, readings.ai_agents_dir) if readings.ai_agents else frozenset()
    effects = []
    for directive in directives:
        if directive.scope in ours:
            addressed = "us" if directive.scope else "all crawlers"
        elif directive.scope in agents and directive.name in ("noai", "noimageai"):
            addressed = f"AI crawler {directive.scope} (conservative reading 'ai_agents')"
        else:
            continue
        effect = _effect(directive.name, purpose, readings)
        if effect is not None:
            text = f"{directive.origin}: {directive.name} for {addressed}: {effect[1]}"
            effects.append((effect[0], text, directive.origin))
    for wanted in (Verdict.DENY, Verdict.NONE):
        hits = [(text, origin) for verdict, text, origin in effects if verdict is wanted]
        if hits:
            return Basis(signal=signal, verdict=wanted, reason=hits[0][0], rule=hits[0][1])
    seen = ", ".join(sorted({d.name for d in directives}))
    return Basis(
        signal=signal,
        verdict=Verdict.NONE,
        reason=f"robots directives ({seen}) say nothing about {purpose.value}",
    )
