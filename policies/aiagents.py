"""The ``robots-ai-agents`` signal: what a site's robots.txt says to well-known AI crawlers.

A site that disallows GPTBot, CCBot or Google-Extended for a path has said
that it does not want that path used to train AI models, even though those
groups do not name us. The curated list (``data/ai_agents.json``, from
ai.robots.txt with its source and date) sorts each token by function; only
training tokens count for ``ai-train``, and AI-search, user-triggered and
agent tokens for ``ai-input``. Nothing here counts for ``search``. This is a
conservative reading (``Readings.ai_agents``): RFC 9309 alone binds only the
groups that name us.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from policies.decision import Basis, Verdict
from policies.patterns import path_of
from policies.purpose import Purpose
from policies.robots import RobotsRules
from policies.robotstxt import agent_token

if TYPE_CHECKING:
    from policies.robots import RobotsEvidence

# Which function buckets speak for which purpose.
BUCKETS: dict[Purpose, frozenset[str]] = {
    Purpose.AI_TRAIN: frozenset({"training"}),
    Purpose.AI_INPUT: frozenset({"ai-search", "user-fetch", "agent"}),
    Purpose.SEARCH: frozenset(),
}


@dataclass(frozen=True)
class Agent:
    """One AI crawler token from the curated list."""

    token: str
    operator: str
    function: str
    bucket: str

    @property
    def key(self) -> str:
        """The token as robots.txt group matching reads it (``Brightbot 1.0`` is ``brightbot``)."""
        return agent_token(self.token)


@dataclass(frozen=True)
class AgentList:
    """The curated list, with where it came from."""

    source: str
    commit: str
    date: str
    agents: tuple[Agent, ...]

    def for_purpose(self, purpose: Purpose) -> dict[str, list[Agent]]:
        """The agents whose disallow rules speak for ``purpose``, by robots.txt key."""
        found: dict[str, list[Agent]] = {}
        for agent in self.agents:
            if agent.bucket in BUCKETS[purpose] and agent.key:
                found.setdefault(agent.key, []).append(agent)
        return found

    @property
    def provenance(self) -> str:
        return f"{self.source} @ {self.commit[:8]} ({self.date})"


@cache
def load_agents() -> AgentList:
    """Load the bundled list (cached)."""
    data: dict[str, Any] = json.loads(files("policies").joinpath("data/ai_agents.json").read_text("utf-8"))
    agents = tuple(Agent(a["token"], a["operator"], a["function"], a["bucket"]) for a in data["agents"])
    return AgentList(data["source"], data["commit"], data["date"], agents)


@cache
def _keys_for(purpose: Purpose) -> dict[str, list[Agent]]:
    return load_agents().for_purpose(purpose)


def agent_keys(purpose: Purpose) -> frozenset[str]:
    """The robots.txt keys of the listed agents that speak for ``purpose``."""
    return frozenset(_keys_for(purpose))


def agent_rules(robots: RobotsEvidence, purpose: Purpose) -> dict[str, RobotsRules]:
    """The access rules of every listed agent that the robots.txt names in a group of its own."""
    if robots.rules is None:
        return {}
    rules = robots.rules
    return robots.derived.get(("ai-agents", purpose), lambda: _agent_rules(rules, purpose))


def _agent_rules(rules: RobotsRules, purpose: Purpose) -> dict[str, RobotsRules]:
    wanted = _keys_for(purpose)
    named = {token for group in rules.robots.access_groups for token in group.tokens}
    # A group that also names us is read as ours by the robots signal already.
    named.discard(rules.selection.token)
    return {key: RobotsRules(rules.robots, key) for key in sorted(named & wanted.keys())}


def ai_agents_basis(robots: RobotsEvidence, url: str, purpose: Purpose) -> Basis | None:
    """Return the ``robots-ai-agents`` basis for ``url``, or None when nothing is read for ``purpose``."""
    if not BUCKETS[purpose] or robots.rules is None:
        return None
    rules = agent_rules(robots, purpose)
    common = {"source": robots.source, "sha256": robots.sha256, "record_id": robots.record_id}
    path = path_of(url)
    kind = "AI-training" if purpose is Purpose.AI_TRAIN else "AI search and assistant"
    refused = [key for key, agent_rules in rules.items() if not agent_rules.can_fetch(url)]
    if not refused:
        named = ", ".join(rules) or "none"
        return Basis(
            signal="robots-ai-agents",
            verdict=Verdict.NONE,
            reason=f"robots.txt refuses {path} to no {kind} crawler of the list (named: {named})",
            **common,
        )
    agents = _keys_for(purpose)
    names = ", ".join(f"{agents[key][0].token} ({agents[key][0].operator})" for key in refused)
    rule = rules[refused[0]].matching_rule(url)
    return Basis(
        signal="robots-ai-agents",
        verdict=Verdict.DENY,
        reason=(
            f"robots.txt disallows {path} for {kind} crawlers {names}: read as a {purpose.value} "
            f"opt-out (conservative reading 'ai_agents'; list: {load_agents().provenance})"
        ),
        rule=rule,
        **common,
    )
