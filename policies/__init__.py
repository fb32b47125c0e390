"""permitcrawl's decision core: pure Python, no Scrapy or Twisted, no network I/O.

Parsers for every signal, the decision model and the engine that combines
them. Reusable from any crawler, dataset filter or notebook.

The names below are loaded when first used (PEP 562), so that importing one
small module (``policies.purpose``) does not load every parser: a read-only
command of the command line starts without them.
"""

# No other public name here: ``dir(policies)`` is ``__all__`` (tests/test_boundary.py).
import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from policies.decision import Basis, Decision, DefaultPolicy, Stage, Verdict, combine
    from policies.document import Document
    from policies.engine import decide
    from policies.evidence import HostEvidence
    from policies.page import Page
    from policies.purpose import Purpose
    from policies.robots import RobotsEvidence, RobotsOutcome, RobotsRules, can_fetch, robots_evidence
    from policies.robotstxt import RobotsTxt

# Each public name and the module that defines it.
_EXPORTS: dict[str, str] = {
    "Basis": "policies.decision",
    "Decision": "policies.decision",
    "DefaultPolicy": "policies.decision",
    "Document": "policies.document",
    "HostEvidence": "policies.evidence",
    "Page": "policies.page",
    "Purpose": "policies.purpose",
    "RobotsEvidence": "policies.robots",
    "RobotsOutcome": "policies.robots",
    "RobotsRules": "policies.robots",
    "RobotsTxt": "policies.robotstxt",
    "Stage": "policies.decision",
    "Verdict": "policies.decision",
    "can_fetch": "policies.robots",
    "combine": "policies.decision",
    "decide": "policies.engine",
    "robots_evidence": "policies.robots",
}

__all__ = [
    "Basis",
    "Decision",
    "DefaultPolicy",
    "Document",
    "HostEvidence",
    "Page",
    "Purpose",
    "RobotsEvidence",
    "RobotsOutcome",
    "RobotsRules",
    "RobotsTxt",
    "Stage",
    "Verdict",
    "can_fetch",
    "combine",
    "decide",
    "robots_evidence",
]


def __getattr__(name: str) -> object:
    """Load a public name from its module the first time it is asked for."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'policies' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # later look-ups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
