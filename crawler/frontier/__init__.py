"""The crawl frontier: every URL still to fetch, partitioned by host, leased to one worker at a time.

No Scrapy here (the scheduler in :mod:`crawler.adapters.scheduler` adapts it).
Two backends keep the same guarantees: SQLite in the crawl directory
(:mod:`crawler.frontier.embedded`, one worker) and Redis (:mod:`crawler.frontier.redis`,
many workers on many machines).
"""
