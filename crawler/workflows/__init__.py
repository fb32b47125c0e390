"""The dataset workflows, free of Scrapy and click: audit, recheck, revoke, export, purge, report, review."""
