"""The robots-ai-agents signal and its curated list: vectors R7, R8 of ../shared/reference/signals.md §1.4."""

from __future__ import annotations

from datetime import UTC, datetime

from policies.aiagents import agent_keys, ai_agents_basis, load_agents
from policies.decision import Verdict
from policies.document import Document
from policies.purpose import Purpose
from policies.robots import robots_evidence

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def verdict(robots: str, path: str, purpose: Purpose = Purpose.AI_TRAIN) -> Verdict | None:
    doc = Document(
        kind="robots.txt", url="http://x/robots.txt", status=200, body=robots.encode(), fetched_at=NOW
    )
    basis = ai_agents_basis(robots_evidence(doc, "permitcrawl"), f"http://x{path}", purpose)
    return None if basis is None else basis.verdict


def test_the_list() -> None:
    agents = load_agents()
    assert len(agents.agents) == 166
    assert agents.commit.startswith("738c80df") and agents.date == "2026-08-22"
    buckets = {a.bucket for a in agents.agents}
    assert {"training", "ai-search", "user-fetch", "agent"} <= buckets
    assert sum(a.bucket == "training" for a in agents.agents) == 56
    training = agent_keys(Purpose.AI_TRAIN)
    assert {"gptbot", "ccbot", "google-extended", "claudebot", "scrapy"} <= training
    assert "oai-searchbot" not in training and "oai-searchbot" in agent_keys(Purpose.AI_INPUT)
    assert agent_keys(Purpose.SEARCH) == frozenset()


def test_r7_training_crawler_refused() -> None:
    assert verdict("User-agent: GPTBot\nDisallow: /\n", "/a") is Verdict.DENY
    assert verdict("User-agent: GPTBot\nDisallow: /\n", "/a", Purpose.SEARCH) is None


def test_r8_search_crawler_is_not_a_training_crawler() -> None:
    assert verdict("User-agent: OAI-SearchBot\nDisallow: /\n", "/a") is Verdict.NONE
    assert verdict("User-agent: OAI-SearchBot\nDisallow: /\n", "/a", Purpose.AI_INPUT) is Verdict.DENY


def test_path_specific_and_cut_tokens() -> None:
    robots = "User-agent: CCBot\nDisallow: /private/\n"
    assert verdict(robots, "/private/x") is Verdict.DENY
    assert verdict(robots, "/public") is Verdict.NONE
    assert (
        verdict("User-agent: Brightbot\nDisallow: /\n", "/a") is Verdict.DENY
    )  # 'Brightbot 1.0' in the list
    assert (
        verdict("User-agent: *\nDisallow: /\n", "/a") is Verdict.NONE
    )  # '*' is the robots signal's business


def test_reason_names_the_crawlers() -> None:
    doc = Document(
        kind="robots.txt",
        url="http://x/robots.txt",
        status=200,
        body=b"User-agent: GPTBot\nUser-agent: CCBot\nDisallow: /\n",
        fetched_at=NOW,
    )
    basis = ai_agents_basis(robots_evidence(doc, "permitcrawl"), "http://x/a", Purpose.AI_TRAIN)
    assert basis is not None and "GPTBot" in basis.reason and "CCBot" in basis.reason
    assert "ai_agents" in basis.reason
