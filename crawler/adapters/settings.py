"""Scrapy settings for the permitcrawl project (``scrapy.cfg`` points here).

The add-on brings the gate, the archive and their defaults; this module adds
what the bundled seed spider and the CLI want on top.
"""

BOT_NAME = "permitcrawl"
SPIDER_MODULES = ["crawler.adapters.spiders"]
NEWSPIDER_MODULE = "crawler.adapters.spiders"

ADDONS = {"crawler.adapters.addon.PolicyAddon": 0}
EXTENSIONS = {"crawler.adapters.progress.ProgressExtension": 500}

# The seed spider follows the links of pages refused after fetching (never stores them).
POLICY_DELIVER_REFUSED = True

# Output, relative to the working directory; `permitcrawl crawl --out DIR` sets both.
WARC_DIR = "crawl/warc"  # evidence documents go to "evidence" beside it (WARC_EVIDENCE_DIR)
PROVENANCE_DB = "crawl/provenance.db"

PROGRESS_INTERVAL = 10.0
LOG_LEVEL = "INFO"
