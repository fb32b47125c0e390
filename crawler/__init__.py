"""permitcrawl's Scrapy integration: the gate, the archive, the spider and the CLI.

Importing this package loads no Scrapy module; the components do.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("permitcrawl")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
