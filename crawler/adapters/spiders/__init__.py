"""Spiders shipped with permitcrawl."""
