"""Start-up cost of the read-only commands: what they load, asserted, so that no import re-adds it.

Each command runs in a fresh interpreter (``python -c``), through the same
click group as ``permitcrawl``; the script prints the modules loaded once the
command is done. Scrapy and Twisted, pyarrow and Redis are never needed to
read a crawl; the parsers of every signal, BeautifulSoup, the HTML, WARC and
frontier code that ``pages`` and ``explain`` used to load without using them
cost about 140 ms before any work.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

from crawler.cli import crawl as crawl_cli
from crawler.frontier.opening import EMBEDDED
from tests.conftest import cli_env

if TYPE_CHECKING:
    from tests.conftest import CrawlRun

# Runs one command as `permitcrawl ARGS` would, then prints its exit code and the modules loaded.
SCRIPT = """
import contextlib, io, json, sys
from crawler.cli.main import cli
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
    try:
        cli.main(sys.argv[1:], prog_name="permitcrawl")
        code = 0
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "output": out.getvalue(), "modules": sorted(sys.modules)}))
"""

# Never loaded by a command that only reads the provenance database.
FRAMEWORKS = ("scrapy", "twisted", "pyarrow", "redis")
# Nor what judging, the HTML reader or the WARC files need, by a command that does none of them.
READERS = ("policies.engine", "policies.producers", "lxml", "bs4", "warcio", "crawler.storage.warc")


def loaded_by(*args: str) -> tuple[str, set[str]]:
    """Run ``permitcrawl ARGS`` in a fresh interpreter; return its stdout and the modules it loaded."""
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args],
        capture_output=True,
        text=True,
        env=cli_env(None),
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["code"] == 0, report["output"]
    return report["output"], set(report["modules"])


def packages(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """The names (packages or modules) that ``modules`` holds, or holds a submodule of."""
    return [name for name in names if any(m == name or m.startswith(name + ".") for m in modules)]


def test_pages_by_host_loads_no_framework_and_no_reader(main_crawl: CrawlRun) -> None:
    output, modules = loaded_by("pages", str(main_crawl.out), "--host", "site-a.test")
    assert "http://site-a.test/" in output  # the command did its work
    assert packages(modules, FRAMEWORKS + READERS + ("w3lib",)) == []


def test_explain_loads_no_framework_and_no_reader(main_crawl: CrawlRun) -> None:
    output, modules = loaded_by("explain", str(main_crawl.out), "http://site-a.test/")
    assert "http://site-a.test/" in output
    assert packages(modules, FRAMEWORKS + READERS) == []


def test_report_and_frontier_status_load_no_framework(main_crawl: CrawlRun) -> None:
    for args in (("report", str(main_crawl.out)), ("frontier", "status", str(main_crawl.out))):
        _, modules = loaded_by(*args)
        assert packages(modules, FRAMEWORKS) == [], args


def test_help_loads_neither_the_database_code_nor_the_policies() -> None:
    output, modules = loaded_by("--help")
    assert "Usage: permitcrawl" in output
    assert packages(modules, (*FRAMEWORKS, *READERS, "sqlite_utils", "policies.robots")) == []


def test_version_is_read_when_asked_for() -> None:
    output, modules = loaded_by("--version")
    assert output.startswith("permitcrawl, version ")
    _, modules = loaded_by("--help")
    assert "importlib.metadata" not in modules


def test_the_crawl_option_default_names_the_embedded_frontier() -> None:
    # crawler.cli.crawl spells the name out so as not to load the frontier code at start-up.
    assert crawl_cli.EMBEDDED == EMBEDDED


def test_the_agents_options_name_what_the_list_code_names() -> None:
    # crawler.cli.agents spells these out so as not to load the decision engine at start-up.
    from crawler.cli import agents as agents_cli
    from crawler.judging.config import AGENTS_DIR_ENV
    from policies.aiagents import PURPOSES

    assert agents_cli.AGENTS_DIR_ENV == AGENTS_DIR_ENV
    assert tuple(PURPOSES) == agents_cli.PURPOSES
