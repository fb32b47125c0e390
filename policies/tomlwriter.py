"""The canonical text of a policy file: what ``permitcrawl policy`` writes, key by key in a fixed order."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING

from policies.rules import REQUIRED

if TYPE_CHECKING:
    from policies.rules import Rule

# Characters a TOML basic string may not hold raw (JSON escapes all but DEL already).
_TOML_RAW_FORBIDDEN = {0x7F: "\\u007f"}


def _toml_value(value: object) -> str:
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
