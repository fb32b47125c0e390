"""The ``permitcrawl`` command line (also ``python -m crawler``)."""

from __future__ import annotations

from crawler.cli.main import cli, main

__all__ = ["cli", "main"]
