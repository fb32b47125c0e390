"""The Terms-of-Service vocabulary of the Data Provenance Initiative ("Consent in Crisis", 2024).

Three axes, with the exact labels of the released code (reference/tos-and-provenance.md §1.5),
and the rule that merges them into one display label. Kept verbatim so that a store can be
compared with the paper's figures; ``Non-Comercial Only`` is spelt as in the code.
"""

from __future__ import annotations

AI_SCRAPING: tuple[str, ...] = (
    "No Scraping & AI",  # 1: both scraping and AI/ML use prohibited
    "No Scraping",  # 2: scraping prohibited, AI not mentioned
    "No AI",  # 3: AI/ML use prohibited, scraping not mentioned
    "Conditional Use",  # 4: conditions under which either is restricted or permitted
    "Unrestricted Use",  # 5: neither restricted
)
LICENSE: tuple[str, ...] = ("Non-Comercial Only", "Conditionally Commercial", "Unrestricted Use")
COMPETE: tuple[str, ...] = ("Non-Compete", "No Re-Distribution", "Unrestricted Use")

# Least to most restrictive, as the paper plots them.
MERGED_ORDER: tuple[str, ...] = (
    "No Terms Pages",
    "Unrestricted Use",
    "Conditional Use",
    "No Re-Distribution",
    "Non-Compete",
    "NC Only",
    "No AI",
    "No Scraping",
    "No Scraping & AI",
)


def merged_label(ai_scraping: str, license: str, compete: str) -> str:
    """Merge the three axes into one label (``robots_util.tos_policy_merging``)."""
    renamed_license = {"Non-Comercial Only": "NC Only", "Conditionally Commercial": "Conditional Use"}.get(
        license, license
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
