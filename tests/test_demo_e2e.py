"""End to end: the demo replaces only what it made, and says what its hosts show."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

import sqlite_utils

from crawler.localweb.demo import DEMO_HOSTS, DEMO_MARKER
from tests.conftest import crawl, run_cli

if TYPE_CHECKING:
    from pathlib import Path

    from crawler.localweb.server import LocalWebServer


def _rows(out: Path, sql: str) -> list[dict]:
    return list(sqlite_utils.Database(out / "provenance.db").query(sql))


def _snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (relative path) with the sha256 of its content."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_demo_never_touches_a_directory_it_did_not_make(tmp_path: Path) -> None:
    real = tmp_path / "realcopy"
    (real / "warc").mkdir(parents=True)
    (real / "provenance.db").write_bytes(b"a real crawl's database")
    (real / "warc" / "permitcrawl-1.warc.gz").write_bytes(b"2,000 captures")
    before = _snapshot(real)
    result = run_cli("demo", "--out", real)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {real} exists and was not made by 'permitcrawl demo' (it has no {DEMO_MARKER} file); "
        "the demo replaces only its own directories: choose another --out\n"
    )
    assert _snapshot(real) == before


def test_demo_replaces_only_its_own_directory_and_says_what_it_shows(tmp_path: Path) -> None:
    out = tmp_path / "pd"
    first = run_cli("demo", "--out", out)
    assert first.returncode == 0, first.stderr
    assert (out / DEMO_MARKER).is_file()
    # It says what its hosts show; the host down on purpose is no ERROR.
    for host, what in DEMO_HOSTS.items():
        assert re.search(rf"^  {re.escape(host)} +{re.escape(what)}$", first.stderr, re.MULTILINE), host
    assert "Gave up retrying" not in first.stderr and "ERROR" not in first.stderr
    captured = _rows(out, "select count(*) as n from captures")[0]["n"]

    # A policy store inside the directory the demo would replace: refused, nothing touched.
    rule = out / "policies" / "demo.test.toml"
    rule.write_text(rule.read_text() + "\n# edited by a maintainer\n")
    before = _snapshot(out)
    refused = run_cli("demo", "--out", out, "--policies", out / "policies")
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        f"Error: --policies {out / 'policies'} is inside {out}, which the demo replaces; "
        "copy the store out first"
    )
    assert _snapshot(out) == before

    # Bad settings: the earlier demo is left as it is.
    bad = run_cli("demo", "--out", out, "-s", "CONCURRENT_REQUESTS=abc")
    assert bad.returncode == 1 and "CONCURRENT_REQUESTS='abc'" in bad.stderr
    assert _snapshot(out) == before

    # Its own directory is replaced whole.
    again = run_cli("demo", "--out", out)
    assert again.returncode == 0, again.stderr
    assert "# edited by a maintainer" not in rule.read_text()
    assert _rows(out, "select count(*) as n from captures")[0]["n"] == captured
    assert len(_rows(out, "select id from crawls")) == 1


def test_demo_uses_an_empty_directory(tmp_path: Path) -> None:
    result = run_cli("demo", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / DEMO_MARKER).is_file() and (tmp_path / "provenance.db").is_file()


def test_a_crawl_of_ones_own_into_a_demo_directory_is_never_replaced(
    web: LocalWebServer, tmp_path: Path
) -> None:
    # demo, then 'crawl --out' the same directory, then demo again: the crawl's captures were deleted
    # with the demo's, as the directory still carried the demo's marker.
    out = tmp_path / "pd"
    assert run_cli("demo", "--out", out).returncode == 0
    mine = crawl(web, out, seeds=["http://site-a.test/"])
    assert mine.result.returncode == 0, mine.result.stderr
    assert "was made by 'permitcrawl demo'; it now holds a crawl of yours" in mine.result.stderr
    assert not (out / DEMO_MARKER).exists()
    before = _snapshot(out)
    again = run_cli("demo", "--out", out)
    assert again.returncode == 1
    assert f"Error: {out} exists and was not made by 'permitcrawl demo'" in again.stderr
    assert _snapshot(out) == before
    assert _rows(out, "select count(*) as n from captures where host = 'site-a.test'")[0]["n"] > 0


def test_demo_names_a_symbolic_link_for_what_it_is(tmp_path: Path) -> None:
    # A link to an earlier demo's directory was "not a directory": it is one, reached through a link.
    earlier = tmp_path / "pd"
    assert run_cli("demo", "--out", earlier).returncode == 0
    before = _snapshot(earlier)
    link = tmp_path / "link"
    link.symlink_to(earlier)
    result = run_cli("demo", "--out", link)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: --out {link} is a symbolic link; expected a directory itself (give the one it points to, "
        "if the demo made it), or another --out\n"
    )
    assert _snapshot(earlier) == before
