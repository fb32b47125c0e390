"""AIPREF vector tables, one per draft (tests/vectors/aipref_*.json), each vector citing its draft section.

vocab-08 and vocab-07 are read through the Content-Usage header, attach-05
through robots.txt; every table is read literally (no conservative reading),
so that what is tested is the draft's own text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from policies.aipref import header_usage_basis, robots_usage_basis
from policies.decision import Cite, Verdict
from policies.purpose import Purpose
from policies.robots import can_fetch
from policies.robotstxt import RobotsTxt

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
VERDICTS = {"allow": Verdict.ALLOW, "deny": Verdict.DENY, "unknown": Verdict.NONE}
CITE = Cite(source="http://x/robots.txt: HTTP 200")


def _table(name: str) -> list[Any]:
    data = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    assert data["draft"].startswith("draft-ietf-aipref-") and data["vectors"]
    return data["vectors"]


def _vocab_cases() -> list[Any]:
    cases = []
    for vocab in ("08", "07"):
        for vector in _table(f"aipref_vocab{vocab}.json"):
            assert "§" in vector["cite"], vector
            cases.append(pytest.param(vocab, vector, id=f"vocab-{vocab} {vector['header']}"))
    return cases


@pytest.mark.parametrize(("vocab", "vector"), _vocab_cases())
def test_vocab_vectors(vocab: str, vector: dict[str, Any]) -> None:
    for purpose, expected in vector["expect"].items():
        basis = header_usage_basis(tuple(vector["header"]), Purpose(purpose), legacy=False, vocab=vocab)
        assert basis is not None
        assert basis.verdict is VERDICTS[expected], (purpose, vector["cite"], basis.reason)


def _attach_cases() -> list[Any]:
    cases = []
    for vector in _table("aipref_attach05.json"):
        assert "§" in vector["cite"], vector
        for vocab in vector["vocabs"]:
            cases.append(
                pytest.param(vocab, vector, id=f"attach-05 vocab-{vocab} {vector['token']} {vector['path']}")
            )
    return cases


@pytest.mark.parametrize(("vocab", "vector"), _attach_cases())
def test_attach_vectors(vocab: str, vector: dict[str, Any]) -> None:
    url = f"http://x{vector['path']}"
    assert can_fetch(vector["robots"], vector["token"], url) is vector["crawl"], vector["cite"]
    robots = RobotsTxt.parse(vector["robots"])
    for purpose, expected in vector["expect"].items():
        basis = robots_usage_basis(
            robots,
            vector["token"].lower(),
            url,
            Purpose(purpose),
            wildcard=False,
            legacy=False,
            cite=CITE,
            vocab=vocab,
        )
        assert basis.verdict is VERDICTS[expected], (purpose, vector["cite"], basis.reason)


def test_vocab_08_is_the_default() -> None:
    newest = header_usage_basis(("ai-use=n",), Purpose.AI_INPUT, legacy=False)
    assert newest is not None and newest.verdict is Verdict.DENY
    basis = header_usage_basis(("ai-use=n",), Purpose.AI_INPUT, legacy=False, vocab="07")
    assert basis is not None and basis.verdict is Verdict.NONE


def test_under_vocab_07_ai_use_is_a_superseded_label() -> None:
    # The conservative reading 'aipref_legacy' keeps counting it, as it did before -08.
    basis = header_usage_basis(("ai-use=n",), Purpose.AI_INPUT, legacy=True, vocab="07")
    assert basis is not None and basis.verdict is Verdict.DENY and "aipref_legacy" in basis.reason
    newest = header_usage_basis(("ai-use=n",), Purpose.AI_INPUT, legacy=True)
    assert newest is not None and "aipref_legacy" not in newest.reason and "vocab-08" in newest.reason


def test_any_n_reads_ai_use_under_vocab_08() -> None:
    # 'ai-use=n, Bad=x' does not parse as a whole; the conservative reading keeps the member's n.
    literal = header_usage_basis(("ai-use=n, Bad=x",), Purpose.AI_INPUT, legacy=False, vocab="08")
    assert literal is not None and literal.verdict is Verdict.NONE
    kept = header_usage_basis(("ai-use=n, Bad=x",), Purpose.AI_INPUT, legacy=False, any_n=True, vocab="08")
    assert kept is not None and kept.verdict is Verdict.DENY
