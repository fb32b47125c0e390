"""RecheckSpider: asks the gate to judge captured URLs again, under their sites' current evidence.

It requests nothing itself: each URL goes to the gate marked ``policy_recheck``;
the gate gathers the host's evidence afresh (fetching and archiving it), decides
for every purpose, sends ``recheck_decided`` and drops the request. The spider
keeps what the gate decided, for the recheck command to compare with the
decisions recorded at capture time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy import Request, Spider

from crawler import signals as our_signals

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable
    from typing import Self

    from scrapy.crawler import Crawler

    from policies.decision import Decision
    from policies.purpose import Purpose


class RecheckSpider(Spider):
    """Sends every URL to the gate for a fresh pre-fetch decision."""

    name = "recheck"
    crawl_kind = "recheck"

    def __init__(self, urls: Iterable[str] = (), *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.urls = list(urls)
        self.seeds = sorted({url.split("/", 3)[2] for url in self.urls})  # the hosts, for the crawl record
        self.decisions: dict[str, dict[str, dict[str, Any]]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.recheck_decided, signal=our_signals.recheck_decided)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        for url in self.urls:
            yield Request(url, dont_filter=True, meta={"policy_recheck": True}, callback=self.parse)

    def recheck_decided(self, request: Request, decisions: dict[Purpose, Decision]) -> None:
        self.decisions[request.url] = {purpose.value: d.as_dict() for purpose, d in decisions.items()}

    def parse(self, response: Any) -> None:  # never called: the gate drops every request
        return None
