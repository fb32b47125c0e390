"""Errors of the decision core's own inputs (the ToS policy store)."""

from __future__ import annotations

from pathlib import Path


class PolicyError(Exception):
    """Base class for policy store errors."""


class PolicyFileError(PolicyError):
    """One problem in one policy file, at one line: ``path:line: what was wrong; what was expected``."""

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        # Line 0: about the file as a whole, or a rule not written yet.
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


class PolicyStoreError(PolicyError):
    """A store that does not validate: every problem found, one per line."""

    def __init__(self, errors: list[PolicyFileError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))
