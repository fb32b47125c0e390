"""permitcrawl report, end to end: crawls made through the CLI, revoked and rechecked, then reported.

The tests read the HTML the command writes (parsed with BeautifulSoup): what
the crawl was for, the signal glossary, revoked captures shown as revoked, the
time chart's bins, and hosts or domains as the crawl calls for.
"""

from __future__ import annotations

import math
import re
import sqlite3
from typing import TYPE_CHECKING, Any

import pytest
from bs4 import BeautifulSoup

from crawler.localweb.server import LocalWebServer, serve
from crawler.workflows.report import BIN_WIDTHS, MAX_BARS, SIGNAL_GLOSSARY
from policies.decision import SIGNAL_IDS
from tests.conftest import crawl, run_cli
from tests.sites import HTML, TEXT, page

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from bs4 import Tag

    from crawler.localweb.server import Site

OPEN_ROBOTS = "User-agent: *\nDisallow: /private/\n"
ONE_DOMAIN = ["http://www.report.test/", "http://blog.report.test/"]
LATER_ROBOTS = "User-agent: *\nContent-Signal: ai-train=no\nDisallow: /private/\n"


def report_sites() -> dict[str, Site]:
    """Hosts under one registrable domain (report.test), and one elsewhere (granted.test)."""
    return {
        "www.report.test": {
            "/robots.txt": (200, TEXT, OPEN_ROBOTS),
            "/": page("www home", "/a", "/b", "/private/x", "/missing"),
            "/a": page("a"),
            "/b": page("b"),
        },
        "blog.report.test": {
            "/robots.txt": (200, TEXT, OPEN_ROBOTS),
            "/": page("blog home", "/p1", "/noai"),
            "/p1": page("p1"),
            "/noai": (
                200,
                HTML,
                '<html><head><meta name="robots" content="noai"></head><body>no</body></html>',
            ),
        },
        "granted.test": {
            "/robots.txt": (200, TEXT, "User-agent: *\nContent-Signal: ai-train=yes\n"),
            "/": page("granted home", "/g1"),
            "/g1": page("g1"),
        },
    }


@pytest.fixture(scope="module")
def rweb() -> Iterator[LocalWebServer]:
    server = serve(report_sites())
    yield server
    server.close()


def cli_ok(*args: str | Path, proxy: str | None = None) -> Any:
    result = run_cli(*args, proxy=proxy)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def report(crawl_dir: Path) -> BeautifulSoup:
    out = crawl_dir / "report.html"
    cli_ok("report", crawl_dir)
    return BeautifulSoup(out.read_text(encoding="utf-8"), "lxml")


def section(soup: BeautifulSoup, title: str) -> list[Tag]:
    """The elements between the h2 whose text starts with ``title`` and the next h2."""
    heading = next(h for h in soup.find_all("h2") if h.get_text().startswith(title))
    found = []
    for sibling in heading.find_next_siblings():
        if sibling.name == "h2":
            break
        found.append(sibling)
    return found


def table_rows(tag: Tag) -> dict[str, list[str]]:
    """A table's rows by their first cell."""
    table = tag if tag.name == "table" else tag.find("table")
    rows = [[td.get_text() for td in tr.find_all(["td", "th"])] for tr in table.find_all("tr")]
    return {row[0]: row[1:] for row in rows}


def db_rows(crawl_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(crawl_dir / "provenance.db") as db:
        return list(db.execute(sql))


@pytest.fixture(scope="module")
def one_domain(rweb: LocalWebServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A crawl of report.test alone, then a takedown and a recheck after the blog reserved training."""
    run = crawl(rweb, tmp_path_factory.mktemp("report") / "crawl", seeds=ONE_DOMAIN)
    assert run.result.returncode == 0, run.result.stderr
    cli_ok("revoke", run.out, "--url", "http://www.report.test/a", "--reason", "DMCA 1", "--by", "legal")
    site: Any = rweb.sites["blog.report.test"]
    site["/robots.txt"] = (200, TEXT, LATER_ROBOTS)
    try:
        cli_ok("recheck", run.out, "--by", "ops", proxy=rweb.proxy_url)
    finally:
        site["/robots.txt"] = (200, TEXT, OPEN_ROBOTS)
    return run.out


def test_the_report_says_what_the_crawl_was_for(one_domain: Path) -> None:
    soup = report(one_domain)
    purpose = " ".join(t.get_text() for t in section(soup, "What the crawl collected for"))
    assert "Purpose ai-train (training AI models)" in purpose
    assert "default policy allow: the opt-out regime" in purpose
    crawls = table_rows(section(soup, "Crawls")[0])
    assert crawls["id"] == ["kind", "purpose", "default policy", "started", "finished"]
    assert [row[:3] for key, row in crawls.items() if key != "id"] == [
        ["crawl", "ai-train", "allow"],
        ["recheck", "ai-train", "allow"],
    ]


def test_revoked_captures_show_as_revoked(one_domain: Path) -> None:
    soup = report(one_domain)
    by_signal = table_rows(section(soup, "By deciding signal")[1])
    assert by_signal["signal"] == ["usable", "revoked", "not usable", "refused"]
    # www: /, /a (taken down), /b, /missing (404); blog: / and /p1 (revoked by the recheck).
    assert by_signal["default"] == ["2", "3", "1", "0"]
    assert by_signal["robots"] == ["0", "0", "0", "1"] and by_signal["meta-robots"] == ["0", "0", "0", "1"]
    totals = {d.get_text() for d in soup.select(".totals div")}
    assert {"6captured", "2usable", "3revoked", "2refused"} <= totals
    revoked = table_rows(section(soup, "Revoked since")[1])
    assert revoked["how"] == ["for", "signal now", "reason", "captures"]
    assert revoked["revoke: a takedown or erasure request"] == ["every purpose", "", "DMCA 1", "1"]
    recheck = revoked["recheck: the site's evidence, fetched again, now reserves it"]
    assert recheck[0] == "ai-train" and recheck[1] == "content-signal" and recheck[3] == "2"
    tips = {t.get_text() for t in soup.find_all("title")}
    assert "default: 3 revoked" in tips and "default: 3 not usable" not in tips


def test_the_default_bar_and_every_signal_id_are_explained(one_domain: Path) -> None:
    soup = report(one_domain)
    note = soup.find(id="default-note").get_text(" ")
    assert "is the crawl's own policy, not a site's signal" in note
    assert "nobody reserved the page, and nobody granted it either" in note
    assert "--default-policy deny" in note
    glossary = soup.find("dl", class_="glossary")
    terms = [dt.find("code").get_text() for dt in glossary.find_all("dt")]
    assert terms == list(SIGNAL_IDS)
    meanings = dict(zip(terms, [dd.get_text() for dd in glossary.find_all("dd")], strict=True))
    assert meanings["default"].startswith("no signal said anything about the purpose")
    assert meanings["robots"].startswith("the site's robots.txt rules")
    present = {
        dt.find("code").get_text() for dt in glossary.find_all("dt") if "in this report" in dt.get_text()
    }
    assert present == {"default", "robots", "meta-robots"}


def test_hosts_are_shown_when_every_capture_is_under_one_domain(one_domain: Path) -> None:
    soup = report(one_domain)
    titles = [h.get_text() for h in soup.find_all("h2")]
    assert "By host (all under report.test; top 20)" in titles
    assert not [t for t in titles if t.startswith("By domain")]
    by_host = table_rows(section(soup, "By host")[0])
    assert by_host == {
        "host": ["captured", "refused"],
        "www.report.test": ["4", "1"],
        "blog.report.test": ["2", "1"],
    }


def test_the_time_chart_is_binned_to_the_crawls_span(one_domain: Path) -> None:
    soup = report(one_domain)
    first, last = db_rows(
        one_domain,
        "select min(s), max(s) from (select (julianday(fetched_at) - 2440587.5) * 86400.0 as s from captures "
        "union all select (julianday(decided_at) - 2440587.5) * 86400.0 from refusals)",
    )[0]
    width = next(w for w in BIN_WIDTHS if math.floor(last / w) - math.floor(first / w) < MAX_BARS)
    bins = math.floor(last / width) - math.floor(first / width) + 1
    assert width < 60  # a crawl of seconds is not one bar per minute
    heading = next(h for h in soup.find_all("h2") if h.get_text().startswith("Over time"))
    unit = re.fullmatch(r"Over time \(per (.+), UTC, \d{4}-\d\d-\d\d\)", heading.get_text())
    assert unit is not None and unit.group(1) == ("second" if width == 1 else f"{width:g} seconds")
    chart = heading.find_next("svg")
    captured_bars = [r for r in chart.find_all("rect") if r.find("title").get_text().endswith(" captured")]
    assert len(captured_bars) == bins  # one per bin, empty bins too
    labels = [t.get_text() for t in chart.find_all("text") if re.fullmatch(r"[\d:.]+", t.get_text())]
    assert labels and len(labels) == len(set(labels))  # each label once
    table = table_rows(heading.find_next("table"))
    counted = sum(int(row[0]) for key, row in table.items() if key != "from")
    assert counted == db_rows(one_domain, "select count(*) from captures")[0][0]


def test_domains_and_the_opt_in_regime(rweb: LocalWebServer, tmp_path: Path) -> None:
    run = crawl(rweb, tmp_path / "crawl", "--default-policy", "deny",
                seeds=[*ONE_DOMAIN, "http://granted.test/"])  # fmt: skip
    assert run.result.returncode == 0, run.result.stderr
    soup = report(run.out)
    purpose = " ".join(t.get_text() for t in section(soup, "What the crawl collected for"))
    assert "default policy deny: the opt-in regime" in purpose
    by_domain = table_rows(section(soup, "By domain (top 20)")[0])
    assert by_domain["granted.test"] == ["2", "0"]
    assert by_domain["report.test"][0] == "0"  # nothing granted there: every page refused by default
    by_signal = table_rows(section(soup, "By deciding signal")[1])
    assert by_signal["content-signal"] == ["2", "0", "0", "0"]
    assert by_signal["default"][3] != "0"
    assert "No capture has been revoked." in " ".join(t.get_text() for t in section(soup, "Revoked since"))


def test_every_signal_id_has_a_glossary_entry() -> None:
    assert set(SIGNAL_GLOSSARY) == set(SIGNAL_IDS)
