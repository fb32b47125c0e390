"""The crawler's public page: what it is, what it collects for, and how a site opts out of each signal.

Built from the tables the crawler judges with (signal ids, Content-Signal keys,
AIPREF labels, RSL usage tokens, TDMRep's purposes, the AI-crawler list), so the
page says what the code does: :func:`opt_outs` gives, per signal and purpose, the
robots.txt lines, headers and tags that refuse it, and a test runs every one of
them through the decision engine. :func:`page_data` is the page as data
(``botinfo.json``), :func:`page_html` the same as HTML (``index.html``), and
:func:`feed_atom` the Atom feed (RFC 4287) of its changes, one entry per version
of the page (compared by :func:`content_hash`). No Scrapy, no network.
"""

from __future__ import annotations

import hashlib
import html
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

from crawler.workflows.report import SIGNAL_GLOSSARY
from policies.aiagents import load_agents
from policies.aipref import LABELS
from policies.contentsignal import KEYS
from policies.decision import SIGNAL_IDS
from policies.purpose import Purpose
from policies.rsl import NAMESPACE
from policies.tdmrep import PURPOSES as TDMREP_PURPOSES

if TYPE_CHECKING:
    from collections.abc import Sequence

SCHEMA = "permitcrawl-botinfo/1"
ATOM = "http://www.w3.org/2005/Atom"
OURS = "urn:permitcrawl:botinfo"  # the namespace of the feed's extension element (the content hash)
FEED_FILE, JSON_FILE, HTML_FILE = "feed.atom", "botinfo.json", "index.html"

PURPOSE_TEXT = {
    Purpose.AI_TRAIN: "training AI models",
    Purpose.AI_INPUT: "input to AI systems (retrieval, grounding, answers that use the page)",
    Purpose.SEARCH: "building a search index",
}
# The directive of X-Robots-Tag and robots meta tags that refuses each purpose (policies.robotsmeta).
DIRECTIVE = {Purpose.AI_TRAIN: "noai", Purpose.AI_INPUT: "noai", Purpose.SEARCH: "noindex"}
# The one RSL usage token that names exactly the purpose, among those prohibiting it (policies.rsl).
RSL_TOKEN = {Purpose.AI_TRAIN: "ai-train", Purpose.AI_INPUT: "ai-input", Purpose.SEARCH: "search"}
# Listed AI crawlers most site owners know, preferred as examples.
WELL_KNOWN_AGENTS = ("GPTBot", "CCBot", "OAI-SearchBot", "ChatGPT-User", "PerplexityBot")
# Signals that are not a site's to set: what the page says of them instead of an example.
NOT_A_SITE_SIGNAL = {
    "tos-policy": "your Terms of Service: the crawler's maintainers review them and record a rule; "
    "write to the contact below to have yours reviewed",
    "incomplete": "nothing to do: a page the crawler could not read whole is never kept",
    "exclusion-list": "nothing to do: lists the operator is bound by (such as lists of sites found "
    "to infringe copyright) are never requested",
    "default": "nothing to do: this is what the crawl does when no signal says anything",
}


@dataclass(frozen=True)
class Example:
    """One way a site refuses a purpose: ``where`` it goes (robots.txt, a header, ...) and its text."""

    where: str
    text: str

    def as_dict(self) -> dict[str, str]:
        return {"where": self.where, "text": self.text}


def _inverse(table: dict[str, Any], purpose: Purpose) -> str | None:
    """The first key of ``table`` whose value is, or holds, ``purpose``."""
    for key, value in table.items():
        if value == purpose or (isinstance(value, frozenset) and purpose in value):
            return key
    return None


def _listed_agent(purpose: Purpose) -> str | None:
    """A crawler of the AI-crawler list whose refusals speak for ``purpose`` (a well-known one if listed)."""
    names = sorted(agent.token for agents in load_agents().for_purpose(purpose).values() for agent in agents)
    known = [name for name in WELL_KNOWN_AGENTS if name in names]
    return known[0] if known else (names[0] if names else None)


def opt_outs(token: str, purpose: Purpose) -> dict[str, list[Example]]:
    """Per signal id, the ways a site refuses ``purpose`` to the crawler named ``token`` (none: not a site's).

    Each example is written with the values the crawler's readers look for, from
    their own tables; ``tests/workflows/test_botinfo.py`` judges every one.
    """
    examples: dict[str, list[Example]] = {signal: [] for signal in SIGNAL_IDS}
    examples["robots"].append(Example("robots.txt", f"User-agent: {token}\nDisallow: /"))
    agent = _listed_agent(purpose)
    if agent is not None:
        examples["robots-ai-agents"].append(Example("robots.txt", f"User-agent: {agent}\nDisallow: /"))
    key = _inverse(KEYS, purpose)
    if key is not None:
        examples["content-signal"] += [
            Example("robots.txt", f"User-agent: *\nContent-Signal: {key}=no\nAllow: /"),
            Example("HTTP header", f"Content-Signal: {key}=no"),
        ]
    label = _inverse(LABELS, purpose)
    if label is not None:
        examples["content-usage"] += [
            Example("robots.txt", f"User-agent: *\nContent-Usage: {label}=n\nAllow: /"),
            Example("HTTP header", f"Content-Usage: {label}=n"),
        ]
    if purpose in TDMREP_PURPOSES:
        examples["tdmrep"] += [
            Example("/.well-known/tdmrep.json", '[{"location": "/", "tdm-reservation": 1}]'),
            Example("HTTP header", "tdm-reservation: 1"),
            Example("HTML", '<meta name="tdm-reservation" content="1">'),
        ]
    if purpose is Purpose.AI_TRAIN:
        examples["ai-txt"].append(Example("/ai.txt", "User-agent: *\nDisallow: /"))
    licence = (
        f'<rsl xmlns="{NAMESPACE}"><content url="/"><license>'
        f'<prohibits type="usage">{RSL_TOKEN[purpose]}</prohibits></license></content></rsl>'
    )
    examples["rsl"] += [
        Example("robots.txt", "License: https://example.org/license.xml"),
        Example("/license.xml", licence),
    ]
    directive = DIRECTIVE[purpose]
    examples["x-robots-tag"].append(Example("HTTP header", f"X-Robots-Tag: {token}: {directive}"))
    examples["meta-robots"].append(Example("HTML", f'<meta name="{token}" content="{directive}">'))
    return examples


@dataclass(frozen=True)
class Identity:
    """Who the crawler is, as its operator publishes it."""

    token: str
    user_agent: str
    page_url: str
    purposes: tuple[Purpose, ...]
    operator: str | None = None
    email: str | None = None
    key_id: str | None = None
    key_directory: str | None = None
    client_ranges: str | None = None


def page_data(identity: Identity, behaviour: dict[str, Any]) -> dict[str, Any]:
    """The page as data (``botinfo.json``), without its ``updated`` time (that comes from the feed)."""
    signals = []
    for signal in SIGNAL_IDS:
        ways = {
            p.value: [e.as_dict() for e in opt_outs(identity.token, p)[signal]] for p in identity.purposes
        }
        signals.append(
            {
                "id": signal,
                "what": SIGNAL_GLOSSARY[signal],
                "opt_out": ways if any(ways.values()) else None,
                "note": NOT_A_SITE_SIGNAL.get(signal),
            }
        )
    return {
        "schema": SCHEMA,
        "name": identity.token,
        "robots_token": identity.token,
        "user_agent": identity.user_agent,
        "page_url": identity.page_url,
        "operator": identity.operator,
        "contact": identity.email,
        "purposes": [{"id": p.value, "what": PURPOSE_TEXT[p]} for p in identity.purposes],
        "block_all": f"User-agent: {identity.token}\nDisallow: /",
        "verify_robots_txt": (
            "permitcrawl explain DIR URL shows, for any URL a crawl saw, the robots.txt it read, its "
            "sha256 and the rule that matched; the robots.txt matcher follows RFC 9309"
        ),
        "signals": signals,
        "signing": (
            {"key_id": identity.key_id, "key_directory": identity.key_directory, "scheme": "web-bot-auth"}
            if identity.key_id
            else None
        ),
        "client_ranges": identity.client_ranges,
        "behaviour": behaviour,
        "exemptions": [],
    }


def content_hash(data: dict[str, Any]) -> str:
    """The sha256 of the page's content (its JSON, keys sorted, without the ``updated`` time)."""
    body = {k: v for k, v in data.items() if k != "updated"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One entry of the feed: one version of the page."""

    id: str
    updated: str
    title: str
    summary: str
    sha256: str


@dataclass(frozen=True)
class Feed:
    """The feed as read back: its id and its entries, newest first."""

    id: str
    entries: tuple[Entry, ...]


class FeedError(ValueError):
    """An existing feed that cannot be read back (it is then left as it is)."""


def read_feed(text: str) -> Feed:
    """Read a feed this module wrote; raise FeedError saying what is wrong."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise FeedError(f"is not XML ({exc})") from None
    if root.tag != f"{{{ATOM}}}feed":
        raise FeedError("is not an Atom feed")
    entries = []
    for element in root.findall(f"{{{ATOM}}}entry"):
        fields = {
            name: element.findtext(f"{{{ATOM}}}{name}") for name in ("id", "updated", "title", "summary")
        }
        sha256 = element.findtext(f"{{{OURS}}}sha256")
        if not all(fields.values()) or not sha256:
            raise FeedError("has an entry without id, updated, title, summary or its content hash")
        entries.append(Entry(sha256=sha256, **{k: str(v) for k, v in fields.items()}))
    feed_id = root.findtext(f"{{{ATOM}}}id")
    if not feed_id:
        raise FeedError("has no id")
    return Feed(feed_id, tuple(entries))


def changed_keys(previous: dict[str, Any] | None, data: dict[str, Any]) -> list[str]:
    """The top-level keys whose values differ (every key of ``data`` if there is no previous page)."""
    if previous is None:
        return []
    keys = sorted(set(previous) | set(data))
    return [k for k in keys if k != "updated" and previous.get(k) != data.get(k)]


def next_feed(
    feed: Feed | None, data: dict[str, Any], previous: dict[str, Any] | None, now: datetime
) -> Feed:
    """``feed`` with an entry for ``data`` if its content differs from the newest entry's (else as it was)."""
    digest = content_hash(data)
    if feed is not None and feed.entries and feed.entries[0].sha256 == digest:
        return feed
    changed = changed_keys(previous, data) if feed is not None and feed.entries else []
    summary = (
        "Changed: " + ", ".join(changed) + "."
        if changed
        else "First version of the page."
        if feed is None or not feed.entries
        else "The page changed."
    )
    entry = Entry(
        id=f"urn:uuid:{uuid.uuid4()}",
        updated=now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        title=f"{data['name']}: crawler page updated",
        summary=summary,
        sha256=digest,
    )
    return Feed(
        feed.id if feed is not None else f"urn:uuid:{uuid.uuid4()}", (entry, *(feed.entries if feed else ()))
    )


def feed_atom(feed: Feed, data: dict[str, Any]) -> str:
    """The feed as Atom XML (RFC 4287): its id kept, each entry with its id, date and content hash."""
    ElementTree.register_namespace("", ATOM)
    ElementTree.register_namespace("pc", OURS)
    root = ElementTree.Element(f"{{{ATOM}}}feed")

    def sub(parent: ElementTree.Element, name: str, text: str | None = None, **attrs: str) -> None:
        child = ElementTree.SubElement(parent, name, attrs)
        child.text = text

    sub(root, f"{{{ATOM}}}id", feed.id)
    sub(root, f"{{{ATOM}}}title", f"{data['name']}: changes to the crawler's page")
    sub(root, f"{{{ATOM}}}updated", feed.entries[0].updated)
    author = ElementTree.SubElement(root, f"{{{ATOM}}}author")
    sub(author, f"{{{ATOM}}}name", data.get("operator") or data["name"])
    sub(root, f"{{{ATOM}}}link", rel="alternate", href=data["page_url"])
    for entry in feed.entries:
        element = ElementTree.SubElement(root, f"{{{ATOM}}}entry")
        sub(element, f"{{{ATOM}}}id", entry.id)
        sub(element, f"{{{ATOM}}}title", entry.title)
        sub(element, f"{{{ATOM}}}updated", entry.updated)
        sub(element, f"{{{ATOM}}}summary", entry.summary)
        sub(element, f"{{{ATOM}}}link", rel="alternate", href=data["page_url"])
        sub(element, f"{{{OURS}}}sha256", entry.sha256)
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"


def _pre(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"


def _examples(ways: dict[str, list[dict[str, str]]]) -> str:
    parts = []
    for purpose, examples in ways.items():
        if not examples:
            parts.append(f"<p><em>{html.escape(purpose)}</em>: not read for this purpose.</p>")
            continue
        items = "".join(f"<li>{html.escape(e['where'])}:{_pre(e['text'])}</li>" for e in examples)
        parts.append(f"<p><em>{html.escape(purpose)}</em>:</p><ul>{items}</ul>")
    return "".join(parts)


def page_html(data: dict[str, Any], *, feed_file: str = FEED_FILE, json_file: str = JSON_FILE) -> str:
    """The page as one self-contained HTML document (every value escaped)."""
    e = html.escape
    name = e(data["name"])
    rows = []
    for signal in data["signals"]:
        how = _examples(signal["opt_out"]) if signal["opt_out"] else f"<p>{e(signal['note'] or '')}</p>"
        rows.append(
            f"<tr><td><code>{e(signal['id'])}</code></td><td>{e(signal['what'])}</td><td>{how}</td></tr>"
        )
    signing = data["signing"]
    verify = (
        f"<p>Every request is signed (Web Bot Auth, HTTP Message Signatures) with key "
        f"<code>{e(signing['key_id'])}</code>; its public key is in the key directory "
        f'<a href="{e(signing["key_directory"])}">{e(signing["key_directory"])}</a>.</p>'
        if signing
        else "<p>Requests are not signed: match the User-Agent and robots token.</p>"
    )
    ranges = f'<link rel="client-ranges" href="{e(data["client_ranges"])}">' if data["client_ranges"] else ""
    contact = (
        f'<a href="mailto:{e(data["contact"])}">{e(data["contact"])}</a>'
        if data["contact"]
        else f'<a href="{e(data["page_url"])}">this page</a>'
    )
    behaviour = "".join(
        f"<li><strong>{e(k)}</strong>: {e(str(v))}</li>" for k, v in data["behaviour"].items()
    )
    purposes = "".join(f"<li><code>{e(p['id'])}</code>: {e(p['what'])}</li>" for p in data["purposes"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{name}: the crawler</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="alternate" type="application/atom+xml" title="Changes to this page" href="{e(feed_file)}">
<link rel="alternate" type="application/json" href="{e(json_file)}">{ranges}
<style>body{{font:15px/1.45 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #ccc;padding:.4em;vertical-align:top;text-align:left}}
pre{{background:#f4f4f4;padding:.4em;margin:.2em 0;white-space:pre-wrap}}code{{background:#f4f4f4}}</style>
</head><body>
<h1>{name}</h1>
<p>User-Agent: <code>{e(data["user_agent"])}</code><br>
robots.txt token: <code>{e(data["robots_token"])}</code><br>
Operator: {e(data["operator"] or "not given")}<br>Contact: {contact}<br>
Last changed: {e(data.get("updated") or "")}
(<a href="{e(feed_file)}">Atom feed of changes</a>, <a href="{e(json_file)}">this page as JSON</a>)</p>
<h2>What it collects for</h2><ul>{purposes}</ul>
<h2>How to block it</h2>
<p>Everything, in robots.txt (RFC 9309):</p>{_pre(data["block_all"])}
<p>To check what it read: {e(data["verify_robots_txt"])}.</p>
<h2>Every signal it honours, and how to use each to opt out</h2>
<table><tr><th>Signal</th><th>What it reads</th><th>How to opt out</th></tr>
{"".join(rows)}
</table>
<h2>How it behaves</h2><ul>{behaviour}</ul>
<h2>How to verify it is us</h2>{verify}
</body></html>
"""


def render(
    identity: Identity,
    behaviour: dict[str, Any],
    *,
    previous_feed: str | None,
    previous_json: str | None,
    now: datetime,
) -> tuple[dict[str, str], bool]:
    """The three files (name -> text) of the page, and whether the feed got an entry.

    ``previous_feed`` and ``previous_json`` are the files an earlier run wrote
    (None: none). Raise FeedError if the earlier feed cannot be read back:
    its history is not to be lost.
    """
    data = page_data(identity, behaviour)
    feed = read_feed(previous_feed) if previous_feed is not None else None
    previous = _json_or_none(previous_json)
    new_feed = next_feed(feed, data, previous, now)
    data["updated"] = new_feed.entries[0].updated
    files = {
        JSON_FILE: json.dumps(data, indent=2, ensure_ascii=False) + "\n",
        HTML_FILE: page_html(data),
        FEED_FILE: feed_atom(new_feed, data),
    }
    return files, new_feed is not feed


def _json_or_none(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def purposes_of(values: Sequence[str]) -> tuple[Purpose, ...]:
    """The purposes named, in Purpose order, each once."""
    named = {Purpose.parse(v) for v in values}
    return tuple(p for p in Purpose if p in named)
