"""A crawl reads its configuration and its ToS store once, and records what it applies.

The CLI runs in a subprocess whose ``load_config`` and ``load_policies`` are
wrapped to count their calls (every module's reference to them), then the
test reads the crawl's configuration record back as audit does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from typing import TYPE_CHECKING

import pytest
import sqlite_utils

from crawler.judging.judge import JudgeConfig
from crawler.storage.archive import WarcArchive
from policies.store import load_policies, write_rule
from tests.conftest import cli_env

if TYPE_CHECKING:
    from pathlib import Path

    from crawler.localweb.server import LocalWebServer

# Runs the CLI with every reference to the two loaders wrapped; writes the counts to argv[1].
COUNTING = """
import json, sys
import crawler.adapters.addon, crawler.adapters.runner, crawler.cli, crawler.cli.crawl, crawler.cli.dataset
import crawler.judging.config, crawler.judging.judge
import policies.store

counts = {"load_config": 0, "load_policies": 0}

def counted(name, original):
    def wrapper(*args, **kwargs):
        counts[name] += 1
        return original(*args, **kwargs)
    return wrapper

for name, home in (("load_config", "crawler.judging.config"), ("load_policies", "policies.store")):
    original = getattr(sys.modules[home], name)
    wrapper = counted(name, original)
    for module in list(sys.modules.values()):
        if getattr(module, name, None) is original:
            setattr(module, name, wrapper)
try:
    crawler.cli.cli(sys.argv[2:], prog_name="permitcrawl")
finally:
    with open(sys.argv[1], "w") as out:
        json.dump(counts, out)
"""

RULE = {
    "ai_scraping": "No Scraping & AI",
    "license": "Unrestricted Use",
    "compete": "Unrestricted Use",
    "deny": ("ai-train", "ai-input"),
    "quote": ("You may not scrape the Service or use it to train AI.",),
    "tos_url": "http://tos-strict.test/legal/terms",
    "reviewer": "A. Maintainer",
    "reviewed": date(2026, 11, 1),
    "review_by": date(2027, 5, 1),
}


def counted_run(tmp_path: Path, web: LocalWebServer, *args: str | Path) -> dict[str, int]:
    counts = tmp_path / "counts.json"
    result = subprocess.run(
        [sys.executable, "-c", COUNTING, str(counts), *map(str, args)],
        capture_output=True,
        text=True,
        env=cli_env(web.proxy_url),
        timeout=180,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(counts.read_text())


@pytest.fixture
def store(tmp_path: Path) -> Path:
    directory = tmp_path / "store"
    directory.mkdir()
    write_rule(directory, "tos-strict.test", RULE)
    write_rule(directory, "site-a.test", {**RULE, "deny": (), "tos_url": "http://site-a.test/terms"})
    return directory


def test_a_crawl_loads_its_configuration_and_store_once_and_records_what_it_applies(
    tmp_path: Path, web: LocalWebServer, store: Path
) -> None:
    out = tmp_path / "crawl"
    crawl = ["crawl", "http://site-a.test/", "http://tos-strict.test/", "--out", out, "--policies", store]
    fast = ["-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "DOWNLOAD_TIMEOUT=1"]
    assert counted_run(tmp_path, web, *crawl, *fast) == {"load_config": 1, "load_policies": 1}

    # The rules recorded are the store's, and audit's rebuilt configuration is the one applied.
    db = sqlite_utils.Database(out / "provenance.db")
    [row] = db.query("select config_record_id, settings from crawls")
    recorded = JudgeConfig.from_record(WarcArchive(out).read(row["config_record_id"]).json())
    loaded = load_policies(store).all_rules()
    assert recorded.rules == tuple(loaded)
    assert [rule.where for rule in recorded.rules] == [rule.where for rule in loaded]
    assert [r["file"] for r in db.query("select file from policy_rules")] == [r.file for r in loaded]
    settings = json.loads(row["settings"])["permitcrawl"]
    assert (recorded.purpose.value, recorded.default_policy.value, recorded.token) == (
        settings["purpose"],
        settings["default_policy"],
        settings["robots_token"],
    )
    refusal = next(db.query("select signal from refusals where url = 'http://tos-strict.test/'"))
    assert refusal["signal"] == "tos-policy"  # the rule recorded is the rule applied

    # A recheck is a crawl too: one load of each.
    assert counted_run(tmp_path, web, "recheck", out, "--policies", store) == {
        "load_config": 1,
        "load_policies": 1,
    }
