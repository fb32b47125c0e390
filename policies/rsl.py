"""The ``rsl`` signal: Really Simple Licensing (RSL 1.0) licences for the content.

Discovery: ``License:`` lines in robots.txt (before any group: site-wide; in a
group: for that group, replacing the site-wide ones), ``Link: <...>;
rel="license"; type="application/rsl+xml"`` response headers, and in HTML
``<link rel="license" type="application/rsl+xml">`` and inline ``<script
type="application/rsl+xml">``. Documents are parsed with defusedxml (no
entity expansion, no external entities).

A document has ``<content url=...>`` elements (a URL or a robots.txt-style
path pattern; the most specific match applies), each with ``<license>``
alternatives. A licence grants a purpose to us when: its ``<prohibits
type="usage">`` does not cover the purpose; its ``<permits type="usage">`` (a
closed list, when present) does; its user and geo constraints admit us
(``Readings.rsl_user``, ``Readings.rsl_geo``); it is free (no ``<payment>``,
or ``type="free"``); and, when the content names a licence ``server`` (a token
is then needed even for a free licence, RSL 1.0), a token for it was obtained.
Obtaining one is the crawler's work: :func:`licence_needs` says which tokens a
URL needs, and the outcomes (:class:`LicenceToken`, pure data) come back with
the host's evidence for :func:`rsl_basis` to judge with. Usage tokens: ``all`` covers
everything, ``ai-all`` every AI use; ``ai-train``, ``ai-input`` (and, to
refuse, ``ai-index``) and ``search`` their own. A document that cannot be
fetched or parsed leaves the content unlicensed: deny.
"""

from __future__ import annotations

import copy
import hashlib
import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit
from xml.sax.saxutils import escape, quoteattr

import defusedxml.ElementTree as SafeET

from policies.decision import Basis, Cite, Verdict
from policies.patterns import PathPattern, path_of
from policies.purpose import Purpose
from policies.robotstxt import RobotsTxt, agent_token

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from typing import Any

    from policies.document import Document

NAMESPACE = "https://rslstandard.org/rsl"
MEDIA_TYPE = "application/rsl+xml"
_NS = "{" + NAMESPACE + "}"

# Usage tokens that permit a purpose, and those whose prohibition reserves it.
PERMITTING: dict[Purpose, frozenset[str]] = {
    Purpose.AI_TRAIN: frozenset({"all", "ai-all", "ai-train"}),
    Purpose.AI_INPUT: frozenset({"all", "ai-all", "ai-input"}),
    Purpose.SEARCH: frozenset({"all", "search"}),
}
# 'train-ai' is the AIPREF label, seen in deployed RSL files where 'ai-train' was meant.
PROHIBITING: dict[Purpose, frozenset[str]] = {
    Purpose.AI_TRAIN: frozenset({"all", "ai-all", "ai-train", "train-ai"}),
    Purpose.AI_INPUT: frozenset({"all", "ai-all", "ai-input", "ai-index"}),
    Purpose.SEARCH: frozenset({"all", "search"}),
}
FREE = frozenset({"free"})
MAX_CONTENTS = 1_000  # <content> elements per document; every URL is matched against each
MAX_ALTERNATIVES = 16  # <license> alternatives per <content>
MAX_TOKENS = 64  # tokens per <permits> or <prohibits>
MAX_SIZE = 1024 * 1024  # bytes of one RSL document (real ones are a few KiB)


class RslError(ValueError):
    """The document is not an RSL document we can read."""


def _tokens(text: str | None) -> frozenset[str]:
    # The spec separates tokens with spaces; deployed files also use commas.
    return frozenset(t.lower() for t in re.split(r"[\s,]+", text or "") if t)


def _xml(element: Any, outer: str) -> str:
    """``element`` as XML text, each namespace declared as the default where it changes from ``outer``."""
    namespace, _, local = (
        element.tag[1:].partition("}") if element.tag.startswith("{") else ("", "", element.tag)
    )
    declared = f" xmlns={quoteattr(namespace)}" if namespace != outer else ""
    attributes = "".join(f" {name}={quoteattr(value)}" for name, value in element.items())
    inner = escape(element.text or "") + "".join(
        _xml(child, namespace) + escape(child.tail or "") for child in element
    )
    return f"<{local}{declared}{attributes}>{inner}</{local}>"


def license_xml(element: Any) -> str:
    """One ``<license>`` element as XML text, complete and standing alone (what a token request sends).

    Re-serialised from the parsed element, its namespace declared on it as the
    default (``<license xmlns="https://rslstandard.org/rsl">``): the document's
    other elements and the text after it are left out. Attributes in a
    namespace, which RSL does not use, are serialised with ElementTree's prefixes.
    """
    if any(name.startswith("{") for e in element.iter() for name in e.attrib):
        alone = copy.deepcopy(element)
        alone.tail = None
        return ET.tostring(alone, encoding="unicode")
    return _xml(element, "")


@dataclass(frozen=True)
class License:
    """One ``<license>``: permits and prohibits by type, payment types, and the element's XML."""

    permits: dict[str, frozenset[str]]
    prohibits: dict[str, frozenset[str]]
    payments: tuple[str, ...]
    xml: str = ""

    @property
    def sha256(self) -> str:
        """The sha256 of the licence's XML: which licence a token was asked for."""
        return hashlib.sha256(self.xml.encode("utf-8")).hexdigest()

    def terms(self) -> str:
        """The licence's terms in one line, for a basis: permits, prohibits, payment."""
        parts = [
            f"permits {kind} {' '.join(sorted(tokens))}" for kind, tokens in sorted(self.permits.items())
        ]
        parts += [f"prohibits {kind} {' '.join(sorted(t))}" for kind, t in sorted(self.prohibits.items())]
        parts.append(f"payment {', '.join(self.payments) if self.payments else 'none (free)'}")
        return "; ".join(parts)

    def grants(self, purpose: Purpose, *, user: str, geo: str) -> tuple[bool, str]:
        """Whether this licence lets us use the content for ``purpose`` for free, and why not."""
        if self.prohibits.get("usage", frozenset()) & PROHIBITING[purpose]:
            return False, f"prohibits {purpose.value}"
        if "usage" in self.permits and not self.permits["usage"] & PERMITTING[purpose]:
            listed = " ".join(sorted(self.permits["usage"])) or "nothing"
            return False, f"permits only {listed}"
        if user.lower() in self.prohibits.get("user", frozenset()):
            return False, f"prohibits user type {user}"
        if "user" in self.permits and user.lower() not in self.permits["user"]:
            return False, f"permits only users {' '.join(sorted(self.permits['user']))}"
        if geo and geo.lower() in self.prohibits.get("geo", frozenset()):
            return False, f"prohibits geo {geo}"
        if "geo" in self.permits and geo.lower() not in self.permits["geo"]:
            return False, f"permits only geo {' '.join(sorted(self.permits['geo']))}"
        if self.payments and not FREE & set(self.payments):
            return False, f"requires payment ({', '.join(self.payments)})"
        return True, "free"


@dataclass(frozen=True)
class Content:
    """One ``<content>``: what it covers, an optional licence server, the licence alternatives."""

    url: str
    server: str | None
    licenses: tuple[License, ...]

    # base URL -> (host the content is limited to, or None; its path pattern), worked out once.
    scopes: dict[str, tuple[str | None, PathPattern]] = field(default_factory=dict, compare=False, repr=False)

    def _scope(self, base: str) -> tuple[str | None, PathPattern]:
        if base not in self.scopes:
            pattern, origin = self.url, None
            if "://" in pattern:
                # The site, not the scheme or port: a licence for https://x/ covers http://x/ too.
                origin, pattern = urlsplit(pattern).hostname or "", path_of(pattern)
            elif not pattern.startswith(("/", "*")):
                pattern = path_of(urljoin(base, pattern))
            self.scopes[base] = (origin, PathPattern(pattern))
        return self.scopes[base]

    def specificity(self, target: str, base: str) -> int | None:
        """How specifically this content covers ``target`` (pattern length), or None if it does not."""
        try:
            origin, path = self._scope(base)
            if origin is not None and origin != (urlsplit(target).hostname or ""):
                return None
        except ValueError:
            return 0  # a base or target urllib cannot read: covered, so that a refusal is not missed
        return path.length if path.matches(target) else None


@dataclass(frozen=True)
class RslDocument:
    """A parsed RSL document."""

    contents: tuple[Content, ...]

    @classmethod
    def parse(cls, body: bytes) -> RslDocument:
        """Parse safely; raise RslError unless the root is ``<rsl>`` in the RSL namespace with content.

        A document larger than ``MAX_SIZE``, or with more elements or tokens than
        the bounds below, is refused (so the content is unlicensed): a licence
        is kept in memory for as long as its host's evidence.
        """
        if len(body) > MAX_SIZE:
            raise RslError(f"{len(body)} bytes, more than the {MAX_SIZE} an RSL document may have here")
        try:
            root = SafeET.fromstring(body)
        except Exception as exc:  # defusedxml's refusals and every parse error alike
            raise RslError(f"not readable XML ({type(exc).__name__}: {exc})") from None
        if root.tag != f"{_NS}rsl":
            raise RslError(f'root element is {root.tag!r}, expected <rsl xmlns="{NAMESPACE}">')
        contents = []
        elements = root.findall(f"{_NS}content")
        if len(elements) > MAX_CONTENTS:
            raise RslError(f"{len(elements)} <content> elements, more than the {MAX_CONTENTS} read")
        for content in elements:
            url = content.get("url")
            if not url:
                raise RslError("a <content> element has no url attribute")
            try:
                urlsplit(url)
            except ValueError as exc:
                raise RslError(f"<content url={url!r}> is not a URL or path ({exc})") from None
            licenses = []
            found = content.findall(f"{_NS}license")
            if len(found) > MAX_ALTERNATIVES:
                raise RslError(
                    f"a <content> has {len(found)} <license> elements, more than {MAX_ALTERNATIVES}"
                )
            for lic in found:
                permits: dict[str, frozenset[str]] = {}
                prohibits: dict[str, frozenset[str]] = {}
                for tag, into in (("permits", permits), ("prohibits", prohibits)):
                    for element in lic.findall(f"{_NS}{tag}"):
                        kind = (element.get("type") or "usage").lower()
                        tokens = _tokens(element.text)
                        if len(tokens) > MAX_TOKENS:
                            raise RslError(f"a <{tag}> lists {len(tokens)} tokens, more than {MAX_TOKENS}")
                        into[kind] = into.get(kind, frozenset()) | tokens
                payments = tuple((p.get("type") or "free").lower() for p in lic.findall(f"{_NS}payment"))
                try:
                    xml = license_xml(lic)
                except RecursionError:
                    raise RslError("a <license> is nested too deeply to be read") from None
                licenses.append(License(permits, prohibits, payments, xml))
            contents.append(Content(url, content.get("server"), tuple(licenses)))
        if not contents:
            raise RslError("no <content> element")
        return cls(tuple(contents))


@dataclass(frozen=True, kw_only=True, slots=True)
class RslEvidence:
    """One licence document as fetched (or embedded): parsed, or the reason it is unusable."""

    url: str
    source: str
    sha256: str | None
    record_id: str | None
    document: RslDocument | None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class FoundLicence:
    """A licence document and where it was found (robots.txt line, Link header, HTML)."""

    evidence: RslEvidence
    found_in: str


def rsl_evidence(document: Document) -> RslEvidence:
    """Read a fetched RSL document; anything unusable is recorded as a problem (so: unlicensed)."""
    of_document = partial(
        RslEvidence,
        url=document.url,
        source=document.describe(),
        sha256=document.sha256,
        record_id=document.record_id,
    )
    if document.incomplete is not None:
        return of_document(document=None, problem=f"the licence was not read whole ({document.incomplete})")
    if not document.succeeded:
        return of_document(document=None, problem="the licence could not be fetched")
    try:
        return of_document(document=RslDocument.parse(document.body))
    except RslError as exc:
        return of_document(document=None, problem=f"the licence is unreadable: {exc}")


def inline_evidence(text: str, page_url: str) -> RslEvidence:
    """An RSL document embedded in a page (``<script type="application/rsl+xml">``)."""
    body = text.strip().encode("utf-8")
    inline = partial(
        RslEvidence,
        url=page_url,
        source=f'inline <script type="{MEDIA_TYPE}"> in {page_url}',
        sha256=hashlib.sha256(body).hexdigest(),
        record_id=None,
    )
    try:
        return inline(document=RslDocument.parse(body))
    except RslError as exc:
        return inline(document=None, problem=f"the licence is unreadable: {exc}")


@dataclass(frozen=True, slots=True)
class TokenNeed:
    """A licence token a URL needs: from ``server``, for one ``<license>``, for ``resource``.

    ``resource`` is the ``url`` of the licence's ``<content>``, made absolute
    against the licence document's URL (RSL 1.0's token request names the
    content, not each page). ``licence`` is the ``<license>`` element's XML.
    """

    server: str
    resource: str
    licence: str

    @property
    def key(self) -> tuple[str, str, str]:
        """What a token is held and recorded by: server, resource, the licence's sha256."""
        return (self.server, self.resource, hashlib.sha256(self.licence.encode("utf-8")).hexdigest())


@dataclass(frozen=True, kw_only=True, slots=True)
class LicenceToken:
    """What a licence server answered for one :class:`TokenNeed`: a token's record, or its refusal.

    Never the token itself: ``token_id`` is its JWT ``jti``, or ``sha256:`` and
    the sha256 of the token. Times are ISO 8601 UTC; ``expires_at`` None: no
    expiry (``expires_in`` 0). ``problem`` (a refusal) says what the server said.
    """

    server: str
    resource: str
    licence_sha256: str
    token_id: str | None = None
    issued_at: str | None = None
    expires_at: str | None = None
    problem: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.server, self.resource, self.licence_sha256)

    def as_dict(self) -> dict[str, str | None]:
        """The record kept with the evidence manifest (and read back by :meth:`from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LicenceToken:
        """The record :meth:`as_dict` wrote; raise KeyError or TypeError if it is not one."""
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def _best_contents(evidence: RslEvidence, url: str) -> list[Content] | None:
    """The most specific ``<content>`` elements covering ``url`` (None: the document has none)."""
    assert evidence.document is not None
    ranked = [(c.specificity(url, evidence.url), c) for c in evidence.document.contents]
    matching = [(s, c) for s, c in ranked if s is not None]
    if not matching:
        return None
    best = max(s for s, _ in matching)
    return [c for s, c in matching if s == best]


def _granting(content: Content, purpose: Purpose, *, user: str, geo: str) -> tuple[License | None, str]:
    """The first of a content's licences granting ``purpose`` free of charge, or why none does."""
    outcomes = [(lic, *lic.grants(purpose, user=user, geo=geo)) for lic in content.licenses]
    for lic, granted, _ in outcomes:
        if granted:
            return lic, "free"
    return None, "; ".join(why for _, _, why in outcomes) or "no <license>"


def _need(content: Content, lic: License, base: str) -> TokenNeed:
    assert content.server is not None
    return TokenNeed(content.server, resolve(base, content.url), lic.xml)


def licence_needs(found: FoundLicence, url: str, purpose: Purpose, *, user: str, geo: str) -> list[TokenNeed]:
    """The tokens ``url`` needs for ``purpose`` under this licence document (none: it needs none).

    One per most specific ``<content>`` that names a ``server`` and has a
    licence granting the purpose free of charge (its first such licence). A
    licence that asks for payment is never requested: it stays refused.
    """
    evidence = found.evidence
    if evidence.document is None:
        return []
    needs = []
    for content in _best_contents(evidence, url) or []:
        if content.server:
            lic, _ = _granting(content, purpose, user=user, geo=geo)
            if lic is not None:
                needs.append(_need(content, lic, evidence.url))
    return needs


def _licensed(
    where: str,
    content: Content,
    lic: License,
    base: str,
    purpose: Purpose,
    tokens: Mapping[Any, LicenceToken] | None,
) -> tuple[bool, str]:
    """Whether a token was obtained for a granting licence of a content naming a server, and the reason."""
    server = content.server
    if tokens is None:
        return True, (
            f"{where} licenses {purpose.value} under a token from licence server {server} "
            f"(tokens are not asked for here: the licence still grants it; terms: {lic.terms()})"
        )
    token = tokens.get(_need(content, lic, base).key)
    if token is None:
        return (
            False,
            f"{where} needs a token from licence server {server}; none was obtained (no credentials for it)",
        )
    if token.token_id is None:
        return False, f"{where}: licence server {server} gave no token: {token.problem}"
    expiry = token.expires_at or "never"
    return True, (
        f"{where} licenses {purpose.value} under token {token.token_id} from licence server {server} "
        f"(resource {token.resource}, issued {token.issued_at}, expires {expiry}; terms: {lic.terms()})"
    )


def rsl_basis(
    found: FoundLicence,
    url: str,
    purpose: Purpose,
    *,
    user: str,
    geo: str,
    tokens: Iterable[LicenceToken] | None = (),
) -> Basis:
    """The ``rsl`` basis of one licence document for ``url`` and ``purpose``.

    ``tokens`` are the licence tokens obtained (or refused) for the URL: a
    content naming a licence server grants only under a token obtained for
    its granting licence, and the basis names the token's id, its server,
    expiry and the licence's terms. None: tokens were not asked for (a
    recheck asks whether the site reserved the content since, not for a new
    token), so such a licence grants as long as it grants the purpose.
    """
    evidence = found.evidence
    cite = Cite(
        source=f"{evidence.source} ({found.found_in})", sha256=evidence.sha256, record_id=evidence.record_id
    )
    if evidence.document is None:
        reason = f"RSL licence {evidence.url}: {evidence.problem}; the content is unlicensed"
        return cite.basis("rsl", Verdict.DENY, reason)
    contents = _best_contents(evidence, url)
    if contents is None:
        reason = f"RSL licence {evidence.url} has no <content> covering {path_of(url)}"
        return cite.basis("rsl", Verdict.NONE, reason)
    held = {token.key: token for token in tokens} if tokens is not None else None
    grants: list[tuple[Content, str]] = []
    refusals: list[tuple[Content, str]] = []
    for content in contents:
        where = f"RSL licence {evidence.url}, <content url={content.url!r}>"
        lic, why = _granting(content, purpose, user=user, geo=geo)
        if lic is None:
            refusals.append((content, f"{where}: {why}: no free licence for {purpose.value}"))
        elif content.server:
            licensed, reason = _licensed(where, content, lic, evidence.url, purpose, held)
            (grants if licensed else refusals).append((content, reason))
        else:
            grants.append((content, f"{where} licenses {purpose.value} free of charge"))
    # Equally specific contents that disagree: the most restrictive one applies.
    content, reason = refusals[0] if refusals else grants[0]
    verdict = Verdict.DENY if refusals else Verdict.ALLOW
    return cite.basis("rsl", verdict, reason, rule=content.url)


MAX_LICENCES = 10  # per robots.txt; a hostile file could name thousands


def licence_lines(robots: RobotsTxt, token: str, *, base: str) -> list[tuple[str, str]]:
    """The licence URLs robots.txt names for us, with where each was found.

    Site-wide: lines before the first group, and lines that trail a group's
    rules (where sitemap-like lines usually go). Group lines: those of the
    groups that apply to us (ours and ``*``). Every one of them applies; their
    verdicts combine most-restrictively. Relative URLs are resolved against
    ``base`` (the robots.txt URL).
    """
    found: list[tuple[str, str]] = []
    for record in robots.preamble:
        if record.field == "license" and record.value:
            found.append((resolve(base, record.value), f"robots.txt line {record.line}, site-wide"))
    wanted = agent_token(token)
    for group in robots.access_groups:
        ours = group.names(wanted) or group.names("*")
        last_rule = max((r.line for r in group.records if r.field in ("allow", "disallow")), default=0)
        for record in group.records:
            if record.field != "license" or not record.value:
                continue
            if ours or record.line > last_rule:
                scope = f"in {group.describe()}" if ours else "after a group's rules, site-wide"
                found.append((resolve(base, record.value), f"robots.txt line {record.line}, {scope}"))
    unique: dict[str, str] = {}
    for url, where in found:
        unique.setdefault(url, where)
    return list(unique.items())


_PARAM_NAME = re.compile(r"\s*;\s*([^=;,\s]+)\s*")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_BARE = re.compile(r"[^;,]*")


_LINK_SEPARATOR = re.compile(r",\s*(?=<)")


def _link_values(value: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The ``(target, params)`` of each link in one Link field value (RFC 8288); linear, never raises.

    Links are split where a comma is followed by ``<``, so a malformed link (an
    unclosed ``<`` or quoted string) spoils only itself, never the links after it.
    """
    for segment in _LINK_SEPARATOR.split(value):
        start = segment.find("<")
        end = segment.find(">", start + 1)
        if start < 0 or end < 0:
            continue
        start = segment.rfind("<", start, end)  # a stray '<' before the real one
        target, position = segment[start + 1 : end], end + 1
        params: dict[str, str] = {}
        while (name := _PARAM_NAME.match(segment, position)) is not None:
            key, position = name.group(1).lower(), name.end()
            raw = ""
            if segment.startswith("=", position):
                position += 1
                while segment.startswith((" ", "\t"), position):
                    position += 1
                quoted = _QUOTED.match(segment, position)
                if quoted:
                    raw, position = re.sub(r"\\(.)", r"\1", quoted.group(1)), quoted.end()
                elif segment.startswith('"', position):
                    raw, position = segment[position + 1 :], len(segment)  # an unclosed string ends the link
                else:
                    bare = _BARE.match(segment, position)
                    assert bare is not None  # it matches the empty string at least
                    raw, position = bare.group().strip(), bare.end()
            params.setdefault(key, raw)
        yield target.strip(), params


def resolve(base: str, reference: str) -> str:
    """``reference`` resolved against ``base``; a reference urllib cannot read is returned as it is.

    Never raises: the fetch of such a URL then fails, and the licence counts as unreadable (deny).
    """
    try:
        return urljoin(base, reference)
    except ValueError:
        return reference


def link_header_licences(values: Iterable[str], base: str) -> list[str]:
    """The RSL licence URLs in ``Link`` header lines (``rel="license"; type="application/rsl+xml"``)."""
    found = []
    for value in values:
        for target, params in _link_values(value):
            rels = params.get("rel", "").lower().split()
            if "license" in rels and params.get("type", "").strip().lower() == MEDIA_TYPE:
                found.append(resolve(base, target))
    return found


INLINE = "inline in the page"


def unread_licence(url: str) -> RslEvidence:
    """A licence a page points to past ``MAX_LICENCES``: not read, so the content is unlicensed."""
    problem = f"not read: the page points to more than {MAX_LICENCES} licences"
    return RslEvidence(
        url=url, source=f"{url}: {problem}", sha256=None, record_id=None, document=None, problem=problem
    )


def token_id(token: str) -> str:
    """A licence token's id for the record: ``sha256:`` and its sha256 (RSL 1.0: the token is opaque)."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


LICENSE_SCHEME = "License"


def redact_authorization(value: str) -> str:
    """An ``Authorization`` value as it may be recorded: a ``License`` token replaced by its id.

    ``License <token>`` becomes ``License [token sha256:...]``; any other value is returned as it is.
    """
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != LICENSE_SCHEME.lower() or not token.strip():
        return value
    return f"{LICENSE_SCHEME} [token {token_id(token.strip())}]"


_CHALLENGE = re.compile(r"(?:^|,)\s*License(?:\s+|$)", re.IGNORECASE)
_AUTH_PARAM = re.compile(r'\s*([A-Za-z0-9!#$%&\'*+.^_`|~-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)')


def license_challenge(values: Iterable[str]) -> dict[str, str] | None:
    """The parameters of a ``License`` challenge in ``WWW-Authenticate`` values (RFC 9110 §11.6.1).

    None when no value holds one; ``{}`` for a challenge without parameters.
    Parameters are read up to the next challenge (a token not followed by ``=``).
    """
    for value in values:
        match = _CHALLENGE.search(value)
        if match is None:
            continue
        params: dict[str, str] = {}
        position = match.end()
        while (param := _AUTH_PARAM.match(value, position)) is not None and param.end() > position:
            raw = param.group(2)
            if raw.startswith('"'):
                raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
            params.setdefault(param.group(1).lower(), raw)
            position = param.end()
        return params
    return None


def challenge_reason(status: int, params: Mapping[str, str]) -> str:
    """A refusal's reason for a content host's ``License`` challenge, quoting what it said."""
    said = ", ".join(
        f"{name}={params[name][:200]!r}" for name in ("error", "error_description") if name in params
    )
    return (
        f"the host answered HTTP {status} with a License challenge ({said or 'no error given'}): "
        "it requires a valid RSL licence token"
    )
