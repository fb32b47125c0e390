"""Install a newer ai.robots.txt list in an agents directory, all or none.

The directory holds one sub-directory per list, named by the sha256 of its
robots.json (the file byte for byte, its ``source.json`` and the MIT
``LICENSE`` notice), and ``CURRENT``, which names the list in force. A new
list is written whole under a temporary name and renamed into place, then
``CURRENT`` is replaced in one rename: a crawl reads the old list or the new
one, never half of one. Lists installed earlier stay (going back is an
``agents update`` with the old file).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from crawler.errors import PermitcrawlError
from policies.aiagents import UPSTREAM, bundled_license


def _write(path: Path, data: bytes) -> None:
    with path.open("xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def source_record(data: bytes, *, installed_from: str, commit: str, date: str) -> dict[str, str]:
    """The ``source.json`` of a list: upstream, commit and date as given, the file's sha256."""
    return {
        "repository": UPSTREAM,
        "path": "robots.json",
        "commit": commit,
        "date": date,
        "sha256": hashlib.sha256(data).hexdigest(),
        "installed_from": installed_from,
        "installed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def install_list(directory: Path, data: bytes, source: dict[str, str]) -> Path:
    """Make ``data`` (a validated robots.json) the list in force in ``directory``; return its folder.

    Raise PermitcrawlError, with nothing changed, if it cannot be written.
    """
    sha = source["sha256"]
    target = directory / sha
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if target.is_dir():
            # The same list installed before: reuse it only if it is still the file it was.
            if hashlib.sha256((target / "robots.json").read_bytes()).hexdigest() != sha:
                raise PermitcrawlError(
                    f"{target}/robots.json: changed since it was installed; remove {target}"
                )
        else:
            staging = Path(tempfile.mkdtemp(prefix=".new-", dir=directory))
            try:
                _write(staging / "robots.json", data)
                _write(staging / "source.json", (json.dumps(source, indent=2) + "\n").encode("utf-8"))
                _write(staging / "LICENSE", bundled_license())
                staging.chmod(0o755)  # mkdtemp makes it 0700: crawls run by others read it too
                staging.rename(target)
            finally:
                if staging.exists():
                    shutil.rmtree(staging, ignore_errors=True)
        _point_to(directory, sha)
    except OSError as exc:
        raise PermitcrawlError(
            f"{directory}: the list could not be installed ({exc}); the old list is in force"
        ) from None
    return target


def _point_to(directory: Path, sha: str) -> None:
    """Replace ``CURRENT`` with one naming ``sha``, in one rename."""
    handle, name = tempfile.mkstemp(prefix=".CURRENT-", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="ascii") as out:
            out.write(sha + "\n")
            os.fchmod(out.fileno(), 0o644)
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, directory / "CURRENT")
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
