"""Decisions taken with the work on a URL kept (UrlMemos) are the decisions taken without it.

The gate judges a page before fetching it and again after, and keeps what the
first decision read of the host's evidence for the second. This decides a
large randomised set of URLs and pages, over every site of the test webs
(tests/sites.py, tests/hostile.py: the spec's vectors and the hostile cases),
both ways, under several configurations sharing one memo store, and compares
the Decision objects whole: verdict, every basis with its reason and
citation, in order.
"""

from __future__ import annotations

import random
from dataclasses import fields, replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING

import pytest

from crawler.judging.judge import JudgeConfig
from crawler.judging.reading import (
    read_aitxt,
    read_licence,
    read_page,
    read_robots,
    read_tdmrep,
    read_terms_page,
)
from crawler.localweb.server import Reply, as_reply
from policies.decision import DefaultPolicy
from policies.document import Document
from policies.engine import UrlMemos
from policies.evidence import HostEvidence
from policies.memo import Memo
from policies.page import Page, page_licences
from policies.purpose import Purpose
from policies.readings import Readings
from policies.rsl import MAX_LICENCES, licence_lines
from policies.store import load_policies, write_rule
from policies.tos import Unreviewed
from tests.hostile import HOSTILE_SITES
from tests.sites import SITES

if TYPE_CHECKING:
    from pathlib import Path

    from crawler.localweb.server import Site
    from policies.html import HtmlSignals
    from policies.store import PolicyStore

NOW = datetime(2026, 11, 29, tzinfo=UTC)
TEXT = (("Content-Type", "text/plain"),)
HTML = (("Content-Type", "text/html"),)
RSL = '<?xml version="1.0"?><rsl xmlns="https://rslstandard.org/rsl">{}</rsl>'
# Sites whose decisions turn on one conservative reading each, so that a memo key
# that left a reading out would hand one configuration's work to another.
READING_SITES: dict[str, Site] = {
    "readings.test": {
        "/robots.txt": Reply(200, TEXT, (
            b"License: /licence.xml\n"
            b"User-agent: permitcrawl\nAllow: /\nContent-Usage: /legacy/ train-genai=n\n"
            b"Content-Usage: /anyn/ train-ai=n, bogus=?\nContent-Signal: search=yes, use=reference\n\n"
            b"User-agent: *\nContent-Usage: /star/ train-ai=n\nContent-Signal: ai-train=no\nDisallow: /x/\n\n"
            b"User-agent: GPTBot\nDisallow: /gpt/\n\nUser-agent: PerplexityBot\nDisallow: /pplx/\n"
        )),
        "/.well-known/tdmrep.json": Reply(200, (("Content-Type", "application/json"),), (
            b'[{"location": "/tdm/", "tdm-reservation": 1, "tdm-policy": "https://p.test/p"},'
            b' {"location": "/", "tdm-reservation": 0},]'
        )),
        "/ai.txt": Reply(200, TEXT, b"User-Agent: otherbot\nDisallow: /\n\nUser-Agent: *\nDisallow: /noai/"),
        "/licence.xml": Reply(200, (("Content-Type", "application/rsl+xml"),), RSL.format(
            '<content url="/geo/"><license><permits type="usage">ai-train</permits>'
            '<permits type="geo">DE</permits></license></content>'
            '<content url="/user/"><license><permits type="usage">all</permits>'
            '<permits type="user">non-commercial</permits></license></content>'
            '<content url="/"><license><permits type="usage">search</permits></license></content>'
        ).encode()),
        "/": Reply(200, HTML, b'<html><head><meta name="robots" content="noarchive"></head></html>'),
        "/legacy/a": Reply(200, HTML, b'<html><head><meta name="robots" content="noimageai"></head></html>'),
        "/tdm/a": Reply(200, (*HTML, ("TDM-Reservation", "0")), b"<html></html>"),
        "/x/a": Reply(200, (*HTML, ("TDM-Reservation", "yes")), b"<html></html>"),
        "/geo/a": Reply(200, HTML, b'<html><head><meta name="tdm-reservation" content="1;"></head></html>'),
        **{f"/{piece}/a": Reply(200, HTML, b"<html></html>")
           for piece in ("user", "anyn", "star", "gpt", "pplx", "noai")},
    },
}  # fmt: skip
WEBS: dict[str, Site] = {**SITES, **HOSTILE_SITES, **READING_SITES}
NOT_FOUND = Reply(404, (("Content-Type", "text/plain"),), b"not found\n")
# Page-level signals added at random to the pages: each producer's page form, and their mixtures.
PAGE_HEADERS = (
    ("X-Robots-Tag", "noai"),
    ("X-Robots-Tag", "permitcrawl: noindex"),
    ("Content-Usage", "train-ai=n"),
    ("Content-Usage", "train-ai=y, search=y"),
    ("Content-Signal", "ai-train=yes, search=yes"),
    ("Content-Signal", "ai-train=no"),
    ("TDM-Reservation", "1"),
    ("TDM-Reservation", "0"),
    ("TDM-Policy", "https://example.test/policy"),
    ("Link", '</licence.xml>; rel="license"; type="application/rsl+xml"'),
)


def reply(site: Site, path: str) -> Reply:
    spec = site.get(path)
    return as_reply(spec) if spec is not None else NOT_FOUND


def document(kind: str, url: str, site: Site, path: str) -> Document:
    answer = reply(site, path)
    headers = {name.lower(): value for name, value in answer.headers}
    return Document.from_raw(
        kind=kind,
        url=url,
        fetched_at=NOW,
        status=answer.status,
        raw=answer.body,
        content_encoding=[c.strip() for c in headers.get("content-encoding", "").split(",") if c.strip()],
        content_type=headers.get("content-type"),
        record_id=f"<urn:uuid:{kind}-{url}>",
    )


def host_evidence(host: str, judge: JudgeConfig) -> HostEvidence:
    """The host's evidence as the crawler would gather it from the test web (no network)."""
    site = WEBS[host]
    origin = f"http://{host}"
    robots = read_robots(document("robots.txt", f"{origin}/robots.txt", site, "/robots.txt"), judge)
    tdmrep = read_tdmrep(
        document("tdmrep.json", f"{origin}/.well-known/tdmrep.json", site, "/.well-known/tdmrep.json")
    )
    aitxt = read_aitxt(document("ai.txt", f"{origin}/ai.txt", site, "/ai.txt"), judge)
    found: dict[str, str] = {}
    for reading in robots.readings:
        if reading.rules is not None:
            for url, where in licence_lines(reading.rules.robots, judge.token, base=robots.url):
                found.setdefault(url, where)
    licences = tuple(
        read_licence(document("rsl", url, WEBS.get(_host_of(url), {}), _path_of(url)), where)
        for url, where in list(found.items())[:MAX_LICENCES]
    )
    terms_page = f"{origin}/legal/terms"
    terms = read_terms_page(document("terms", terms_page, site, "/legal/terms"), f"{origin}/")
    return HostEvidence(
        origin=origin,
        robots=robots,
        fetched_at=NOW,
        expires_at=NOW + timedelta(hours=24),
        tdmrep=tdmrep,
        aitxt=aitxt,
        licences=licences,
        terms=terms,
    )


def _host_of(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


def _path_of(url: str) -> str:
    rest = url.split("://", 1)[-1]
    return "/" + rest.split("/", 1)[1] if "/" in rest else "/"


def pages_of(host: str, url: str, rng: random.Random) -> list[Page]:
    """The page at ``url`` as served, and as served with page-level signals added at random."""
    answer, body, html = _served(host, url)
    found = []
    for extra in ((), tuple(rng.sample(PAGE_HEADERS, rng.randint(1, 3)))):
        page = read_page(url, answer.status, [*answer.headers, *extra], body, html=html)
        linked, inline, unread = page_licences(page)
        licences = [
            read_licence(document("rsl", link, WEBS.get(_host_of(link), {}), _path_of(link)), where)
            for link, where in linked
        ]
        found.append(replace(page, licences=(*licences, *inline, *unread)))
    return found


@cache
def _served(host: str, url: str) -> tuple[Reply, bytes, tuple[HtmlSignals, ...]]:
    """The reply, its body decoded and its HTML read (once: a big page takes a while to read)."""
    site = WEBS[host]
    answer = reply(site, _path_of(url))
    body = answer.body
    if any(name.lower() == "content-encoding" for name, _ in answer.headers):
        body = document("page", url, site, _path_of(url)).body
    return answer, body, read_page(url, answer.status, answer.headers, body).html_readings


def urls_of(host: str, rng: random.Random, count: int) -> list[str]:
    """The site's own paths, and paths made from their pieces: other cases, encodings, dot segments."""
    site = WEBS[host]
    paths = [p for p in dict.keys(site) if p.startswith("/")] or ["/"]  # type: ignore[arg-type]
    pieces = sorted({piece for p in paths for piece in p.split("/") if piece} | {"a", "private", "x"})
    found = [f"http://{host}{p}" for p in paths]
    while len(found) < count:
        path = "/" + "/".join(rng.choice(pieces) for _ in range(rng.randint(0, 3)))
        twist = rng.randrange(8)
        if twist == 0:
            path = path.upper()
        elif twist == 1:
            path = path.replace("a", "%61", 1)
        elif twist == 2:
            path += "/./" + rng.choice(pieces)
        elif twist == 3:
            path += "?q=" + rng.choice(pieces)
        elif twist == 4:
            path = "/" + path
        elif twist == 5:
            path += rng.choice(["/", "$", ".html", ";x", "%2F"])
        found.append(f"http://{host}{path}")
    return found


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> PolicyStore:
    directory: Path = tmp_path_factory.mktemp("store")
    rule = {
        "ai_scraping": "No AI",
        "license": "Unrestricted Use",
        "compete": "Unrestricted Use",
        "quote": ("Be kind.",),
        "reviewer": "A. Maintainer",
        "reviewed": date(2026, 11, 1),
        "review_by": date(2027, 5, 1),
    }
    for host, changes in (
        ("tos-strict.test", {"deny": ("ai-train", "ai-input")}),
        ("tos-path.test", {"path": "/members/", "deny": ("ai-train",)}),
        ("tos-agreement.test", {"allow": ("ai-train",), "agreement": "Data licence #42 (2026-10-01)"}),
    ):
        write_rule(directory, host, {**rule, **changes, "tos_url": f"http://{host}/legal/terms"})
    return load_policies(directory)


def configurations(store: PolicyStore | None) -> list[JudgeConfig]:
    """A configuration, and one for each thing a memo key must tell apart: purpose, policy, token,
    each conservative reading, the ToS store, what to do with unreviewed terms."""
    base = JudgeConfig(
        purpose=Purpose.AI_TRAIN,
        default_policy=DefaultPolicy.ALLOW,
        token="permitcrawl",
        readings=Readings(),
        unreviewed=Unreviewed.HOLD,
        store=store,
        max_crawl_delay=30.0,
        parse_limit=512 * 1024,
    )
    found = [
        base,
        replace(base, purpose=Purpose.SEARCH),
        replace(base, default_policy=DefaultPolicy.DENY),
        replace(base, token="otherbot"),
        replace(base, store=None),
        replace(base, unreviewed=Unreviewed.DENY),
        replace(base, unreviewed=Unreviewed.ALLOW),
    ]
    for reading in fields(Readings):
        value = getattr(base.readings, reading.name)
        other = (
            (not value) if isinstance(value, bool) else {"rsl_user": "non-commercial"}.get(reading.name, "DE")
        )
        found.append(replace(base, readings=replace(base.readings, **{reading.name: other})))
    return found


@pytest.mark.parametrize("host", sorted(WEBS))
def test_decisions_with_kept_work_equal_those_without(host: str, store: PolicyStore) -> None:
    rng = random.Random(f"memo-{host}")
    judges = configurations(store)
    # One evidence object for every configuration (a crawl's decisions share theirs), so that the
    # kept work is shared too, and only the memo keys tell the configurations apart.
    shared = host_evidence(host, judges[0])
    evidence = {judge.token: shared for judge in judges}
    # One store for every configuration, small enough that URLs are dropped and judged afresh.
    memos = UrlMemos(kept=7)
    urls = urls_of(host, rng, 12)
    checked = 0
    for url in rng.sample(urls * 2, 2 * len(urls)):
        pages = pages_of(host, url, rng)
        # Every configuration on the same URL in turn, as one sharing the kept work would be.
        for judge in rng.sample(judges, len(judges)):
            if rng.random() < 0.05:  # evidence fetched again: the same documents, a new object
                evidence[judge.token] = replace(evidence[judge.token])
            host_now = evidence[judge.token]
            pre = judge.decide(url, host=host_now, now=NOW, memos=memos)
            assert pre == judge.decide(url, host=host_now, now=NOW), url
            page = rng.choice(pages)
            kept = judge.decide_all(url, host=host_now, now=NOW, page=page, memos=memos)
            fresh = judge.decide_all(url, host=host_now, now=NOW, page=page)
            assert kept == fresh, url
            assert [d.as_dict() for d in kept.values()] == [d.as_dict() for d in fresh.values()], url
            checked += 1
    assert checked >= len(urls)


def test_the_memo_of_a_url_is_kept_for_the_same_evidence_only() -> None:
    robots_txt = document("robots.txt", "http://site-a.test/robots.txt", WEBS["site-a.test"], "/robots.txt")
    robots = read_robots(robots_txt, configurations(None)[0])
    evidence = HostEvidence(origin="http://site-a.test", robots=robots, fetched_at=NOW, expires_at=NOW)
    memos = UrlMemos(kept=2)
    first = memos.memo("http://site-a.test/a", evidence)
    assert memos.memo("http://site-a.test/a", evidence) is first
    assert memos.memo("http://site-a.test/a", replace(evidence)) is not first  # refreshed: a new memo
    memos.memo("http://site-a.test/b", evidence)
    memos.memo("http://site-a.test/c", evidence)
    assert len(memos) == 2  # the least recently used URL went first
    with pytest.raises(ValueError, match="at least one URL"):
        UrlMemos(kept=0)


def test_the_gate_keeps_the_pre_fetch_work_for_the_post_fetch_decision() -> None:
    judge = configurations(None)[0]
    site = WEBS["site-a.test"]
    evidence = host_evidence("site-a.test", judge)
    memos = UrlMemos()
    judge.decide("http://site-a.test/a", host=evidence, now=NOW, memos=memos)
    memo = memos.memo("http://site-a.test/a", evidence)
    # The robots.txt basis was computed before fetching, once, and is reused after.
    assert isinstance(memo, Memo) and memo.get("robots", lambda: pytest.fail("computed again")) is not None
    page = read_page("http://site-a.test/a", 200, reply(site, "/a").headers, reply(site, "/a").body)
    assert judge.decide_all("http://site-a.test/a", host=evidence, now=NOW, page=page, memos=memos) == (
        judge.decide_all("http://site-a.test/a", host=evidence, now=NOW, page=page)
    )
