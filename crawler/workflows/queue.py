"""The maintainers' to-do list, read from crawl directories: domains to review, and why.

Three reasons, each with the pages at stake: ``no rule`` (seen in a crawl, no
rule in the store; ``held`` counts the URLs refused while waiting for it),
``terms changed`` (the terms found now differ from the text a rule was reviewed
on) and ``review due`` (a rule's review-by date has come). No Scrapy here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from policies.tos import HELD
from policies.urls import host_covers, registrable_domain

if TYPE_CHECKING:
    import sqlite_utils

    from policies.store import PolicyStore


@dataclass(frozen=True)
class KnownRule:
    """What the queue needs of a rule: where it applies, the terms digest it was reviewed on, its due date."""

    scope: str
    path: str
    tos_sha256: str | None
    review_by: date | None
    where: str


@dataclass
class QueueItem:
    """One domain to look at."""

    domain: str
    reason: str
    pages: int = 0
    refused: int = 0
    held: int = 0
    hosts: list[str] = field(default_factory=list)
    terms_url: str | None = None
    terms_sha256: str | None = None
    reviewed_sha256: str | None = None
    passages: list[str] = field(default_factory=list)
    rule: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def rules_from_store(store: PolicyStore) -> dict[str, list[KnownRule]]:
    """The store's rules, by registrable domain."""
    return {
        domain: [KnownRule(r.scope, r.path, r.tos_sha256, r.review_by, r.where) for r in rules]
        for domain, rules in store.rules.items()
    }


def rules_from_crawls(dbs: list[sqlite_utils.Database]) -> dict[str, list[KnownRule]]:
    """The rules the crawls recorded as in force (when no store is given)."""
    found: dict[str, list[KnownRule]] = defaultdict(list)
    for db in dbs:
        for row in db.query("select domain, file, line, content from policy_rules"):
            content = json.loads(row["content"])
            found[row["domain"]].append(
                KnownRule(
                    content["scope"],
                    content["path"],
                    content.get("tos_sha256"),
                    date.fromisoformat(content["review_by"]),
                    f"{row['file']}:{row['line']}",
                )
            )
    return dict(found)


def _rule_for(rules: list[KnownRule], host: str) -> KnownRule | None:
    covering = [r for r in rules if host_covers(r.scope, host) and r.path == "/"]
    return max(covering, key=lambda r: r.scope.count("."), default=None)


def _terms_fields(found: dict[str, Any]) -> dict[str, Any]:
    """The QueueItem fields of a terms page found (an ``evidence`` row)."""
    return {
        "terms_url": found["final_url"] or found["url"],
        "terms_sha256": found["text_sha256"],
        "passages": json.loads(found["passages"] or "[]"),
    }


def build_queue(
    dbs: list[sqlite_utils.Database], rules: dict[str, list[KnownRule]], today: date
) -> list[QueueItem]:
    """Every domain that needs a maintainer, most pages first.

    "no rule" is reported for the hosts of a domain that no rule covers (a
    domain may have rules for some of its subdomains only).
    """
    pages: dict[str, int] = defaultdict(int)
    refused: dict[str, int] = defaultdict(int)
    held: dict[str, int] = defaultdict(int)
    terms: dict[str, dict[str, Any]] = {}
    for db in dbs:
        for host, count in db.execute("select host, count(*) from captures group by host"):
            pages[host] += count
        for host, count in db.execute("select host, count(*) from refusals group by host"):
            refused[host] += count
            pages[host] += count
        held_sql = (
            "select host, count(*) from refusals where signal = 'tos-policy' and reason like ? group by host"
        )
        for host, count in db.execute(held_sql, [f"%{HELD}%"]):
            held[host] += count
        for row in db.query(
            "select origin, final_url, url, text_sha256, passages, fetched_at from evidence "
            "where kind = 'terms' and text_sha256 is not null order by fetched_at"
        ):
            # Keyed as captures name their host (an IPv6 origin is bracketed, a host column is not).
            terms[urlsplit(row["origin"]).hostname or ""] = row  # the latest wins
    by_domain: dict[str, list[str]] = defaultdict(list)
    for host in pages:
        by_domain[registrable_domain(host)].append(host)
    items: list[QueueItem] = []
    for domain, hosts in sorted(by_domain.items()):
        domain_rules = rules.get(domain, [])
        uncovered = sorted(h for h in hosts if not any(host_covers(r.scope, h) for r in domain_rules))
        if uncovered:
            found = next((terms[h] for h in uncovered if h in terms), None)
            items.append(
                QueueItem(
                    domain,
                    "no rule",
                    pages=sum(pages[h] for h in uncovered),
                    refused=sum(refused[h] for h in uncovered),
                    held=sum(held[h] for h in uncovered),
                    hosts=uncovered,
                    **(_terms_fields(found) if found else {}),
                )
            )
        for host in sorted(h for h in hosts if h in terms and h not in uncovered):
            rule = _rule_for(domain_rules, host)
            found = terms[host]
            if rule and rule.tos_sha256 and rule.tos_sha256 != found["text_sha256"]:
                items.append(
                    QueueItem(
                        domain,
                        "terms changed",
                        pages=pages[host],
                        refused=refused[host],
                        held=held[host],
                        hosts=[host],
                        reviewed_sha256=rule.tos_sha256,
                        rule=rule.where,
                        **_terms_fields(found),
                    )
                )
        for rule in domain_rules:
            if rule.review_by is not None and today >= rule.review_by:
                covered = [h for h in hosts if host_covers(rule.scope, h)]
                items.append(
                    QueueItem(
                        domain,
                        "review due",
                        pages=sum(pages[h] for h in covered),
                        refused=sum(refused[h] for h in covered),
                        hosts=covered,
                        rule=rule.where,
                    )
                )
    order = {"terms changed": 0, "no rule": 1, "review due": 2}
    items.sort(key=lambda i: (-i.pages, order[i.reason], i.domain))
    return items
