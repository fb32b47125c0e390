"""Architecture guards: core, storage and workflows load no Scrapy or Twisted; __all__ is the public API."""

from __future__ import annotations

import subprocess
import sys

import pytest

import policies


def test_policies_storage_and_workflows_load_no_scrapy_or_twisted() -> None:
    # Every module of those packages, as imported: what they import in turn counts too.
    code = (
        "import importlib, pkgutil, sys\n"
        "import crawler.localweb, crawler.storage, crawler.workflows, crawler.judging, policies\n"
        "for package in (crawler.localweb, crawler.storage, crawler.workflows, crawler.judging, policies):\n"
        "    for module in pkgutil.iter_modules(package.__path__, package.__name__ + '.'):\n"
        "        importlib.import_module(module.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('scrapy', 'twisted'))\n"
        "print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_all_lists_the_public_names() -> None:
    # dir(), not vars(): the names are loaded when first used (PEP 562).
    public = {name for name in dir(policies) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(policies, name)).__name__ == "module"}
    assert sorted(policies.__all__) == policies.__all__
    assert set(policies.__all__) == public - modules
    for name in policies.__all__:  # each one is the object its module defines
        assert getattr(policies, name).__module__.startswith("policies."), name
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = policies.nothing  # type: ignore[attr-defined]
