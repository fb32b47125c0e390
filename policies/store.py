"""The ToS policy store: one TOML file per registrable domain, validated strictly, written canonically.

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

Registrable domains come from the Public Suffix List (``publicsuffixlist``, its
bundled snapshot: nothing is downloaded). This module is the only one in the
decision core that reads or writes files.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import ipaddress
import json
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from publicsuffixlist import PublicSuffixList

from policies.errors import PolicyError, PolicyFileError, PolicyStoreError
from policies.files import POLICY_FILE_MAX, InputFileError, read_text_input
from policies.patterns import normalize
from policies.purpose import Purpose
from policies.vocabulary import AI_SCRAPING, ALIASES, COMPETE, LICENSE, canonical_label, merged_label

if TYPE_CHECKING:
    from collections.abc import Callable

SUFFIX = ".toml"
REQUIRED = ("ai_scraping", "license", "compete", "quote", "tos_url", "reviewer", "reviewed", "review_by")
OPTIONAL = ("scope", "path", "allow", "deny", "tos_sha256", "agreement", "note", "edited", "edited_by")
RULE_KEYS = REQUIRED + OPTIONAL
# What a review sets; an edit leaves these as they are.
REVIEW_KEYS = ("reviewer", "reviewed", "review_by")
# Fields added after rules were first recorded: left out of a rule's content while unset, so
# that a rule written before they existed keeps its version (crawls cite rules by version).
LATER_KEYS = ("edited", "edited_by")
# How long a review holds when no review-by date is given.
REVIEW_PERIOD = timedelta(days=182)
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


@cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


def canonical_host(host: str) -> str:
    """``host`` as it is compared everywhere: lower case, no final dot, IDNA (``bücher.test`` is
    ``xn--bcher-kva.test``, the name a crawler asks DNS for)."""
    host = host.strip().rstrip(".").lower()
    if not host.isascii():
        with contextlib.suppress(UnicodeError):  # a name IDNA cannot write is compared as it is
            host = host.encode("idna").decode("ascii")
    return host


def registrable_domain(host: str) -> str:
    """The registrable domain of ``host`` (``www.example.co.uk`` -> ``example.co.uk``); a host with none
    (an IP address, ``localhost``, a public suffix) is its own. Hosts are compared canonically."""
    host = canonical_host(host)
    try:
        ipaddress.ip_address(host.strip("[]"))
        return host  # an address has no suffix to speak of
    except ValueError:
        pass
    return _psl().privatesuffix(host) or host


def is_registrable(domain: str) -> bool:
    """True if ``domain`` is a registrable domain itself (not a public suffix, not a subdomain)."""
    return _psl().privatesuffix(domain) == domain


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


def host_covers(scope: str, host: str) -> bool:
    """True if ``host`` is ``scope`` or one of its subdomains."""
    return host == scope or host.endswith("." + scope)


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One reviewed verdict on a domain's terms; ``file`` and ``line`` say where it is written."""

    domain: str
    scope: str
    path: str = "/"
    ai_scraping: str
    license: str
    compete: str
    allow: tuple[Purpose, ...] = ()
    deny: tuple[Purpose, ...] = ()
    quote: tuple[str, ...]
    tos_url: str
    tos_sha256: str | None = None
    reviewer: str
    reviewed: date
    review_by: date
    agreement: str | None = None
    note: str | None = None
    edited: date | None = None
    edited_by: str | None = None
    file: str = field(default="", compare=False)
    line: int = field(default=0, compare=False)

    def content(self) -> dict[str, Any]:
        """The rule as data, without where it is written: what its version digests."""
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("file", "line") or (f.name in LATER_KEYS and value is None):
                continue
            if isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = [str(v) for v in value]
            data[f.name] = value
        return data

    @property
    def version(self) -> str:
        """A digest of the rule's content: any edit gives a new version."""
        return hashlib.sha256(json.dumps(self.content(), sort_keys=True).encode()).hexdigest()[:16]

    @property
    def merged(self) -> str:
        """The DPI merged label of the three axes."""
        return merged_label(self.ai_scraping, self.license, self.compete)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def specificity(self, host: str, path: str) -> tuple[int, int] | None:
        """(scope labels, path length) when the rule covers ``host`` and ``path``, else None.

        Both are compared canonically: ``WWW.Example.org.`` is ``www.example.org``,
        ``/%62log`` is ``/blog``.
        """
        if not host_covers(canonical_host(self.scope), canonical_host(host)):
            return None
        if not normalize(path).startswith(normalize(self.path)):
            return None
        return (self.scope.count(".") + 1, len(self.path))

    def is_due(self, today: date) -> bool:
        """True once the review-by date has come."""
        return today >= self.review_by


@dataclass(frozen=True)
class PolicyStore:
    """Every rule of a store directory, by registrable domain."""

    directory: Path
    rules: dict[str, tuple[Rule, ...]]

    def all_rules(self) -> list[Rule]:
        return [rule for domain in sorted(self.rules) for rule in self.rules[domain]]

    def applicable(self, host: str, path: str) -> list[Rule]:
        """The most specific rules covering ``host`` and ``path``: narrowest scope, then longest path."""
        candidates = self.rules.get(registrable_domain(host), ())
        ranked = [(rule.specificity(host, path), rule) for rule in candidates]
        matching = [(s, rule) for s, rule in ranked if s is not None]
        if not matching:
            return []
        best = max(s for s, _ in matching)
        return [rule for s, rule in matching if s == best]


# -- reading -------------------------------------------------------------------


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


def _date(value: Any) -> date:
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


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{value!r} is not a string or a list of strings; expected text")
    return tuple(_encodable(v).strip() for v in value)


def _purposes(value: Any) -> tuple[Purpose, ...]:
    return tuple(Purpose.parse(v) for v in _strings(value))


def _choice(options: tuple[str, ...]) -> Any:
    aliases = [alias for alias, label in ALIASES.items() if label in options]

    def convert(value: Any) -> str:
        if isinstance(value, str) and canonical_label(value) in options:
            return canonical_label(value)
        also = f" (or {', '.join(aliases)})" if aliases else ""
        labels = ", ".join(options)
        raise ValueError(f"{value!r} is not a label of this axis; expected one of: {labels}{also}")

    return convert


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a non-empty string; expected text")
    return _encodable(value).strip()


def _url(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"https?://\S+", value):
        raise ValueError(f"{value!r} is not an http(s) URL; expected one such as https://example.org/terms")
    return _encodable(value)


def _sha256(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ValueError(f"{value!r} is not a sha256 in lower-case hex (64 characters)")
    return value


def _path(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError(f"{value!r} is not a path starting with '/'; expected one such as /blog/")
    return _encodable(value)


CONVERTERS: dict[str, Any] = {
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


def _rule(
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
            rules.append(_rule(path, expected, table, index, keys, line))
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


def check_store(directory: Path) -> None:
    """Raise PolicyStoreError unless ``directory`` is a store: a directory (``policy init`` makes one)."""
    if directory.is_dir():
        return
    what = "not a directory" if directory.exists() else "no such directory"
    raise PolicyStoreError(
        [
            PolicyFileError(
                directory,
                0,
                f"{what}; expected a policy store (create one with: permitcrawl policy init {directory})",
            )
        ]
    )


def load_policies(directory: Path) -> PolicyStore:
    """Load every ``*.toml`` file of a store; raise PolicyStoreError listing every problem of every file."""
    check_store(directory)
    rules: dict[str, tuple[Rule, ...]] = {}
    errors: list[PolicyFileError] = []
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        try:
            loaded = load_file(path)
        except PolicyStoreError as exc:
            errors.extend(exc.errors)
            continue
        rules[canonical_host(path.name.removesuffix(SUFFIX))] = loaded
    if errors:
        raise PolicyStoreError(errors)
    return PolicyStore(directory, rules)


# -- writing -------------------------------------------------------------------

# Characters a TOML basic string may not hold raw (JSON escapes all but DEL already).
_TOML_RAW_FORBIDDEN = {0x7F: "\\u007f"}


def _toml_value(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    # JSON string escapes are a subset of TOML basic-string escapes.
    return json.dumps(str(value), ensure_ascii=False).translate(_TOML_RAW_FORBIDDEN)


# The order of a rule's keys in the file.
KEY_ORDER = (
    "scope",
    "path",
    *REQUIRED[:3],
    "allow",
    "deny",
    "quote",
    "tos_url",
    "tos_sha256",
    "reviewer",
    "reviewed",
    "review_by",
    "edited",
    "edited_by",
    "agreement",
    "note",
)


def dumps(domain: str, rules: list[Rule]) -> str:
    """The canonical text of a policy file."""
    out = [
        f"# ToS policy for {domain}. Edit: permitcrawl policy set. Check: permitcrawl policy validate.",
        f"domain = {_toml_value(domain)}",
    ]
    for rule in rules:
        out += ["", "[[rule]]"]
        content = rule.content()
        for key in KEY_ORDER:
            value = getattr(rule, key)
            if value in (None, ()) or (key == "path" and value == "/"):
                continue
            out.append(f"{key} = {_toml_value(value if isinstance(value, date) else content[key])}")
    return "\n".join(out) + "\n"


def _store_error(path: Path, message: str) -> PolicyStoreError:
    return PolicyStoreError([PolicyFileError(path, 0, message)])


def _merge(
    path: Path, existing: Rule | None, changes: dict[str, Any], *, editor: str | None, today: date
) -> dict[str, Any]:
    """The rule's new table: ``changes`` over ``existing``, as a review or as an edit (see write_rule)."""
    review = existing is None or "reviewed" in changes or "reviewer" in changes
    if existing is not None and review and not ("reviewed" in changes and "reviewer" in changes):
        raise _store_error(
            path,
            f"the rule for {existing.scope}{'' if existing.path == '/' else existing.path} was reviewed by "
            f"{existing.reviewer} on {existing.reviewed}; a new review needs both --reviewer and --reviewed "
            "(or: permitcrawl policy review); an edit needs neither",
        )
    table = {**(existing.content() if existing else {}), **changes}
    if review:
        table.setdefault("reviewed", today)
        if "review_by" not in changes:
            table["review_by"] = table["reviewed"] + REVIEW_PERIOD
    elif editor is None:
        raise PolicyError("an edit records who made it; expected an editor")
    else:
        table.update(edited=today, edited_by=editor)
    return table


def write_rule(
    directory: Path,
    host: str,
    changes: dict[str, Any],
    *,
    editor: str | None = None,
    today: date | None = None,
    create: bool = True,
) -> Rule:
    """Create, review or edit the rule for ``host`` (and ``changes['path']``) in its domain's file.

    Keys of ``changes`` whose value is None are not changes. The three cases:

    - a new rule is a review: it needs every required field but ``reviewed``
      (default ``today``) and ``review_by`` (default ``REVIEW_PERIOD`` after);
    - ``reviewed`` and ``reviewer`` together on an existing rule record a new
      review: ``review_by`` moves too (same default); one without the other is
      an error, so that no review is credited to someone who did not make it;
    - any other change is an edit: the review fields keep their values (an edit
      does not move the review clock, though ``review_by`` may be set
      explicitly), and ``edited`` (``today``) and ``edited_by`` (``editor``,
      which an edit needs) record it.

    With ``create`` false, a missing rule is an error. ``directory`` must be a
    store already (``policy init``), and ``host`` a host name with a registrable
    domain (else PolicyError saying why). The new file is validated whole, under its
    own name, before it replaces the old one in one rename: a store is never
    left invalid or half-written, and errors name the store's file.
    """
    check_store(directory)
    today = today or date.today()
    try:
        scope = check_host(host)
    except ValueError as exc:
        raise PolicyError(str(exc)) from None
    domain = registrable_domain(scope)
    path = directory / f"{domain}{SUFFIX}"
    rules = list(load_file(path)) if path.exists() else []
    rule_path = changes.get("path") or "/"
    given = {k: v for k, v in changes.items() if v is not None and k != "path"}
    where = f"{scope}{'' if rule_path == '/' else rule_path}"
    index = next((i for i, r in enumerate(rules) if (r.scope, r.path) == (scope, rule_path)), None)
    if index is None:
        if not create:
            expected = "expected an existing rule (create it with: permitcrawl policy set)"
            raise _store_error(path, f"no rule for {where}; {expected}")
        missing = [k for k in REQUIRED if k not in given and k not in ("reviewed", "review_by")]
        if missing:
            options = ", ".join("--" + k.replace("_", "-") for k in missing)
            raise _store_error(path, f"a new rule for {where} needs {options}")
    elif not given:
        raise _store_error(path, f"nothing to change in the rule for {where}; expected an option to set")
    table = _merge(path, None if index is None else rules[index], given, editor=editor, today=today)
    table = {
        key: ([str(v) for v in value] if isinstance(value, list | tuple) else value)
        for key, value in {"scope": scope, "path": rule_path, **table}.items()
        if key != "domain" and value is not None
    }
    rule = _rule(path, domain, table, 0, {}, 0)
    if index is None:
        rules.append(rule)
    else:
        rules[index] = rule
    text = dumps(domain, rules)
    written = parse_file(path, text)  # what is written must read back valid
    try:
        _replace(path, text)
    except OSError as exc:
        raise _store_error(
            path, f"cannot be written ({exc.strerror}); expected a writable policy store"
        ) from None
    return next(r for r in written if (r.scope, r.path) == (scope, rule_path))


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` all or nothing: a temporary file beside it, then one rename."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def store_from_contents(rules: list[dict[str, Any]], directory: Path | None = None) -> PolicyStore:
    """A store rebuilt from rules as data (:meth:`Rule.content`, plus ``where``), as a crawl recorded them."""
    by_domain: dict[str, list[Rule]] = {}
    for data in rules:
        where = str(data.get("where", ":0"))
        file, _, line = where.rpartition(":")
        rule = Rule(
            domain=data["domain"],
            scope=data["scope"],
            path=data["path"],
            ai_scraping=data["ai_scraping"],
            license=data["license"],
            compete=data["compete"],
            allow=tuple(Purpose(p) for p in data["allow"]),
            deny=tuple(Purpose(p) for p in data["deny"]),
            quote=tuple(data["quote"]),
            tos_url=data["tos_url"],
            tos_sha256=data.get("tos_sha256"),
            reviewer=data["reviewer"],
            reviewed=date.fromisoformat(data["reviewed"]),
            review_by=date.fromisoformat(data["review_by"]),
            agreement=data.get("agreement"),
            note=data.get("note"),
            edited=date.fromisoformat(data["edited"]) if data.get("edited") else None,
            edited_by=data.get("edited_by"),
            file=file,
            line=int(line or 0),
        )
        by_domain.setdefault(rule.domain, []).append(rule)
    return PolicyStore(directory or Path("."), {d: tuple(r) for d, r in by_domain.items()})
