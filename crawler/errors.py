"""Errors for our own inputs: settings, seeds, the provenance database, the WARC files.

Each message says which input, what was wrong and what was expected; the CLI
prints it as ``Error: ...`` and exits non-zero.
"""

from __future__ import annotations


class PermitcrawlError(Exception):
    """Base class for permitcrawl errors about our own inputs."""


class SettingsError(PermitcrawlError):
    """A setting has a value we cannot use."""


class SeedsError(PermitcrawlError):
    """A seed URL or seed file line is not usable."""


class ProvenanceError(PermitcrawlError):
    """A provenance database or crawl directory cannot be read or written."""


class DecisionRecordError(ProvenanceError):
    """A decision stored in the provenance database or a WARC record cannot be read back as one."""


class WarcError(PermitcrawlError):
    """A WARC file of a crawl directory cannot be read: damaged, or cut short."""
