"""Storage primitives, free of Scrapy: WARC files (warcio), the provenance database (sqlite-utils)."""
