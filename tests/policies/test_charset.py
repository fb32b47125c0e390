"""The plausible decodings of a document, primary first; charsets that are not charsets never apply."""

from __future__ import annotations

import pytest

from policies.charset import codec_name, declared_charset, decodings


def test_a_stray_byte_order_mark_does_not_lose_the_text() -> None:
    texts = decodings(b"\xff\xfeUser-agent: *\nDisallow: /\n")
    assert texts[0].text == "User-agent: *\nDisallow: /\n"
    assert "ignoring a UTF-16-LE byte-order mark" in texts[0].how
    assert texts[1].how == "UTF-16-LE, as its byte-order mark says"  # read that way too: garbage here
    real = "User-agent: *\n".encode("utf-16")
    assert [d.text for d in decodings(real)][1] == "User-agent: *\n"


def test_declared_charsets_and_duplicates() -> None:
    body = "Disallow: /café/".encode("latin-1")
    texts = decodings(body, declared=(("iso-8859-1", "as its Content-Type declares"),))
    assert [d.text for d in texts] == ["Disallow: /caf\ufffd/", "Disallow: /café/"]
    assert texts[1].how == "ISO-8859-1, as its Content-Type declares"
    # A reading identical to an earlier one is given once.
    assert len(decodings(b"plain ascii", declared=(("utf-8", ""), ("ascii", "")))) == 1


def test_strict_readings_leave_out_what_does_not_decode() -> None:
    assert [d.text for d in decodings(b"\xef\xbb\xbf[1]", strict=True)] == ["[1]"]
    assert [d.text for d in decodings(b"caf\xe9", strict=True)] == []
    assert [d.text for d in decodings(b"caf\xe9", strict=True, declared=(("cp1252", ""),))] == ["café"]


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("utf-8", "utf-8"),
        ("UTF8", "utf-8"),
        ("latin1", "iso8859-1"),
        ("cp500", "cp500"),
        ("shift_jis", "shift_jis"),
        ("base64", None),
        ("zlib", None),
        ("punycode", None),
        ("rot13", None),
        ("unicode_escape", None),
        ("utf-7", None),
        ("no-such-charset", None),
        ("", None),
    ],
)
def test_codec_names(label: str, name: str | None) -> None:
    assert codec_name(label) == name


def test_declared_charset_of_a_content_type() -> None:
    assert declared_charset('text/html; charset="UTF-16"') == "utf-16"
    assert declared_charset("text/plain") is None
    assert declared_charset("text/html; charset=zlib") is None
