"""Output storage, free of Scrapy: WARC files (warcio) and the provenance database (sqlite-utils)."""
