"""Who the crawler is: its signing keys (Web Bot Auth). No Scrapy here."""
