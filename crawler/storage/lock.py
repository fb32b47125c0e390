"""One writer per crawl directory: an OS lock on ``DIR/permitcrawl.lock``, held for the process lifetime.

Two processes writing one crawl directory corrupt it (two Scrapy job states,
WARC files renamed under each other, rows interleaved), and nothing afterwards
can tell. So every command that writes to a crawl directory (crawl, demo,
recheck, revoke, export) takes this lock first, and a second writer is refused
with the holder named, before it touches anything.

The lock is ``fcntl.flock`` on an open file: the kernel drops it when the
holding process ends, however it ends (``kill -9`` included), so a lock file
left behind by a dead process never blocks anyone. The file is never deleted
(deleting it would let two processes lock two different files of one name); it
holds, for people, who holds it now or held it last. No Scrapy here.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import socket
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from crawler.errors import ProvenanceError

LOCK_NAME = "permitcrawl.lock"

# Holder descriptions are for people; a lock file larger than this is not ours to read whole.
_HOLDER_MAX = 64 * 1024


class DirectoryInUseError(ProvenanceError):
    """Another process holds the crawl directory's lock."""


@dataclass(frozen=True)
class DirectoryLock:
    """A held lock: released when ``fd`` is closed, or when the process ends."""

    directory: Path
    path: Path
    fd: int


# Locks this process holds, by resolved directory: taking one twice is not a conflict
# (recheck opens its database, then runs a crawl into the same directory).
_HELD: dict[Path, DirectoryLock] = {}


def describe_command(argv: list[str] | None = None) -> str:
    """The command line of this process, as its user typed it (``permitcrawl crawl ...``)."""
    argv = list(sys.argv if argv is None else argv)
    if not argv:
        return "python"
    program = Path(argv[0])
    # ``python -m crawler`` and ``python -m scrapy`` show as their package, not __main__.py.
    name = program.parent.name if program.name == "__main__.py" else program.name
    if name == "crawler":
        name = "permitcrawl"
    return shlex.join([name, *argv[1:]])


def _holder_text(fd: int) -> str:
    """Who holds the lock, from the lock file's JSON (or why that is unknown)."""
    try:
        data = json.loads(os.pread(fd, _HOLDER_MAX, 0).decode("utf-8"))
        return (
            f"pid {data['pid']} on host {data['host']}, running {data['command']!r} "
            f"since {data['started_at']}"
        )
    except (OSError, ValueError, KeyError, TypeError):
        # The holder is between taking the lock and writing its name, or wrote something else.
        return "a process that has not said who it is"


def lock_directory(directory: Path, *, command: str | None = None) -> DirectoryLock:
    """Take the write lock of ``directory`` (which must exist) for the rest of this process.

    Raise DirectoryInUseError naming the holder (pid, host, command, start
    time) if another process holds it; nothing in the directory is changed
    then. Raise ProvenanceError if the lock file cannot be opened or locked.
    Taking a lock this process already holds returns it.
    """
    key = directory.resolve()
    if key in _HELD:
        return _HELD[key]
    path = directory / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ProvenanceError(
            f"{path}: cannot open the crawl directory's lock file ({exc.strerror}); "
            f"expected a writable directory {directory}"
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder_text(fd)
        os.close(fd)
        raise DirectoryInUseError(
            f"{directory}: in use by another permitcrawl process ({holder}); it holds {path}. "
            "Wait for it to finish, or use another directory"
        ) from None
    except OSError as exc:
        os.close(fd)
        raise ProvenanceError(
            f"{path}: cannot lock the crawl directory ({exc.strerror}); "
            "expected a local file system that supports flock"
        ) from exc
    _write_holder(fd, command or describe_command())
    lock = DirectoryLock(directory=directory, path=path, fd=fd)
    _HELD[key] = lock
    return lock


def _write_holder(fd: int, command: str) -> None:
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(holder) + "\n").encode("utf-8"), 0)


def release(lock: DirectoryLock) -> None:
    """Give the lock up before the process ends (the commands never need to; tests do)."""
    _HELD.pop(lock.directory.resolve(), None)
    os.close(lock.fd)
