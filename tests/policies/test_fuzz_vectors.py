"""Regression vectors: inputs that fuzzing found to break the parsers before the hostile-input work.

tests/vectors/hostile_fuzz.json holds what fuzzing commit 63537fd found (each
vector's note says what the old code did): exceptions out of the Link header
and RSL readers, pattern matching that took seconds, byte-order marks that hid
a robots.txt, pages whose noai meta a parser missed, and pages the crawler and
audit read differently. Each is kept here with the behaviour it must have now.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from policies.aitxt import aitxt_basis, aitxt_evidence
from policies.decision import DefaultPolicy
from policies.document import Document
from policies.engine import decide_all
from policies.evidence import HostEvidence
from policies.html import read_html
from policies.page import Page
from policies.patterns import PathPattern
from policies.purpose import Purpose
from policies.robots import robots_evidence
from policies.robotstxt import RobotsTxt
from policies.rsl import FoundLicence, licence_lines, link_header_licences, rsl_basis, rsl_evidence
from policies.tdmrep import file_step, tdmrep_evidence
from tests.policies.test_patterns import within

NOW = datetime(2026, 11, 29, tzinfo=UTC)
VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "hostile_fuzz.json").read_text())["vectors"]
TRAIN = Purpose.AI_TRAIN
BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def _of(category: str) -> list[Any]:
    found = [v for v in VECTORS if v["category"] == category]
    assert found, f"no {category} vectors"
    return [pytest.param(v, id=f"{category}-{i}") for i, v in enumerate(found)]


def _bytes(vector: dict[str, Any]) -> bytes:
    data = vector["input"]
    return base64.b64decode(data["b64"]) if isinstance(data, dict) else data.encode("utf-8", "surrogatepass")


def _text(vector: dict[str, Any]) -> str:
    data = vector["input"]
    return base64.b64decode(data["b64"]).decode("latin-1") if isinstance(data, dict) else data


def _doc(kind: str, body: bytes, content_type: str | None = None) -> Document:
    return Document(kind=kind, url=f"http://x/{kind}", fetched_at=NOW, status=200, body=body,
                    content_type=content_type)  # fmt: skip


def _host(**evidence: Any) -> HostEvidence:
    robots = evidence.pop("robots", None) or robots_evidence(
        Document(kind="robots.txt", url="http://x/robots.txt", fetched_at=NOW, status=404), "permitcrawl"
    )
    return HostEvidence(origin="http://x", robots=robots, fetched_at=NOW, expires_at=NOW, **evidence)


@pytest.mark.parametrize("vector", _of("link-header-raises"))
def test_link_headers_that_raised(vector: dict[str, Any]) -> None:
    with within(2):
        found = link_header_licences([_text(vector)], "http://x/")
    assert all(isinstance(url, str) for url in found)


@pytest.mark.parametrize("vector", _of("rsl-raises"))
def test_rsl_inputs_that_raised(vector: dict[str, Any]) -> None:
    with within(2):
        if vector["target"].endswith("licence_lines"):
            lines = licence_lines(RobotsTxt.parse(_text(vector)), "permitcrawl", base="http://x/robots.txt")
            assert all(isinstance(url, str) for url, _ in lines)
            return
        evidence = rsl_evidence(_doc("rsl", _bytes(vector)))
        basis = rsl_basis(FoundLicence(evidence, "test"), "http://x/", TRAIN, user="commercial", geo="")
    assert basis.signal == "rsl"  # a verdict, never an exception


@pytest.mark.parametrize("vector", _of("slow"))
def test_inputs_that_took_seconds_take_milliseconds(vector: dict[str, Any]) -> None:
    url, target = vector["url"], vector["target"]
    with within(1):
        if target.endswith("PathPattern.matches"):
            PathPattern(_text(vector)).matches(url)
        elif "aitxt" in target:
            aitxt_basis(aitxt_evidence(_doc("ai.txt", _bytes(vector))), "permitcrawl", url, TRAIN)
        elif "tdmrep" in target:
            file_step(tdmrep_evidence(_doc("tdmrep.json", _bytes(vector))), url)
        else:
            evidence = rsl_evidence(_doc("rsl", _bytes(vector)))
            rsl_basis(FoundLicence(evidence, "test"), url, TRAIN, user="commercial", geo="")


def _refused(url: str, host: HostEvidence, page: Page | None = None) -> bool:
    return not decide_all(url, host=host, default_policy=DefaultPolicy.ALLOW, now=NOW, page=page)[
        TRAIN
    ].allowed


@pytest.mark.parametrize("vector", _of("robots-bom"))
def test_a_byte_order_mark_no_longer_hides_a_robots_txt(vector: dict[str, Any]) -> None:
    body = _bytes(vector)
    clean = body
    while clean.startswith(BOMS):
        clean = clean[next(len(b) for b in BOMS if clean.startswith(b)) :]
    url = vector["url"]
    assert _refused(url, _host(robots=robots_evidence(_doc("robots.txt", clean), "permitcrawl")))
    assert _refused(url, _host(robots=robots_evidence(_doc("robots.txt", body), "permitcrawl")))


@pytest.mark.parametrize("vector", _of("meta-hidden"))
def test_a_meta_the_old_parser_missed_is_seen(vector: dict[str, Any]) -> None:
    body, content_type = _bytes(vector), vector["content_type"] or "text/html"
    readings = read_html(body, content_type)
    assert any(("robots", "noai") in reading.meta for reading in readings)
    page = Page(url="http://x/p", status=200, headers={"content-type": (content_type,)}, body=body)
    assert _refused("http://x/p", _host(), page)


@pytest.mark.parametrize("vector", _of("crawler-audit-differ"))
def test_the_crawler_and_audit_read_it_alike(vector: dict[str, Any]) -> None:
    from tests.adapters.test_page_reading import _audit_page, _crawler_page

    headers = {"Content-Type": vector["content_type"]} if vector["content_type"] else {}
    live, archived = _crawler_page(_bytes(vector), headers), _audit_page(_bytes(vector), headers)
    assert live.html_readings == archived.html_readings
    assert _refused("http://x.test/page", _host(), live)
