"""RecheckSpider: asks the gate to judge captured URLs again, under their sites' current evidence.

It requests nothing itself: each URL goes to the gate marked ``policy_recheck``;
the gate gathers the host's evidence afresh (fetching and archiving it), decides
for every purpose, sends ``recheck_decided`` and drops the request. The spider
keeps what the gate decided, and which of each host's documents could not be
read, for the recheck command to compare with the decisions recorded at
capture time.

A failed fetch is not new evidence (RFC 9309 §2.4 keeps the last good copy in
force when a fetch fails): :meth:`RecheckSpider.reservation` gives a
reservation only where a document read whole made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy import Request, Spider

from crawler.adapters import signals as our_signals
from policies.evidence import unread_documents
from policies.urls import origin_of

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable
    from typing import Self

    from scrapy.crawler import Crawler

    from policies.decision import Basis, Decision
    from policies.document import Document
    from policies.evidence import HostEvidence
    from policies.purpose import Purpose


def fetch_failure(document: Document) -> str | None:
    """Why fetching an evidence document gave nothing to read, or None when it gave an answer.

    No answer, a 429 or 5xx, a redirect not followed, an error, a body not
    read whole: the site said nothing we could read. Any other status (a 404
    included: the document does not exist) is the site's answer.
    """
    status = document.status
    if document.error is not None or document.incomplete is not None or status is None:
        return document.describe()
    if status == 429 or status >= 500 or 300 <= status < 400:
        return document.describe()
    return None


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


@dataclass(frozen=True)
class Rechecked:
    """One URL judged again: its origin, its decisions on the evidence fetched and on what was read whole."""

    origin: str
    decisions: dict[Purpose, Decision]
    grounded: dict[Purpose, Decision] | None


class RecheckSpider(Spider):
    """Sends every URL to the gate for a fresh pre-fetch decision.

    ``progress(line)``, if given, is told each time a host's evidence is in.
    """

    name = "recheck"
    crawl_kind = "recheck"

    def __init__(
        self,
        urls: Iterable[str] = (),
        progress: Callable[[str], None] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.urls = list(urls)
        self.progress = progress
        self.seeds = sorted({url.split("/", 3)[2] for url in self.urls})  # the hosts, for the crawl record
        self.origins = sorted({origin_of(url) for url in self.urls})
        self.results: dict[str, Rechecked] = {}
        # origin -> {document URL (or "" for the host as a whole): why it could not be read}
        self.unread: dict[str, dict[str, str]] = {}
        self._failed: dict[str, str] = {}  # evidence URL -> why its fetch gave nothing to read
        self._ready: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.recheck_decided, signal=our_signals.recheck_decided)
        crawler.signals.connect(spider.evidence_fetched, signal=our_signals.evidence_fetched)
        crawler.signals.connect(spider.host_evidence_ready, signal=our_signals.host_evidence_ready)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        for url in self.urls:
            yield Request(url, dont_filter=True, meta={"policy_recheck": True}, callback=self.parse)

    def evidence_fetched(self, document: Document, **_: Any) -> None:
        why = fetch_failure(document)
        if why is not None:
            self._failed[document.url] = why

    def host_evidence_ready(self, evidence: HostEvidence) -> None:
        """Note which of the host's documents could not be read, and report the host done."""
        urls = [evidence.robots.url, *(f.evidence.url for f in evidence.licences)]
        urls += [d.url for d in (evidence.tdmrep, evidence.aitxt) if d is not None]
        if evidence.terms is not None:
            urls += [u for u in (evidence.terms.home_url, evidence.terms.terms_url) if u]
        unread = {url: self._failed[url] for url in urls if url in self._failed}
        unread.update(unread_documents(evidence))
        if unread:
            self.unread[evidence.origin] = unread
        if evidence.origin in self.origins and evidence.origin not in self._ready:
            self._ready.add(evidence.origin)
            state = f"{_count(len(unread), 'document')} not read (listed at the end)" if unread else "read"
            self._report(f"[{len(self._ready)}/{len(self.origins)}] {evidence.origin}: {state}")

    def recheck_decided(
        self,
        request: Request,
        decisions: dict[Purpose, Decision],
        grounded: dict[Purpose, Decision] | None = None,
    ) -> None:
        origin = origin_of(request.url)
        self.results[request.url] = Rechecked(origin, decisions, grounded)
        if grounded is None and origin not in self.unread:
            # Judged on nothing read (an error while judging): the host was not rechecked.
            reason = next(iter(decisions.values())).reason
            self.unread[origin] = {"": reason}

    def not_rechecked(self) -> dict[str, list[str]]:
        """The hosts not rechecked in full, each with why: documents not read, URLs not judged."""
        hosts = {origin: list(reasons.values()) for origin, reasons in self.unread.items()}
        for url in self.urls:
            if url not in self.results:
                hosts.setdefault(origin_of(url), []).append(f"{url} was not judged again (see the log)")
        return dict(sorted(hosts.items()))

    def reservation(self, url: str, purpose: Purpose) -> tuple[Decision, Basis] | None:
        """The decision that now refuses ``url`` for ``purpose`` and the basis, read whole, it refuses
        on; None when nothing read whole reserves it.

        A refusal resting only on documents that could not be read (an
        unreachable robots.txt, a cut tdmrep.json) is no reservation. Nor,
        on a host with such a document, is a refusal by the default policy
        alone: the grant it lacks may be in what could not be read.
        """
        rechecked = self.results.get(url)
        if rechecked is None or rechecked.grounded is None:
            return None
        decision, grounded = rechecked.decisions[purpose], rechecked.grounded[purpose]
        if decision.allowed or grounded.allowed:
            return None
        read_in_full = rechecked.origin not in self.unread
        basis = next((b for b in grounded.denying if b.signal != "default" or read_in_full), None)
        return (decision, basis) if basis is not None else None

    def _report(self, line: str) -> None:
        if self.progress is not None:
            self.progress(line)

    def parse(self, response: Any) -> None:  # never called: the gate drops every request
        return None
