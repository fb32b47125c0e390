"""The conservative readings: each place where the specs leave room, and the stricter choice we make.

Every reading is a named switch, on by default; the crawler's settings map
onto them (``POLICY_READ_<NAME>``). Turning one off gives the literal reading
of the spec. Each basis that a reading produces says so in its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, kw_only=True)
class Readings:
    """Which conservative readings apply, and who we are to a licence."""

    # A path disallowed for a well-known AI-training crawler (GPTBot, CCBot, ...)
    # is a training opt-out, and one disallowed for an AI search or assistant
    # crawler an AI-input opt-out, although those groups do not name us.
    ai_agents: bool = True
    # Content-Signal, Content-Usage and License lines in the '*' group count
    # even when a group names our token (RFC 9309 alone would read only ours).
    wildcard_group: bool = True
    # Superseded AIPREF labels (bots, train-genai, ai, genai, tdm, ai-use,
    # ai-output, all) set to 'n' count as a reservation of the purposes they
    # covered; the current vocabulary says to ignore them.
    aipref_legacy: bool = True
    # A train-ai=n (or search=n) that parses on its own - one field line, one
    # comma-separated member - reserves, although the whole field does not
    # parse or a later member says y (the spec would read 'unknown' or 'y').
    aipref_any_n: bool = True
    # noarchive (Bing: "will not use the content for training") reserves ai-train.
    noarchive: bool = True
    # noimageai on a page reserves the page itself, not only its images.
    noimageai_page: bool = True
    # A later tdm-reservation: 0 (header, meta) does not lift an earlier 1
    # (tdmrep.json); TDMRep itself lets the later value supersede.
    tdmrep_keep_reservation: bool = True
    # A tdmrep.json that is not valid JSON (a trailing comma, a stray byte) is
    # still read object by object, and a reservation found in it counts; the
    # spec reads such a file as "protocol not implemented".
    tdmrep_salvage: bool = True
    # A tdm-reservation header or meta value plainly meant as 1 ('1;', '"1"',
    # 'true', 'yes') reserves; TDMRep reads any value but 0 and 1 as unset.
    tdmrep_loose: bool = True
    # Content-Signal use=reference or use=immediate (less than full use)
    # reserves ai-train, which keeps whole copies.
    content_signal_use: bool = True

    # The ai.robots.txt list in force: an agents directory where 'permitcrawl agents update'
    # installed a newer list; empty (or a directory with none installed): the bundled snapshot.
    ai_agents_dir: str = ""
    # Which AIPREF vocabulary draft Content-Usage is read by: "08" (draft-ietf-aipref-vocab-08:
    # train-ai, ai-use, search, and search overrides the others) or "07" (train-ai and search only).
    aipref_vocab: str = "08"

    # RSL: who we are, for <permits type="user"> and <permits type="geo">.
    rsl_user: str = "commercial"
    rsl_geo: str = ""  # ISO 3166-1 alpha-2; empty: unknown, so geo-restricted licences do not apply to us

    @classmethod
    def switches(cls) -> tuple[str, ...]:
        """The names of the boolean readings."""
        return tuple(f.name for f in fields(cls) if f.type in ("bool", bool))
