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
    reviewed = 2026-11-20
    review_by = 2027-05-20
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
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from publicsuffixlist import PublicSuffixList

from policies.errors import PolicyFileError, PolicyStoreError
from policies.files import POLICY_FILE_MAX, InputFileError, read_text_input
from policies.patterns import normalize
from policies.purpose import Purpose
from policies.vocabulary import AI_SCRAPING, COMPETE, LICENSE, merged_label

SUFFIX = ".toml"
REQUIRED = ("ai_scraping", "license", "compete", "quote", "tos_url", "reviewer", "reviewed", "review_by")
OPTIONAL = ("scope", "path", "allow", "deny", "tos_sha256", "agreement", "note")
RULE_KEYS = REQUIRED + OPTIONAL
# What a rule's axis label already says about a purpose: allowing it anyway takes an agreement.
FORBIDS: dict[str, frozenset[Purpose]] = {
    "No Scraping & AI": frozenset(Purpose),
    "No Scraping": frozenset(Purpose),
    "No AI": frozenset({Purpose.AI_TRAIN, Purpose.AI_INPUT}),
}
_KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")
_RULE_LINE = re.compile(r"^\s*\[\[\s*rule\s*\]\]")


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
    file: str = field(default="", compare=False)
    line: int = field(default=0, compare=False)

    def content(self) -> dict[str, Any]:
        """The rule as data, without where it is written: what its version digests."""
        data: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("file", "line"):
                continue
            value = getattr(self, f.name)
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
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value)
    raise ValueError(f"{value!r} is not a date")


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{value!r} is not a string or a list of strings")
    return tuple(v.strip() for v in value)


def _purposes(value: Any) -> tuple[Purpose, ...]:
    return tuple(Purpose.parse(v) for v in _strings(value))


def _choice(options: tuple[str, ...]) -> Any:
    def convert(value: Any) -> str:
        if value not in options:
            raise ValueError(f"{value!r} is not a label of this axis; expected one of: {', '.join(options)}")
        return value

    return convert


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a non-empty string")
    return value.strip()


def _url(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"https?://\S+", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


def _sha256(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ValueError(f"{value!r} is not a sha256 in lower-case hex (64 characters)")
    return value


def _path(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError(f"{value!r} is not a path starting with '/'")
    return value


CONVERTERS: dict[str, Any] = {
    "scope": lambda v: canonical_host(_text(v)),
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
}


def _rule(
    path: Path, domain: str, table: Any, index: int, keys: dict[tuple[int, str], int], line: int
) -> Rule:
    errors: list[PolicyFileError] = []

    def at(key: str) -> int:
        return keys.get((index, key), line)

    if not isinstance(table, dict):
        raise PolicyStoreError([PolicyFileError(path, line, "a rule must be a [[rule]] table")])
    values: dict[str, Any] = {}
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
    missing = [k for k in REQUIRED if k not in table]
    if missing:
        errors.append(
            PolicyFileError(
                path, line, f"rule is missing {', '.join(missing)}; every rule needs {', '.join(REQUIRED)}"
            )
        )
    if errors:
        raise PolicyStoreError(errors)
    values.setdefault("scope", domain)
    if not host_covers(domain, values["scope"]):
        errors.append(
            PolicyFileError(
                path, at("scope"), f"scope {values['scope']!r} is not {domain} or a subdomain of it"
            )
        )
    if values["review_by"] < values["reviewed"]:
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
    forbidden = set(values.get("allow", ())) & FORBIDS.get(values["ai_scraping"], frozenset())
    if forbidden and "agreement" not in values:
        errors.append(
            PolicyFileError(
                path,
                at("allow"),
                f"allows {', '.join(sorted(forbidden))} although ai_scraping is {values['ai_scraping']!r}; "
                "expected an agreement that grants it, or a deny",
            )
        )
    if not values["quote"] or not all(values["quote"]):
        errors.append(
            PolicyFileError(path, at("quote"), "quote is empty; expected the clause(s) the verdict rests on")
        )
    if errors:
        raise PolicyStoreError(errors)
    return Rule(domain=domain, file=str(path), line=line, **values)


def load_file(path: Path) -> tuple[Rule, ...]:
    """Read and validate one policy file; raise PolicyStoreError listing every problem."""
    try:
        text = read_text_input(
            path, limit=POLICY_FILE_MAX, expected="a UTF-8 policy file of one domain's rules, at most 1 MiB"
        )
    except InputFileError as exc:
        raise PolicyStoreError([PolicyFileError(path, 0, str(exc).removeprefix(f"{path}: "))]) from None
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
    errors: list[PolicyFileError] = []
    expected = canonical_host(path.name.removesuffix(SUFFIX))
    domain = data.get("domain")
    if not isinstance(domain, str) or canonical_host(domain) != expected:
        errors.append(
            PolicyFileError(
                path,
                keys.get((-1, "domain"), 1),
                f"domain is {domain!r}; expected {expected!r}, as the file is named",
            )
        )
    elif not is_registrable(expected):
        errors.append(
            PolicyFileError(
                path,
                keys.get((-1, "domain"), 1),
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
        raise PolicyStoreError(errors)
    return tuple(rules)


def load_policies(directory: Path) -> PolicyStore:
    """Load every ``*.toml`` file of a store; raise PolicyStoreError listing every problem of every file."""
    if not directory.is_dir():
        raise PolicyStoreError(
            [
                PolicyFileError(
                    directory, 0, "not a directory; expected a policy store (permitcrawl policy init DIR)"
                )
            ]
        )
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


def _toml_value(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    # JSON string escapes are a subset of TOML basic-string escapes.
    return json.dumps(str(value), ensure_ascii=False)


def dumps(domain: str, rules: list[Rule]) -> str:
    """The canonical text of a policy file."""
    out = [
        f"# ToS policy for {domain}. Edit: permitcrawl policy set. Check: permitcrawl policy validate.",
        f"domain = {_toml_value(domain)}",
    ]
    for rule in rules:
        out += ["", "[[rule]]"]
        content = rule.content()
        for key in (
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
            "agreement",
            "note",
        ):
            value = getattr(rule, key)
            if value in (None, ()) or (key == "path" and value == "/"):
                continue
            out.append(f"{key} = {_toml_value(value if isinstance(value, date) else content[key])}")
    return "\n".join(out) + "\n"


def write_rule(directory: Path, host: str, changes: dict[str, Any]) -> Rule:
    """Create or update the rule for ``host`` (and ``changes['path']``) in its domain's file.

    Fields not in ``changes`` keep their values. The new file is validated as a
    whole before it replaces the old one, so a store is never left invalid.
    """
    domain = registrable_domain(host)
    path = directory / f"{domain}{SUFFIX}"
    rules = list(load_file(path)) if path.exists() else []
    scope = canonical_host(host)
    rule_path = changes.get("path") or "/"
    values = {k: v for k, v in changes.items() if v is not None}
    index = next((i for i, r in enumerate(rules) if (r.scope, r.path) == (scope, rule_path)), None)
    if index is None:
        table: dict[str, Any] = {"scope": scope, "path": rule_path, **values}
        missing = [k for k in REQUIRED if k not in table]
        if missing:
            options = ", ".join("--" + k.replace("_", "-") for k in missing)
            raise PolicyStoreError([PolicyFileError(path, 0, f"a new rule for {scope} needs {options}")])
    else:
        table = {**rules[index].content(), **values}
    table = {
        key: ([str(v) for v in value] if isinstance(value, list | tuple) else value)
        for key, value in table.items()
        if key != "domain" and value is not None
    }
    rule = _rule(path, domain, table, 0, {}, 0)
    if index is None:
        rules.append(rule)
    else:
        rules[index] = rule
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=directory, prefix=".staging-"))
    try:
        staged = staging / path.name
        staged.write_text(dumps(domain, rules), encoding="utf-8")
        load_file(staged)  # what is written must read back valid
        os.replace(staged, path)
    finally:
        for leftover in staging.iterdir():
            leftover.unlink()
        staging.rmdir()
    return next(r for r in load_file(path) if (r.scope, r.path) == (scope, rule_path))


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
            file=file,
            line=int(line or 0),
        )
        by_domain.setdefault(rule.domain, []).append(rule)
    return PolicyStore(directory or Path("."), {d: tuple(r) for d, r in by_domain.items()})
