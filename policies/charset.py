"""The plausible decodings of a document's bytes: every text a reader could take them for.

A byte-order mark, a declared charset and the format's own rule (UTF-8 for
robots.txt, JSON and RSL) can disagree, by accident or on purpose: ``\\xff\\xfe``
before a UTF-8 robots.txt reads as UTF-16 garbage, a page declared ``utf-16``
may hold plain ASCII. The readers do not guess which one the site meant: they
read every plausible text, and the most restrictive reading applies (see
:mod:`policies.engine`). This module lists those texts, primary first.

Declared charsets are taken only if Python knows them as text encodings; codecs
that are not charsets (``base64``, ``zlib``, ``punycode``, ``unicode_escape``,
...) are never applied to a site's bytes.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

# Longest first: the UTF-32 little-endian mark starts with the UTF-16 one.
BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:()-]{1,40})""", re.IGNORECASE)
# Codecs Python knows that are not character sets, or that cost more than linear time.
_NOT_CHARSETS = frozenset(
    {
        "base64",
        "bz2",
        "hex",
        "idna",
        "punycode",
        "quopri",
        "raw-unicode-escape",
        "rot-13",
        "undefined",
        "unicode-escape",
        "uu",
        "zlib",
        "utf-7",
    }
)


@dataclass(frozen=True, slots=True)
class Decoded:
    """One reading of the bytes: the text, and how it was read (for reasons and ``explain``)."""

    text: str
    how: str


def bom_of(body: bytes) -> tuple[bytes, str] | None:
    """The byte-order mark ``body`` starts with, and the encoding it names, or None."""
    for mark, encoding in BOMS:
        if body.startswith(mark):
            return mark, encoding
    return None


def codec_name(label: str | None) -> str | None:
    """Python's name for a charset label, or None if it is unknown or not a character set."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except (LookupError, ValueError):
        return None
    return None if name.replace("_", "-").removesuffix("-codec") in _NOT_CHARSETS else name


def declared_charset(content_type: str | None) -> str | None:
    """The charset a ``Content-Type`` value declares (Python's codec name), or None."""
    if not content_type:
        return None
    match = _CHARSET.search(content_type)
    return codec_name(match.group(1)) if match else None


def _decode(data: bytes, encoding: str, *, strict: bool) -> str | None:
    try:
        return data.decode(encoding, "strict" if strict else "replace")
    except (UnicodeError, LookupError, ValueError):
        return None


def decodings(
    body: bytes,
    *,
    declared: tuple[tuple[str | None, str], ...] = (),
    primary: str = "utf-8",
    strict: bool = False,
) -> list[Decoded]:
    """Every distinct text ``body`` plausibly reads as, the primary reading first.

    The primary reading decodes ``body`` as ``primary`` after dropping every
    byte-order mark it starts with (a UTF-16 mark before UTF-8 text is a stray
    mark, not a reason to lose the text; so are two marks in a row). Then: the
    encoding the first byte-order mark names, and each ``declared`` charset,
    given as ``(codec name, where it was declared)`` (see :func:`codec_name`;
    None is skipped). ``strict`` leaves out readings that do not decode cleanly
    (JSON, where an undecodable document is an error); otherwise bad bytes
    become U+FFFD (robots.txt, where RFC 9309 says to read what can be read).
    Leading U+FEFF are dropped from every text.
    """
    bom = bom_of(body)
    after_mark = body[len(bom[0]) :] if bom else body
    unmarked = body
    while (mark := bom_of(unmarked)) is not None:
        unmarked = unmarked[len(mark[0]) :]
    how = _label(primary)
    if len(unmarked) < len(after_mark):
        how += ", ignoring its byte-order marks"
    elif bom and codecs.lookup(bom[1]).name != codecs.lookup(primary).name:
        how += f", ignoring a {_label(bom[1])} byte-order mark"
    plan: list[tuple[bytes, str, str]] = [(unmarked, primary, how)]
    if bom:
        plan.append((after_mark, bom[1], f"{_label(bom[1])}, as its byte-order mark says"))
    for charset, where in declared:
        if charset:
            plan.append((after_mark, charset, f"{_label(charset)}, {where}" if where else _label(charset)))
    found: list[Decoded] = []
    seen: set[str] = set()
    for data, encoding, label in plan:
        text = _decode(data, encoding, strict=strict)
        if text is None:
            continue
        text = text.lstrip("\ufeff")
        if text not in seen:
            seen.add(text)
            found.append(Decoded(text, label))
    return found


def _label(encoding: str) -> str:
    return encoding.upper().replace("_", "-")
