"""Spawning ai.txt: vectors S1-S4 of ../shared/reference/signals.md §5.3."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from policies.aitxt import AiTxt, aitxt_basis, aitxt_evidence
from policies.decision import Verdict
from policies.document import Document
from policies.purpose import Purpose

A, D, N = Verdict.ALLOW, Verdict.DENY, Verdict.NONE
NOW = datetime(2026, 11, 22, tzinfo=UTC)
GENERATOR = "# Spawning AI\nUser-Agent: *\nDisallow: *.txt\nDisallow: *.pdf\nDisallow: *.jpg\n"
GENERATOR += "Disallow: /\nDisallow: *\n"


def verdict(text: str, path: str, purpose: Purpose = Purpose.AI_TRAIN, status: int = 200) -> Verdict | None:
    doc = Document(kind="ai.txt", url="http://x/ai.txt", status=status, body=text.encode(), fetched_at=NOW)
    basis = aitxt_basis(aitxt_evidence(doc), "permitcrawl", f"http://x{path}", purpose)
    return None if basis is None else basis.verdict


@pytest.mark.parametrize(
    ("text", "path", "expected"),
    [
        ("User-Agent: *\nDisallow: /\n", "/page", D),  # S1
        (GENERATOR, "/post.html", D),  # S2
        (GENERATOR, "/photo.jpg", D),
        ("User-Agent: *\nAllow: *.txt\nAllow: *.html\nDisallow: *.jpg\nAllow: /\n", "/photo.jpg", D),  # S3
        ("User-Agent: *\nAllow: *.txt\nAllow: *.html\nDisallow: *.jpg\nAllow: /\n", "/post.html", A),
        ("User-Agent: *\nDisallow: jpg\n", "/a/photo.jpg", D),  # no leading / or *: anywhere in the path
        ("User-Agent: *\nDisallow: /gallery/\n", "/blog", N),  # no rule matches
        ("User-Agent: *\nDisallow: /x\nAllow: /x\n", "/x", A),  # Allow wins a tie
        ("User-Agent: *\nDisallow: /\n\nUser-Agent: permitcrawl\nAllow: /\n", "/a", A),  # our group first
        ("---\ntitle: About this site\n---\n# ai.txt\nWe welcome AI.\n", "/a", N),  # S4: another format
    ],
)
def test_vectors(text: str, path: str, expected: Verdict) -> None:
    assert verdict(text, path) is expected


def test_only_training_is_read() -> None:
    assert verdict("User-Agent: *\nDisallow: /\n", "/a", Purpose.SEARCH) is None  # S1, search column
    assert verdict("User-Agent: *\nDisallow: /\n", "/a", Purpose.AI_INPUT) is None


@pytest.mark.parametrize("status", [404, 500, 503])
def test_missing_file_says_nothing(status: int) -> None:
    assert verdict("User-Agent: *\nDisallow: /\n", "/a", status=status) is N


def test_format_check() -> None:
    assert AiTxt.parse("User-Agent: *\n") is None  # no rules
    assert AiTxt.parse("Disallow: /\n") is None  # no group
    assert AiTxt.parse("user-agent: *\ndisallow: /\n") is not None
