"""One writer for table, JSON lines and CSV: every format carries the same rows."""

from __future__ import annotations

import csv
import io
import json

import pytest

from crawler.cli.output import table, write_rows

ROWS = [
    {"url": "http://a.test/", "status": 200, "basis": [{"signal": "robots", "reason": "rück"}], "note": None},
    {"url": "http://b.test/long/path", "status": 404, "basis": [], "note": "x"},
]
FIELDS = ["url", "status", "basis", "note"]


def test_jsonl_carries_every_field_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    write_rows(iter(ROWS), "jsonl", fields=FIELDS, columns=["url"])
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == ROWS
    assert "rück" in lines[0]  # not escaped


def test_csv_writes_lists_as_json_and_a_header_even_without_rows(capsys: pytest.CaptureFixture[str]) -> None:
    write_rows(iter(ROWS), "csv", fields=FIELDS, columns=["url"])
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [json.loads(row["basis"]) for row in rows] == [r["basis"] for r in ROWS]
    assert rows[0]["note"] == "" and rows[1]["status"] == "404"
    write_rows([], "csv", fields=FIELDS, columns=["url"])
    assert capsys.readouterr().out == "url,status,basis,note\n"


def test_a_table_aligns_the_columns_given(capsys: pytest.CaptureFixture[str]) -> None:
    write_rows(iter(ROWS), "table", fields=FIELDS, columns=["url", "status"])
    assert capsys.readouterr().out.splitlines() == [
        "url                      status",
        "-----------------------  ------",
        "http://a.test/           200",
        "http://b.test/long/path  404",
    ]
    assert list(table([], ["url"])) == ["url", "---"]


def test_an_unknown_format_is_a_callers_mistake() -> None:
    with pytest.raises(ValueError, match="expects one of table, jsonl, csv, got 'xml'"):
        write_rows([], "xml", fields=FIELDS, columns=["url"])
