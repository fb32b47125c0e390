"""The AI-crawler list file: strict validation of robots.json, our purpose column, list comparison."""

from __future__ import annotations

import json
from typing import Any

import pytest

from policies.aiagents import (
    DEFAULT_PURPOSE,
    PURPOSES,
    AgentListError,
    build_list,
    bundled_bytes,
    compare,
    load_agents,
    parse_robots_json,
    purpose_column,
    token_problem,
)
from policies.purpose import Purpose

ENTRY = {
    "operator": "[Op](https://op.example)",
    "respect": "Yes",
    "function": "f",
    "frequency": "x",
    "description": "d",
}


def _errors(data: bytes) -> list[str]:
    with pytest.raises(AgentListError) as caught:
        parse_robots_json(data, "new.json")
    return caught.value.errors


def test_the_bundled_snapshot_validates_and_every_token_has_a_purpose() -> None:
    entries = parse_robots_json(bundled_bytes(), "robots.json")
    assert len(entries) == 166
    column = purpose_column()
    assert set(column) == set(entries)
    assert {row["purpose"] for row in column.values()} <= set(PURPOSES)


def test_the_purposes_keep_the_old_buckets_decisions() -> None:
    agents = load_agents()
    by_bucket: dict[str, set[str]] = {}
    for agent in agents.agents:
        by_bucket.setdefault(agent.bucket, set()).add(agent.purpose)
    assert by_bucket["training"] == {"training"}
    assert by_bucket["ai-search"] == {"ai-input"}
    assert by_bucket["user-fetch"] == by_bucket["agent"] == {"user-initiated"}
    for bucket in ("coding-agent", "data-provider", "other", "undocumented"):
        assert by_bucket[bucket] == {"other"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xc3(", "new.json: byte 0 is not UTF-8; expected a UTF-8 JSON file"),
        (b'{"A": ', "new.json:1: not JSON"),
        (b"[]", "new.json: is a JSON list; expected an object of agents keyed by token"),
        (b"{}", "new.json: is an empty object; expected an object of agents keyed by token"),
        (b'{"A": {}, "A": {}}', "the key 'A' appears twice"),
        (b'{\n"A": "x"\n}', "new.json:2: entry 'A' is a str; expected an object with the fields operator"),
    ],
)
def test_file_level_errors(data: bytes, message: str) -> None:
    assert any(message in error for error in _errors(data)), _errors(data)


def _one(token: str, entry: dict[str, Any]) -> bytes:
    return json.dumps({"GoodBot": ENTRY, token: entry}, indent=2).encode()


@pytest.mark.parametrize(
    ("token", "entry", "message"),
    [
        ("Bad:Bot", ENTRY, "entry 'Bad:Bot': the token holds a control character, '#' or ':'"),
        (" Bot", ENTRY, "the token has spaces at an end"),
        ("2Bot", ENTRY, "the token does not start with a product token"),
        ("*", ENTRY, "the token does not start with a product token"),
        ("X" * 201, ENTRY, "is 201 characters long; expected 1 to 200"),
        ("Bot", {**ENTRY, "respect": True}, "field 'respect' is true; expected a string"),
        ("Bot", {k: v for k, v in ENTRY.items() if k != "function"}, "lacks the field 'function'"),
        (
            "Bot",
            {**ENTRY, "has_name_and_version": "yes"},
            "'has_name_and_version' is \"yes\"; expected true or false",
        ),
        ("Bot", {**ENTRY, "url": "x"}, "has an unknown field 'url'; expected only operator"),
    ],
)
def test_entry_errors_name_the_file_line_and_entry(token: str, entry: dict[str, Any], message: str) -> None:
    errors = _errors(_one(token, entry))
    line = 9  # 'GoodBot' takes lines 2-8 of the indented file
    assert any(message in e and e.startswith(f"new.json:{line}: entry ") for e in errors), errors


def test_every_error_is_reported() -> None:
    data = json.dumps({"A:": ENTRY, "B": {"operator": 1}, "C": []}).encode()
    assert len(_errors(data)) == 1 + 5 + 1


def test_a_valid_entry_with_the_optional_field() -> None:
    parsed = parse_robots_json(_one("Brightbot 1.0", {**ENTRY, "has_name_and_version": True}), "new.json")
    assert set(parsed) == {"GoodBot", "Brightbot 1.0"}
    assert token_problem("Brightbot 1.0") is None


def test_a_token_without_a_purpose_counts_for_every_ai_purpose() -> None:
    entries = parse_robots_json(_one("NewBot", ENTRY), "new.json")
    listed = build_list(entries, {"sha256": "0" * 64}, "test")
    new = next(a for a in listed.agents if a.token == "NewBot")
    assert new.purpose == DEFAULT_PURPOSE == "unclassified"
    assert new.operator == "Op" and new.operator_url == "https://op.example"
    assert "newbot" in listed.for_purpose(Purpose.AI_TRAIN) and "newbot" in listed.for_purpose(
        Purpose.AI_INPUT
    )
    assert "newbot" not in listed.for_purpose(Purpose.SEARCH)


def test_compare_lists_added_removed_and_changed() -> None:
    old = load_agents()
    data = json.loads(bundled_bytes())
    data["NewBot"] = ENTRY
    del data["GPTBot"]
    data["CCBot"] = {**data["CCBot"], "function": "changed"}
    new = build_list(data, {"sha256": "1" * 64}, "test")
    changes = compare(old, new)
    assert [a.token for a in changes.added] == ["NewBot"]
    assert [a.token for a in changes.removed] == ["GPTBot"]
    assert [(t, f) for t, f, _, _ in changes.changed] == [("CCBot", "function")]
    assert [a.token for a in changes.unclassified] == ["NewBot"]
