"""ProgressExtension: a one-line progress report on stderr while a crawl runs.

Enabled by the permitcrawl project settings; ``PROGRESS_INTERVAL`` (seconds,
0 to switch off) sets how often. It reads the stats the gate and the archive
keep, so it costs nothing per request.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler


def progress_line(stats: dict[str, object], elapsed: float) -> str:
    """Summarise crawl stats in one line."""

    def count(prefix: str) -> int:
        return sum(int(v) for k, v in stats.items() if k.startswith(prefix) and isinstance(v, int))

    captured = stats.get("archive/captures", 0)
    captured = captured if isinstance(captured, int) else 0
    refused_pre = count("policy/refused/pre-fetch/")
    refused_post = count("policy/refused/post-fetch/")
    hosts = count("policy/robots/")
    rate = captured / elapsed * 60 if elapsed > 0 else 0.0
    return (
        f"[permitcrawl] {elapsed:6.0f}s  captured {captured}  "
        f"refused {refused_pre} before / {refused_post} after fetching  "
        f"hosts {hosts}  ({rate:.0f} pages/min)"
    )


class ProgressExtension:
    """Writes :func:`progress_line` to a stream every interval."""

    def __init__(self, crawler: Crawler, interval: float, stream: TextIO = sys.stderr) -> None:
        self.crawler = crawler
        self.interval = interval
        self.stream = stream
        self._started = time.monotonic()
        self._task = task.LoopingCall(self.report)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        interval = crawler.settings.getfloat("PROGRESS_INTERVAL", 10.0)
        if interval <= 0:
            raise NotConfigured  # switched off on purpose: nothing to warn about
        return cls(crawler, interval)

    def report(self) -> None:
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        print(progress_line(stats, time.monotonic() - self._started), file=self.stream, flush=True)

    def spider_opened(self, spider: Spider) -> None:
        self._started = time.monotonic()
        self._task.start(self.interval, now=False)

    def spider_closed(self, spider: Spider) -> None:
        if self._task.running:
            self._task.stop()
