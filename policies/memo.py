"""Work derived from one value, computed once and kept with it.

A robots.txt is read by several signals (group selection, Content-Usage
rules, Content-Signal lines, AI-crawler rules), and a URL is judged for
several purposes: each piece of work is done once, the first time it is
asked for, and kept in a :class:`Memo` beside what it was derived from. The
modules that derive it name their keys, so that the memo need not know them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar, cast

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable

T = TypeVar("T")


class Memo:
    """Values by key, each computed by the first :meth:`get` that asks for it.

    A key always stands for one computation: its first item names the kind of
    work (``("content-usage", token, wildcard)``), the others what it depends on.
    """

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: dict[Hashable, object] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value kept for ``key``; ``compute()`` gives it the first time."""
        if key in self._values:
            # Only this method stores values, and a key is always computed the same way:
            # the kept value is what compute() returned for it.
            return cast("T", self._values[key])
        value = compute()
        self._values[key] = value
        return value


class Same:
    """A key part standing for one object by identity, for a value that is not hashable (a ToS store).

    The key holds the object, so its identity cannot be reused by another
    while the key is kept.
    """

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Same) and other.value is self.value

    def __hash__(self) -> int:
        return id(self.value)
