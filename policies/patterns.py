"""robots.txt-style path patterns, for the signals that borrow them (TDMRep, RSL, Content-Usage, ai.txt).

RFC 9309 §2.2.2-2.2.3: a pattern matches from the start of the path (with its
query); ``*`` matches any run of characters and a final ``$`` anchors the end.
Both sides are normalised first: non-ASCII characters are percent-encoded as
UTF-8, hex digits are upper-cased, and escaped unreserved characters are
decoded, so ``/%7Efoo`` and ``/~foo`` compare equal. Matching is case-sensitive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import quote, urlsplit

_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters left as they are when percent-encoding: everything printable ASCII
# that may appear in a path or query, '%' included (existing escapes stay).
_SAFE = "!$&'()*+,-./:;=?@_~%"


def _unescape_unreserved(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else f"%{match.group(1).upper()}"


def normalize(path: str) -> str:
    """Return ``path`` in the comparable form described in the module docstring."""
    encoded = quote(path, safe=_SAFE + "".join(c for c in _UNRESERVED if not c.isalnum()))
    return _ESCAPE.sub(_unescape_unreserved, encoded)


def path_of(url: str) -> str:
    """Return the path and query of ``url`` (``/`` when it has no path); a bare path is returned as is."""
    if url.startswith("/"):
        return url
    parts = urlsplit(url)
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern[str]:
    anchored = pattern.endswith("$")
    body = normalize(pattern[:-1] if anchored else pattern)
    regex = ".*".join(re.escape(piece) for piece in body.split("*"))
    return re.compile(regex + ("$" if anchored else ""), re.DOTALL)


@dataclass(frozen=True)
class PathPattern:
    """A path pattern; ``length`` (its octets) ranks it against others, longest first."""

    pattern: str
    length: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "length", len(normalize(self.pattern)))

    def matches(self, url: str) -> bool:
        """True if the pattern matches the path (and query) of ``url``."""
        return _compile(self.pattern).match(normalize(path_of(url))) is not None
