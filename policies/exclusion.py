"""Exclusion lists: hosts, domains and URL prefixes a crawl never requests, whatever the site says.

Written for lists such as the one the GPAI Code of Practice (Copyright chapter,
Measure 1.2(b)) asks signatories to honour: websites "recognised as persistently
and repeatedly infringing copyright ... by courts or public authorities". A list
is a text file, one entry a line; ``#`` starts a comment, blank lines are
skipped. An entry is

- a name (``example.org``, ``www.example.org``, ``bücher.example``): that host
  and every host below it (``a.example.org`` is covered by ``example.org``),
  compared canonically (case, a final dot, IDNA: :func:`policies.urls.canonical_host`);
- or an http(s) URL prefix (``https://example.org/downloads/``): every URL of
  that host and port whose path starts with it. ``http`` and ``https`` are the
  same site here: a prefix written for one covers the other.

Parsing is strict (:func:`parse_exclusion_list` names the file, the line, what
was wrong and what was expected). :func:`find_exclusion` answers whether a URL
is on any list, and which line put it there; :func:`exclusion_basis` is the
``exclusion-list`` basis a refusal records. No Scrapy, no network.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from policies.decision import Basis, Verdict
from policies.errors import PolicyFileError, PolicyStoreError
from policies.files import LIST_FILE_MAX, read_input
from policies.patterns import normalize, resolved_path
from policies.urls import DEFAULT_PORTS, canonical_host, host_covers, is_registrable, registrable_domain
from policies.validator import host_name

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

SIGNAL = "exclusion-list"
EXPECTED = (
    "expected a host or registrable domain (example.org: it and its subdomains) or an http(s) URL "
    "prefix (https://example.org/path/), one a line; '#' starts a comment"
)
_COMMENT = re.compile(r"\s+#.*$")


@dataclass(frozen=True, slots=True)
class ExclusionEntry:
    """One line of a list: ``host`` with its subdomains, or (``path`` set) a URL prefix on ``host``."""

    line: int
    text: str
    host: str
    port: int | None = None
    path: str | None = None

    def covers(self, host: str, port: int | None, path: str) -> bool:
        """True if the URL with canonical ``host``, effective ``port`` and raw ``path`` is covered."""
        if self.path is None:
            return host_covers(self.host, host)
        if host != self.host:
            return False
        if self.port is not None and port != self.port:
            return False
        return path.startswith(self.path)


@dataclass(frozen=True, slots=True)
class ExclusionList:
    """A list as read: its name (the path given), the sha256 of its bytes, the bytes, its entries.

    ``record_id`` is the WARC record the crawl archived it in (set as the crawl starts).
    """

    name: str
    sha256: str
    raw: bytes
    entries: tuple[ExclusionEntry, ...]
    record_id: str | None = None

    def describe(self) -> dict[str, str | None]:
        """What a crawl records of the list (its configuration record; the bytes go in their own record)."""
        return {"name": self.name, "sha256": self.sha256, "record_id": self.record_id}


@dataclass(frozen=True, slots=True)
class ExclusionMatch:
    """The list and the line that exclude a URL."""

    listing: ExclusionList
    entry: ExclusionEntry


def _port(scheme: str, port: int | None) -> int | None:
    """The port as a site is compared: a scheme's default port is no port (http and https alike)."""
    return None if port is None or port == DEFAULT_PORTS.get(scheme) else port


def _entry(number: int, text: str) -> ExclusionEntry:
    """One entry; ValueError saying what is wrong with ``text``."""
    if any(c.isspace() for c in text):
        raise ValueError(f"{text!r} holds whitespace (two entries on one line?)")
    if "://" in text:
        return _prefix(number, text)
    if any(c in text for c in "/*?#"):
        raise ValueError(f"{text!r} is neither a host name nor a URL (no scheme)")
    host = canonical_host(text)
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        host = host_name(text)
        if registrable_domain(host) == host and not is_registrable(host):
            raise ValueError(
                f"{text!r} is a public suffix: it would exclude every site registered under it"
            ) from None
    return ExclusionEntry(number, text, host.strip("[]"))


def _prefix(number: int, text: str) -> ExclusionEntry:
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{text!r} does not parse as a URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{text!r} is not an http(s) URL with a host")
    if parts.query or parts.fragment or "#" in text:
        raise ValueError(f"{text!r} has a query or fragment, which a prefix of paths cannot match")
    host = canonical_host(parts.hostname)
    return ExclusionEntry(number, text, host, _port(scheme, port), _comparable(parts.path or "/"))


def parse_exclusion_list(name: str, raw: bytes) -> ExclusionList:
    """Read a list's bytes; raise PolicyStoreError naming ``name``, every bad line, and what was expected.

    The list must be UTF-8 (a byte-order mark is dropped). An entry given twice
    is kept once (the first line names it).
    """
    problems: list[PolicyFileError] = []
    entries: list[ExclusionEntry] = []
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise PolicyStoreError(
            [PolicyFileError(name, 0, f"is not UTF-8 text (byte {exc.start}); {EXPECTED}")]
        ) from None
    seen: set[tuple[str, int | None, str | None]] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        # A comment is a line starting with '#', or '#' after whitespace; a '#' inside an entry is an error.
        content = "" if line.lstrip().startswith("#") else _COMMENT.sub("", line).strip()
        if not content:
            continue
        try:
            entry = _entry(number, content)
        except ValueError as exc:
            problems.append(PolicyFileError(name, number, f"{exc}; {EXPECTED}"))
            continue
        key = (entry.host, entry.port, entry.path)
        if key not in seen:
            seen.add(key)
            entries.append(entry)
    if problems:
        raise PolicyStoreError(problems)
    return ExclusionList(name, hashlib.sha256(raw).hexdigest(), raw, tuple(entries))


# The directory of a policy store whose *.txt files are exclusion lists, as --exclude-list gives them.
STORE_EXCLUDE_DIR = "exclude"


def store_exclusion_files(store: Path) -> list[Path]:
    """A policy store's exclusion lists: ``STORE/exclude/*.txt``, in name order."""
    directory = store / STORE_EXCLUDE_DIR
    return sorted(directory.glob("*.txt")) if directory.is_dir() else []


def load_exclusion_list(path: Path) -> ExclusionList:
    """Read and parse one list file; InputFileError (cannot be read) or PolicyStoreError (bad lines)."""
    raw = read_input(path, limit=LIST_FILE_MAX, expected="an exclusion list (a text file)")
    return parse_exclusion_list(str(path), raw)


def _comparable(path: str) -> str:
    """``path`` as a server reads it, in one spelling: unreserved escapes decoded (``%64`` is ``d``),
    then escaped slashes and dots, path parameters, dot segments and runs of ``/`` resolved."""
    return resolved_path(normalize(path))


def find_exclusion(url: str, lists: Iterable[ExclusionList]) -> ExclusionMatch | None:
    """The first list and line (in list order, then line order) that exclude ``url``; None if none does.

    The URL's path is compared as written and as a server reads it
    (``/%64ownloads``, ``//downloads``, ``/x/../downloads`` and ``/downloads;x``
    are all under ``/downloads``). A URL whose port does not parse is matched
    on its host alone, and excluded if any entry names that host: an error
    never lets a listed host through. A URL with no host is not matched here
    (the crawl refuses it elsewhere).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.hostname:
        return None
    host = canonical_host(parts.hostname)
    try:
        port: int | None = _port(parts.scheme.lower(), parts.port)
    except ValueError:
        for listing in lists:
            for entry in listing.entries:
                if host_covers(entry.host, host):
                    return ExclusionMatch(listing, entry)
        return None
    path = parts.path or "/"
    paths = {normalize(path), _comparable(path)}
    for listing in lists:
        for entry in listing.entries:
            if any(entry.covers(host, port, candidate) for candidate in paths):
                return ExclusionMatch(listing, entry)
    return None


def exclusion_basis(match: ExclusionMatch) -> Basis:
    """The ``exclusion-list`` basis (deny) of a URL ``match`` excludes: the list, its sha256, the line."""
    listing, entry = match.listing, match.entry
    return Basis(
        signal=SIGNAL,
        verdict=Verdict.DENY,
        reason=(
            f"on the exclusion list {listing.name} (sha256 {listing.sha256}), line {entry.line}: "
            f"{entry.text}; never requested"
        ),
        source=f"{listing.name}:{entry.line}",
        sha256=listing.sha256,
        record_id=listing.record_id,
        rule=entry.text,
    )


def exclusion_manifest(match: ExclusionMatch) -> dict[str, dict[str, object]]:
    """The evidence manifest of a refusal ``match`` decided: the list's name, sha256, record, and line."""
    return {SIGNAL: {**match.listing.describe(), "line": match.entry.line}}
