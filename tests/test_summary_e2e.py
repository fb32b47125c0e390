"""permitcrawl summary, end to end: crawls made through the CLI, summarised, and checked three ways.

Every number the summary gives is computed again here, from the database
(SQL over the provenance views), from ``pages --format jsonl`` (with each
capture's payload read back from its WARC record) and from ``report``'s HTML;
all three must agree with it. The crawl has 21 registrable domains, so that the
template's share (10 %, rounded up: 3) and the SME share (5 %: 2) differ from
"all" and from each other.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup

from crawler.localweb.server import LocalWebServer, serve
from crawler.workflows.report import SIGNAL_GLOSSARY
from crawler.workflows.summary import TO_FILL, listed_count, mime_type, modality
from policies.urls import registrable_domain
from tests.cli.test_startup import FRAMEWORKS, loaded_by, packages
from tests.conftest import cli_env, crawl, read_record, run_cli
from tests.sites import HTML, TEXT, page

if TYPE_CHECKING:
    from collections.abc import Iterator

    from crawler.localweb.server import Site

ROOT = Path(__file__).resolve().parent.parent
DOMAINS = 21
OPEN = "User-agent: *\nDisallow: /private/\n"


def padded(title: str, size: int, *links: str) -> tuple[int, dict[str, str], str]:
    """A page of ``title`` whose body is ``size`` bytes longer than a bare one: sizes that rank."""
    status, headers, body = page(title, *links)
    return status, headers, body.replace("</body>", "x" * size + "</body>")


def summary_sites() -> dict[str, Site]:
    """21 registrable domains, each a different size; one with a second host, refusals and a 404."""
    sites: dict[str, Site] = {}
    for n in range(1, DOMAINS + 1):
        sites[f"site{n:02d}.test"] = {
            "/robots.txt": (200, TEXT, OPEN),
            "/": padded(f"site {n}", 100 * n, "/a"),
            "/a": padded(f"site {n} a", 37 * n),
        }
    first: Any = sites["site01.test"]
    first["/"] = padded("site 1", 100, "/a", "/private/x", "/noai", "/missing", "/notes.txt")
    first["/noai"] = (
        200,
        HTML,
        '<html><head><meta name="robots" content="noai"></head><body>n</body></html>',
    )
    first["/notes.txt"] = (200, TEXT, "plain text notes " * 30)
    first["/private/x"] = page("never requested")
    sites["www.site21.test"] = {"/robots.txt": (200, TEXT, OPEN), "/": padded("www 21", 50)}
    sites["other.test"] = {"/robots.txt": (200, TEXT, OPEN), "/": padded("other", 10)}
    sites["closed.test"] = {"/robots.txt": (200, TEXT, "User-agent: *\nDisallow: /\n"), "/": page("closed")}
    return sites


SEEDS = [f"http://site{n:02d}.test/" for n in range(1, DOMAINS + 1)] + ["http://www.site21.test/"]


@pytest.fixture(scope="module")
def sweb() -> Iterator[LocalWebServer]:
    server = serve(summary_sites())
    yield server
    server.close()


def cli_ok(*args: str | Path, proxy: str | None = None) -> subprocess.CompletedProcess[str]:
    result = run_cli(*args, proxy=proxy)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def crawled(sweb: LocalWebServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A crawl of the 21 domains, then one page of site05.test taken down."""
    run = crawl(sweb, tmp_path_factory.mktemp("summary") / "crawl", seeds=SEEDS)
    assert run.result.returncode == 0, run.result.stderr
    cli_ok("revoke", run.out, "--url", "http://site05.test/a", "--reason", "takedown 7", "--by", "legal")
    return run.out


@pytest.fixture(scope="module")
def second(sweb: LocalWebServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another crawl, of a domain the first did not visit."""
    run = crawl(sweb, tmp_path_factory.mktemp("summary2") / "crawl", seeds=["http://other.test/"])
    assert run.result.returncode == 0, run.result.stderr
    return run.out


def summary_json(*args: str | Path) -> dict[str, Any]:
    return json.loads(cli_ok("summary", *args, "--format", "json").stdout)


def db_rows(crawl_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(crawl_dir / "provenance.db") as db:
        rows = list(db.execute(sql))
    db.close()
    return rows


def usable_pages(*dirs: Path) -> list[dict[str, Any]]:
    """``pages --usable --format jsonl`` over ``dirs``, each row with its WARC record's payload size."""
    rows = [
        json.loads(line)
        for line in cli_ok("pages", *dirs, "--usable", "--format", "jsonl").stdout.splitlines()
    ]
    for row in rows:
        record = read_record(Path(row["crawl_dir"]), row["warc_file"], row["warc_offset"])
        row["bytes"] = len(record.raw)
        row["domain"] = registrable_domain(urlsplit(row["url"]).hostname or "")
    return rows


def report_soup(*dirs: Path, out: Path) -> BeautifulSoup:
    cli_ok("report", *dirs, "--out", out)
    return BeautifulSoup(out.read_text(encoding="utf-8"), "lxml")


def report_refusals(soup: BeautifulSoup) -> dict[str, int]:
    """The refused column of the report's by-signal table, without the zero rows."""
    heading = next(h for h in soup.find_all("h2") if h.get_text().startswith("By deciding signal"))
    table = heading.find_next("table")
    rows = [[td.get_text() for td in tr.find_all(["td", "th"])] for tr in table.find_all("tr")]
    column = rows[0].index("refused")
    return {row[0]: int(row[column]) for row in rows[1:] if int(row[column])}


def report_totals(soup: BeautifulSoup) -> dict[str, int]:
    found = {}
    for box in soup.select(".totals div"):
        found[box.get_text().lstrip("0123456789")] = int(box.find("b").get_text())
    return found


# -- numbers ---------------------------------------------------------------------


def test_collected_pages_bytes_and_domains_match_pages_and_the_warc_records(crawled: Path) -> None:
    data = summary_json(crawled)
    rows = usable_pages(crawled)
    content = data["2.3.(v)"]
    assert content["collected_pages"] == len(rows) > DOMAINS
    assert content["collected_bytes"] == sum(r["bytes"] for r in rows)
    assert content["collected_hosts"] == len({urlsplit(r["url"]).hostname for r in rows}) == DOMAINS + 1
    # The revoked page and the 404 are captured but not collected.
    assert "http://site05.test/a" not in {r["url"] for r in rows}
    assert content["revoked_pages"] == 1 and content["not_usable_pages"] == 1
    assert content["captured"] == len(rows) + 2 == db_rows(crawled, "select count(*) from captures")[0][0]
    assert content["captured"] == len(cli_ok("pages", crawled, "--format", "jsonl").stdout.splitlines())
    (revoked_bytes,) = db_rows(
        crawled, "select payload_length from captures where url = 'http://site05.test/a'"
    )[0]
    assert content["revoked_bytes"] == revoked_bytes > 0
    # By MIME type, from the content types pages gives; each with its modality.
    by_type: Counter[str] = Counter()
    for row in rows:
        by_type[mime_type(row["content_type"])] += row["bytes"]
    assert {t["mime_type"]: t["bytes"] for t in content["types"]} == dict(by_type)
    assert {"text/html", "text/plain"} <= set(by_type)
    assert all(t["modality"] == modality(t["mime_type"]) == "text" for t in content["types"])
    modalities = [{"modality": "text", "pages": len(rows), "bytes": sum(by_type.values())}]
    assert data["2.3.(vi)"] == modalities


def test_per_domain_counts_match_pages_domain(crawled: Path) -> None:
    data = summary_json(crawled)
    rows = usable_pages(crawled)
    domains = data["2.3.(vii)"]
    assert domains["domains"] == DOMAINS  # www.site21.test counts under site21.test
    for entry in domains["top"]:
        listed = cli_ok("pages", crawled, "--usable", "--domain", entry["domain"], "--format", "jsonl")
        assert entry["pages"] == len(listed.stdout.splitlines())
        assert entry["bytes"] == sum(r["bytes"] for r in rows if r["domain"] == entry["domain"])
    assert data["2.3.(vii)"]["top"][0]["hosts"] == 2  # site21.test and www.site21.test


def test_the_top_ten_percent_of_domains_by_size_are_listed(crawled: Path) -> None:
    rows = usable_pages(crawled)
    size: Counter[str] = Counter()
    for row in rows:
        size[row["domain"]] += row["bytes"]
    ranked = sorted(size, key=lambda d: (-size[d], d))
    data = summary_json(crawled)["2.3.(vii)"]
    assert data["listed"] == 3 == listed_count(DOMAINS, sme=False)  # 10 % of 21 is 2.1: rounded up
    assert [d["domain"] for d in data["top"]] == ranked[:3] == ["site21.test", "site20.test", "site19.test"]
    assert [d["rank"] for d in data["top"]] == [1, 2, 3]
    assert data["listed_bytes"] == sum(size[d] for d in ranked[:3])
    sme = summary_json(crawled, "--sme")["2.3.(vii)"]
    assert sme["listed"] == 2 and [d["domain"] for d in sme["top"]] == ranked[:2]
    assert "5% or 1,000" in sme["rule"] and sme["sme"] is True


def test_a_tie_at_the_cut_off_is_said_and_broken_by_pages_then_name(crawled: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(crawled, copy)
    sizes = {  # bytes per page; every other page 1 byte
        "http://site21.test/": 999_999,
        "http://site20.test/": 50_000,
        # 2,000 bytes each: site01.test in three usable pages, site18/19.test in two, site05.test in one.
        **{f"http://site{n}.test/{p}": 1000 for n in ("01", "18", "19") for p in ("", "a")},
        "http://site01.test/notes.txt": 0,
        "http://site05.test/": 2000,
    }
    with sqlite3.connect(copy / "provenance.db") as db:
        db.execute("update capture_rows set payload_length = 1")
        db.executemany(
            "update capture_rows set payload_length = ? where url = ?", [(v, k) for k, v in sizes.items()]
        )
    db.close()
    data = summary_json(copy)["2.3.(vii)"]
    assert [(d["domain"], d["bytes"], d["pages"]) for d in data["top"]] == [
        ("site21.test", 999_999 + 1 + 1, 3),  # with www.site21.test
        ("site20.test", 50_000 + 1, 2),
        ("site01.test", 2000, 3),  # before site18.test and site19.test: more pages; site05.test: fewer
    ]
    assert data["tie_at_cutoff"] is True
    assert "The next domain has the same size as the last listed" in cli_ok("summary", copy).stdout
    sme = summary_json(copy, "--sme")["2.3.(vii)"]
    assert [d["domain"] for d in sme["top"]] == ["site21.test", "site20.test"]
    assert sme["tie_at_cutoff"] is False


def test_the_sme_share_is_capped_at_a_thousand_domains() -> None:
    assert [listed_count(n, sme=False) for n in (0, 1, 9, 10, 11, 21, 100)] == [0, 1, 1, 1, 2, 3, 10]
    assert [listed_count(n, sme=True) for n in (0, 1, 20, 21, 19_980, 19_981, 20_000, 10**6)] == [
        *(0, 1, 1, 2, 999, 1000, 1000, 1000)
    ]
    assert listed_count(10**6, sme=False) == 100_000


def test_refusals_per_signal_match_the_report_and_the_database(crawled: Path, tmp_path: Path) -> None:
    data = summary_json(crawled)
    behaviour = data["2.3.(iii)"]
    soup = report_soup(crawled, out=tmp_path / "r.html")
    assert behaviour["refusals_by_signal"] == report_refusals(soup)
    assert behaviour["refusals_by_signal"] == {"robots": 1, "meta-robots": 1}
    from_db = {
        (s, p, st): n
        for s, p, st, n in db_rows(
            crawled, "select signal, purpose, stage, count(*) from refusals group by 1, 2, 3"
        )
    }
    assert {(r["signal"], r["purpose"], r["stage"]): r["refusals"] for r in behaviour["refusals"]} == from_db
    assert behaviour["refused"] == report_totals(soup)["refused"] == 2
    assert behaviour["refusals_by_purpose"] == {"ai-train": 2}
    totals = report_totals(soup)
    assert data["2.3.(v)"]["captured"] == totals["captured"]
    assert data["2.3.(v)"]["collected_pages"] == totals["usable"]
    assert data["2.3.(v)"]["revoked_pages"] == totals["revoked"]
    signals = {s["signal"]: s for s in behaviour["signals"]}
    assert signals["robots"]["meaning"] == SIGNAL_GLOSSARY["robots"] and signals["robots"]["refusals"] == 1
    assert signals["tdmrep"]["refusals"] == 0  # every honoured signal is listed, refusals or not


def test_a_signal_this_version_does_not_know_is_counted_and_said_so(crawled: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(crawled, copy)
    with sqlite3.connect(copy / "provenance.db") as db:
        db.execute("update refusal_rows set signal = 'a-later-signal' where signal = 'robots'")
    db.close()
    behaviour = summary_json(copy)["2.3.(iii)"]
    assert behaviour["refusals_by_signal"]["a-later-signal"] == 1
    unknown = next(s for s in behaviour["signals"] if s["signal"] == "a-later-signal")
    assert unknown == {
        "signal": "a-later-signal",
        "meaning": "a signal id this version of permitcrawl does not know",
        "refusals": 1,
    }


def test_crawlers_purposes_and_period_come_from_the_crawls(crawled: Path) -> None:
    data = summary_json(crawled)
    ((agent, token, started, finished, crawl_id),) = db_rows(
        crawled, "select user_agent, robots_token, started_at, finished_at, id from crawls"
    )
    assert data["crawlers_used"] is True
    assert data["2.3.(i)"] == [{"user_agent": agent, "robots_token": token, "crawls": 1}]
    assert token == "permitcrawl" and agent.startswith("permitcrawl/")
    (purpose,) = data["2.3.(ii)"]
    assert purpose["purpose"] == "ai-train" and purpose["default_policy"] == "allow"
    assert purpose["collected_pages"] == data["2.3.(v)"]["collected_pages"]
    period = data["2.3.(iv)"]
    ((first, last),) = db_rows(
        crawled,
        "select min(t), max(t) from (select fetched_at as t from captures union all "
        "select decided_at from refusals)",
    )
    assert (period["first"], period["last"]) == (first, last)
    assert period["from"] == f"{first[5:7]}/{first[:4]}" and period["to"] == f"{last[5:7]}/{last[:4]}"
    (one,) = period["crawls"]
    assert (one["crawl_id"], one["started_at"], one["finished_at"]) == (crawl_id, started, finished)


def test_two_directories_add_up_in_one_summary(crawled: Path, second: Path, tmp_path: Path) -> None:
    both = summary_json(crawled, second)
    one, other = summary_json(crawled), summary_json(second)
    assert both["directories"] == [str(crawled), str(second)]
    for key in ("captured", "collected_pages", "collected_bytes", "revoked_pages"):
        assert both["2.3.(v)"][key] == one["2.3.(v)"][key] + other["2.3.(v)"][key]
    rows = usable_pages(crawled, second)
    assert both["2.3.(v)"]["collected_pages"] == len(rows)
    assert both["2.3.(v)"]["collected_bytes"] == sum(r["bytes"] for r in rows)
    assert both["2.3.(vii)"]["domains"] == DOMAINS + 1 and both["2.3.(vii)"]["listed"] == 3
    # report takes independent crawls one at a time: the summary is the sum of the two.
    soups = [report_soup(d, out=tmp_path / f"{n}.html") for n, d in enumerate((crawled, second))]
    refused: Counter[str] = Counter()
    for soup in soups:
        refused.update(report_refusals(soup))
    assert both["2.3.(iii)"]["refusals_by_signal"] == dict(refused)
    assert both["2.3.(v)"]["collected_pages"] == sum(report_totals(s)["usable"] for s in soups)
    assert both["2.3.(i)"][0]["crawls"] == 2
    assert [c["directory"] for c in both["2.3.(iv)"]["crawls"]] == [str(crawled), str(second)]
    assert both["2.3.(iv)"]["first"] == one["2.3.(iv)"]["first"]
    assert both["2.3.(iv)"]["last"] == other["2.3.(iv)"]["last"]


def test_a_crawl_that_collected_nothing_lists_no_domain(sweb: LocalWebServer, tmp_path: Path) -> None:
    run = crawl(sweb, tmp_path / "crawl", seeds=["http://closed.test/"])
    assert run.result.returncode == 0, run.result.stderr
    data = summary_json(run.out)
    assert data["crawlers_used"] is True
    assert data["2.3.(v)"]["collected_pages"] == data["2.3.(v)"]["captured"] == 0
    assert data["2.3.(vi)"] == [] and data["2.3.(v)"]["types"] == []
    assert data["2.3.(vii)"]["domains"] == data["2.3.(vii)"]["listed"] == 0 and data["2.3.(vii)"]["top"] == []
    assert data["2.3.(iii)"]["refusals_by_signal"] == {"robots": 1}
    ((decided,),) = db_rows(run.out, "select decided_at from refusals")
    assert data["2.3.(iv)"]["first"] == data["2.3.(iv)"]["last"] == decided  # the period of the refusal
    md = cli_ok("summary", run.out).stdout
    assert "**0 of 0** registrable domains" in md and "**0 pages, 0 bytes**" in md


# -- formats -----------------------------------------------------------------------


def test_markdown_html_and_json_are_all_produced_and_agree(crawled: Path, tmp_path: Path) -> None:
    data = summary_json(crawled)
    md = cli_ok("summary", crawled).stdout
    assert md == cli_ok("summary", crawled, "--format", "md").stdout
    # The template's numbering, in its order, and the provider's blanks marked.
    numbers = re.findall(r"\*\*(\d\.\d(?:\.\([ivx]+\))?)\*\*|#### (2\.3\.\([ivx]+\))", md)
    found = [a or b for a, b in numbers]
    assert found == [
        *("1.1.(i)", "1.1.(ii)", "1.2.(i)", "1.2.(ii)", "1.2.(iii)", "1.3", "2.1", "2.2"),
        *(f"2.3.({n})" for n in ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii")),
        *("2.4", "2.5", "2.6", "3.1", "3.2", "3.3"),
    ]
    # The note on what the mark means, then 16 blanks: header, 1.x (6), 2.1, 2.2, 2.3.(viii), 2.4-2.6, 3.x
    assert md.count(f"*{TO_FILL}*") == 17
    top = data["2.3.(vii)"]["top"][0]
    assert f"| 1 | {top['domain']} | 2 | {top['pages']} | {top['bytes']} |" in md
    assert f"{data['2.3.(v)']['collected_pages']} pages, {data['2.3.(v)']['collected_bytes']:,} bytes" in md
    out = tmp_path / "summary.html"
    result = cli_ok("summary", crawled, "--format", "html", "--out", out)
    assert result.stdout == "" and f"wrote {out}" in result.stderr
    page_html = out.read_text(encoding="utf-8")
    assert not re.search(r"<script|<link|\bsrc=|\bhref=", page_html)  # self-contained: nothing to load
    soup = BeautifulSoup(page_html, "lxml")
    tables = {t.find("th").get_text(): t for t in soup.find_all("table")}
    rows = [[td.get_text() for td in tr.find_all("td")] for tr in tables["rank"].find_all("tr")[1:]]
    assert rows == [
        [str(d["rank"]), d["domain"], str(d["hosts"]), str(d["pages"]), str(d["bytes"])]
        for d in data["2.3.(vii)"]["top"]
    ]
    assert len(soup.select(".fill")) == 17  # as in Markdown
    assert set(data) == {
        *("format", "template", "directories", "to_fill", "crawlers_used"),
        *("2.3.(i)", "2.3.(ii)", "2.3.(iii)", "2.3.(iv)", "2.3.(v)", "2.3.(vi)", "2.3.(vii)"),
    }


def test_the_databases_are_only_read(crawled: Path) -> None:
    before = hashlib.sha256((crawled / "provenance.db").read_bytes()).hexdigest()
    listing = sorted(p.name for p in crawled.iterdir())
    cli_ok("summary", crawled, "--format", "json")
    assert hashlib.sha256((crawled / "provenance.db").read_bytes()).hexdigest() == before
    assert sorted(p.name for p in crawled.iterdir()) == listing


def test_summary_loads_no_framework(crawled: Path) -> None:
    output, modules = loaded_by("summary", str(crawled))
    assert "#### 2.3.(vii)" in output
    assert packages(modules, FRAMEWORKS) == []


def test_an_older_schema_is_read_as_the_other_commands_read_it(tmp_path: Path) -> None:
    fixture = ROOT / "tests" / "fixtures" / "schema5"
    copy = tmp_path / "old"
    shutil.copytree(fixture, copy, ignore=shutil.ignore_patterns("golden", "README.md"))
    before = (copy / "provenance.db").read_bytes()
    data = summary_json(copy)
    listed = cli_ok("pages", copy, "--usable", "--format", "jsonl").stdout.splitlines()
    assert data["2.3.(v)"]["collected_pages"] == len(listed) > 0
    assert (copy / "provenance.db").read_bytes() == before


# -- bad input ---------------------------------------------------------------------


def test_bad_input_is_refused_with_a_clear_error(crawled: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("summary", empty)
    assert result.returncode == 1 and "Error:" in result.stderr and "provenance.db" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "provenance.db").write_bytes(b"not a database at all " * 100)
    result = run_cli("summary", broken)
    assert result.returncode == 1 and "Error:" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("summary", crawled, "--format", "pdf")
    assert result.returncode == 2 and "'pdf' is not one of 'md', 'json', 'html'" in result.stderr
    result = run_cli("summary", crawled, crawled)
    assert result.returncode == 2 and "is given twice" in result.stderr


def damage_captures(crawl_dir: Path) -> None:
    """Overwrite a page of the captures' table: the database opens, and fails when a query reaches it."""
    with sqlite3.connect(crawl_dir / "provenance.db") as db:
        size = db.execute("pragma page_size").fetchone()[0]
        (page_no,) = db.execute("select max(pageno) from dbstat where name = 'capture_rows'").fetchone()
    db.close()
    with open(crawl_dir / "provenance.db", "r+b") as file:
        file.seek((page_no - 1) * size)
        file.write(b"\xff" * size)


def test_a_database_damaged_deep_inside_is_named(crawled: Path, second: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(crawled, damaged)
    damage_captures(damaged)
    # Given first, then the good one: the error names the damaged directory, not the last opened.
    result = run_cli("summary", damaged, second)
    assert result.returncode == 1 and result.stdout == "" and "Traceback" not in result.stderr
    assert f"Error: {damaged}: its provenance database could not be read" in result.stderr
    assert str(second) not in result.stderr


def test_out_never_overwrites_a_file(crawled: Path, tmp_path: Path) -> None:
    out = tmp_path / "summary.md"
    out.write_text("keep me\n", encoding="utf-8")
    result = run_cli("summary", crawled, "--out", out)
    assert result.returncode == 1 and "already exists" in result.stderr and result.stdout == ""
    assert out.read_text(encoding="utf-8") == "keep me\n"
    result = run_cli("summary", crawled, "--out", tmp_path / "no" / "such" / "dir.md")
    assert result.returncode == 1 and "does not exist" in result.stderr
    new = tmp_path / "new.md"
    cli_ok("summary", crawled, "--out", new)
    assert new.read_text(encoding="utf-8") == cli_ok("summary", crawled).stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.md", "summary.md"]  # no partial file left


# -- the README --------------------------------------------------------------------

# What changes from one demo run to the next (times, months, the crawl's id), or with each release.
VOLATILE = (
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"), "<time>"),
    (re.compile(r"\b\d\d/\d{4}\b"), "<month>"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<crawl id>"),
    (re.compile(r"permitcrawl/[0-9][^ ]*"), "permitcrawl/<version>"),  # the User-Agent's version
)


def masked(text: str) -> str:
    for pattern, stand_in in VOLATILE:
        text = pattern.sub(stand_in, text)
    return text


def readme_summary() -> str:
    """The demo's summary as the README shows it: the Markdown block between its two marker comments."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(
        r"<!-- demo summary: begin -->\n````markdown\n(.*?)````\n<!-- demo summary: end -->", readme, re.S
    )
    assert found, "README.md: no demo summary between its marker comments"
    return found.group(1)


def test_the_readme_shows_the_demos_summary(tmp_path: Path) -> None:
    env = cli_env(None)
    demo = subprocess.run(
        [sys.executable, "-m", "crawler", "demo", "--out", "permitcrawl-demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert demo.returncode == 0, demo.stderr
    made = subprocess.run(
        [sys.executable, "-m", "crawler", "summary", "permitcrawl-demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert masked(readme_summary()) == masked(made.stdout)
