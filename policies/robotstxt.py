"""robots.txt as text: records, groups and group selection, exactly as RFC 9309 reads them.

Protego (Scrapy's parser, which the tests of :mod:`policies.robots` compare
with) drops every line it does not know and lets unknown lines split groups.
The AI signals live in exactly such lines (``Content-Usage``,
``Content-Signal``, ``License``), so this module keeps every record with its
line number and groups them the way Google's reference parser does: a
``User-agent`` line starts a new group only after a rule line, and other
records never interfere (RFC 9309 §2.2.4). Which fields count as rule lines
is a parameter, because the AIPREF attachment draft makes ``Content-Usage`` a
rule too.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from policies.charset import bom_of, declared_charset, decodings
from policies.memo import Memo

if TYPE_CHECKING:
    from policies.document import Document

# Field aliases, from Google's reference parser and Protego's generosity.
_ALIASES: dict[str, str] = {
    "user-agent": "user-agent",
    "useragent": "user-agent",
    "user agent": "user-agent",
    "allow": "allow",
    "disallow": "disallow",
    "dissallow": "disallow",
    "dissalow": "disallow",
    "disalow": "disallow",
    "diasllow": "disallow",
    "disallaw": "disallow",
    "sitemap": "sitemap",
    "sitemaps": "sitemap",
    "site-map": "sitemap",
    "crawl-delay": "crawl-delay",
    "crawl delay": "crawl-delay",
    "request-rate": "request-rate",
    "request rate": "request-rate",
    "visit-time": "visit-time",
    "visit time": "visit-time",
    "host": "host",
    "content-usage": "content-usage",
    "content-signal": "content-signal",
    "license": "license",
}
_MAX_ALIAS_WORDS = max(len(alias.split()) for alias in _ALIASES)

# The rule lines that end a run of User-agent lines for access rules (Google, RFC 9309).
ACCESS_SEPARATORS: frozenset[str] = frozenset({"allow", "disallow"})

# Records whose values are (or may start with) path patterns.
_PATTERN_FIELDS: frozenset[str] = frozenset({"allow", "disallow", "content-usage"})

# Site-wide records: they never belong to a group.
_SITE_WIDE: frozenset[str] = frozenset({"sitemap", "host"})

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LINE_BREAK_KEPT = re.compile(r"(\r\n|\r|\n)")
# What str.splitlines() (and so Protego) also breaks lines at: a second reading splits there too.
OTHER_BREAKS = {ord(c): "\n" for c in "\v\f\x1c\x1d\x1e\x85\u2028\u2029"}
_PRODUCT_TOKEN = re.compile(r"[A-Za-z_-]+")

# RFC 9309 §2.5: crawlers must parse at least 500 kibibytes.
PARSE_LIMIT = 500 * 1024

# Google's reference parser (robots.cc, RobotsTxtParser::Parse, google/robotstxt @ 22b355ff) keeps
# the first kMaxLineLen - 1 = 2083 * 8 - 1 bytes of a line and ignores the rest of that line.
GOOGLE_LINE_LIMIT = 2083 * 8 - 1
# Keys as Google's parser recognises them (robots.cc KeyIs*): by prefix, case-insensitively, in
# this order, typos included ("We don't support typos for the 'allow' key").
_GOOGLE_KEYS: tuple[tuple[str, str], ...] = (
    ("user-agent", "user-agent"),
    ("useragent", "user-agent"),
    ("user agent", "user-agent"),
    ("allow", "allow"),
    ("disallow", "disallow"),
    ("dissallow", "disallow"),
    ("dissalow", "disallow"),
    ("disalow", "disallow"),
    ("diasllow", "disallow"),
    ("disallaw", "disallow"),
    ("sitemap", "sitemap"),
    ("site-map", "sitemap"),
)
_BYTE_LINES = re.compile(rb"(\r\n|\r|\n)")
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True, slots=True)
class Record:
    """One ``field: value`` line, with its 1-based line number; ``field`` is canonical, lower case."""

    line: int
    field: str
    value: str

    def __str__(self) -> str:
        return f"{self.field}: {self.value}"


def agent_token(value: str) -> str:
    """Return the product token a ``User-agent`` value names, as Google's parser reads it.

    ``*`` (alone, or followed by whitespace) is the wildcard. Otherwise the value
    is cut at the first character outside ``[A-Za-z_-]`` and lower-cased, so
    ``FooBot/2.0`` names ``foobot`` and ``*bot`` names nothing (``""``).
    """
    value = value.strip()
    if value == "*" or (value.startswith("*") and value[1].isspace()):
        return "*"
    match = _PRODUCT_TOKEN.match(value)
    return match.group(0).lower() if match else ""


@dataclass(frozen=True, slots=True)
class Group:
    """A run of ``User-agent`` records and the records that follow them."""

    agents: tuple[Record, ...]
    records: tuple[Record, ...]
    # The product tokens this group names (``*`` for the wildcard), read once.
    tokens: tuple[str, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tokens", tuple(agent_token(a.value) for a in self.agents))

    def names(self, token: str) -> bool:
        """Return True if this group names ``token`` (already lower case) exactly."""
        return token in self.tokens

    def describe(self) -> str:
        """Return the group's User-agent lines as one readable string."""
        lines = ", ".join(f"'User-agent: {a.value}' (line {a.line})" for a in self.agents)
        return f"group {lines}"


@dataclass(frozen=True, slots=True)
class Selection:
    """The groups that apply to one product token, and why."""

    token: str
    groups: tuple[Group, ...]
    matched: str | None  # the token itself, "*", or None when no group applies

    def records(self, *fields: str) -> tuple[Record, ...]:
        """Return the selected groups' records of the given fields, in file order."""
        found = [r for g in self.groups for r in g.records if r.field in fields]
        return tuple(sorted(found, key=lambda r: r.line))

    def describe(self) -> str:
        """Return which groups applied, for a reason sentence."""
        if not self.groups:
            return f"no group names '{self.token}' and there is no '*' group"
        return "; ".join(g.describe() for g in self.groups)


def split_record(line: str) -> tuple[str, str] | None:
    """Split one comment-free, stripped line into ``(field, value)``, or None.

    Known fields (and their aliases) are canonicalised. As Protego and Google
    do, a missing colon is tolerated (``user-agent foo``). An unknown field is
    returned lower-cased so that callers can skip it.
    """
    key: str | None = None
    value = ""
    if ":" in line:
        key, raw = line.split(":", 1)
        key = key.strip().lower()
        value = raw.strip()
        if key in _ALIASES:
            return _ALIASES[key], value
        if not raw or raw[0].isspace():
            return key, value
    words = line.split()
    for count in range(1, _MAX_ALIAS_WORDS + 1):
        candidate = " ".join(words[:count]).lower()
        if candidate in _ALIASES:
            return _ALIASES[candidate], " ".join(words[count:])
    if key is None:
        return None
    return key, value


def decode(body: bytes) -> str:
    """Decode a robots.txt body as RFC 9309 says: UTF-8, any byte-order mark dropped.

    Undecodable bytes become U+FFFD instead of failing. This is the primary
    reading; :func:`readings` gives the others.
    """
    return decodings(body)[0].text


def _google_key(key: str) -> str | None:
    """The field Google's parser reads ``key`` as, or None when it does not know it."""
    lowered = key.strip().lower()
    return next((field for prefix, field in _GOOGLE_KEYS if lowered.startswith(prefix)), None)


def _google_line(line: str) -> str:
    """``line`` with its key spelled as ours when Google's parser knows a key we do not.

    Google splits at the first colon, or, without one, a line of exactly two
    words (robots.cc ``GetKeyAndValueFrom``). A key either parser knows the
    same way is left as written, so a file without such keys reads the same.
    """
    content = line.split("#", 1)[0]
    if ":" in content:
        key, value = content.split(":", 1)
    else:
        words = content.split()
        if len(words) != 2:
            return line
        key, value = words
    field = _google_key(key)
    if field is None or _ALIASES.get(key.strip().lower()) == field:
        return line
    return f"{field}: {value.strip()}"


def google_reading(body: bytes) -> str:
    """``body`` as Google's reference parser reads it, as text our parser reads the same way.

    Byte for byte what robots.cc does before matching: a prefix of the UTF-8
    byte-order mark is skipped however much of it there is (``EF BB``, ``EF``);
    each line is cut to :data:`GOOGLE_LINE_LIMIT` bytes; bytes that are not
    UTF-8 are percent-encoded one by one (``MaybeEscapePattern``: a Latin-1
    ``/caf\\xe9`` is ``/caf%E9``); keys are recognised by prefix, typos
    included (``Disallowed:``, ``User-agents:``, ``allowed:``).
    """
    skip = 0
    while skip < len(codecs.BOM_UTF8) and body[skip : skip + 1] == codecs.BOM_UTF8[skip : skip + 1]:
        skip += 1
    pieces = _BYTE_LINES.split(body[skip:])
    pieces[::2] = [line[:GOOGLE_LINE_LIMIT] for line in pieces[::2]]
    text = b"".join(pieces).decode("utf-8", "surrogateescape")
    text = _ESCAPED_BYTE.sub(lambda m: f"%{ord(m.group(0)) - 0xDC00:02X}", text)
    parts = _LINE_BREAK_KEPT.split(text)
    parts[::2] = [_google_line(line) for line in parts[::2]]
    return "".join(parts)


def google_text(text: str) -> str:
    """Decoded text (as :func:`~policies.robots.can_fetch` gets it), read as :func:`google_reading`."""
    return google_reading(text.encode("utf-8", "surrogatepass"))


def truncate(body: bytes, limit: int = PARSE_LIMIT) -> tuple[bytes, bool]:
    """Cut ``body`` to at most ``limit`` bytes at a line end; return it and whether it was cut.

    A line cut in the middle could turn into a broader rule (``Disallow: /private``
    cut to ``Disallow: /pr`` is fine, ``Allow: /pub`` cut to ``Allow: /`` is not),
    so the partial last line is dropped (RFC 9309 §2.5).
    """
    if len(body) <= limit:
        return body, False
    head = body[:limit]
    end = max(head.rfind(b"\n"), head.rfind(b"\r"))
    return (head[: end + 1] if end >= 0 else b""), True


# Patterns with '*' or '$' are tried one by one for every URL (plain ones are looked up);
# a file with more of them than this is refused rather than allowed to slow every decision.
MAX_WILD_PATTERNS = 10_000
# Records kept for one file, all its readings together (a host's evidence stays in memory
# for a day): a file with more is refused rather than allowed to take hundreds of megabytes.
MAX_RECORDS = 250_000


@dataclass(frozen=True, slots=True)
class Reading:
    """One plausible reading of a robots.txt-style file: its text, and how it was read."""

    text: str
    how: str


def readings(document: Document, parse_limit: int = PARSE_LIMIT) -> list[Reading]:
    """Every plausible reading of a robots.txt-style document (robots.txt, ai.txt), the primary first.

    The primary reading is RFC 9309's: the first ``parse_limit`` bytes (cut at
    a line end, §2.5), as UTF-8. The others read the same bytes as the
    byte-order mark or the declared charset says, as windows-1252 when they
    are not UTF-8 (a Latin-1 ``Disallow: /café`` means ``/caf%C3%A9`` as
    much as the ``/caf%E9`` Google reads), as Google's reference parser reads
    them (:func:`google_reading`), and, when the file is longer than the
    limit, the whole of it: a rule past the limit is still the site's word.
    A text with other line separators (form feed, U+2028, ...) is also read
    with lines split at them, as ``str.splitlines`` and Protego split them.
    Only readings whose text differs are kept; ``how`` is empty when there
    is only one.
    """
    head, cut = truncate(document.body, parse_limit)
    texts: list[Reading] = []
    seen: set[str] = set()

    def add(text: str, how: str) -> None:
        if text not in seen:
            seen.add(text)
            texts.append(Reading(text, how))

    parts = [(head, f"the first {len(head)} bytes (RFC 9309 parse limit)" if cut else "")]
    if cut:
        parts.append((document.body, f"the whole file ({len(document.body)} bytes, past the parse limit)"))
    for data, scope in parts:
        declared = (
            (declared_charset(document.content_type), "as its Content-Type declares"),
            (None if _is_utf8(data) else "windows-1252", _NOT_UTF8),
        )
        for decoded in decodings(data, declared=declared):
            split = decoded.text.translate(OTHER_BREAKS)
            for text, lines in ((decoded.text, ""), (split, "lines split at every line separator")):
                add(text, "; ".join(part for part in (scope, f"read as {decoded.how}", lines) if part))
        add(google_reading(data), "; ".join(part for part in (scope, _AS_GOOGLE) if part))
    if len(texts) == 1 and not cut:
        texts[0] = Reading(texts[0].text, "")
    return texts


_NOT_UTF8 = "the usual charset of a text file that is not UTF-8"
_AS_GOOGLE = (
    "read as Google's reference parser reads it (keys by prefix, typos included; lines cut at "
    f"{GOOGLE_LINE_LIMIT} bytes; a partial byte-order mark skipped; bytes that are not UTF-8 percent-encoded)"
)


def _is_utf8(data: bytes) -> bool:
    """True if ``data`` is UTF-8 once the byte-order marks it starts with are dropped."""
    while (mark := bom_of(data)) is not None:
        data = data[len(mark[0]) :]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class RobotsTxt:
    """A parsed robots.txt: every record with its line number, grouped on demand.

    The text itself is not kept: a host's evidence stays in memory for a day.
    """

    records: tuple[Record, ...]
    sitemaps: tuple[str, ...] = field(default=())
    # Allow, Disallow and path-scoped Content-Usage patterns with '*' or '$' (see MAX_WILD_PATTERNS).
    wild_patterns: int = 0
    # Groupings and selections are asked for per URL; they depend only on the file.
    derived: Memo = field(default_factory=Memo, compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> RobotsTxt:
        """Parse robots.txt text leniently: malformed lines are skipped, never raised."""
        text = text.lstrip("\ufeff")
        records: list[Record] = []
        sitemaps: list[str] = []
        wild = 0
        for number, raw in enumerate(_LINE_BREAK.split(text), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parsed = split_record(line)
            if parsed is None:
                continue
            name, value = parsed
            if name == "sitemap" and value:
                sitemaps.append(value)
            elif name in _PATTERN_FIELDS and ("*" in value or "$" in value):
                wild += 1
            records.append(Record(number, name, value))
        return cls(records=tuple(records), sitemaps=tuple(sitemaps), wild_patterns=wild)

    @property
    def access_groups(self) -> tuple[Group, ...]:
        """The groups as Google's parser forms them for Allow/Disallow rules."""
        return self.groups(ACCESS_SEPARATORS)

    @property
    def preamble(self) -> tuple[Record, ...]:
        """Records before the first User-agent line (site-wide ones excluded)."""
        found = []
        for record in self.records:
            if record.field == "user-agent":
                break
            if record.field not in _SITE_WIDE:
                found.append(record)
        return tuple(found)

    def groups(self, separators: frozenset[str] = ACCESS_SEPARATORS) -> tuple[Group, ...]:
        """Group the records: a User-agent line after a separator record starts a new group."""
        return self.derived.get(("groups", separators), lambda: self._group_shared(separators))

    def _group_shared(self, separators: frozenset[str]) -> tuple[Group, ...]:
        """The grouping, as the same object as the access grouping when it comes out equal.

        Files with no Content-Signal or Content-Usage lines (most) group alike
        whatever the separators; sharing the groups (and so the selections made
        from them) keeps a host's evidence small: it stays in memory for a day.
        """
        found = self._group(separators)
        if separators == ACCESS_SEPARATORS:
            return found
        access = self.groups(ACCESS_SEPARATORS)
        return access if access == found else found

    def _group(self, separators: frozenset[str]) -> tuple[Group, ...]:
        groups: list[Group] = []
        agents: list[Record] = []
        members: list[Record] = []
        seen_separator = False
        for record in self.records:
            if record.field in _SITE_WIDE:
                continue
            if record.field == "user-agent":
                if seen_separator:
                    groups.append(Group(tuple(agents), tuple(members)))
                    agents, members, seen_separator = [], [], False
                agents.append(record)
            elif agents:
                members.append(record)
                if record.field in separators:
                    seen_separator = True
        if agents:
            groups.append(Group(tuple(agents), tuple(members)))
        return tuple(groups)

    def select(self, token: str, separators: frozenset[str] = ACCESS_SEPARATORS) -> Selection:
        """Return the groups that apply to ``token``: every group naming it, else every ``*`` group.

        ``token`` is cut and lower-cased as :func:`agent_token` does (``Foo Bar``
        and ``Foo/2.0`` are ``foo``); one with no product token in it (``""``)
        gets the ``*`` groups. Never raises. Rules of the
        ``*`` group are not merged into a specific group (RFC 9309 §2.2.1).
        """
        return self.derived.get(("select", token, separators), lambda: self._select_shared(token, separators))

    def _select_shared(self, token: str, separators: frozenset[str]) -> Selection:
        """The selection, as the same object as the access selection when the groups are the same."""
        if separators != ACCESS_SEPARATORS and self.groups(separators) is self.groups(ACCESS_SEPARATORS):
            return self.select(token, ACCESS_SEPARATORS)
        return self._select(token, separators)

    def _select(self, token: str, separators: frozenset[str]) -> Selection:
        wanted = agent_token(token)
        groups = self.groups(separators)
        # A caller with no product token ('', '*', '/2.0') is named by no group: the '*' groups
        # apply, as Google's parser answers an empty user agent (GoogleOnly_SystemTest).
        named = () if wanted in ("", "*") else tuple(g for g in groups if g.names(wanted))
        if named:
            return Selection(wanted, named, wanted)
        wildcard = tuple(g for g in groups if g.names("*"))
        if wildcard:
            return Selection(wanted, wildcard, "*")
        return Selection(wanted, (), None)
