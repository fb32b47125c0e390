"""The policy file validator: a file's text read into rules, strictly, with every problem as ``path:line``.

A file ``example.org.toml`` holds the domain and its rules::

    domain = "example.org"

    [[rule]]
    scope = "example.org"           # the host covered, with its subdomains (default: the domain)
    path = "/"                      # a path prefix (default: everything)
    ai_scraping = "No Scraping & AI"  # the three axes, in the DPI vocabulary
    license = "Unrestricted Use"
    compete = "Unrestricted Use"
    deny = ["ai-train", "ai-input"] # what that means per purpose
    allow = ["search"]
    quote = ["You may not use the Service to train machine learning models."]
    tos_url = "https://example.org/terms"
    tos_sha256 = "..."              # normalised text of the terms as reviewed (optional)
    reviewer = "A. Maintainer"
    reviewed = 2026-11-20           # the last review; only a review moves it
    review_by = 2027-05-20
    edited = 2026-12-02             # the last edit since (optional; an edit is not a review)
    edited_by = "B. Maintainer"
    agreement = "Licence #42 with Example Ltd, 2026-10-01"  # grants the allowed purposes (optional)
    note = "..."                    # optional
"""

from __future__ import annotations

import contextlib
import difflib
import ipaddress
import re
import tomllib
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from policies.errors import PolicyFileError, PolicyStoreError
from policies.files import POLICY_FILE_MAX, InputFileError, read_text_input
from policies.purpose import Purpose
from policies.rules import LATER_KEYS, REQUIRED, RULE_KEYS, Rule
from policies.urls import canonical_host, host_covers, is_registrable, registrable_domain
from policies.vocabulary import AI_SCRAPING, ALIASES, COMPETE, LICENSE, canonical_label

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

SUFFIX = ".toml"
# What a rule's axis label already says about a purpose: allowing it anyway takes an agreement.
FORBIDS: dict[str, frozenset[Purpose]] = {
    "No Scraping & AI": frozenset(Purpose),
    "No Scraping": frozenset(Purpose),
    "No AI": frozenset({Purpose.AI_TRAIN, Purpose.AI_INPUT}),
}
_KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")
_RULE_LINE = re.compile(r"^\s*\[\[\s*rule\s*\]\]")
_HOST_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
HOST_EXPECTED = "expected a host name such as example.org or www.example.org"


def host_name(host: str) -> str:
    """``host`` canonical (:func:`canonical_host`) if it is a DNS host name; else ValueError saying why."""
    canonical = canonical_host(host)
    labels = canonical.split(".")
    if len(canonical) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{host!r} is not a host name; {HOST_EXPECTED}")
    return canonical


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def check_host(host: str) -> str:
    """``host`` canonical, if a policy file can hold a rule for it; else ValueError saying why.

    A rule lives in the file of the host's registrable domain, so an IP address or a
    public suffix (``co.uk``), which have none, cannot have one.
    """
    canonical = host_name(host)
    if _is_address(canonical):
        raise ValueError(f"{host!r} is an IP address, which has no registrable domain; {HOST_EXPECTED}")
    if not is_registrable(registrable_domain(canonical)):
        raise ValueError(
            f"{host!r} is a public suffix, under which anyone may register a domain; {HOST_EXPECTED}"
        )
    return canonical


def _lines(text: str) -> tuple[dict[tuple[int, str], int], list[int]]:
    """Where each key and each [[rule]] is: ((rule index or -1, key) -> line), [rule lines]."""
    keys: dict[tuple[int, str], int] = {}
    rules: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if _RULE_LINE.match(line):
            rules.append(number)
            continue
        match = _KEY_LINE.match(line)
        if match:
            keys.setdefault((len(rules) - 1, match.group(1)), number)
    return keys, rules


def _date(value: object) -> date:
    if isinstance(value, datetime):  # TOML's datetime: the day is what a review date says
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value)
    raise ValueError(f"{value!r} is not a date; expected YYYY-MM-DD")


def _encodable(value: str) -> str:
    # A command-line argument with bytes that are not UTF-8 arrives with lone surrogates,
    # which no file can hold.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{value!r} holds bytes that are not UTF-8 text; expected text") from None
    return value


def _strings(value: object) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise ValueError(f"{items!r} is not a string or a list of strings; expected text")
    return tuple(_encodable(v).strip() for v in items)


def _purposes(value: object) -> tuple[Purpose, ...]:
    return tuple(Purpose.parse(v) for v in _strings(value))


def _choice(options: tuple[str, ...]) -> Callable[[object], str]:
    aliases = [alias for alias, label in ALIASES.items() if label in options]

    def convert(value: object) -> str:
        if isinstance(value, str) and canonical_label(value) in options:
            return canonical_label(value)
        also = f" (or {', '.join(aliases)})" if aliases else ""
        labels = ", ".join(options)
        raise ValueError(f"{value!r} is not a label of this axis; expected one of: {labels}{also}")

    return convert


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a non-empty string; expected text")
    return _encodable(value).strip()


def _url(value: object) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"https?://\S+", value):
        raise ValueError(f"{value!r} is not an http(s) URL; expected one such as https://example.org/terms")
    return _encodable(value)


def _sha256(value: object) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ValueError(f"{value!r} is not a sha256 in lower-case hex (64 characters)")
    return value


def _path(value: object) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError(f"{value!r} is not a path starting with '/'; expected one such as /blog/")
    return _encodable(value)


# Each key's converter: a value read from TOML, checked and turned into the Rule field's type.
CONVERTERS: dict[str, Callable[[object], object]] = {
    "scope": lambda v: host_name(_text(v)),
    "path": _path,
    "ai_scraping": _choice(AI_SCRAPING),
    "license": _choice(LICENSE),
    "compete": _choice(COMPETE),
    "allow": _purposes,
    "deny": _purposes,
    "quote": _strings,
    "tos_url": _url,
    "tos_sha256": _sha256,
    "reviewer": _text,
    "reviewed": _date,
    "review_by": _date,
    "agreement": _text,
    "note": _text,
    "edited": _date,
    "edited_by": _text,
}


def _convert(
    path: Path, table: dict[str, Any], at: Callable[[str], int]
) -> tuple[dict[str, Any], list[PolicyFileError]]:
    """Every key of a rule table converted; an unknown key or a bad value is an error, and the rest go on."""
    values: dict[str, Any] = {}
    errors: list[PolicyFileError] = []
    for key, value in table.items():
        if key not in CONVERTERS:
            close = difflib.get_close_matches(key.lower().replace("-", "_"), RULE_KEYS, n=1)
            hint = f" Hint: did you mean {close[0]!r}?" if close else ""
            errors.append(
                PolicyFileError(
                    path, at(key), f"unknown key {key!r}; expected one of {', '.join(RULE_KEYS)}.{hint}"
                )
            )
            continue
        try:
            values[key] = CONVERTERS[key](value)
        except ValueError as exc:
            errors.append(PolicyFileError(path, at(key), f"{key}: {exc}"))
    return values, errors


def _check(
    path: Path, domain: str, table: dict[str, Any], values: dict[str, Any], at: Callable[[str], int]
) -> list[PolicyFileError]:
    """The checks across keys; each runs when the values it needs are there, whatever else is wrong."""
    errors: list[PolicyFileError] = []
    scope = values.get("scope", domain)  # a scope that did not convert has its own error already
    if ("scope" in values or "scope" not in table) and not host_covers(domain, scope):
        errors.append(
            PolicyFileError(path, at("scope"), f"scope {scope!r} is not {domain} or a subdomain of it")
        )
    if "reviewed" in values and "review_by" in values and values["review_by"] < values["reviewed"]:
        errors.append(
            PolicyFileError(path, at("review_by"), "review_by is before reviewed; expected a later date")
        )
    overlap = set(values.get("allow", ())) & set(values.get("deny", ()))
    if overlap:
        errors.append(
            PolicyFileError(
                path,
                at("allow"),
                f"{', '.join(sorted(overlap))} both allowed and denied; expected one or the other",
            )
        )
    forbidden = set(values.get("allow", ())) & FORBIDS.get(values.get("ai_scraping", ""), frozenset())
    if forbidden and "agreement" not in table:
        errors.append(
            PolicyFileError(
                path,
                at("allow"),
                f"allows {', '.join(sorted(forbidden))} although ai_scraping is {values['ai_scraping']!r}; "
                "expected an agreement that grants it, or a deny",
            )
        )
    if "quote" in values and (not values["quote"] or not all(values["quote"])):
        errors.append(
            PolicyFileError(path, at("quote"), "quote is empty; expected the clause(s) the verdict rests on")
        )
    lone = [key for key in LATER_KEYS if (key in table) != all(k in table for k in LATER_KEYS)]
    for key in lone:
        other = next(k for k in LATER_KEYS if k != key)
        errors.append(
            PolicyFileError(path, at(key), f"{key} without {other}; expected both (when, and by whom)")
        )
    return errors


def rule_from_table(
    path: Path, domain: str, table: Any, index: int, keys: dict[tuple[int, str], int], line: int
) -> Rule:
    """Convert and check one ``[[rule]]`` table; raise PolicyStoreError listing every problem in it."""

    def at(key: str) -> int:
        return keys.get((index, key), line)

    if not isinstance(table, dict):
        raise PolicyStoreError(
            [PolicyFileError(path, line, "a rule is not a table; expected a [[rule]] table of key = value")]
        )
    values, errors = _convert(path, table, at)
    missing = [k for k in REQUIRED if k not in table]
    if missing:
        errors.append(
            PolicyFileError(
                path,
                line,
                f"rule is missing {', '.join(missing)}; expected every rule to have {', '.join(REQUIRED)}",
            )
        )
    errors += _check(path, domain, table, values, at)
    if errors:
        raise PolicyStoreError(sorted(errors, key=lambda e: e.line))
    values.setdefault("scope", domain)
    return Rule(domain=domain, file=str(path), line=line, **values)


def load_file(path: Path) -> tuple[Rule, ...]:
    """Read and validate one policy file; raise PolicyStoreError listing every problem."""
    try:
        text = read_text_input(
            path, limit=POLICY_FILE_MAX, expected="a UTF-8 policy file of one domain's rules, at most 1 MiB"
        )
    except InputFileError as exc:
        raise PolicyStoreError([PolicyFileError(path, 0, str(exc).removeprefix(f"{path}: "))]) from None
    return parse_file(path, text)


def _header_errors(
    path: Path, data: dict[str, Any], keys: dict[tuple[int, str], int], expected: str
) -> list[PolicyFileError]:
    """What is wrong outside the rules: the domain line and unknown top-level keys."""
    errors: list[PolicyFileError] = []
    domain = data.get("domain")
    where = keys.get((-1, "domain"), 1)
    if not isinstance(domain, str) or canonical_host(domain) != expected:
        errors.append(
            PolicyFileError(path, where, f"domain is {domain!r}; expected {expected!r}, as the file is named")
        )
    elif not is_registrable(expected):
        errors.append(
            PolicyFileError(
                path,
                where,
                f"{expected} is not a registrable domain; expected one such as example.{expected}",
            )
        )
    for key in data:
        if key not in ("domain", "rule"):
            errors.append(
                PolicyFileError(
                    path, keys.get((-1, key), 1), f"unknown key {key!r}; expected domain and [[rule]] tables"
                )
            )
    return errors


def parse_file(path: Path, text: str) -> tuple[Rule, ...]:
    """Validate ``text`` as the policy file ``path``; raise PolicyStoreError listing every problem.

    Errors name ``path``, whatever the text was read from. Past a TOML syntax
    error nothing can be read, so that one is the file's only error; otherwise
    every problem of every rule is listed, in line order.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"at line (\d+)", str(exc))
        line = int(match.group(1)) if match else 1
        raise PolicyStoreError(
            [
                PolicyFileError(
                    path, line, f"not valid TOML ({exc}); expected key = value lines and [[rule]] tables"
                )
            ]
        ) from None
    keys, rule_lines = _lines(text)
    expected = canonical_host(path.name.removesuffix(SUFFIX))
    errors = _header_errors(path, data, keys, expected)
    tables = data.get("rule", [])
    if not isinstance(tables, list) or not tables:
        errors.append(PolicyFileError(path, 1, "no [[rule]] table; expected at least one rule"))
        tables = []
    rules = []
    for index, table in enumerate(tables):
        line = rule_lines[index] if index < len(rule_lines) else 1
        try:
            rules.append(rule_from_table(path, expected, table, index, keys, line))
        except PolicyStoreError as exc:
            errors.extend(exc.errors)
    seen: dict[tuple[str, str], Rule] = {}
    for rule in rules:
        other = seen.setdefault((rule.scope, rule.path), rule)
        if other is not rule:
            errors.append(
                PolicyFileError(
                    path,
                    rule.line,
                    f"a second rule for scope {rule.scope} path {rule.path} "
                    f"(the first is at line {other.line}); expected one",
                )
            )
    if errors:
        raise PolicyStoreError(sorted(errors, key=lambda e: e.line))
    return tuple(rules)
