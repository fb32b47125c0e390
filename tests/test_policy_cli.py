"""permitcrawl policy: the maintainers' commands, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from policies.terms import terms_text, text_sha256

NEW = [
    "--ai-scraping", "No AI", "--license", "Unrestricted Use", "--compete", "Unrestricted Use",
    "--deny", "ai-train", "--deny", "ai-input", "--allow", "search",
    "--quote", "You may not use Content to train machine learning models.",
    "--tos-url", "https://example.org/terms", "--reviewer", "A. Maintainer",
    "--reviewed", "2026-11-01", "--review-by", "2027-05-01",
]  # fmt: skip


def invoke(*args: str | Path):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def store(tmp_path: Path) -> Path:
    directory = tmp_path / "tos"
    assert invoke("policy", "init", directory).exit_code == 0
    return directory


def test_init(store: Path) -> None:
    assert (store / "README.txt").exists()
    assert invoke("policy", "validate", store).exit_code == 0
    (store / "x.org.toml").write_text("")
    again = invoke("policy", "init", store)
    assert again.exit_code == 1 and "already holds policy files" in again.stderr


def test_set_show_list_check(store: Path, tmp_path: Path) -> None:
    terms = tmp_path / "terms.html"
    terms.write_text("<html><body><p>Terms.</p><p>No ML training.</p></body></html>")
    result = invoke("policy", "set", "www.example.org", "--store", store, *NEW, "--tos-text", terms)
    assert result.exit_code == 0, result.stderr
    assert "example.org.toml:" in result.output and "rule for www.example.org" in result.output
    text = (store / "example.org.toml").read_text()
    assert 'scope = "www.example.org"' in text
    assert f'tos_sha256 = "{text_sha256(terms_text(terms.read_bytes()))}"' in text

    shown = json.loads(invoke("policy", "show", "example.org", "--store", store, "--format", "json").output)
    assert shown[0]["deny"] == ["ai-train", "ai-input"] and shown[0]["merged"] == "No AI"
    version = shown[0]["version"]

    updated = invoke(
        "policy",
        "set",
        "www.example.org",
        "--store",
        store,
        "--note",
        "rechecked",
        "--reviewed",
        "2026-11-20",
    )
    assert updated.exit_code == 0, updated.stderr
    shown = json.loads(
        invoke("policy", "show", "www.example.org", "--store", store, "--format", "json").output
    )
    assert (
        shown[0]["note"] == "rechecked"
        and shown[0]["deny"] == ["ai-train", "ai-input"]
        and shown[0]["version"] != version
    )

    listed = invoke("policy", "list", "--store", store, "--format", "jsonl")
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert [r["scope"] for r in rows] == ["www.example.org"] and rows[0]["due"] is False
    assert invoke("policy", "list", "--store", store, "--due").output.count("\n") == 2  # header lines only

    check = invoke("policy", "check", "https://a.www.example.org/p", "--store", store, "--format", "json")
    data = json.loads(check.output)
    assert data["basis"]["verdict"] == "deny" and data["rules"][0]["scope"] == "www.example.org"
    search = invoke("policy", "check", "https://www.example.org/", "--store", store, "--purpose", "search")
    assert "[allow]" in search.output
    nothing = invoke("policy", "check", "https://other.org/", "--store", store)
    assert "no rule for other.org" in nothing.output


def test_due_reviews(store: Path) -> None:
    args = [a if a != "2027-05-01" else "2026-11-02" for a in NEW]
    assert invoke("policy", "set", "example.org", "--store", store, *args).exit_code == 0
    rows = invoke("policy", "list", "--store", store, "--due", "--format", "jsonl").output.splitlines()
    assert len(rows) == 1 and json.loads(rows[0])["due"] is True


def test_set_errors(store: Path) -> None:
    missing = invoke("policy", "set", "example.org", "--store", store, "--reviewer", "Jo")
    assert missing.exit_code == 1
    assert (
        "a new rule for example.org needs --ai-scraping, --license, --compete, --quote, --tos-url"
        in missing.stderr
    )
    contradiction = invoke("policy", "set", "example.org", "--store", store, *NEW, "--allow", "ai-train")
    assert contradiction.exit_code == 1 and "both allowed and denied" in contradiction.stderr
    bad_label = invoke("policy", "set", "example.org", "--store", store, "--ai-scraping", "Nope")
    assert bad_label.exit_code == 2 and "'Nope' is not one of" in bad_label.stderr
    bad_date = invoke("policy", "set", "example.org", "--store", store, "--reviewed", "yesterday")
    assert bad_date.exit_code == 2 and "expected YYYY-MM-DD" in bad_date.stderr
    assert not (store / "example.org.toml").exists()  # nothing half-written


def test_validate_lists_every_problem(store: Path) -> None:
    (store / "bad.org.toml").write_text('domain = "bad.org"\n[[rule]]\nalow = 1\n')
    (store / "worse.org.toml").write_text("not toml at all [")
    result = invoke("policy", "validate", store)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert any(line.startswith(f"{store / 'bad.org.toml'}:3: unknown key 'alow'") for line in lines)
    assert any(line.startswith(f"{store / 'worse.org.toml'}:1: not valid TOML") for line in lines)
    usage = CliRunner().invoke(cli, ["policy", "validate"], env={"PERMITCRAWL_POLICY_STORE": ""})
    assert usage.exit_code == 2
