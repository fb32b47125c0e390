"""Exclusion lists: strict parsing, and matching hosts canonically, domains with their subdomains."""

from __future__ import annotations

import hashlib

import pytest

from policies.errors import PolicyStoreError
from policies.exclusion import exclusion_basis, find_exclusion, parse_exclusion_list

TEXT = (
    "\ufeff# a comment\n"
    "\n"
    "Pirate.Example.   # trailing comment\n"
    "https://site.example/dl/\n"
    "bücher.example\n"
    "http://ported.example:8080/\n"
    "192.0.2.1\n"
    "pirate.example\n"
)


def _list():  # type: ignore[no-untyped-def]
    return parse_exclusion_list("eu.txt", TEXT.encode())


def test_entries_comments_and_duplicates() -> None:
    listing = _list()
    assert listing.sha256 == hashlib.sha256(TEXT.encode()).hexdigest()
    assert [(e.line, e.host, e.port, e.path) for e in listing.entries] == [
        (3, "pirate.example", None, None),
        (4, "site.example", None, "/dl/"),
        (5, "xn--bcher-kva.example", None, None),
        (6, "ported.example", 8080, "/"),
        (7, "192.0.2.1", None, None),
    ]


@pytest.mark.parametrize(
    ("url", "line"),
    [
        ("http://pirate.example/", 3),
        ("https://a.b.PIRATE.example./x", 3),
        ("http://pirate.example:81/x", 3),
        ("http://notpirate.example/", None),
        ("https://site.example/dl/a.zip", 4),
        ("http://site.example:80/dl/", 4),  # http and https are one site; default ports are no port
        ("https://site.example/dl", None),
        ("https://sub.site.example/dl/x", None),  # a prefix names one host
        ("http://xn--bcher-kva.example/", 5),
        ("http://www.bücher.example/", 5),
        ("http://ported.example:8080/a", 6),
        ("http://ported.example/a", None),
        ("http://192.0.2.1:8000/", 7),
        ("http://192.0.2.10/", None),
        # A prefix however the path is spelled, as a server reads it.
        ("https://site.example/%64l/a.zip", 4),
        ("https://site.example//dl/a.zip", 4),
        ("https://site.example/x/../dl/a.zip", 4),
        ("https://site.example/%2e%2e/dl/a", 4),
        ("https://site.example/%2Fdl/a", 4),
        ("https://site.example/dl;x=1/a", 4),
        ("https://site.example/dlx", None),
        # A port that does not parse: matched on the host alone, never let through.
        ("http://pirate.example:99999/", 3),
        ("https://site.example:99999/other", 4),
        ("https://elsewhere.example:99999/", None),
    ],
)
def test_matching(url: str, line: int | None) -> None:
    match = find_exclusion(url, [_list()])
    assert (match.entry.line if match else None) == line


def test_the_basis_names_the_list_its_sha256_and_line() -> None:
    listing = _list()
    match = find_exclusion("http://pirate.example/", [listing])
    assert match is not None
    basis = exclusion_basis(match)
    assert basis.signal == "exclusion-list" and basis.verdict.value == "deny"
    assert basis.sha256 == listing.sha256 and basis.source == "eu.txt:3" and basis.rule == "Pirate.Example."
    assert "line 3" in basis.reason and listing.sha256 in basis.reason


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("*.example.org", "is neither a host name nor a URL"),
        ("example.org/path", "is neither a host name nor a URL"),
        ("com", "is a public suffix"),
        ("co.uk", "is a public suffix"),
        ("a.example b.example", "holds whitespace"),
        ("ftp://a.example/", "is not an http(s) URL with a host"),
        ("https://a.example/?q=1", "has a query or fragment"),
        ("https://a.example/#top", "has a query or fragment"),
        ("http://[::1/", "does not parse as a URL"),
        ("-bad-.example", "is not a host name"),
    ],
)
def test_a_bad_line_names_file_line_and_what_was_expected(line: str, said: str) -> None:
    with pytest.raises(PolicyStoreError) as caught:
        parse_exclusion_list("eu.txt", f"ok.example\n{line}\n".encode())
    message = str(caught.value)
    assert message.startswith("eu.txt:2: ") and said in message, message
    assert "expected a host or registrable domain" in message


def test_every_bad_line_is_reported_at_once() -> None:
    with pytest.raises(PolicyStoreError) as caught:
        parse_exclusion_list("eu.txt", b"co.uk\nok.example\n*.x.example\n")
    assert [e.line for e in caught.value.errors] == [1, 3]


def test_not_utf8_is_an_error() -> None:
    with pytest.raises(PolicyStoreError, match=r"eu.txt: is not UTF-8 text"):
        parse_exclusion_list("eu.txt", b"ok.example\n\xff\n")
