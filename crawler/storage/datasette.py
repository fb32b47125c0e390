"""A Datasette configuration for a crawl's provenance.db: table descriptions and canned queries.

No Scrapy here. The same JSON works as ``datasette provenance.db -m datasette.json``
(Datasette 0.x, where canned queries live in metadata) and as ``-c
datasette.json`` (Datasette 1.0, where they live in configuration). The queries
answer what a dataset's users and the EU AI Act's public training-data summary
ask: which pages are usable for a purpose, what was refused and why, and the
top domains by volume per crawl.
"""

from __future__ import annotations

from typing import Any

from crawler.storage.queries import REVOKED, USABLE

DATABASE = "provenance"

QUERIES: dict[str, dict[str, str]] = {
    "usable_pages": {
        "title": "Usable pages by purpose",
        "description": "Captures permitted for the purpose, with a 2xx status, not revoked since.",
        "sql": f"""
select c.url, c.fetched_at, c.domain, c.content_type, c.payload_length, u.signal, u.reason,
       c.warc_file, c.warc_offset, c.crawl_id
from usage u join captures c on c.warc_record_id = u.capture_id
where u.purpose = :purpose and {USABLE}
order by c.fetched_at, c.url""",
    },
    "refusals_by_signal_and_domain": {
        "title": "Refusals by signal and domain",
        "description": "How many URLs each signal refused, per registrable domain and stage.",
        "sql": """
select signal, domain, stage, count(*) as refused, min(decided_at) as first, max(decided_at) as last
from refusals
group by signal, domain, stage
order by refused desc, signal, domain""",
    },
    "top_domains_per_crawl": {
        "title": "Top domains by volume per crawl",
        "description": "Bytes and pages per registrable domain in each crawl, largest first; decile 1 is "
        "the top 10% of domains by size (the EU AI Act training-data summary lists those).",
        "sql": f"""
select crawl_id, domain, pages, usable_pages, bytes,
       ntile(10) over (partition by crawl_id order by bytes desc) as decile
from (
    select c.crawl_id, c.domain, count(*) as pages,
           sum(coalesce((select 1 from usage u where u.capture_id = c.warc_record_id
                         and u.purpose = c.purpose and {USABLE}), 0)) as usable_pages,
           sum(coalesce(c.payload_length, 0)) as bytes
    from captures c
    group by c.crawl_id, c.domain
)
order by crawl_id, bytes desc, domain""",
    },
    "training_data_summary": {
        "title": "Training-data summary per crawl",
        "description": "Per crawl: purpose, period of collection, pages, usable pages, bytes, domains, "
        "refusals and revocations.",
        "sql": f"""
select k.id as crawl_id, k.purpose, k.started_at, k.finished_at,
       (select count(*) from captures c where c.crawl_id = k.id) as pages,
       (select count(*) from captures c join usage u on u.capture_id = c.warc_record_id
         and u.purpose = k.purpose where c.crawl_id = k.id and {USABLE}) as usable_pages,
       (select sum(payload_length) from captures c where c.crawl_id = k.id) as bytes,
       (select count(distinct domain) from captures c where c.crawl_id = k.id) as domains,
       (select count(*) from refusals r where r.crawl_id = k.id) as refused,
       (select count(*) from captures c join usage u on u.capture_id = c.warc_record_id
         and u.purpose = k.purpose where c.crawl_id = k.id and {REVOKED}) as revoked
from crawls k
where coalesce(k.kind, 'crawl') = 'crawl'
order by k.started_at""",
    },
    "ledger": {
        "title": "Ledger: rechecks, revocations, exports and purges",
        "description": "Every later action on the crawl (ledger), newest first.",
        "sql": """
select l.id, l.at, l.actor, l.action, l.scope, l.reason, l.count
from ledger l
order by l.at desc, l.id desc""",
    },
    "spend_by_domain": {
        "title": "Pay per crawl: spend by domain",
        "description": "Per registrable domain: pages paid for, the amount charged, and what is unsettled "
        "(counted at max-price: a request whose response never came). Amounts in the max-price's currency.",
        "sql": """
select domain, currency,
       sum(state = 'charged') as pages_paid,
       sum(case when state = 'charged' then cast(amount as real) else 0 end) as charged,
       sum(case when state = 'unsettled' then cast(amount as real) else 0 end) as unsettled
from charges
group by domain, currency
order by charged + unsettled desc, domain""",
    },
    "captures_by_day": {
        "title": "Captures and refusals by day",
        "description": "Per day (UTC): pages captured and URLs refused.",
        "sql": """
select day, sum(captured) as captured, sum(refused) as refused from (
    select substr(fetched_at, 1, 10) as day, 1 as captured, 0 as refused from captures
    union all
    select substr(decided_at, 1, 10), 0, 1 from refusals
)
group by day order by day""",
    },
}

TABLES = {
    "crawls": "One row per crawl, recheck and export: when, purpose, settings, statistics.",
    "captures": "One row per archived page (a view): where its records are in the WARC files, and its "
    "digests.",
    "usage": "Per capture and purpose: usable or not, the deciding signal, and every basis (JSON).",
    "refusals": "URLs not archived, before or after fetching, with the decision and its evidence.",
    "evidence": "Evidence documents (robots.txt, tdmrep.json, ai.txt, RSL, terms) and where they are.",
    "policy_rules": "The ToS rules in force during each crawl, as they were.",
    "ledger": "Later actions: recheck, revoke, export, purge, and every pay-per-crawl charge; who, when, "
    "what and why.",
    "revocations": "Captures no longer usable (for one purpose or all), and why.",
    "tombstones": "Captures physically erased from the WARC files: URL, digests, date, reason.",
    "charges": "Pay per crawl: one row per paid request, reserved before it was sent and settled by its "
    "response (crawler-charged), with its ledger entry.",
    "decisions": "Each distinct decision once, with its URL, time and path as placeholders (the views "
    "restore them).",
    "manifests": "Each distinct evidence manifest once: the WARC record ids a decision rested on.",
    "names": "Crawl ids, WARC file names and worker names, each once.",
    "verdicts": "Each distinct set of a capture's per-purpose verdicts once.",
    "verdict_usage": "Per verdict set and purpose: usable, signal, reason, decision.",
    "capture_rows": "The captures view's rows, with ids into decisions, manifests, names and verdicts.",
    "refusal_rows": "The refusals view's rows, with ids into decisions, manifests and names.",
}


def datasette_config(title: str) -> dict[str, Any]:
    """The Datasette metadata/configuration for a crawl directory's database."""
    queries = {}
    for name, query in QUERIES.items():
        queries[name] = {**query, "sql": query["sql"].strip()}
    return {
        "title": title,
        "description": "Provenance of a permitcrawl crawl: what was archived, what was refused, and why.",
        "databases": {
            DATABASE: {
                "tables": {name: {"description": text} for name, text in TABLES.items()},
                "queries": queries,
            }
        },
    }
