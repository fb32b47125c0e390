"""What the crawler knows about one host before judging its pages."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from policies.robots import RobotsOutcome

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from policies.aitxt import AiTxtEvidence
    from policies.robots import RobotsEvidence
    from policies.rsl import FoundLicence, LicenceToken
    from policies.tdmrep import TdmRepEvidence
    from policies.terms import TermsEvidence


@dataclass(frozen=True, kw_only=True, slots=True)
class HostEvidence:
    """The evidence gathered for one origin (scheme, host, port), valid until ``expires_at``.

    ``tdmrep`` and ``aitxt`` are None when they were not fetched (robots.txt
    unreachable: nothing on the host is crawled anyway); ``licences`` are the
    RSL documents robots.txt names for us; ``terms`` the host's terms page
    (None when no policy store is in use). ``licence_tokens`` are the RSL
    licence tokens obtained (or refused) for the URL being judged: set by the
    gate on its copy for that URL, never on the cached evidence; None when
    tokens are not asked for (a recheck: see :func:`policies.rsl.rsl_basis`).
    """

    origin: str
    robots: RobotsEvidence
    fetched_at: datetime
    expires_at: datetime
    tdmrep: TdmRepEvidence | None = None
    aitxt: AiTxtEvidence | None = None
    licences: tuple[FoundLicence, ...] = ()
    terms: TermsEvidence | None = None
    licence_tokens: tuple[LicenceToken, ...] | None = ()

    def is_fresh(self, now: datetime) -> bool:
        """Return True while the evidence may still be used (RFC 9309 §2.4: 24 h at most)."""
        return now < self.expires_at

    def variants(self) -> Iterator[tuple[str, str, HostEvidence]]:
        """The host's other plausible readings, as ``(signal, how, evidence)``.

        Each varies one document (robots.txt, tdmrep.json, ai.txt read another
        way) and keeps the others as first read.
        """
        for robots in self.robots.variants:
            yield "robots", f"robots.txt: {robots.source}", replace(self, robots=robots)
        if self.tdmrep is not None:
            for tdmrep in self.tdmrep.variants:
                yield "tdmrep", f"tdmrep.json: {tdmrep.source}", replace(self, tdmrep=tdmrep)
        if self.aitxt is not None:
            for aitxt in self.aitxt.variants:
                yield "ai-txt", f"ai.txt: {aitxt.source}", replace(self, aitxt=aitxt)


def unread_documents(host: HostEvidence) -> dict[str, str]:
    """The host's evidence documents that could not be read whole, as ``{url: why}``.

    A robots.txt that was unreachable (no answer, 429, 5xx, not read whole,
    past a bound), a tdmrep.json or ai.txt that was not read whole or could
    not be read, a licence robots.txt names that could not be fetched or
    read, terms that could not be read. Each one's verdict is an error, not
    something the site said.
    """
    found: dict[str, str] = {}
    if host.robots.outcome is RobotsOutcome.UNREACHABLE:
        found[host.robots.url] = f"robots.txt unreachable: {host.robots.source}"
    for document in (host.tdmrep, host.aitxt):
        if document is not None and document.error is not None:
            found[document.url] = f"{document.error} ({document.source})"
    for licence in host.licences:
        if licence.evidence.document is None:
            found[licence.evidence.url] = f"licence: {licence.evidence.problem} ({licence.evidence.source})"
    terms = host.terms
    if terms is not None and terms.unread is not None and terms.terms_url is not None:
        found[terms.terms_url] = f"terms: could not be read ({terms.unread})"
    return found


def read_whole(host: HostEvidence) -> HostEvidence | None:
    """The host's evidence without the documents :func:`unread_documents` names, as if never fetched;
    None when its robots.txt was not read (then nothing else was fetched: nothing can be judged).

    What is left is what the site actually said: a decision on it rests on no
    failed fetch. ``host`` itself when every document was read whole.
    """
    if host.robots.outcome is RobotsOutcome.UNREACHABLE:
        return None
    unread = unread_documents(host)
    if not unread:
        return host
    return replace(
        host,
        tdmrep=None if host.tdmrep is not None and host.tdmrep.url in unread else host.tdmrep,
        aitxt=None if host.aitxt is not None and host.aitxt.url in unread else host.aitxt,
        licences=tuple(found for found in host.licences if found.evidence.url not in unread),
        terms=None if host.terms is not None and host.terms.terms_url in unread else host.terms,
    )


def _entry(
    url: str | None, record_id: str | None, source: str, incomplete: str | None = None, **extra: object
) -> dict[str, object]:
    entry: dict[str, object] = {"url": url, "record_id": record_id, **extra}
    if record_id is None:
        entry["source"] = source  # nothing archived: the source says why (an error, not fetched)
        if incomplete is not None:
            entry["incomplete"] = incomplete  # begun and not read whole: an error, not an absence
    return entry


def evidence_manifest(host: HostEvidence, licences: tuple[FoundLicence, ...] = ()) -> dict[str, object]:
    """Which evidence documents a decision rested on, by WARC record id: enough to rebuild it offline.

    ``licences`` are the page's own licence documents (post-fetch).
    """
    robots = host.robots
    manifest: dict[str, object] = {
        "origin": host.origin,
        "fetched_at": host.fetched_at.isoformat(),
        "robots.txt": _entry(robots.url, robots.record_id, robots.source),
    }
    if host.tdmrep is not None:
        tdm = host.tdmrep
        manifest["tdmrep.json"] = _entry(tdm.url, tdm.record_id, tdm.source, tdm.error)
    if host.aitxt is not None:
        ai = host.aitxt
        manifest["ai.txt"] = _entry(ai.url, ai.record_id, ai.source, ai.error)
    manifest["rsl"] = [
        _entry(found.evidence.url, found.evidence.record_id, found.evidence.source, found_in=found.found_in)
        for found in (*host.licences, *licences)
    ]
    if host.licence_tokens:
        # The tokens' records (never the tokens): what the rsl basis was judged with, for audit.
        manifest["licence_tokens"] = [token.as_dict() for token in host.licence_tokens]
    if host.terms is not None:
        terms = host.terms
        manifest["terms"] = _entry(
            terms.terms_url, terms.record_id, terms.source, home_url=terms.home_url, problem=terms.problem
        )
    return manifest


def manifest_record_ids(manifest: dict[str, object]) -> list[str]:
    """The WARC record ids of the evidence documents a manifest names, in manifest order."""
    entries: list[object] = [manifest.get(key) for key in ("robots.txt", "tdmrep.json", "ai.txt", "terms")]
    rsl = manifest.get("rsl")
    if isinstance(rsl, list):
        entries += rsl
    ids = []
    for entry in entries:
        record_id = entry.get("record_id") if isinstance(entry, dict) else None
        if isinstance(record_id, str) and record_id not in ids:
            ids.append(record_id)
    return ids
