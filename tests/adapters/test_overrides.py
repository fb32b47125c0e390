"""-s NAME=VALUE: Scrapy's settings are read as Scrapy will read them, ours are checked by name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import scrapy
from scrapy.settings import Settings, default_settings

from crawler.adapters.overrides import RANGES, check_overrides, getter_of, suspect_names
from crawler.errors import SettingsError
from crawler.judging.config import load_config

GETTER_CALL = re.compile(r'\.get(int|float|bool)\(\s*"([A-Z0-9_]+)"')


def _getters_in_scrapy() -> dict[str, set[str]]:
    """Every ``settings.getint("NAME")`` (float, bool) call in Scrapy's source, by setting name."""
    found: dict[str, set[str]] = {}
    for path in Path(scrapy.__file__).parent.rglob("*.py"):
        for kind, name in GETTER_CALL.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, set()).add(kind)
    return found


def test_each_scrapy_setting_is_checked_as_scrapy_reads_it() -> None:
    # Guards GETTER_OF against a Scrapy upgrade: DOWNLOAD_TIMEOUT = 180 is read with getfloat.
    found = _getters_in_scrapy()
    assert found["CONCURRENT_REQUESTS"] == {"int"}  # the scan itself works
    defaults = vars(default_settings)  # not getattr: deprecated names warn
    for name, kinds in found.items():
        # A None default says nothing of the type (PERIODIC_LOG_STATS is a bool or a dict): not checked.
        if len(kinds) == 1 and defaults.get(name) is not None:
            assert getter_of(name, defaults[name]) in kinds, name


@pytest.mark.parametrize(
    "overrides",
    [
        {"DOWNLOAD_DELAY": "0.5", "DOWNLOAD_TIMEOUT": "7.5", "CONCURRENT_REQUESTS": "32"},
        {"TELNETCONSOLE_ENABLED": "true", "COOKIES_ENABLED": "0", "AUTOTHROTTLE_ENABLED": "False"},
        {"DOWNLOADER_MIDDLEWARES": '{"my.Middleware": 500}', "LOG_LEVEL": "DEBUG"},
        {"USER_AGENT": "anything", "MY_OWN_SETTING": "x", "POLICY_PURPOSE": "not checked here"},
    ],
)
def test_values_scrapy_can_read_pass(overrides: dict[str, str]) -> None:
    check_overrides(overrides)


def test_every_bad_value_is_listed_with_what_was_expected() -> None:
    with pytest.raises(SettingsError) as caught:
        check_overrides({"CONCURRENT_REQUESTS": "1.5", "RETRY_ENABLED": "yes please", "DNS_TIMEOUT": "x"})
    assert str(caught.value).splitlines() == [
        "setting CONCURRENT_REQUESTS='1.5' is not usable; expected a whole number (the default is 16)",
        "setting RETRY_ENABLED='yes please' is not usable; expected 1/0, True/False or true/false "
        "(the default is True)",
        "setting DNS_TIMEOUT='x' is not usable; expected a number (the default is 60)",
    ]


def test_the_default_shown_is_the_one_in_force() -> None:
    # The add-on switches the telnet console off (Scrapy's own default is 1).
    with pytest.raises(SettingsError, match=r"\(the default is False\)"):
        check_overrides({"TELNETCONSOLE_ENABLED": "nah"})


def test_a_name_close_to_a_known_one_is_a_warning() -> None:
    assert suspect_names(["CONCURENT_REQUESTS", "CONCURRENT_REQUESTS", "MY_OWN_THING"]) == [
        "setting CONCURENT_REQUESTS is neither a Scrapy nor a permitcrawl setting; "
        "did you mean CONCURRENT_REQUESTS? (passed on as given)"
    ]


def test_unknown_names_of_ours_fail_wherever_they_are_set() -> None:
    # A project's settings.py as much as -s: load_config sees every name.
    with pytest.raises(SettingsError, match=r"^setting POLICY_DEFUALT is not a permitcrawl setting; "):
        load_config(Settings({"POLICY_DEFUALT": "deny"}))
    with pytest.raises(
        SettingsError, match=r"PERMITCRAWL_UNHEARD_OF_ANYWHERE_AT_ALL .*listed in the README$"
    ):
        load_config(Settings({"PERMITCRAWL_UNHEARD_OF_ANYWHERE_AT_ALL": "1"}))


def test_every_range_is_held_on_a_numeric_scrapy_setting() -> None:
    # A name Scrapy renamed or dropped would be checked against nothing: the range would never apply.
    defaults = vars(default_settings)
    for name in RANGES:
        assert getter_of(name, defaults[name]) in ("int", "float"), name


@pytest.mark.parametrize(
    ("overrides", "bad"),
    [
        ({"DOWNLOAD_TIMEOUT": "0"}, "DOWNLOAD_TIMEOUT"),
        ({"CONCURRENT_REQUESTS": "0", "DEPTH_LIMIT": "0"}, "CONCURRENT_REQUESTS"),
        ({"RETRY_TIMES": "-1", "DOWNLOAD_DELAY": "0"}, "RETRY_TIMES"),
    ],
)
def test_a_value_out_of_range_is_named_and_its_lowest_usable_value_passes(
    overrides: dict[str, str], bad: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        check_overrides(overrides)
    assert str(caught.value).startswith(f"setting {bad}=")
    assert len(str(caught.value).splitlines()) == 1  # the others are in range
