"""End to end: permitcrawl botinfo writes the crawler's page, its JSON and the Atom feed of its changes."""

from __future__ import annotations

import json
import subprocess
from typing import TYPE_CHECKING
from xml.etree import ElementTree

from policies.decision import SIGNAL_IDS
from tests.conftest import run_cli

if TYPE_CHECKING:
    from pathlib import Path

ATOM = "{http://www.w3.org/2005/Atom}"
PAGE = "https://bot.example/crawler/"
KEYS = {
    "schema",
    "name",
    "robots_token",
    "user_agent",
    "page_url",
    "operator",
    "contact",
    "purposes",
    "block_all",
    "verify_robots_txt",
    "signals",
    "signing",
    "client_ranges",
    "behaviour",
    "exemptions",
    "updated",
}


def _botinfo(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("botinfo", "--out", out, "--contact", PAGE, "--operator", "Example Ltd", *args)


def _entries(out: Path) -> list[tuple[str, str, str]]:
    root = ElementTree.parse(out / "feed.atom").getroot()
    assert root.tag == f"{ATOM}feed"
    return [
        (
            e.findtext(f"{ATOM}id") or "",
            e.findtext(f"{ATOM}updated") or "",
            e.findtext(f"{ATOM}summary") or "",
        )
        for e in root.findall(f"{ATOM}entry")
    ]


def test_the_page_json_and_feed_are_written(tmp_path: Path) -> None:
    out = tmp_path / "bot"
    result = _botinfo(out, "--email", "bots@example.org", "--purpose", "ai-train", "--purpose", "search")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert sorted(p.name for p in out.iterdir()) == ["botinfo.json", "feed.atom", "index.html"]
    data = json.loads((out / "botinfo.json").read_text())
    assert set(data) == KEYS
    assert data["user_agent"] == f"permitcrawl/{data['user_agent'].split('/')[1].split()[0]} (+{PAGE})"
    assert data["page_url"] == PAGE and data["contact"] == "bots@example.org"
    assert [p["id"] for p in data["purposes"]] == ["ai-train", "search"]
    assert [s["id"] for s in data["signals"]] == list(SIGNAL_IDS)
    signals = {s["id"]: s for s in data["signals"]}
    assert signals["content-signal"]["opt_out"]["search"][1] == {
        "where": "HTTP header",
        "text": "Content-Signal: search=no",
    }
    assert signals["robots"]["opt_out"]["ai-train"][0]["text"] == "User-agent: permitcrawl\nDisallow: /"
    assert signals["exclusion-list"]["opt_out"] is None and signals["exclusion-list"]["note"]
    assert data["signing"] is None
    page = (out / "index.html").read_text()
    assert 'href="feed.atom"' in page and "Content-Signal: search=no" in page and "Example Ltd" in page
    ((_, updated, summary),) = _entries(out)
    assert updated == data["updated"] and summary == "First version of the page."


def test_the_feed_grows_only_when_the_page_changes(tmp_path: Path) -> None:
    out = tmp_path / "bot"
    assert _botinfo(out).returncode == 0
    first = _entries(out)
    again = _botinfo(out)
    assert again.returncode == 0 and "unchanged" in again.stderr
    assert _entries(out) == first
    changed = _botinfo(out, "--email", "bots@example.org")
    assert changed.returncode == 0 and "new entry" in changed.stderr
    entries = _entries(out)
    assert len(entries) == 2 and entries[1:] == first  # the earlier entry keeps its id and date
    assert entries[0][2] == "Changed: contact."
    assert json.loads((out / "botinfo.json").read_text())["updated"] == entries[0][1]


def test_a_signing_crawler_names_its_key_directory_and_ip_ranges(tmp_path: Path) -> None:
    key = tmp_path / "crawler.jwk"
    assert run_cli("keys", "generate", "--out", key).returncode == 0
    kid = json.loads(key.read_text())["kid"]
    out = tmp_path / "bot"
    result = _botinfo(
        out,
        *("--sign", str(key), "--signature-agent", "https://bot.example"),
        *("--client-ranges", "https://bot.example/ips.json"),
    )
    assert result.returncode == 0, result.stderr
    signing = json.loads((out / "botinfo.json").read_text())["signing"]
    assert signing == {
        "key_id": kid,
        "key_directory": "https://bot.example/.well-known/http-message-signatures-directory",
        "scheme": "web-bot-auth",
    }
    page = (out / "index.html").read_text()
    assert kid in page and '<link rel="client-ranges" href="https://bot.example/ips.json">' in page


def test_bad_inputs_exit_1_and_change_nothing(tmp_path: Path) -> None:
    out = tmp_path / "bot"
    bad = run_cli("botinfo", "--out", out, "--contact", "not a url")
    assert bad.returncode == 1 and "POLICY_CONTACT_URL" in bad.stderr and "Traceback" not in bad.stderr
    assert not out.exists()
    alone = _botinfo(out, "--sign", str(tmp_path / "k.jwk"))
    assert alone.returncode == 2 and "go together" in alone.stderr
    assert _botinfo(out).returncode == 0
    (out / "feed.atom").write_text("<feed>broken")
    before = (out / "botinfo.json").read_text()
    broken = _botinfo(out, "--email", "x@example.org")
    assert broken.returncode == 1 and "feed.atom: is not XML" in broken.stderr
    assert (out / "botinfo.json").read_text() == before and (out / "feed.atom").read_text() == "<feed>broken"


def test_the_page_renders_in_a_browser(tmp_path: Path) -> None:
    out = tmp_path / "bot"
    assert _botinfo(out, "--email", "bots@example.org").returncode == 0
    shot = tmp_path / "page.png"
    subprocess.run(
        [
            "/usr/bin/chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1200,1600",
            f"--screenshot={shot}",
            (out / "index.html").as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 20_000  # text and tables, not a blank page (a blank 1200x1600 one is about 9 KB)


def test_files_botinfo_did_not_write_are_never_replaced(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html>mine</html>")
    refused = _botinfo(site)
    assert refused.returncode == 1 and "did not write" in refused.stderr
    assert (site / "index.html").read_text() == "<html>mine</html>"
    assert sorted(p.name for p in site.iterdir()) == ["index.html"]
    blog = tmp_path / "blog"
    blog.mkdir()
    feed = '<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:blog</id><title>blog</title></feed>'
    (blog / "feed.atom").write_text(feed)
    assert _botinfo(blog).returncode == 1
    assert (blog / "feed.atom").read_text() == feed
    ours = tmp_path / "ours"
    assert _botinfo(ours).returncode == 0
    again = _botinfo(ours)  # its own earlier page is rewritten as before
    assert again.returncode == 0, again.stderr
