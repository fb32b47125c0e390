"""Property-based tests: random and mangled input to every signal parser.

Nothing raises out of a parser except its own documented error, no parser
grants without the grant's own word in its input, and garbage everywhere
(robots.txt, tdmrep.json, ai.txt, RSL, headers, HTML) never makes the engine
allow anything in the opt-in regime.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.aipref import header_usage_basis, parse_preferences
from policies.aitxt import AiTxt, aitxt_evidence
from policies.contentsignal import header_signal_basis, parse_signals
from policies.decision import DefaultPolicy, Verdict
from policies.document import Document
from policies.engine import decide_all
from policies.evidence import HostEvidence
from policies.html import read_html
from policies.page import Page
from policies.purpose import Purpose
from policies.readings import Readings
from policies.robots import robots_evidence
from policies.robotsmeta import directives_basis, parse_header, parse_meta
from policies.rsl import FoundLicence, RslDocument, RslError, link_header_licences, rsl_evidence
from policies.tdmrep import TdmRepError, TdmRepFile, tdmrep_evidence

NOW = datetime(2026, 11, 22, tzinfo=UTC)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

texts = st.text(max_size=200)
pieces = st.sampled_from(
    [
        "train-ai",
        "search",
        "ai-train",
        "ai-input",
        "=",
        ",",
        ";",
        " ",
        "n",
        "y",
        "yes",
        "no",
        '"',
        "use",
        "?",
        "*",
    ]
)
mangled = st.lists(pieces, max_size=20).map("".join) | texts
binaries = st.binary(max_size=400)
XML_PIECES = ["<rsl", ">", "</rsl>", "<content", ' url="/"', "<license>", "</license>", "<permits", "all"]
XML_PIECES += ["</permits>", "</content>", "<!DOCTYPE x [", "<!ENTITY a 'b'>", "]>", "&a;", '"', "="]
xmlish = st.lists(st.sampled_from(XML_PIECES), max_size=25).map("".join)
paths = st.text(alphabet="/abc*$?=%.-_~é", max_size=20).map(lambda p: "/" + p)


@SETTINGS
@given(mangled)
def test_aipref_grants_only_with_y(text: str) -> None:
    prefs = parse_preferences(text)
    for purpose in Purpose:
        verdict, _ = prefs.verdict(purpose, legacy=True)
        if verdict is Verdict.ALLOW:
            assert "=y" in text
    basis = header_usage_basis((text,), Purpose.AI_TRAIN, legacy=True)
    assert basis is not None and (basis.verdict is not Verdict.ALLOW or "=y" in text)


@SETTINGS
@given(mangled)
def test_content_signal_grants_only_with_yes(text: str) -> None:
    for purpose in Purpose:
        verdict, _ = parse_signals(text).verdict(purpose, use_limits=True)
        assert verdict is not Verdict.ALLOW or "yes" in text.lower()
    basis = header_signal_basis((text,), Purpose.AI_TRAIN, use_limits=True)
    assert basis is not None and (basis.verdict is not Verdict.ALLOW or "yes" in text.lower())


@SETTINGS
@given(binaries | st.text(max_size=200).map(str.encode), paths)
def test_tdmrep_file_parses_or_says_why(body: bytes, path: str) -> None:
    try:
        parsed = TdmRepFile.parse(body)
    except TdmRepError:
        return
    rule = parsed.rule_for(f"http://x{path}")
    assert rule is None or rule.reservation in (0, 1, None)
    evidence = tdmrep_evidence(
        Document(kind="tdmrep.json", url="http://x/t", status=200, body=body, fetched_at=NOW)
    )
    assert evidence.file is not None


@SETTINGS
@given(mangled | texts, paths)
def test_ai_txt_never_raises(text: str, path: str) -> None:
    parsed = AiTxt.parse(text)
    if parsed is not None:
        verdict, _ = parsed.decide("permitcrawl", f"http://x{path}")
        assert verdict is not Verdict.ALLOW or "allow" in text.lower()
    aitxt_evidence(
        Document(kind="ai.txt", url="http://x/ai.txt", status=200, body=text.encode(), fetched_at=NOW)
    )


@SETTINGS
@given(xmlish | texts)
def test_rsl_parses_or_says_why(text: str) -> None:
    with contextlib.suppress(RslError):
        RslDocument.parse(text.encode())
    evidence = rsl_evidence(
        Document(kind="rsl", url="http://x/l.xml", status=200, body=text.encode(), fetched_at=NOW)
    )
    assert (evidence.document is None) == (evidence.problem is not None)


@SETTINGS
@given(st.lists(mangled, max_size=4), st.lists(st.tuples(mangled, mangled), max_size=4))
def test_robots_directives_never_grant(header: list[str], meta: list[tuple[str, str]]) -> None:
    for purpose in Purpose:
        for signal, directives in (("x-robots-tag", parse_header(header)), ("meta-robots", parse_meta(meta))):
            basis = directives_basis(
                directives, purpose, token="permitcrawl", readings=_readings(), signal=signal
            )
            assert basis is None or basis.verdict is not Verdict.ALLOW


@SETTINGS
@given(binaries | st.text(max_size=300).map(str.encode))
def test_html_and_link_parsing_never_raise(body: bytes) -> None:
    read_html(body, "text/html")
    link_header_licences([body.decode("latin-1")], "http://x/")


def _readings() -> Readings:
    return Readings()


def _document(kind: str, body: bytes, status: int) -> Document:
    return Document(kind=kind, url=f"http://x.test/{kind}", status=status, body=body, fetched_at=NOW)


@SETTINGS
@given(
    robots=binaries,
    tdmrep=binaries,
    aitxt=binaries,
    licence=binaries,
    status=st.sampled_from([200, 404, 503]),
    headers=st.dictionaries(
        st.sampled_from(
            ["content-usage", "content-signal", "x-robots-tag", "tdm-reservation", "link", "content-type"]
        ),
        st.lists(mangled, min_size=1, max_size=3).map(tuple),
        max_size=6,
    ),
    body=binaries,
    path=paths,
)
def test_garbage_never_allows_in_the_opt_in_regime(
    robots, tdmrep, aitxt, licence, status, headers, body, path
) -> None:
    host = HostEvidence(
        origin="http://x.test",
        robots=robots_evidence(_document("robots.txt", robots, status), "permitcrawl"),
        fetched_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        tdmrep=tdmrep_evidence(_document("tdmrep.json", tdmrep, status)),
        aitxt=aitxt_evidence(_document("ai.txt", aitxt, status)),
        licences=(FoundLicence(rsl_evidence(_document("rsl", licence, status)), "robots.txt"),),
    )
    url = f"http://x.test{path}"
    page = Page(url=url, status=200, headers=headers, body=body)
    for decisions in (
        decide_all(url, host=host, default_policy=DefaultPolicy.DENY, now=NOW),
        decide_all(url, host=host, default_policy=DefaultPolicy.DENY, now=NOW, page=page),
    ):
        for decision in decisions.values():
            assert not decision.allowed, decision.as_dict()


@pytest.mark.parametrize("status", [200, 404])
def test_an_unreadable_licence_denies_every_purpose(status: int) -> None:
    evidence = rsl_evidence(_document("rsl", b"<not-rsl/>", status))
    host = HostEvidence(
        origin="http://x.test",
        robots=robots_evidence(_document("robots.txt", b"", 404), "permitcrawl"),
        fetched_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        licences=(FoundLicence(evidence, "robots.txt"),),
    )
    decisions = decide_all("http://x.test/a", host=host, default_policy=DefaultPolicy.ALLOW, now=NOW)
    assert all(not d.allowed and d.signal == "rsl" for d in decisions.values())
