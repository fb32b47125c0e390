"""The ``robots-ai-agents`` signal: what a site's robots.txt says to well-known AI crawlers.

A site that disallows GPTBot, CCBot or Google-Extended for a path has said
that it does not want that path used to train AI models, even though those
groups do not name us. This is a conservative reading (``Readings.ai_agents``):
RFC 9309 alone binds only the groups that name us.

The list is ai.robots.txt's ``robots.json`` (MIT), shipped byte for byte
with its licence and the commit it came from (``data/ai-robots-txt/``),
plus our own purpose column keyed by token (``data/ai_agents_purposes.json``):
``training`` tokens count for ``ai-train``; ``ai-input`` and
``user-initiated`` ones for ``ai-input``; ``other`` ones for nothing;
a token without a purpose (added by a newer list) is ``unclassified`` and
counts for both ai-train and ai-input, so that a new crawler's disallow is
honoured until someone gives it a purpose. Nothing here counts for ``search``.

A newer list installed by ``permitcrawl agents update`` lives in an agents
directory (``Readings.ai_agents_dir``): ``CURRENT`` names the sha256 of the
list in force, kept in ``<sha256>/robots.json`` with its ``source.json``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policies.decision import Basis, Verdict
from policies.errors import PolicyError
from policies.patterns import path_of
from policies.purpose import Purpose
from policies.robots import RobotsRules
from policies.robotstxt import agent_token

if TYPE_CHECKING:
    from collections.abc import Mapping

    from policies.robots import RobotsEvidence

# Which purposes a token's disallow rules speak for, by the purpose our column gives it.
PURPOSES: dict[str, frozenset[Purpose]] = {
    "training": frozenset({Purpose.AI_TRAIN}),
    "ai-input": frozenset({Purpose.AI_INPUT}),
    "user-initiated": frozenset({Purpose.AI_INPUT}),
    "other": frozenset(),
    # Safe for a token nobody has classified yet: its reservations count for every AI purpose.
    "unclassified": frozenset({Purpose.AI_TRAIN, Purpose.AI_INPUT}),
}
DEFAULT_PURPOSE = "unclassified"

# robots.json's entry fields (ai.robots.txt code/robots.py): five strings, and one optional boolean.
REQUIRED_FIELDS = ("operator", "respect", "function", "frequency", "description")
OPTIONAL_FIELDS: dict[str, type] = {"has_name_and_version": bool}
# The fields that change what a token means to us, compared by ``agents update``.
COMPARED_FIELDS = ("operator", "respect", "function")

UPSTREAM = "https://github.com/ai-robots-txt/ai.robots.txt"
SHA256 = re.compile(r"[0-9a-f]{64}")
_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]*)\)")
# A token goes on a 'User-agent:' line as is: no control characters, no comment or separator
# characters, no space at either end, at most 200 characters.
_TOKEN_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f#:]")
TOKEN_MAX = 200


class AgentListError(PolicyError):
    """A list that does not validate: every problem found, one per line (each names the file).

    A PolicyError, so that a command meeting one (audit, recheck) says it as an error, exit 1.
    """

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("\n".join(errors))


@dataclass(frozen=True)
class Agent:
    """One AI crawler token of the list, with the purpose our column gives it."""

    token: str
    operator: str
    operator_url: str | None
    respect: str
    function: str
    purpose: str
    bucket: str

    @property
    def key(self) -> str:
        """The token as robots.txt group matching reads it (``Brightbot 1.0`` is ``brightbot``)."""
        return agent_token(self.token)


@dataclass(frozen=True)
class AgentList:
    """The list in force, with where it came from.

    ``where`` is ``bundled`` or the agents directory; ``commit`` and ``date``
    are the upstream commit's (empty when an update did not say); ``sha256``
    is the robots.json file's.
    """

    repository: str
    commit: str
    date: str
    sha256: str
    where: str
    agents: tuple[Agent, ...]

    @property
    def source(self) -> str:
        """The repository as owner/name (``ai-robots-txt/ai.robots.txt``), and the file."""
        return f"{self.repository.removeprefix('https://github.com/')}, robots.json"

    def for_purpose(self, purpose: Purpose) -> dict[str, list[Agent]]:
        """The agents whose disallow rules speak for ``purpose``, by robots.txt key."""
        found: dict[str, list[Agent]] = {}
        for agent in self.agents:
            if purpose in PURPOSES[agent.purpose] and agent.key and agent.key != "*":
                found.setdefault(agent.key, []).append(agent)
        return found

    @property
    def provenance(self) -> str:
        """The list as a reason names it: an installed one with its sha256.

        The bundled list is named as crawls have always named it: audit
        compares reasons word for word.
        """
        commit = self.commit[:8] or "commit unknown"
        if self.where == "bundled":
            return f"{self.source} @ {commit} ({self.date})"
        return f"{self.source} @ {commit} ({self.date or 'date unknown'}; sha256 {self.sha256[:12]})"

    def record(self) -> dict[str, str | int]:
        """What a crawl records about the list it used."""
        return {
            "repository": self.repository,
            "commit": self.commit,
            "date": self.date,
            "sha256": self.sha256,
            "where": self.where,
            "agents": len(self.agents),
        }


def _line_of(text: str, token: str) -> int:
    """The line of ``token``'s key in the JSON text (0 if not found as written)."""
    found = re.search(re.escape(json.dumps(token, ensure_ascii=False)) + r"\s*:", text)
    if found is None:
        found = re.search(re.escape(json.dumps(token)) + r"\s*:", text)
    return text.count("\n", 0, found.start()) + 1 if found else 0


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"the key {key!r} appears twice in one object")
        seen[key] = value
    return seen


def token_problem(token: str) -> str | None:
    """What is wrong with ``token`` as a robots.txt user-agent token, or None."""
    if not token or len(token) > TOKEN_MAX:
        return f"is {len(token)} characters long; expected 1 to {TOKEN_MAX}"
    if token != token.strip():
        return "has spaces at an end; expected none"
    if _TOKEN_FORBIDDEN.search(token):
        return "holds a control character, '#' or ':'; expected none (it goes on a 'User-agent:' line)"
    if agent_token(token) in ("", "*"):
        return "does not start with a product token; expected a letter, '-' or '_' first"
    return None


def _entry_problems(token: str, entry: Any) -> list[str]:
    if not isinstance(entry, dict):
        return [
            f"is a {type(entry).__name__}; expected an object with the fields {', '.join(REQUIRED_FIELDS)}"
        ]
    problems = [
        f"lacks the field {name!r}; expected a string" for name in REQUIRED_FIELDS if name not in entry
    ]
    for name, value in entry.items():
        if name in REQUIRED_FIELDS:
            if not isinstance(value, str):
                problems.append(f"field {name!r} is {json.dumps(value)[:40]}; expected a string")
        elif name in OPTIONAL_FIELDS:
            if not isinstance(value, OPTIONAL_FIELDS[name]):
                problems.append(f"field {name!r} is {json.dumps(value)[:40]}; expected true or false")
        else:
            known = ", ".join([*REQUIRED_FIELDS, *OPTIONAL_FIELDS])
            problems.append(f"has an unknown field {name!r}; expected only {known}")
    return problems


def parse_robots_json(data: bytes, name: str) -> dict[str, dict[str, Any]]:
    """``data`` as ai.robots.txt's robots.json, checked strictly; raise AgentListError listing every problem.

    The contract: a UTF-8 JSON object, at least one entry, no key twice; each
    key a user-agent token (:func:`token_problem`); each value an object with
    the string fields ``REQUIRED_FIELDS``, optionally ``has_name_and_version``
    (a boolean), and nothing else. Each error names ``name``, the entry and its
    line, what was wrong and what was expected.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AgentListError([f"{name}: byte {exc.start} is not UTF-8; expected a UTF-8 JSON file"]) from None
    try:
        parsed = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise AgentListError(
            [f"{name}:{exc.lineno}: not JSON ({exc.msg}, column {exc.colno}); expected a JSON object"]
        ) from None
    except ValueError as exc:
        raise AgentListError([f"{name}: {exc}; expected each token once"]) from None
    if not isinstance(parsed, dict) or not parsed:
        what = "an empty object" if isinstance(parsed, dict) else f"a JSON {type(parsed).__name__}"
        raise AgentListError([f"{name}: is {what}; expected an object of agents keyed by token"])
    errors = []
    for token, entry in parsed.items():
        problem = token_problem(token)
        problems = list(_entry_problems(token, entry))
        if not problem and not problems:
            continue  # a line is looked for only for an entry in error: each search reads the whole text
        where = f"{name}:{_line_of(text, token)}: entry {token!r}"
        if problem:
            errors.append(f"{where}: the token {problem}")
        errors.extend(f"{where} {p}" for p in problems)
    if errors:
        raise AgentListError(errors)
    return parsed


def _split_link(value: str) -> tuple[str, str | None]:
    """``[Name](url)`` as its text and url; any other value as itself, with no url."""
    match = _LINK.fullmatch(value.strip())
    return (match.group(1), match.group(2) or None) if match else (value, None)


def build_list(entries: Mapping[str, Mapping[str, Any]], source: Mapping[str, Any], where: str) -> AgentList:
    """The list of ``entries`` (validated robots.json) with our purpose column applied."""
    column = purpose_column()
    agents = []
    for token, entry in entries.items():
        ours = column.get(token, {})
        operator, url = _split_link(entry["operator"])
        agents.append(
            Agent(
                token=token,
                operator=operator,
                operator_url=url,
                respect=entry["respect"],
                function=entry["function"],
                purpose=ours.get("purpose", DEFAULT_PURPOSE),
                bucket=ours.get("bucket", ""),
            )
        )
    return AgentList(
        repository=str(source.get("repository") or UPSTREAM),
        commit=str(source.get("commit") or ""),
        date=str(source.get("date") or ""),
        sha256=str(source["sha256"]),
        where=where,
        agents=tuple(agents),
    )


@cache
def purpose_column() -> dict[str, dict[str, str]]:
    """Our purpose column: token -> {purpose, bucket} (tokens absent from it are ``DEFAULT_PURPOSE``)."""
    data = json.loads(files("policies").joinpath("data/ai_agents_purposes.json").read_text("utf-8"))
    column: dict[str, dict[str, str]] = data["agents"]
    return column


def bundled_bytes() -> bytes:
    """The bundled snapshot's robots.json, byte for byte."""
    return files("policies").joinpath("data/ai-robots-txt/robots.json").read_bytes()


def bundled_license() -> bytes:
    """The MIT licence notice of ai.robots.txt that ships with every copy of its list."""
    return files("policies").joinpath("data/ai-robots-txt/LICENSE").read_bytes()


def _bundled() -> AgentList:
    source = json.loads(files("policies").joinpath("data/ai-robots-txt/source.json").read_text("utf-8"))
    data = bundled_bytes()
    entries = parse_robots_json(data, "policies/data/ai-robots-txt/robots.json")
    return build_list(entries, {**source, "sha256": hashlib.sha256(data).hexdigest()}, "bundled")


def current_sha256(directory: Path) -> str | None:
    """The sha256 that ``directory/CURRENT`` names, or None; raise AgentListError if it is bad."""
    pointer = directory / "CURRENT"
    if not pointer.exists():
        return None
    try:
        value = pointer.read_text("ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise AgentListError([f"{pointer}: cannot be read ({exc}); expected a sha256 in hex"]) from None
    if not SHA256.fullmatch(value):
        raise AgentListError([f"{pointer}: holds {value[:70]!r}; expected the sha256 of a list, in hex"])
    return value


def _installed(directory: Path) -> AgentList | None:
    sha = current_sha256(directory)
    if sha is None:
        return None
    path = directory / sha / "robots.json"
    try:
        data = path.read_bytes()
        source = json.loads((directory / sha / "source.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise AgentListError(
            [f"{directory / sha}: cannot be read ({exc}); run 'permitcrawl agents update'"]
        ) from None
    if hashlib.sha256(data).hexdigest() != sha:
        raise AgentListError(
            [f"{path}: its sha256 is not the {sha[:12]}... CURRENT names; expected the file unchanged"]
        )
    return build_list(parse_robots_json(data, str(path)), {**source, "sha256": sha}, str(directory))


@cache
def load_agents(directory: str = "") -> AgentList:
    """The list in force (cached): the one installed in ``directory`` if any, else the bundled snapshot.

    An empty ``directory``, or one where no update was installed yet, means
    the bundled snapshot. Raise AgentListError if the installed list is
    damaged (never fall back silently to another list).
    """
    if directory:
        installed = _installed(Path(directory))
        if installed is not None:
            return installed
    return _bundled()


@dataclass(frozen=True)
class ListChanges:
    """What replacing one list with another changes: tokens added and removed, fields changed."""

    added: tuple[Agent, ...]
    removed: tuple[Agent, ...]
    changed: tuple[tuple[str, str, str, str], ...]  # token, field, old value, new value

    @property
    def unclassified(self) -> tuple[Agent, ...]:
        """Added tokens that our purpose column does not know (they get ``DEFAULT_PURPOSE``)."""
        return tuple(a for a in self.added if a.token not in purpose_column())


def compare(old: AgentList, new: AgentList) -> ListChanges:
    """The changes from ``old`` to ``new``, token by token in name order."""
    before = {a.token: a for a in old.agents}
    after = {a.token: a for a in new.agents}
    changed = []
    for token in sorted(before.keys() & after.keys(), key=str.lower):
        for name in (*COMPARED_FIELDS, "purpose"):
            was, now = getattr(before[token], name), getattr(after[token], name)
            if was != now:
                changed.append((token, name, was, now))
    return ListChanges(
        added=tuple(after[t] for t in sorted(after.keys() - before.keys(), key=str.lower)),
        removed=tuple(before[t] for t in sorted(before.keys() - after.keys(), key=str.lower)),
        changed=tuple(changed),
    )


@cache
def _keys_for(purpose: Purpose, directory: str = "") -> dict[str, list[Agent]]:
    return load_agents(directory).for_purpose(purpose)


def agent_keys(purpose: Purpose, directory: str = "") -> frozenset[str]:
    """The robots.txt keys of the listed agents that speak for ``purpose``."""
    return frozenset(_keys_for(purpose, directory))


def agent_rules(robots: RobotsEvidence, purpose: Purpose, directory: str = "") -> dict[str, RobotsRules]:
    """The access rules of every listed agent that the robots.txt names in a group of its own."""
    if robots.rules is None:
        return {}
    rules = robots.rules
    return robots.derived.get(
        ("ai-agents", purpose, directory), lambda: _agent_rules(rules, purpose, directory)
    )


def _agent_rules(rules: RobotsRules, purpose: Purpose, directory: str) -> dict[str, RobotsRules]:
    wanted = _keys_for(purpose, directory)
    named = {token for group in rules.robots.access_groups for token in group.tokens}
    # A group that also names us is read as ours by the robots signal already.
    named.discard(rules.selection.token)
    return {key: RobotsRules(rules.robots, key) for key in sorted(named & wanted.keys())}


def ai_agents_basis(robots: RobotsEvidence, url: str, purpose: Purpose, directory: str = "") -> Basis | None:
    """Return the ``robots-ai-agents`` basis for ``url``, or None when nothing is read for ``purpose``.

    ``directory`` is the agents directory (``Readings.ai_agents_dir``; empty: the bundled list).
    """
    if purpose is Purpose.SEARCH or robots.rules is None:
        return None
    rules = agent_rules(robots, purpose, directory)
    common = {"source": robots.source, "sha256": robots.sha256, "record_id": robots.record_id}
    path = path_of(url)
    kind = "AI-training" if purpose is Purpose.AI_TRAIN else "AI search and assistant"
    refused = [key for key, agent_rules in rules.items() if not agent_rules.can_fetch(url)]
    if not refused:
        named = ", ".join(rules) or "none"
        return Basis(
            signal="robots-ai-agents",
            verdict=Verdict.NONE,
            reason=f"robots.txt refuses {path} to no {kind} crawler of the list (named: {named})",
            **common,
        )
    agents = _keys_for(purpose, directory)
    names = ", ".join(f"{agents[key][0].token} ({agents[key][0].operator})" for key in refused)
    rule = rules[refused[0]].matching_rule(url)
    return Basis(
        signal="robots-ai-agents",
        verdict=Verdict.DENY,
        reason=(
            f"robots.txt disallows {path} for {kind} crawlers {names}: read as a {purpose.value} "
            f"opt-out (conservative reading 'ai_agents'; list: {load_agents(directory).provenance})"
        ),
        rule=rule,
        **common,
    )
