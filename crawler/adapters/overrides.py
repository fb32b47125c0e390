"""``-s NAME=VALUE``: parsed, and checked against the type each Scrapy setting is read as.

Our own settings are checked by :func:`crawler.judging.config.load_config`. Scrapy's
are read by its components only as the crawl starts (``getint``, ``getfloat``,
``getbool``, ``getdict``), where ``CONCURRENT_REQUESTS=abc`` fails as
``ValueError: invalid literal for int()`` without naming the setting, once the
output directory is made. Here each override of a Scrapy setting whose
default is a number, a boolean or a dict is read the way Scrapy will read it,
before anything is created, and a bad one is reported with its name; so is a
number out of the range a crawl can work with (:data:`RANGES`).
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, Any

from scrapy.settings import BaseSettings, default_settings

from crawler.adapters import settings as project_settings
from crawler.adapters.addon import BOUNDS, POLITE_DEFAULTS, QUIET_DEFAULTS
from crawler.errors import SettingsError
from crawler.judging.config import DEFAULTS, OUR_PREFIXES

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

_SETTING_NAME = re.compile(r"[A-Z][A-Z0-9_]*")

# Scrapy settings read with a getter other than their default's type suggests (Scrapy 2.19):
# DOWNLOAD_TIMEOUT = 180 is read with getfloat, TELNETCONSOLE_ENABLED = 1 with getbool.
# tests/crawler/test_overrides.py checks this table against Scrapy's own source.
GETTER_OF: dict[str, str] = {
    "DNS_TIMEOUT": "float",
    "DOWNLOAD_DELAY": "float",
    "DOWNLOAD_TIMEOUT": "float",
    "TELNETCONSOLE_ENABLED": "bool",
}

# Scrapy settings with a fixed set of values, read as the crawl starts (a bad LOG_LEVEL stops it
# with a traceback before any crawl output could say why).
CHOICES: dict[str, tuple[str, ...]] = {
    "LOG_LEVEL": ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"),
}

# Scrapy settings whose value Scrapy takes, out of range, without a word, and a crawl then does
# something other than what was asked: DOWNLOAD_TIMEOUT=-1 times every request out (every
# robots.txt unreachable, nothing captured, exit 0), DEPTH_LIMIT=-1 follows no link,
# CONCURRENT_REQUESTS_PER_DOMAIN=0 sends nothing and never ends, DOWNLOAD_MAXSIZE=-1 refuses every
# page. Each is read as its getter reads it, then held to (lowest value, whether the lowest itself
# is usable, what is expected).
RANGES: dict[str, tuple[float, bool, str]] = {
    "DOWNLOAD_TIMEOUT": (0, False, "seconds, more than 0"),
    "DNS_TIMEOUT": (0, False, "seconds, more than 0"),
    "DOWNLOAD_DELAY": (0, True, "seconds, 0 or more"),
    "CONCURRENT_REQUESTS": (1, True, "a whole number of requests, 1 or more"),
    "CONCURRENT_REQUESTS_PER_DOMAIN": (1, True, "a whole number of requests, 1 or more"),
    "DEPTH_LIMIT": (0, True, "a whole number of links from a seed, 0 or more (0: no limit)"),
    "DOWNLOAD_MAXSIZE": (0, True, "bytes, 0 or more (0: no limit)"),
    "DOWNLOAD_WARNSIZE": (0, True, "bytes, 0 or more (0: no warning)"),
    "RETRY_TIMES": (0, True, "a whole number of retries, 0 or more"),
    "REDIRECT_MAX_TIMES": (0, True, "a whole number of redirects, 0 or more"),
    "CLOSESPIDER_TIMEOUT": (0, True, "seconds, 0 or more (0: none)"),
    "CLOSESPIDER_ITEMCOUNT": (0, True, "a whole number, 0 or more (0: none)"),
    "CLOSESPIDER_PAGECOUNT": (0, True, "a whole number, 0 or more (0: none)"),
    "CLOSESPIDER_ERRORCOUNT": (0, True, "a whole number, 0 or more (0: none)"),
}

EXPECTED = {
    "int": "a whole number",
    "float": "a number",
    "bool": "1/0, True/False or true/false",
    "dict": "a JSON object",
}


def parse_overrides(pairs: Iterable[str]) -> dict[str, str]:
    """Parse ``-s NAME=VALUE`` options; raise SettingsError naming a bad one."""
    overrides = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not _SETTING_NAME.fullmatch(name):
            raise SettingsError(
                f"-s {pair!r} is not usable; expected NAME=VALUE with an upper-case setting name"
            )
        overrides[name] = value
    return overrides


def _known_defaults() -> dict[str, Any]:
    """Every setting name we know, with the default in force: Scrapy's, the add-on's, this project's."""
    known = {name: value for name, value in vars(default_settings).items() if name.isupper()}
    known.update({**POLITE_DEFAULTS, **QUIET_DEFAULTS, **BOUNDS})
    known.update({name: value for name, value in vars(project_settings).items() if name.isupper()})
    return known


def getter_of(name: str, default: Any) -> str | None:
    """The Scrapy getter a setting is read with (``int``, ``float``, ``bool``, ``dict``), if one applies."""
    if name in GETTER_OF:
        return GETTER_OF[name]
    for kind, types in (("bool", bool), ("int", int), ("float", float), ("dict", dict)):
        if isinstance(default, types):  # bool before int: True is an int too
            return kind
    return None


def _read(kind: str, name: str, value: str) -> Any:
    """Read ``value`` as Scrapy's ``get<kind>`` would; raise ValueError (or TypeError) if it cannot."""
    return getattr(BaseSettings({name: value}), f"get{kind}")(name)


def _out_of_range(name: str, value: Any) -> str | None:
    """What is expected of ``name`` if ``value`` (as read) is outside its range in :data:`RANGES`."""
    if name not in RANGES:
        return None
    lowest, inclusive, expected = RANGES[name]
    usable = value >= lowest if inclusive else value > lowest
    return None if usable else expected


def check_overrides(overrides: Mapping[str, str]) -> None:
    """Raise SettingsError listing every override Scrapy could not read as its setting's type.

    Our own settings (``POLICY_``, ``WARC_``, ``PROVENANCE_``, ``PERMITCRAWL_``)
    are left to :func:`crawler.judging.config.load_config`, which knows their ranges.
    """
    known = _known_defaults()
    problems = [_problem(name, value, known) for name, value in overrides.items()]
    if any(problems):
        raise SettingsError("\n".join(p for p in problems if p))


def _problem(name: str, value: str, known: Mapping[str, Any]) -> str | None:
    """Why Scrapy could not read ``value`` for setting ``name``, or None if it can (or it is not Scrapy's)."""
    if name in CHOICES:
        if value in CHOICES[name]:
            return None
        return f"setting {name}={value!r} is not usable; expected one of {', '.join(CHOICES[name])}"
    if name.startswith(OUR_PREFIXES) or name not in known:
        return None
    kind = getter_of(name, known[name])
    if kind is None:
        return None
    default = known[name]
    shown = "{}" if kind == "dict" and not default else repr(default)
    try:
        read = _read(kind, name, value)
    except (TypeError, ValueError):
        return f"setting {name}={value!r} is not usable; expected {EXPECTED[kind]} (the default is {shown})"
    expected = _out_of_range(name, read)
    if expected:
        return f"setting {name}={value!r} is not usable; expected {expected} (the default is {shown})"
    return None


def suspect_names(overrides: Iterable[str]) -> list[str]:
    """Warnings for override names no one reads that are close to a known setting's (a typo, likely)."""
    known = _known_defaults()
    warnings = []
    for name in overrides:
        if name in known or name in DEFAULTS or name.startswith(OUR_PREFIXES):
            continue
        close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.85)
        if close:
            warnings.append(
                f"setting {name} is neither a Scrapy nor a permitcrawl setting; did you mean {close[0]}? "
                "(passed on as given)"
            )
    return warnings
