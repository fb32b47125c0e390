"""Our own input files: regular files within their bound, else an error naming the file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from policies.files import InputFileError, read_input, read_text_input


def test_a_regular_file_within_its_bound(tmp_path: Path) -> None:
    path = tmp_path / "seeds.txt"
    path.write_bytes(b"\xef\xbb\xbfhttp://example.org/\n")
    assert read_input(path, limit=100, expected="seeds") == path.read_bytes()
    assert read_text_input(path, limit=100, expected="seeds") == "http://example.org/\n"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.symlink_to("/dev/zero"), "is a character device, not a file; expected a policy file"),
        (lambda p: os.mkfifo(p), "is a named pipe, not a file"),
        (lambda p: p.mkdir(), "is a directory, not a file"),
        (lambda p: p.symlink_to(p.parent / "missing"), "cannot be read (No such file or directory)"),
        (lambda p: p.write_bytes(b"x" * 101), "larger than 100 bytes; expected a policy file"),
    ],
)
def test_what_is_not_a_bounded_regular_file_is_refused(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "example.org.toml"
    make(path)
    with pytest.raises(InputFileError) as caught:
        read_input(path, limit=100, expected="a policy file")
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)


def test_text_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_bytes(b"caf\xe9")
    with pytest.raises(InputFileError, match=r"not UTF-8 \(byte 3 is b'\\xe9'\); expected text"):
        read_text_input(path, limit=100, expected="text")
