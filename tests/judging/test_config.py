"""Settings are checked strictly at start-up: the setting, the value, what was expected."""

from __future__ import annotations

import pytest
from scrapy.settings import Settings

from crawler.adapters.overrides import parse_overrides
from crawler.adapters.runner import prepare_crawl
from crawler.errors import SettingsError
from crawler.judging.config import CONTACT_PLACEHOLDER, load_config
from policies.decision import DefaultPolicy
from policies.purpose import Purpose


def config(**values):
    return load_config(Settings(values))


def test_defaults() -> None:
    cfg = config()
    assert cfg.purpose is Purpose.AI_TRAIN
    assert cfg.default_policy is DefaultPolicy.ALLOW
    assert cfg.robots_token == "permitcrawl"
    assert cfg.user_agent.startswith("permitcrawl/") and cfg.user_agent.endswith(f"(+{CONTACT_PLACEHOLDER})")
    assert cfg.evidence_ttl == 86400 and cfg.robots_max_redirects == 5 and cfg.robots_parse_limit == 512000


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "POLICY_PURPOSE",
            "training",
            r"^setting POLICY_PURPOSE='training' is not usable: unknown purpose 'training'; "
            r"expected one of ai-train, ai-input, search$",
        ),
        ("POLICY_DEFAULT", "maybe", r"POLICY_DEFAULT='maybe' is not usable.*expected allow or deny"),
        ("POLICY_ROBOTS_TOKEN", "perm crawl", r"POLICY_ROBOTS_TOKEN='perm crawl'.*expected a product token"),
        (
            "POLICY_EVIDENCE_TTL",
            "172800",
            r"POLICY_EVIDENCE_TTL='172800'.*out of range.*expected seconds, 1 to 86400",
        ),
        ("POLICY_EVIDENCE_TTL", "soon", r"POLICY_EVIDENCE_TTL='soon' is not usable; expected seconds"),
        ("POLICY_ROBOTS_MAX_REDIRECTS", "3", r"expected a whole number of redirects, 5 to 20"),
        ("POLICY_ROBOTS_PARSE_LIMIT", "1000", r"expected bytes, at least 512000"),
        ("POLICY_DELIVER_REFUSED", "perhaps", r"expected true or false"),
        ("POLICY_CONTACT_URL", "me", r"expected an http\(s\) or mailto URL"),
        ("WARC_GZIP_LEVEL", "11", r"expected a gzip level, 0 \(none\) to 9"),
        ("POLICY_HOSTS_KEPT", "99", r"POLICY_HOSTS_KEPT='99'.*expected a whole number of hosts, 100 to"),
        ("POLICY_HOSTS_KEPT", "many", r"POLICY_HOSTS_KEPT='many' is not usable"),
        ("WARC_PREFIX", "a/b", r"WARC_PREFIX='a/b'"),
        (
            "USER_AGENT",
            "Mozilla/5.0",
            r"USER_AGENT='Mozilla/5.0' does not carry the robots token 'permitcrawl'",
        ),
    ],
)
def test_bad_values(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        config(**{name: value})


def test_overrides() -> None:
    assert parse_overrides(["CONCURRENT_REQUESTS=4", "X_Y="]) == {"CONCURRENT_REQUESTS": "4", "X_Y": ""}
    for bad in ("novalue", "lower=1", "=1"):
        with pytest.raises(SettingsError, match="expected NAME=VALUE"):
            parse_overrides([bad])


def test_crawl_settings_point_everything_at_the_crawl_dir(tmp_path) -> None:
    prepared = prepare_crawl(tmp_path, purpose="search", max_depth=2, overrides={"POLICY_DEFAULT": "deny"})
    settings = prepared.settings
    assert settings["WARC_DIR"] == str(tmp_path / "warc")
    assert settings["PROVENANCE_DB"] == str(tmp_path / "provenance.db")
    assert not settings.get("JOBDIR")  # the frontier (frontier.db) resumes a crawl, not Scrapy's job state
    assert settings.getint("DEPTH_LIMIT") == 2
    cfg = load_config(settings)
    assert cfg.purpose is Purpose.SEARCH and cfg.default_policy is DefaultPolicy.DENY
    assert prepared.setup.config == cfg  # the setup the crawl's components share, built from those settings
    with pytest.raises(SettingsError):
        prepare_crawl(tmp_path, overrides={"POLICY_PURPOSE": "x"})
