"""The ToS policy store: a directory of policy files, one per registrable domain; loaded, queried, edited.

Each file is read by :mod:`policies.validator` (its format is described
there), through :mod:`policies.files`, and written by
:mod:`policies.tomlwriter`; a rule is a :class:`~policies.rules.Rule`. This
module is the only one in the decision core that writes files: every
write replaces a whole file in one rename.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from policies.errors import PolicyError, PolicyFileError, PolicyStoreError
from policies.rules import REQUIRED, Rule
from policies.tomlwriter import dumps
from policies.urls import canonical_host, registrable_domain
from policies.validator import SUFFIX, check_host, load_file, parse_file, rule_from_table

# How long a review holds when no review-by date is given.
REVIEW_PERIOD = timedelta(days=182)


@dataclass(frozen=True)
class PolicyStore:
    """Every rule of a store directory, by registrable domain."""

    directory: Path
    rules: dict[str, tuple[Rule, ...]]

    def all_rules(self) -> list[Rule]:
        """Every rule, domain by domain in name order, each file's rules in file order."""
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
    rule = rule_from_table(path, domain, table, 0, {}, 0)
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
        rule = Rule.from_content(data, file=file, line=int(line or 0))
        by_domain.setdefault(rule.domain, []).append(rule)
    return PolicyStore(directory or Path("."), {d: tuple(r) for d, r in by_domain.items()})
