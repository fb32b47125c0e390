"""robots.txt-style path patterns, for every signal that uses them (robots, ai.txt, TDMRep, RSL, AIPREF).

RFC 9309 §2.2.2-2.2.3: a pattern matches from the start of the path (with its
query); ``*`` matches any run of characters and a final ``$`` anchors the end.
Both sides are normalised first: non-ASCII characters are percent-encoded as
UTF-8, hex digits are upper-cased, and escaped unreserved characters are
decoded, so ``/%7Efoo`` and ``/~foo`` compare equal. Matching is case-sensitive.

Matching is linear in the path, whatever a site writes: a run of ``*`` is one
``*``, and the literal pieces between them are placed left to right at their
first occurrence (leftmost placement leaves the most room for what follows, so
it finds a match whenever one exists; Google's and Protego's matchers work the
same way). No regular expression is built from a site's pattern, so nothing
can backtrack. :class:`RuleIndex` answers "which rules match this path best"
without looking at every rule: plain prefixes are found by dictionary lookup,
and only patterns with ``*`` or ``$`` are tried one by one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Generic, TypeVar
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_STARS = re.compile(r"\*+")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters left as they are when percent-encoding: everything printable ASCII
# that may appear in a path or query, '%' included (existing escapes stay).
_SAFE = "!$&'()*+,-./:;=?@_~%"
_QUOTE_SAFE = _SAFE + "".join(c for c in _UNRESERVED if not c.isalnum())


def _unescape_unreserved(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else f"%{match.group(1).upper()}"


# Text made only of these needs no work: nothing to encode, no escape to decode.
_NORMAL = re.compile(r"[A-Za-z0-9_.~/*$=,;:@!&'()+?-]*").fullmatch


@lru_cache(maxsize=4096)
def normalize(path: str) -> str:
    """Return ``path`` in the comparable form described in the module docstring."""
    if _NORMAL(path):
        return path
    encoded = quote(path, safe=_QUOTE_SAFE, errors="surrogatepass")
    return _ESCAPE.sub(_unescape_unreserved, encoded)


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_PATH_START = re.compile(r"[/?;]")


def path_of(url: str) -> str:
    """Return the path and query of ``url`` (``/`` when it has no path), without its fragment.

    A URL without a scheme is read as Google's reference parser reads it
    (robots.cc ``GetPathParamsQuery``): ``/a`` is ``/a``, ``example.com/a``
    and ``//example.com/a`` are ``/a``, ``example.com?a`` is ``/?a``, ``""``
    is ``/``; so a Disallow is never escaped by leaving the scheme off.
    Never raises: a URL that urllib cannot split (``http://[x``) is cut by hand.
    """
    if not _SCHEME.match(url):
        return _schemeless_path(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        rest = url.split("://", 1)[-1].split("#", 1)[0]
        slash = rest.find("/")
        return rest[slash:] if slash >= 0 else "/"
    path = parts.path or "/"
    # A "?" with nothing after it is still part of what patterns match against (as Google reads it).
    return f"{path}?{parts.query}" if parts.query or "?" in url.split("#", 1)[0] else path


def _schemeless_path(url: str) -> str:
    """robots.cc ``GetPathParamsQuery`` for a URL without a scheme: skip the host, keep path and query."""
    start = 2 if url.startswith("//") else 0
    found = _PATH_START.search(url, start)
    if found is None:
        return "/"
    path_start = found.start()
    hash_pos = url.find("#", start)
    if 0 <= hash_pos < path_start:
        return "/"
    path = url[path_start : hash_pos if hash_pos >= 0 else len(url)]
    return path if path.startswith("/") else "/" + path


_DOT_ESCAPE = re.compile(r"%2[eE]")
_SLASH_ESCAPE = re.compile(r"%2[fF]|%5[cC]|\\")
_SLASHES = re.compile(r"/{2,}")
_PARAMS = re.compile(r";[^/]*")
# Anything in a path a server might read otherwise than as written.
_UNUSUAL = re.compile(r"/\.|//|%2[eEfF]|%5[cC]|\\|;")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, for an absolute path: '/a/./b/../c' is '/c'."""
    segments = path.split("/")
    kept: list[str] = []
    for segment in segments[1:]:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    resolved = "/" + "/".join(kept)
    if segments[-1] in (".", "..") and not resolved.endswith("/"):
        resolved += "/"  # '/a/b/..' is the directory '/a/'
    return resolved


def resolved_path(path: str) -> str:
    """A path as the most forgiving server reads it.

    Escaped dots and slashes decoded (``%2e``, ``%2f``), backslashes read as
    slashes (IIS), path parameters dropped (``/a;jsessionid=1/b``, Tomcat),
    dot segments removed (RFC 3986), runs of ``/`` made one (nginx, Apache).
    """
    path = _SLASH_ESCAPE.sub("/", _DOT_ESCAPE.sub(".", path))
    return _SLASHES.sub("/", _remove_dot_segments(_PARAMS.sub("", path)))


def equivalent_urls(url: str) -> list[str]:
    """Other spellings of ``url`` that a server commonly reads as the same resource.

    The path with dot segments removed (also escaped as ``%2e``), with runs of
    ``/`` made one, and as :func:`resolved_path` reads it. A path pattern is
    matched against the URL as written; these are judged too, so that
    ``/a/../private/x``, ``/private%2Fx`` or ``/private;x/y`` are refused where
    ``Disallow: /private/`` stands. Empty when the URL has no such spelling.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    path = parts.path
    if not _UNUSUAL.search(path):
        return []
    dotless = _remove_dot_segments(_DOT_ESCAPE.sub(".", path))
    found = []
    for candidate in (dotless, _SLASHES.sub("/", path), _SLASHES.sub("/", dotless), resolved_path(path)):
        rebuilt = parts._replace(path=candidate, fragment="").geturl()
        if candidate != path and rebuilt not in found:
            found.append(rebuilt)
    return found


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A normalised pattern: the literal pieces between runs of ``*``, and whether ``$`` anchors it."""

    pieces: tuple[str, ...]
    anchored: bool

    @property
    def wild(self) -> bool:
        return len(self.pieces) > 1 or self.anchored

    def matches(self, path: str) -> bool:
        pieces = self.pieces
        first = pieces[0]
        if not path.startswith(first):
            return False
        if len(pieces) == 1:
            return path == first if self.anchored else True
        position = len(first)
        for piece in pieces[1:-1]:
            found = path.find(piece, position)
            if found < 0:
                return False
            position = found + len(piece)
        last = pieces[-1]
        if self.anchored:
            return len(path) - len(last) >= position and path.endswith(last)
        return not last or path.find(last, position) >= 0


@lru_cache(maxsize=8192)
def _compile(pattern: str) -> _Compiled:
    anchored = pattern.endswith("$")
    body = normalize(pattern[:-1] if anchored else pattern)
    return _Compiled(tuple(_STARS.split(body)), anchored)


@dataclass(frozen=True)
class PathPattern:
    """A path pattern; ``length`` (its octets, normalised) ranks it against others, longest first."""

    pattern: str
    length: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "length", len(normalize(self.pattern)))

    def matches(self, url: str) -> bool:
        """True if the pattern matches the path (and query) of ``url``; linear in the path."""
        return _compile(self.pattern).matches(normalize(path_of(url)))


T = TypeVar("T")


class RuleIndex(Generic[T]):
    """Path patterns with a rank each; :meth:`best` finds the matching entries of the highest rank.

    The rank is whatever the signal's precedence says (pattern length for
    "longest match wins", minus the position for "first in sequence"). A
    lookup costs one dictionary probe per distinct length of plain pattern
    plus one match per pattern with ``*`` or ``$``, tried highest rank first
    and only while it could still win.
    """

    def __init__(self, entries: Iterable[tuple[str, T]], rank: Callable[[int, T], int]) -> None:
        """Index ``(pattern, payload)`` pairs; ``rank(length, payload)`` orders them (higher wins).

        ``length`` is the pattern's normalised length, as :attr:`PathPattern.length`.
        """
        self._plain: dict[str, list[tuple[int, T]]] = {}
        self._exact: dict[str, list[tuple[int, T]]] = {}
        wild: list[tuple[int, _Compiled, T]] = []
        for text, payload in entries:
            anchored = text.endswith("$")
            body = normalize(text[:-1] if anchored else text)
            rank_ = rank(len(body) + anchored, payload)
            if "*" in body:
                wild.append((rank_, _Compiled(tuple(_STARS.split(body)), anchored), payload))
            elif anchored:
                self._exact.setdefault(body, []).append((rank_, payload))
            else:
                self._plain.setdefault(body, []).append((rank_, payload))
        wild.sort(key=lambda entry: entry[0], reverse=True)
        self._wild = wild
        self._lengths = sorted({len(key) for key in self._plain}, reverse=True)
        self.wild_count = len(wild)

    def __len__(self) -> int:
        return self.wild_count + sum(map(len, self._plain.values())) + sum(map(len, self._exact.values()))

    def best(self, url: str) -> list[T]:
        """The entries of the highest rank whose pattern matches the path of ``url`` (empty if none)."""
        path = normalize(path_of(url))
        top: int | None = None
        found: list[T] = []

        def consider(rank: int, payload: T) -> None:
            nonlocal top, found
            if top is None or rank > top:
                top, found = rank, [payload]
            elif rank == top:
                found.append(payload)

        for rank, payload in self._exact.get(path, ()):
            consider(rank, payload)
        for length in self._lengths:
            if length <= len(path):
                for rank, payload in self._plain.get(path[:length], ()):
                    consider(rank, payload)
        for rank, compiled, payload in self._wild:
            if top is not None and rank < top:
                break  # sorted: nothing further down can win
            if compiled.matches(path):
                consider(rank, payload)
        return found
