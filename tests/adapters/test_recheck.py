"""What a recheck takes for an answer from a site, and what for no answer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler.adapters.spiders.recheck import fetch_failure
from policies.document import Document

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def document(**fields: object) -> Document:
    return Document(kind="tdmrep.json", url="http://x.test/.well-known/tdmrep.json", fetched_at=NOW, **fields)


@pytest.mark.parametrize("status", [200, 204, 401, 403, 404, 410])
def test_an_answer_is_read(status: int) -> None:
    assert fetch_failure(document(status=status, body=b"[]")) is None


@pytest.mark.parametrize("status", [301, 429, 500, 502, 503, 504])
def test_a_status_that_is_no_answer(status: int) -> None:
    assert f"HTTP {status}" in (fetch_failure(document(status=status)) or "")


def test_no_response_and_a_cut_body_are_no_answer() -> None:
    assert "TimeoutError" in (fetch_failure(document(error="TimeoutError: took too long")) or "")
    cut = fetch_failure(document(status=200, body=b"[{", incomplete="the connection was lost"))
    assert cut is not None and "not read whole" in cut
