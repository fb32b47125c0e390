"""CDXJ index of a crawl's WARC files (cdxj-indexer), so that replay tools such as pywb can open it.

No Scrapy here. The index is sorted by SURT key and written to ``index.cdxj``
in the crawl directory; file names in it are relative to the crawl
directory (``warc/...`` for pages, ``evidence/...`` for evidence documents),
so pywb's ``archive_paths`` is the crawl directory itself. It indexes what
replay serves: response, revisit and resource records (metadata records share
their page's URL and would only get in a replay's way).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from cdxj_indexer import CDXJIndexer

from crawler.storage.archive import WarcArchive, warc_files

if TYPE_CHECKING:
    from pathlib import Path

INDEX_NAME = "index.cdxj"


def write_index(crawl_dir: Path) -> tuple[Path, int]:
    """(Re)write ``crawl_dir/index.cdxj`` from every WARC file; return its path and line count.

    Written to a temporary name and renamed, so a reader never sees half an index.
    """
    target = crawl_dir / INDEX_NAME
    partial = target.with_name(INDEX_NAME + ".partial")
    inputs = [str(p) for p in warc_files(crawl_dir)]
    indexer = CDXJIndexer(
        output=str(partial),
        inputs=inputs,
        sort=True,
        dir_root=str(crawl_dir),
        records="response,revisit,resource",
    )
    try:
        indexer.process_all()
    except Exception:
        partial.unlink(missing_ok=True)
        WarcArchive(crawl_dir)  # names the damaged file (WarcError), if that is what failed
        raise
    os.replace(partial, target)
    with open(target, "rb") as fh:
        lines = sum(1 for _ in fh)
    return target, lines
