"""The Scrapy adapters: the add-on, the gate, the archive extension and what they need from Scrapy.

Importing this package loads no Scrapy module; its modules do.
"""
