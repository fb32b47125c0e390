"""TDMRep: vectors T1-T9 of ../shared/reference/signals.md §4.7, file, headers and meta tags."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from policies.decision import Verdict
from policies.document import Document
from policies.purpose import Purpose
from policies.tdmrep import TdmRepError, TdmRepFile, file_step, tdmrep_basis, tdmrep_evidence, value_step

A, D, N = Verdict.ALLOW, Verdict.DENY, Verdict.NONE
NOW = datetime(2026, 11, 22, tzinfo=UTC)


def evidence(rules: object, status: int = 200):
    body = rules if isinstance(rules, bytes) else json.dumps(rules).encode()
    doc = Document(
        kind="tdmrep.json", url="http://x/.well-known/tdmrep.json", status=status, body=body, fetched_at=NOW
    )
    return tdmrep_evidence(doc)


def verdict(rules: object, path: str, *, header: tuple[str, ...] = (), meta: tuple[str, ...] = (),
            keep: bool = True, purpose: Purpose = Purpose.AI_TRAIN,
            loose: bool = False) -> Verdict:  # fmt: skip
    url = f"http://x{path}"
    steps = [
        file_step(evidence(rules), url),
        value_step(header, (), "tdm-reservation header", loose=loose),
        value_step(meta, (), "tdm-reservation meta tag", loose=loose),
    ]
    basis = tdmrep_basis(steps, purpose, keep_reservation=keep)
    assert basis is not None and basis.signal == "tdmrep"
    return basis.verdict


def test_t1_site_wide_reservation() -> None:
    assert verdict([{"location": "/", "tdm-reservation": 1}], "/a") is D
    assert verdict([{"location": "/", "tdm-reservation": 1}], "/a", purpose=Purpose.AI_INPUT) is D
    steps = [file_step(evidence([{"location": "/", "tdm-reservation": 1}]), "http://x/a")]
    assert tdmrep_basis(steps, Purpose.SEARCH, keep_reservation=True) is None  # not read for search


def test_t2_first_match_in_array_order() -> None:
    rules = [{"location": "/a/", "tdm-reservation": 0}, {"location": "/a/private/", "tdm-reservation": 1}]
    assert verdict(rules, "/a/private/x") is A  # "the most specific match is the first in sequence"
    assert verdict(list(reversed(rules)), "/a/private/x") is D


def test_t3_header_supersedes_the_file() -> None:
    assert verdict([{"location": "/", "tdm-reservation": 0}], "/a", header=("1",)) is D


def test_t4_meta_downgrade_and_the_keep_reservation_reading() -> None:
    rules = [{"location": "/", "tdm-reservation": 1}]
    assert verdict(rules, "/a", meta=("0",), keep=True) is D
    assert verdict(rules, "/a", meta=("0",), keep=False) is A


@pytest.mark.parametrize("value", ["yes", "true", "01", "2", "", '"1"', "1;"])
def test_t5_invalid_header_values_are_unset(value: str) -> None:
    assert verdict([], "/a", header=(value,)) is N


@pytest.mark.parametrize(
    ("value", "reserved"),
    [("yes", True), ("true", True), ('"1"', True), ("1;", True), ("TRUE.", True), ("01", False), ("2", False),
     ("", False), ("no", False), ('"0"', False)],
)  # fmt: skip
def test_t5_with_the_loose_reading_a_plain_1_reserves(value: str, reserved: bool) -> None:
    assert verdict([], "/a", header=(value,), loose=True) is (D if reserved else N)
    assert verdict([], "/a", meta=(value,), loose=True) is (D if reserved else N)
    # Never a 0: a loose value does not lift a reservation, nor grant.
    assert verdict([{"location": "/", "tdm-reservation": 1}], "/a", header=(value,), loose=True) is D


def test_t6_value_is_trimmed() -> None:
    assert verdict([], "/a", header=(" 1 ",)) is D


def test_t7_policy_url_is_recorded() -> None:
    rules = [{"location": "/", "tdm-reservation": 1, "tdm-policy": "https://x/policy.json"}]
    steps = [file_step(evidence(rules), "http://x/a")]
    basis = tdmrep_basis(steps, Purpose.AI_TRAIN, keep_reservation=True)
    assert basis is not None and "https://x/policy.json" in basis.reason
    assert basis.source and "tdmrep.json" in basis.source


def test_t8_patterns() -> None:
    rules = [
        {"location": "/directory-b/images/*.jpg", "tdm-reservation": 0},
        {"location": "/", "tdm-reservation": 1},
    ]
    assert verdict(rules, "/directory-b/images/a.jpg?x=1") is A
    anchored = [{"location": "/*.jpg$", "tdm-reservation": 0}, {"location": "/", "tdm-reservation": 1}]
    assert verdict(anchored, "/a.jpg?x=1") is D
    assert verdict(anchored, "/a.jpg") is A
    assert verdict([{"location": "/Case/", "tdm-reservation": 1}], "/case/x") is N  # case-sensitive


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"not json", 200), (b'{"location": "/", "tdm-reservation": 1}', 200), (b"[]", 404), (b"", 503)],
)
def test_t9_no_protocol(body: bytes, status: int) -> None:
    ev = evidence(body, status)
    assert ev.file is None and ev.problem
    basis = tdmrep_basis([file_step(ev, "http://x/a")], Purpose.AI_TRAIN, keep_reservation=True)
    assert basis is not None and basis.verdict is N


def test_parsing_details() -> None:
    parsed = TdmRepFile.parse(
        json.dumps(
            [
                "not a rule",
                {"tdm-reservation": 1},  # no location
                {"location": "/a", "tdm-reservation": "yes"},
                {"location": "/b", "tdm-reservation": True},
                {"location": "/c", "tdm-reservation": "1"},
            ]
        ).encode()
    )
    assert [(r.location.pattern, r.reservation) for r in parsed.rules] == [
        ("/a", None),
        ("/b", None),
        ("/c", 1),
    ]
    with pytest.raises(TdmRepError, match="expected a JSON array"):
        TdmRepFile.parse(b'{"a": 1}')
    # A matching rule with an invalid value is a protocol error: unset, and no later rule applies.
    assert (
        verdict([{"location": "/", "tdm-reservation": 2}, {"location": "/", "tdm-reservation": 1}], "/x") is N
    )


def test_absence_never_resets() -> None:
    assert verdict([{"location": "/", "tdm-reservation": 1}], "/a", header=("bogus",)) is D
