"""The Terms-of-Service vocabulary of the Data Provenance Initiative ("Consent in Crisis", 2024).

Three axes, with the labels of the code released with the paper
(``Data-Provenance-Initiative/Data-Provenance-Collection``, ``src/web_analysis/robots_util.py``),
and the rule that merges them into one display label, so that a store can be compared with
the paper's figures. One label is spelt right here: the code writes ``Non-Comercial Only``
[sic]; that spelling is still read, as an alias (:data:`ALIASES`), so that files written with
it stay valid, and what we write is ``Non-Commercial Only``.
"""

from __future__ import annotations

AI_SCRAPING: tuple[str, ...] = (
    "No Scraping & AI",  # 1: both scraping and AI/ML use prohibited
    "No Scraping",  # 2: scraping prohibited, AI not mentioned
    "No AI",  # 3: AI/ML use prohibited, scraping not mentioned
    "Conditional Use",  # 4: conditions under which either is restricted or permitted
    "Unrestricted Use",  # 5: neither restricted
)
LICENSE: tuple[str, ...] = ("Non-Commercial Only", "Conditionally Commercial", "Unrestricted Use")
COMPETE: tuple[str, ...] = ("Non-Compete", "No Re-Distribution", "Unrestricted Use")
# Other spellings read as a label: the DPI code's own misspelling.
ALIASES: dict[str, str] = {"Non-Comercial Only": "Non-Commercial Only"}


def canonical_label(label: str) -> str:
    """The label an alias stands for; any other label as it is."""
    return ALIASES.get(label, label)


def merged_label(ai_scraping: str, license: str, compete: str) -> str:
    """Merge the three axes into one label (``robots_util.tos_policy_merging``)."""
    renamed_license = {"Non-Commercial Only": "NC Only", "Conditionally Commercial": "Conditional Use"}.get(
        canonical_label(license), license
    )
    if ai_scraping == renamed_license == compete:
        return ai_scraping
    if ai_scraping.startswith("No"):
        return ai_scraping
    if renamed_license == "NC Only":
        return "NC Only"
    if compete in ("Non-Compete", "No Re-Distribution"):
        return compete
    return ai_scraping
