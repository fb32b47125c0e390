"""Property-based tests: random and mangled robots.txt never crash the parser, and never grant a use."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.decision import Verdict
from policies.document import Document
from policies.robots import can_fetch, robots_basis, robots_evidence
from policies.robotstxt import RobotsTxt

NOW = datetime(2026, 11, 22, tzinfo=UTC)

FIELDS = ["User-agent", "user-agent", "Allow", "Disallow", "Crawl-delay", "Sitemap", "Content-Usage", "X", ""]
line = st.builds(
    lambda f, sep, v: f"{f}{sep}{v}",
    st.sampled_from(FIELDS),
    st.sampled_from([":", ": ", " ", "::", ""]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
)
robots_text = st.lists(line, max_size=30).map("\n".join) | st.text(max_size=300)
paths = st.text(alphabet="/abc*$?=%.-_~é", max_size=20).map(lambda p: "/" + p)


@settings(max_examples=300, deadline=None)
@given(robots_text, paths)
def test_parser_never_raises(text: str, path: str) -> None:
    RobotsTxt.parse(text)
    assert can_fetch(text, "permitcrawl", f"http://example.com{path}") in (True, False)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.sampled_from([200, 204, 301, 404, 429, 500, 503, None]), paths)
def test_garbage_never_grants_a_use(body: bytes, status: int | None, path: str) -> None:
    doc = Document(kind="robots.txt", url="http://x/robots.txt", status=status, body=body, fetched_at=NOW)
    basis = robots_basis(robots_evidence(doc, "permitcrawl"), f"http://x{path}")
    assert basis.verdict in (Verdict.NONE, Verdict.DENY)  # robots.txt governs access, never grants
    if status is None or status >= 500 or status in (301, 429):
        assert basis.verdict is Verdict.DENY
