"""What a crawl judges with, free of Scrapy: its configuration built once, the judge, the readings.

The gate (crawler.adapters) judges with these while crawling; audit
(crawler.workflows) rebuilds the same from the WARC files and judges again.
"""
