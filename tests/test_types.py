"""The decision core type-checks under ``mypy --strict``, the crawler under plain mypy, as configured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "pyproject.toml"
# Mistakes --strict finds and plain mypy lets pass: an untyped function, Any returned as an int.
LOOSE = (
    "from typing import Any\n\n\ndef untyped(x):\n    return x\n\n\ndef count(x: Any) -> int:\n    return x\n"
)


def mypy(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``python -m mypy ARGS`` in ``cwd`` (the cache is kept between runs: a second run takes a second)."""
    return subprocess.run(
        [sys.executable, "-m", "mypy", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_policies_pass_mypy_strict() -> None:
    result = mypy("--strict", "policies")
    assert result.returncode == 0, result.stdout + result.stderr


def test_plain_mypy_checks_every_module_of_policies_and_crawler() -> None:
    result = mypy()  # [tool.mypy] in pyproject.toml names what to check
    assert result.returncode == 0, result.stdout + result.stderr
    modules = len(list((ROOT / "policies").glob("*.py"))) + len(list((ROOT / "crawler").rglob("*.py")))
    assert result.stdout.strip() == f"Success: no issues found in {modules} source files"


def test_the_configuration_is_strict_for_policies_only(tmp_path: Path) -> None:
    for package in ("policies", "crawler"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
        (tmp_path / package / "loose.py").write_text(LOOSE)
    cache = str(tmp_path / "cache")
    result = mypy("--config-file", str(CONFIG), "--cache-dir", cache, "policies", "crawler", cwd=tmp_path)
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert errors == [
        "policies/loose.py:4: error: Function is missing a type annotation  [no-untyped-def]",
        'policies/loose.py:9: error: Returning Any from function declared to return "int"  [no-any-return]',
    ]
