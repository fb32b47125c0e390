"""Content Signals: vectors C1-C9 of ../shared/reference/signals.md §3.3, robots.txt and header."""

from __future__ import annotations

import pytest

from policies.contentsignal import header_signal_basis, parse_signals, robots_signal_basis
from policies.decision import Cite, Verdict
from policies.purpose import Purpose
from policies.robotstxt import RobotsTxt

A, D, N = Verdict.ALLOW, Verdict.DENY, Verdict.NONE
CITE = Cite(source="http://x/robots.txt: HTTP 200")


def robots(text: str, purpose: Purpose, *, wildcard: bool = True, use_limits: bool = True) -> Verdict:
    basis = robots_signal_basis(
        RobotsTxt.parse(text), "permitcrawl", purpose, wildcard=wildcard, use_limits=use_limits, cite=CITE
    )
    assert basis.signal == "content-signal"
    return basis.verdict


@pytest.mark.parametrize(
    ("text", "train", "ai_input", "search"),
    [
        ("User-Agent: *\nContent-Signal: search=yes, ai-train=no\nAllow: /\n", D, N, A),  # C1
        ("User-Agent: *\nContent-Signal: search=yes,ai-train=no,use=reference\nAllow: /\n", D, N, A),  # C2
        ("User-Agent: *\nContent-Signal: ai-input=no\n", N, D, N),  # C3
        ("# ANY RESTRICTIONS EXPRESSED VIA CONTENT SIGNALS ...\nUser-Agent: *\nAllow: /\n", N, N, N),  # C5
        ("User-Agent: *\ncontent-signal: AI-Train=No\n", D, N, N),  # C6: any case
        ("User-Agent: *\nContent-Signal: ai-train=false\n", D, N, N),  # C7: plainly no
        ("User-Agent: *\nContent-Signal: ai-train=n\n", D, N, N),
        ("User-Agent: *\nContent-Signal: ai-train=maybe\n", N, N, N),  # malformed: never a grant
        (
            "User-Agent: *\nContent-Signal: search=yes, ai-train=yes, ai-input=yes\n",
            A,
            A,
            A,
        ),  # C9 (signal part)
    ],
)
def test_robots_vectors(text: str, train: Verdict, ai_input: Verdict, search: Verdict) -> None:
    assert robots(text, Purpose.AI_TRAIN) is train
    assert robots(text, Purpose.AI_INPUT) is ai_input
    assert robots(text, Purpose.SEARCH) is search


def test_wildcard_group_reading() -> None:
    text = "User-Agent: *\nContent-Signal: ai-train=no\n\nUser-agent: permitcrawl\nAllow: /\n"  # C4
    assert robots(text, Purpose.AI_TRAIN, wildcard=True) is D
    assert robots(text, Purpose.AI_TRAIN, wildcard=False) is N


def test_use_limits_reading() -> None:
    text = "User-Agent: *\nContent-Signal: ai-train=yes, use=reference\n"
    assert robots(text, Purpose.AI_TRAIN, use_limits=True) is D
    assert robots(text, Purpose.AI_TRAIN, use_limits=False) is A
    assert robots(text, Purpose.SEARCH) is N
    assert robots("User-Agent: *\nContent-Signal: ai-train=yes, use=full\n", Purpose.AI_TRAIN) is A


def test_several_lines_combine_most_restrictively() -> None:
    text = "User-Agent: *\nContent-Signal: ai-train=yes\nContent-Signal: ai-train=no\n"
    assert robots(text, Purpose.AI_TRAIN) is D


def test_header_form() -> None:
    # C8: a CDN's default header says yes; robots.txt said no; the engine combines them (deny wins).
    basis = header_signal_basis(
        ("ai-train=yes, search=yes, ai-input=yes",), Purpose.AI_TRAIN, use_limits=True
    )
    assert basis is not None and basis.verdict is A and basis.source == "response header Content-Signal"
    refused = header_signal_basis(("ai-train=yes", "ai-train=no"), Purpose.AI_TRAIN, use_limits=True)
    assert refused is not None and refused.verdict is D
    assert header_signal_basis((), Purpose.AI_TRAIN, use_limits=True) is None


def test_parse() -> None:
    assert parse_signals(" Search = Yes ,ai-train=NO, junk, =x").values == {
        "search": ("yes",),
        "ai-train": ("no",),
    }


@pytest.mark.parametrize(
    ("line", "verdict"),
    [
        # A key given twice on one line reads as two lines would: a 'no' anywhere reserves.
        ("ai-train=no, ai-train=maybe", Verdict.DENY),
        ("ai-train=no, ai-train=yes", Verdict.DENY),
        ("ai-train=yes, ai-train=no", Verdict.DENY),
        ("ai-train=yes, AI-Train=No", Verdict.DENY),
        ("ai-train=yes, ai-train=maybe", Verdict.NONE),  # not every value grants
        ("ai-train=yes, ai-train=yes", Verdict.ALLOW),
        ("ai-train=yes, use=full, use=reference", Verdict.DENY),
    ],
)
def test_repeated_keys_on_one_line(line: str, verdict: Verdict) -> None:
    header = header_signal_basis((line,), Purpose.AI_TRAIN, use_limits=True)
    assert header is not None and header.verdict is verdict
    robots = RobotsTxt.parse(f"User-agent: *\nContent-Signal: {line}\nAllow: /\n")
    basis = robots_signal_basis(
        robots, "permitcrawl", Purpose.AI_TRAIN, wildcard=True, use_limits=True, cite=Cite()
    )
    assert basis.verdict is verdict
