"""permitcrawl around the decision core: everything with side effects, one concern per package.

``adapters`` (Scrapy), ``storage`` (WARC files and the provenance database),
``workflows`` (what is done with a crawl later), ``cli`` (the command line),
``localweb`` (the demo's and the tests' local web); README.md, "Architecture",
says what each may import. Importing this package loads no Scrapy module.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("permitcrawl")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
