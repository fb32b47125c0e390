"""permitcrawl's decision core: pure Python, no Scrapy or Twisted, no network I/O.

Parsers for every signal, the decision model and the engine that combines
them. Reusable from any crawler, dataset filter or notebook.
"""

from policies.decision import Basis, Decision, DefaultPolicy, Stage, Verdict, combine
from policies.document import Document
from policies.engine import decide
from policies.evidence import HostEvidence
from policies.page import Page
from policies.purpose import Purpose
from policies.robots import RobotsEvidence, RobotsOutcome, RobotsRules, can_fetch, robots_evidence
from policies.robotstxt import RobotsTxt

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
