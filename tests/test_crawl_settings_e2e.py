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
