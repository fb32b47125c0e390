"""The progress line summarises the stats the gate and the archive keep."""

from __future__ import annotations

from crawler.adapters.progress import progress_line


def test_progress_line() -> None:
    stats = {
        "archive/captures": 120,
        "policy/refused/pre-fetch/robots": 30,
        "policy/refused/pre-fetch/default": 2,
        "policy/refused/post-fetch/robots": 1,
        "policy/robots/parsed": 9,
        "policy/robots/unreachable": 3,
    }
    line = progress_line(stats, 60.0)
    assert "captured 120" in line
    assert "refused 32 before / 1 after fetching" in line
    assert "hosts 12" in line
    assert "(120 pages/min)" in line
