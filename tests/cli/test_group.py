"""The command group is the one place where a failure becomes an exit status and a message.

(A closed pipe needs a real stdout: tests/test_downstream_e2e.py reads it end to end.)
"""

from __future__ import annotations

import sqlite3

import click
import pytest
from click.testing import CliRunner

from crawler.cli.group import DATABASE_META, CommandGroup
from crawler.errors import PermitcrawlError, ProvenanceError
from policies.errors import PolicyFileError
from policies.files import InputFileError


def run(exc: BaseException, *, database: str | None = None) -> click.testing.Result:
    @click.group(cls=CommandGroup)
    def group() -> None:
        pass

    @group.group()
    def sub() -> None:
        pass

    @sub.command()
    def fail() -> None:
        if database:
            click.get_current_context().meta[DATABASE_META] = database
        raise exc

    return CliRunner().invoke(group, ["sub", "fail"])


@pytest.mark.parametrize(
    "exc",
    [
        PermitcrawlError("seeds.txt:4: 'x' is not usable; expected a URL"),
        ProvenanceError("crawls/x: in use by another permitcrawl process"),
        PolicyFileError("tos/a.toml", 3, "unknown key 'alow'; expected allow"),
        InputFileError("takedowns.txt: not UTF-8; expected URLs, one per line"),
    ],
)
def test_our_errors_are_said_as_they_are(exc: Exception) -> None:
    result = run(exc)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {exc}\n"


def test_a_failing_database_is_named() -> None:
    result = run(sqlite3.DatabaseError("database disk image is malformed"), database="crawls/x/provenance.db")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: crawls/x/provenance.db: could not be read or written (database disk image is malformed); "
        "the database may be damaged\n"
    )


def test_other_errors_are_not_disguised() -> None:
    result = run(ValueError("a bug"))
    assert result.exit_code == 1
    assert isinstance(result.exception, ValueError)  # a traceback, not a message that hides a bug
