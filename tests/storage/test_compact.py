"""Decision templates: restoring gives back the text written, byte for byte, in Python and in SQL."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

import pytest

from crawler.storage.compact import (
    pack_record_id,
    pack_sha256,
    record_id_sql,
    restore,
    restore_sql,
    sha256_sql,
    template,
    url_path,
)

if TYPE_CHECKING:
    from collections.abc import Callable

DECIDED = "2026-11-29T18:15:46.498373+00:00"
URLS = [
    "http://h.test/",
    "http://h.test/a/b?q=1",
    "http://h.test",
    "http://h.test/robots.txt",  # the page's URL is also in its robots basis's source
    "http://h.test/a b",  # a space in the path: the reasons print it so
    'http://h.test/"quoted"',  # spelled otherwise in JSON: not replaced, stored for this page
    "http://h.test/\x1f",  # a placeholder character: the text is stored whole
    "http://h.test/ü",
    "relative",
]


def _decision(url: str) -> str:
    path = url_path(url)
    bases = [
        {
            "reason": f"robots.txt allows {path} for permitcrawl (no rule matches)",
            "source": "http://h.test/robots.txt",
        },
        {"reason": f"robots.txt refuses {path} to no AI-training crawler of the list", "rule": "'Allow: /'"},
    ]
    return json.dumps({"bases": bases, "decided_at": DECIDED, "url": url}, ensure_ascii=False, sort_keys=True)


@pytest.mark.parametrize("url", URLS)
def test_restoring_gives_the_text_back(url: str) -> None:
    text = _decision(url)
    body = template(text, url=url, decided_at=DECIDED)
    assert restore(body, url=url, decided_at=DECIDED) == text
    conn = sqlite3.connect(":memory:")
    restored = conn.execute(
        f"select {restore_sql(':b', ':u', ':d')}", {"b": body, "u": url, "d": DECIDED}
    ).fetchone()[0]
    conn.close()
    assert restored == text


def test_pages_of_a_host_share_one_template() -> None:
    bodies = {template(_decision(u), url=u, decided_at=DECIDED) for u in URLS[:3]}
    assert len(bodies) == 1
    assert json.dumps(DECIDED) not in next(iter(bodies)) and "h.test/a" not in next(iter(bodies))


def test_any_text_round_trips_even_one_that_is_not_a_decision() -> None:
    for text in ["not json", "", "{}", "\x1c\x1d", " / ", '"http://h.test/"']:
        body = template(text, url="http://h.test/", decided_at=DECIDED)
        assert restore(body, url="http://h.test/", decided_at=DECIDED) == text


@pytest.mark.parametrize(
    ("value", "pack", "sql"),
    [
        ("<urn:uuid:95391f41-d474-4c06-9a59-194d6c1b619b>", pack_record_id, record_id_sql),
        ("<urn:uuid:95391F41-D474-4C06-9A59-194D6C1B619B>", pack_record_id, record_id_sql),  # kept as text
        ("<r1>", pack_record_id, record_id_sql),
        ("3b515c926214b8fca7757eae10a3070d9c5cbd521e3ba5e9a307c42b50b0bcc4", pack_sha256, sha256_sql),
        ("ab", pack_sha256, sha256_sql),
        (None, pack_sha256, sha256_sql),
    ],
)
def test_packed_columns_read_back_as_written(
    value: str | None, pack: Callable[[Any], Any], sql: Callable[[str], str]
) -> None:
    conn = sqlite3.connect(":memory:")
    assert conn.execute(f"select {sql(':v')}", {"v": pack(value)}).fetchone()[0] == value
    conn.close()
