"""End to end: `crawl -s NAME=VALUE` names a bad setting and creates nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.conftest import run_cli

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["POLICY_PURPSE=search", "POLICY_DEFUALT=deny"],
            "Error: setting POLICY_PURPSE is not a permitcrawl setting; did you mean POLICY_PURPOSE?\n"
            "setting POLICY_DEFUALT is not a permitcrawl setting; did you mean POLICY_DEFAULT?\n",
        ),
        (
            ["WARC_GZIP_LEVL=9"],
            "Error: setting WARC_GZIP_LEVL is not a permitcrawl setting; did you mean WARC_GZIP_LEVEL?\n",
        ),
        (
            ["PROVENANCE_BATCH=10"],
            "Error: setting PROVENANCE_BATCH is not a permitcrawl setting; "
            "did you mean PROVENANCE_BATCH_SIZE?\n",
        ),
        (
            ["PERMITCRAWL_HOST_MAXPAGES=5"],
            "Error: setting PERMITCRAWL_HOST_MAXPAGES is not a permitcrawl setting; "
            "did you mean PERMITCRAWL_HOST_MAX_PAGES?\n",
        ),
    ],
)
def test_a_misspelt_setting_of_ours_is_an_error_naming_the_right_one(
    overrides: list[str], message: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = [arg for pair in overrides for arg in ("-s", pair)]
    result = run_cli("crawl", "http://site-a.test/", "--out", out, *args)
    assert result.returncode == 1
    assert result.stderr == message
    assert not out.exists()


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "CONCURRENT_REQUESTS=abc",
            "setting CONCURRENT_REQUESTS='abc' is not usable; expected a whole number",
        ),
        ("DOWNLOAD_TIMEOUT=soon", "setting DOWNLOAD_TIMEOUT='soon' is not usable; expected a number"),
        ("COOKIES_ENABLED=maybe", "setting COOKIES_ENABLED='maybe' is not usable; expected 1/0, True/False"),
        (
            "DEFAULT_REQUEST_HEADERS=x",
            "setting DEFAULT_REQUEST_HEADERS='x' is not usable; expected a JSON object",
        ),
        ("LOG_LEVEL=LOUD", "setting LOG_LEVEL='LOUD' is not usable; expected one of CRITICAL, ERROR"),
        (
            "POLICY_HOSTS_KEPT=10",
            "setting POLICY_HOSTS_KEPT='10' is not usable (10 is out of range); "
            "expected a whole number of hosts, 100 to 10000000",
        ),
        (
            "PERMITCRAWL_WRITER=thread",
            "setting PERMITCRAWL_WRITER='thread' is not usable ('thread' does not match process|inline); "
            "expected process or inline",
        ),
        (
            "PERMITCRAWL_WRITER_QUEUE=0",
            "setting PERMITCRAWL_WRITER_QUEUE='0' is not usable (0 is out of range); "
            "expected a whole number of messages, 1 to 100000",
        ),
    ],
)
def test_a_bad_setting_value_is_named_and_nothing_is_created(
    override: str, expected: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = run_cli("crawl", "http://site-a.test/", "--out", out, "-s", override)
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: {expected}")
    assert "Traceback" not in result.stderr
    assert not out.exists()  # no directory, no database, no job state


@pytest.mark.parametrize("pair", ["oops", "=1", "lower=1"])
def test_a_malformed_set_option_is_an_error(pair: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli("crawl", "http://site-a.test/", "--out", out, "-s", pair)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: -s {pair!r} is not usable; expected NAME=VALUE with an upper-case setting name\n"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        # Each ran before, with exit 0: every request timed out (nothing captured), no link was
        # followed, no request was ever sent (the crawl never ended), every page was refused.
        ("DOWNLOAD_TIMEOUT=-1", "setting DOWNLOAD_TIMEOUT='-1' is not usable; expected seconds, more than 0"),
        ("DEPTH_LIMIT=-1", "setting DEPTH_LIMIT='-1' is not usable; expected a whole number of links"),
        (
            "CONCURRENT_REQUESTS_PER_DOMAIN=0",
            "setting CONCURRENT_REQUESTS_PER_DOMAIN='0' is not usable; expected a whole number of requests, "
            "1 or more",
        ),
        ("DOWNLOAD_MAXSIZE=-1", "setting DOWNLOAD_MAXSIZE='-1' is not usable; expected bytes, 0 or more"),
    ],
)
def test_a_scrapy_setting_out_of_range_is_named_and_nothing_is_created(
    override: str, expected: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = run_cli("crawl", "http://site-a.test/", "--out", out, "-s", override, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: {expected}")
    assert not out.exists()


@pytest.mark.parametrize("command", ["crawl", "demo"])
def test_where_a_crawl_writes_cannot_be_moved_out_of_its_directory(command: str, tmp_path: Path) -> None:
    # -s PROVENANCE_DB=elsewhere ran the crawl, wrote the database there, then failed with a
    # traceback; -s WARC_DIR=elsewhere left a crawl that audit and export could not find.
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    seeds = ["http://site-a.test/"] if command == "crawl" else []
    result = run_cli(
        command,
        *seeds,
        "--out",
        out,
        "-s",
        f"PROVENANCE_DB={elsewhere / 'provenance.db'}",
        "-s",
        f"WARC_DIR={elsewhere / 'warc'}",
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: setting WARC_DIR cannot be set: it is {out / 'warc'}, inside the crawl directory, where "
        "every command looks for the crawl; expected no -s WARC_DIR (choose the crawl directory instead)\n"
        f"setting PROVENANCE_DB cannot be set: it is {out / 'provenance.db'}, inside the crawl directory, "
        "where every command looks for the crawl; expected no -s PROVENANCE_DB (choose the crawl directory "
        "instead)\n"
    )
    assert not out.exists()
    assert not elsewhere.exists()


def test_a_crawl_scrapy_could_not_open_says_why_without_a_traceback_of_ours(tmp_path: Path) -> None:
    # The frontier's scheduler refuses CONCURRENT_REQUESTS_PER_IP (politeness is per host, each host on
    # one worker) only once Scrapy opens the spider; closing the crawl that never opened once failed in
    # our archive (NotFoundError: no crawl row).
    out = tmp_path / "out"
    result = run_cli("crawl", "http://site-a.test/", "--out", out, "-s", "CONCURRENT_REQUESTS_PER_IP=1")
    assert result.returncode == 1
    assert "does not support CONCURRENT_REQUESTS_PER_IP" in result.stderr
    assert result.stderr.endswith("use CONCURRENT_REQUESTS_PER_DOMAIN\n")
    assert "Error: the crawl could not run: ValueError" in result.stderr
    assert "crawler/extensions.py" not in result.stderr and "NotFoundError" not in result.stderr
