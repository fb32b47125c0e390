"""Our own input files (policy files, seed lists, takedown lists, saved terms), read with a size bound.

A policy file that is a symlink to ``/dev/zero`` once made a crawl read 7.8 GB
in six seconds. Every file we read goes through :func:`read_input`: it must be
a regular file (not a device, a FIFO or a directory; symlinks are followed to
what they name) no larger than its bound, or the caller gets an error saying
which file, what was wrong and what was expected.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

MiB = 1024 * 1024
POLICY_FILE_MAX = 1 * MiB  # one registrable domain's rules
TERMS_FILE_MAX = 16 * MiB  # a saved terms page (policy set --tos-text)
LIST_FILE_MAX = 1024 * MiB  # seed lists and takedown lists: millions of URLs


class InputFileError(ValueError):
    """One of our input files cannot be used; the message names it and says what was expected."""


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def read_input(path: Path, *, limit: int, expected: str) -> bytes:
    """Read ``path`` whole; raise InputFileError unless it is a regular file of at most ``limit`` bytes.

    Opened without blocking (a named pipe would otherwise wait for a writer)
    and read no further than ``limit`` + 1 bytes, whatever the file claims.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be read ({exc.strerror}); expected {expected}") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise InputFileError(f"{path}: is {_kind(mode)}, not a file; expected {expected}")
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be read ({exc.strerror}); expected {expected}") from None
    finally:
        os.close(descriptor)
    if len(data) > limit:
        raise InputFileError(f"{path}: larger than {limit} bytes; expected {expected}")
    return data


def read_text_input(path: Path, *, limit: int, expected: str) -> str:
    """As :func:`read_input`, decoded as UTF-8 (a leading byte-order mark dropped)."""
    data = read_input(path, limit=limit, expected=expected)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        found = data[exc.start : exc.start + 1]
        message = f"{path}: not UTF-8 (byte {exc.start} is {found!r}); expected {expected}"
        raise InputFileError(message) from None
