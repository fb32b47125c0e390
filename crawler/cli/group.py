"""The command group: the one place where a command's failure becomes an exit status and a message.

Exit codes: 0 when the command ran (a refusal is a result, not an error); 1 with
``Error: ...`` when it could not; 2 for bad usage (click's default). Commands
raise our own errors as they come (PermitcrawlError, PolicyError,
InputFileError: each message names the input and what was expected) and
click's exceptions for what they check themselves; nothing else translates.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from typing import TYPE_CHECKING, Any

import click

from crawler.errors import DecisionRecordError, PermitcrawlError
from policies.errors import PolicyError
from policies.files import InputFileError

if TYPE_CHECKING:
    from pathlib import Path

    import sqlite_utils

# ctx.meta key: the provenance database the command opened, named if it fails half-way through.
DATABASE_META = "permitcrawl.database"

# Errors about our own inputs: their message is the whole story, said as "Error: <message>", exit 1.
OUR_ERRORS = (PermitcrawlError, PolicyError, InputFileError)


class CommandGroup(click.Group):
    """The top command group; every command, of every sub-group, runs inside :meth:`invoke`.

    A reader that stops reading our output (``permitcrawl pages DIR | head -1``):
    once ``head`` has its line, the rest goes nowhere and the exit status is 0,
    without a word (click itself would exit 1). A database failing half-way
    through a command is an error naming it, not a traceback: commands check a
    database when they open it (crawler.storage.provenance); damage deeper in
    the file (or a stored decision that does not read back) shows only when a
    query reaches it.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        except BrokenPipeError:
            _discard_stdout()
            ctx.exit(0)
        except sqlite3.DatabaseError as exc:
            where = ctx.meta.get(DATABASE_META, "the provenance database")
            raise click.ClickException(
                f"{where}: could not be read or written ({exc}); the database may be damaged"
            ) from exc
        except DecisionRecordError as exc:  # a stored decision that does not read back as one
            where = ctx.meta.get(DATABASE_META, "the provenance database")
            raise click.ClickException(f"{where}: {exc}; the database may be damaged") from exc
        except OUR_ERRORS as exc:
            raise click.ClickException(str(exc)) from exc
        return result


def _discard_stdout() -> None:
    # Python flushes stdout once more on its way out; on a closed pipe that would fail again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def open_crawl_dir(directory: Path, *, write: bool = False) -> sqlite_utils.Database:
    """Open DIRECTORY's provenance.db: read-only, or (``write``) under the directory's lock.

    The database is remembered for :class:`CommandGroup`, which names it if it
    fails later, half-way through the command. A writer, holding the lock,
    also gives their final names to WARC files a crawl killed mid-file left
    under their temporary ``.open`` names (as a resumed crawl does), so that
    what it reads, exports or erases is every record the database names.
    """
    from crawler.storage.queries import DB_NAME, open_crawl

    click.get_current_context().meta[DATABASE_META] = directory / DB_NAME
    db = open_crawl(directory, write=write)
    if write:
        # Only a writer recovers files (and so loads the WARC code): a reader starts without it.
        from crawler.storage.warc import recover_open_files

        for folder in ("warc", "evidence"):
            if (directory / folder).is_dir():
                for name in recover_open_files(directory / folder):
                    click.echo(
                        f"Recovered {folder}/{name}, left open by a crawl that stopped abruptly", err=True
                    )
    return db
