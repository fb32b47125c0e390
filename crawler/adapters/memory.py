"""Memory: giving freed heap back to the operating system where the C library allows it."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


@functools.cache
def _trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None  # glibc only; musl and macOS lack it
    except (OSError, AttributeError):
        return None


def release_free_memory() -> None:
    """Return the free pages of every malloc arena to the system (glibc ``malloc_trim``); else do nothing."""
    trim = _trim()
    if trim is not None:
        trim(0)
