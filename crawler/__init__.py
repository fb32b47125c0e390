"""permitcrawl around the decision core: everything with side effects, one concern per package.

``adapters`` (Scrapy), ``storage`` (WARC files and the provenance database),
``workflows`` (what is done with a crawl later), ``cli`` (the command line),
``localweb`` (the demo's and the tests' local web); README.md, "Architecture",
says what each may import. Importing this package loads no Scrapy module.
"""

from __future__ import annotations

from typing import Any


def package_version() -> str:
    """The installed package's version ("0.0.0+unknown" from a source tree never installed).

    Read when asked for (``__version__``, ``--version``), not at import: importlib.metadata
    costs a read-only command a noticeable part of its start-up.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("permitcrawl")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"


def __getattr__(name: str) -> Any:
    """``__version__``, computed the first time it is asked for."""
    if name == "__version__":
        value = package_version()
        globals()[name] = value
        return value
    raise AttributeError(f"module 'crawler' has no attribute {name!r}")
