"""recheck judges under the readings a crawl recorded: the AIPREF draft and the AI-crawler list included."""

from __future__ import annotations

from crawler.workflows.recheck import judged_as_crawled


def test_a_crawl_recorded_before_vocab_08_is_rechecked_by_vocab_07() -> None:
    settings = judged_as_crawled({"readings": {"ai_agents": True, "aipref_legacy": False, "rsl_geo": "DE"}})
    assert settings["POLICY_AIPREF_VOCAB"] == "07"
    assert settings["POLICY_READ_AI_AGENTS"] is True and settings["POLICY_READ_AIPREF_LEGACY"] is False
    assert settings["POLICY_RSL_GEO"] == "DE"


def test_the_recorded_draft_and_list_directory_are_kept() -> None:
    recorded = {"readings": {"ai_agents": True, "aipref_vocab": "08", "ai_agents_dir": "/srv/agents"}}
    settings = judged_as_crawled(recorded)
    assert settings["POLICY_AIPREF_VOCAB"] == "08"
    assert settings["POLICY_AI_AGENTS_DIR"] == "/srv/agents"
    assert "POLICY_READ_AIPREF_VOCAB" not in settings and "POLICY_READ_AI_AGENTS_DIR" not in settings
