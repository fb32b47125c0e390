"""PolicyAddon: switches permitcrawl on in any Scrapy project.

``ADDONS = {"crawler.adapters.addon.PolicyAddon": 0}`` installs the gate in place of
Scrapy's RobotsTxtMiddleware, strict decompression in place of its
HttpCompressionMiddleware, the archive extension, the per-host page budget,
the crawl's page budget, our settings' defaults, polite defaults (AutoThrottle
on, bounded per-host concurrency, a User-Agent carrying the robots token),
no listening console (Scrapy's telnet console and remote control off) and
bounds (page size, download time, depth). Everything is set at "addon" priority,
so the project's settings.py and ``-s NAME=VALUE`` still win.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware

from crawler.adapters.bounds import HostBudgetMiddleware, LinkBoundsMiddleware, PageBudgetMiddleware
from crawler.adapters.decompression import StrictDecompressionMiddleware
from crawler.adapters.extensions import ArchiveExtension
from crawler.adapters.middlewares import PolicyGateMiddleware
from crawler.adapters.payment import PAYMENT_PRIORITY, PaymentMiddleware
from crawler.judging.config import DEFAULTS, user_agent

if TYPE_CHECKING:
    from scrapy.settings import Settings

GATE_PRIORITY = 100  # where RobotsTxtMiddleware was: before cookies, proxies and retries add their say
DECOMPRESSION_PRIORITY = 590  # where HttpCompressionMiddleware was
BUDGET_PRIORITY = 101  # just after the gate: only requests the gate lets out are counted
PAGE_BUDGET_PRIORITY = 102  # after both: a page waits for the crawl's budget only once it may go
DEPTH_REPORT_PRIORITY = 901  # sees the spider's output just before DepthMiddleware (900) drops links

POLITE_DEFAULTS = {
    "AUTOTHROTTLE_ENABLED": True,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
    "ROBOTSTXT_OBEY": False,  # the gate obeys robots.txt; the stock middleware is removed
}

# Nothing listens on a port while a crawl runs unless asked for: Scrapy's telnet console
# (127.0.0.1:6023...) and its remote-control HTTP server both run code sent to them.
# Either can be switched on with -s TELNETCONSOLE_ENABLED=True or REMOTE_CONTROL_ENABLED=True.
QUIET_DEFAULTS = {
    "TELNETCONSOLE_ENABLED": False,
    "REMOTE_CONTROL_ENABLED": False,
}

# Bounds no site can push a crawl past (Scrapy's own defaults allow 1 GiB bodies,
# 3-minute downloads and unlimited depth). Each can be set like any setting.
BOUNDS = {
    "DOWNLOAD_MAXSIZE": 10 * 1024 * 1024,  # bytes of a page, counted after decompression
    "DOWNLOAD_WARNSIZE": 4 * 1024 * 1024,
    "DOWNLOAD_TIMEOUT": 30,
    "DEPTH_LIMIT": 20,  # links followed from a seed (Heritrix's max-hops default)
}


class PolicyAddon:
    """Scrapy add-on that installs the permission gate and the archive."""

    def update_settings(self, settings: Settings) -> None:
        for name, value in {**DEFAULTS, **POLITE_DEFAULTS, **QUIET_DEFAULTS, **BOUNDS}.items():
            settings.set(name, value, priority="addon")
        token = settings.get("POLICY_ROBOTS_TOKEN")
        contact = settings.get("POLICY_CONTACT_URL")
        settings.set("USER_AGENT", user_agent(str(token), str(contact)), priority="addon")
        settings.set_in_component_priority_dict("DOWNLOADER_MIDDLEWARES", RobotsTxtMiddleware, None)
        settings.set_in_component_priority_dict("DOWNLOADER_MIDDLEWARES", HttpCompressionMiddleware, None)
        settings.set_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", StrictDecompressionMiddleware, DECOMPRESSION_PRIORITY
        )
        settings.set_in_component_priority_dict("DOWNLOADER_MIDDLEWARES", PolicyGateMiddleware, GATE_PRIORITY)
        settings.set_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", HostBudgetMiddleware, BUDGET_PRIORITY
        )
        settings.set_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", PageBudgetMiddleware, PAGE_BUDGET_PRIORITY
        )
        settings.set_in_component_priority_dict("DOWNLOADER_MIDDLEWARES", PaymentMiddleware, PAYMENT_PRIORITY)
        settings.set_in_component_priority_dict(
            "SPIDER_MIDDLEWARES", LinkBoundsMiddleware, DEPTH_REPORT_PRIORITY
        )
        settings.set_in_component_priority_dict("EXTENSIONS", ArchiveExtension, 0)
