"""PolicyAddon: switches permitcrawl on in any Scrapy project.

``ADDONS = {"crawler.addon.PolicyAddon": 0}`` installs the gate in place of
Scrapy's RobotsTxtMiddleware, the archive extension, our settings' defaults
and polite defaults (AutoThrottle on, bounded per-host concurrency, a
User-Agent carrying the robots token). Everything is set at "addon" priority,
so the project's settings.py and ``-s NAME=VALUE`` still win.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware

from crawler.config import DEFAULTS, user_agent
from crawler.extensions import ArchiveExtension
from crawler.middlewares import PolicyGateMiddleware

if TYPE_CHECKING:
    from scrapy.settings import Settings

GATE_PRIORITY = 100  # where RobotsTxtMiddleware was: before cookies, proxies and retries add their say

POLITE_DEFAULTS = {
    "AUTOTHROTTLE_ENABLED": True,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
    "ROBOTSTXT_OBEY": False,  # the gate obeys robots.txt; the stock middleware is removed
}


class PolicyAddon:
    """Scrapy add-on that installs the permission gate and the archive."""

    def update_settings(self, settings: Settings) -> None:
        for name, value in {**DEFAULTS, **POLITE_DEFAULTS}.items():
            settings.set(name, value, priority="addon")
        token = settings.get("POLICY_ROBOTS_TOKEN")
        contact = settings.get("POLICY_CONTACT_URL")
        settings.set("USER_AGENT", user_agent(str(token), str(contact)), priority="addon")
        settings.set_in_component_priority_dict("DOWNLOADER_MIDDLEWARES", RobotsTxtMiddleware, None)
        settings.set_in_component_priority_dict("DOWNLOADER_MIDDLEWARES", PolicyGateMiddleware, GATE_PRIORITY)
        settings.set_in_component_priority_dict("EXTENSIONS", ArchiveExtension, 0)
