"""The crawl directory's lock: one holder at a time, named when refused, gone with its process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from crawler.errors import ProvenanceError
from crawler.storage.lock import LOCK_NAME, DirectoryInUseError, describe_command, lock_directory, release

if TYPE_CHECKING:
    from pathlib import Path

HOLD = """
import sys, time
from pathlib import Path
from crawler.storage.lock import lock_directory
lock_directory(Path(sys.argv[1]), command="permitcrawl crawl --out somewhere")
print("locked", flush=True)
time.sleep(120)
"""


def hold(directory: Path) -> subprocess.Popen[str]:
    """Another process holding ``directory``'s lock (until killed)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(directory)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline() == "locked\n"
    return process


def kill(process: subprocess.Popen[str]) -> None:
    """End ``process`` as kill -9 does: it has no chance to let go of anything itself."""
    process.send_signal(signal.SIGKILL)
    process.communicate()


def test_a_held_lock_is_refused_naming_its_holder_until_the_holder_is_killed(tmp_path: Path) -> None:
    holder = hold(tmp_path)
    try:
        before = (tmp_path / LOCK_NAME).read_bytes()
        with pytest.raises(DirectoryInUseError) as refused:
            lock_directory(tmp_path)
        message = str(refused.value)
        assert message.startswith(f"{tmp_path}: in use by another permitcrawl process (pid {holder.pid} ")
        assert "running 'permitcrawl crawl --out somewhere' since " in message
        assert (tmp_path / LOCK_NAME).read_bytes() == before  # the refused process wrote nothing
    finally:
        kill(holder)
    # The lock file stays, naming a dead process; it blocks no one.
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == holder.pid
    lock = lock_directory(tmp_path, command="permitcrawl revoke")
    try:
        written = json.loads((tmp_path / LOCK_NAME).read_text())
        assert written["pid"] == os.getpid() and written["command"] == "permitcrawl revoke"
        assert lock_directory(tmp_path) is lock  # taken twice by one process: the same lock
    finally:
        release(lock)


def test_a_released_lock_can_be_taken_by_another_process(tmp_path: Path) -> None:
    release(lock_directory(tmp_path))
    holder = hold(tmp_path)
    kill(holder)


def test_a_lock_file_that_cannot_be_opened_is_an_error(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).mkdir()
    with pytest.raises(ProvenanceError, match="cannot open the crawl directory's lock file"):
        lock_directory(tmp_path)


def test_a_holder_that_has_not_written_its_name_yet(tmp_path: Path) -> None:
    holder = hold(tmp_path)
    try:
        (tmp_path / LOCK_NAME).write_text("")
        with pytest.raises(DirectoryInUseError, match="a process that has not said who it is"):
            lock_directory(tmp_path)
    finally:
        kill(holder)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/venv/bin/permitcrawl", "crawl", "--out", "a b"], "permitcrawl crawl --out 'a b'"),
        (["/src/crawler/__main__.py", "revoke", "d"], "permitcrawl revoke d"),
        (["/lib/scrapy/__main__.py", "crawl", "seeds"], "scrapy crawl seeds"),
        ([], "python"),
    ],
)
def test_the_holder_is_described_as_its_user_typed_it(argv: list[str], expected: str) -> None:
    assert describe_command(argv) == expected
