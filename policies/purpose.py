"""The purposes a crawl can collect for; every signal is read for one of them."""

from __future__ import annotations

from enum import StrEnum


class Purpose(StrEnum):
    """What the collected pages will be used for."""

    AI_TRAIN = "ai-train"  # training AI models (the default)
    AI_INPUT = "ai-input"  # retrieval, grounding, answering with the page as input
    SEARCH = "search"  # building a search index

    @classmethod
    def parse(cls, value: str) -> Purpose:
        """Return the purpose named by ``value``; raise ValueError naming the choices."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            choices = ", ".join(p.value for p in cls)
            raise ValueError(f"unknown purpose {value!r}; expected one of {choices}") from None
