"""The current provenance schema, written out: the tables and views a database of the newest version has.

No code here: a snapshot of what :func:`crawler.storage.provenance.expected_schema` computes for
the newest version by running every migration in memory, kept so that opening a database does
not pay for that on every command (about 20 ms of start-up). A test checks it against the
migrations, so a new migration without a new snapshot fails the suite.
"""

from __future__ import annotations

VERSION = 6

TABLES: dict[str, frozenset[str]] = {
    "capture_rows": frozenset(
        {
            "block_digest",
            "content_type",
            "crawl_ref",
            "decided_at",
            "depth",
            "domain",
            "epoch",
            "fetched_at",
            "host",
            "id",
            "manifest_id",
            "metadata_record_id",
            "payload_digest",
            "payload_length",
            "payload_sha256",
            "purpose",
            "reason",
            "redirected_from",
            "referer",
            "request_record_id",
            "shard",
            "signal",
            "status",
            "url",
            "verdict_id",
            "warc_file_ref",
            "warc_length",
            "warc_offset",
            "warc_record_id",
            "worker_ref",
        }
    ),
    "captures": frozenset(
        {
            "block_digest",
            "content_type",
            "crawl_id",
            "decided_at",
            "depth",
            "domain",
            "epoch",
            "evidence",
            "fetched_at",
            "host",
            "manifest_id",
            "metadata_record_id",
            "payload_digest",
            "payload_length",
            "payload_sha256",
            "purpose",
            "reason",
            "redirected_from",
            "referer",
            "request_record_id",
            "shard",
            "signal",
            "status",
            "url",
            "verdict_id",
            "warc_file",
            "warc_length",
            "warc_offset",
            "warc_record_id",
            "worker",
        }
    ),
    "crawls": frozenset(
        {
            "config_record_id",
            "default_policy",
            "finish_reason",
            "finished_at",
            "hostname",
            "id",
            "kind",
            "pid",
            "purpose",
            "robots_token",
            "seeds",
            "settings",
            "software",
            "started_at",
            "stats",
            "user_agent",
            "version",
        }
    ),
    "decisions": frozenset({"body", "id", "sha256"}),
    "evidence": frozenset(
        {
            "crawl_id",
            "error",
            "fetched_at",
            "final_url",
            "id",
            "kind",
            "length",
            "origin",
            "outcome",
            "passages",
            "sha256",
            "status",
            "text_sha256",
            "truncated",
            "url",
            "warc_file",
            "warc_length",
            "warc_offset",
            "warc_record_id",
        }
    ),
    "leases": frozenset({"acquired_at", "crawl_id", "epoch", "shard", "worker"}),
    "ledger": frozenset({"action", "actor", "at", "count", "details", "id", "reason", "scope"}),
    "manifests": frozenset({"body", "id", "sha256"}),
    "names": frozenset({"id", "name"}),
    "policy_rules": frozenset(
        {"content", "crawl_id", "domain", "file", "line", "path", "scope", "tos_sha256", "version"}
    ),
    "refusal_rows": frozenset(
        {
            "crawl_ref",
            "decided_at",
            "decision_id",
            "domain",
            "epoch",
            "host",
            "id",
            "manifest_id",
            "purpose",
            "reason",
            "response_headers",
            "shard",
            "signal",
            "stage",
            "status",
            "url",
            "worker_ref",
        }
    ),
    "refusals": frozenset(
        {
            "crawl_id",
            "decided_at",
            "decision",
            "decision_id",
            "domain",
            "epoch",
            "evidence",
            "host",
            "id",
            "manifest_id",
            "purpose",
            "reason",
            "response_headers",
            "shard",
            "signal",
            "stage",
            "status",
            "url",
            "worker",
        }
    ),
    "revocations": frozenset(
        {"actor", "at", "capture_id", "decision", "id", "ledger_id", "purpose", "reason", "source", "url"}
    ),
    "superseded": frozenset({"found_at", "reason", "url", "warc_file", "warc_offset", "warc_record_id"}),
    "tombstones": frozenset(
        {
            "capture_id",
            "ledger_id",
            "payload_digest",
            "payload_sha256",
            "purged_at",
            "reason",
            "url",
            "warc_file",
        }
    ),
    "usage": frozenset({"capture_id", "decision", "decision_id", "purpose", "reason", "signal", "usable"}),
    "verdict_usage": frozenset({"decision_id", "purpose", "reason", "signal", "usable", "verdict_id"}),
    "verdicts": frozenset({"id", "sha256"}),
}
