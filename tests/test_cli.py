"""The CLI's own checks: bad input is reported clearly, before anything runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from crawler.cli import cli

if TYPE_CHECKING:
    from pathlib import Path


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))


def test_every_command_has_help_with_an_example() -> None:
    names = []
    for path, command in _commands(cli):
        result = invoke(*path, "--help")
        assert result.exit_code == 0, path
        assert "Example:" in result.output, path
        assert command.help and len(command.help.splitlines()[0]) > 20, path
        names.append(" ".join(path))
    assert {"crawl", "demo", "pages", "explain", "policy set", "policy queue", "policy validate"} <= set(
        names
    )


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and result.output.startswith("permitcrawl, version")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["crawl", "ftp://x.test/", "--out", "o"],
            "Error: seed URL: 'ftp://x.test/' is not usable; expected an absolute http:// or https:// URL\n",
        ),
        (
            ["crawl", "http://x.test/", "--out", "o", "-s", "oops"],
            "Error: -s 'oops' is not usable; expected NAME=VALUE with an upper-case setting name\n",
        ),
        (
            ["crawl", "http://x.test/", "--out", "o", "-s", "POLICY_PURPOSE=x"],
            "Error: setting POLICY_PURPOSE='x' is not usable: unknown purpose 'x'; "
            "expected one of ai-train, ai-input, search\n",
        ),
    ],
)
def test_crawl_rejects_bad_input(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert result.exit_code == 1
    assert result.stderr == message
    assert not (tmp_path / "o").exists()  # nothing was started


def test_seed_file_errors_name_the_line(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# comment\nhttp://ok.test/\n\nnot a url\n")
    result = invoke("crawl", "--seeds", str(seeds), "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"Error: {seeds}:4: 'not a url' is not usable; expected an absolute http:// or https:// URL\n"
    )


def test_crawl_needs_seeds(tmp_path: Path) -> None:
    result = invoke("crawl", "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and "give at least one seed URL" in result.stderr


def test_reading_commands_need_a_crawl_dir(tmp_path: Path) -> None:
    for args in (["pages", str(tmp_path / "nope")], ["explain", str(tmp_path), "http://x.test/"]):
        result = invoke(*args)
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: ")
        assert "expected a crawl directory" in result.stderr or "no provenance database" in result.stderr


def test_demo_refuses_to_overwrite_foreign_directories(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    result = invoke("demo", "--out", str(tmp_path))
    assert result.exit_code == 1
    assert "was not made by 'permitcrawl demo'" in result.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        (
            {"crawl_id": "c1", "finish_reason": "start_error"},
            "the crawl could not start: reading its seeds failed",
        ),
        ({"crawl_id": None, "finish_reason": None}, "the crawl did not start"),
        (
            {"crawl_id": None, "finish_reason": None, "error": "ValueError: x"},
            "the crawl could not run: ValueError",
        ),
    ],
)
def test_a_crawl_that_could_not_start_exits_1(
    outcome: dict, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crawler.adapters import runner

    result = runner.RunResult(**{"error": None, **outcome})
    monkeypatch.setattr(runner, "run_crawl", lambda settings, **arguments: result)
    run = invoke("crawl", "http://x.test/", "--out", str(tmp_path / "o"))
    assert run.exit_code == 1
    assert run.stderr.startswith(f"Error: {message}")
