"""Uploads cut into numbered records, whatever the network reads: NDJSON and CSV."""

from __future__ import annotations

import csv
import io

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from verify.domain.errors import ValidationError
from verify.service.job_input import (
    BAD_ROW,
    MAX_LINE_BYTES,
    TOO_LONG,
    Chunk,
    CsvSplitter,
    NdjsonSplitter,
    Splitter,
)

texts = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30)


def _run(splitter: Splitter, data: bytes, cuts: list[int]) -> list[Chunk]:
    chunks: list[Chunk] = []
    start = 0
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        chunks += splitter.feed(data[start:cut]) if cut > start else []
        start = max(start, cut)
    chunks += splitter.feed(data[start:])
    return chunks + splitter.finish()


def _records(chunks: list[Chunk]) -> list[tuple[int, bytes]]:
    return [pair for c in chunks for pair in zip(c.line_numbers, c.lines, strict=True)]


@given(
    st.lists(st.one_of(st.just(""), st.dictionaries(st.sampled_from("abc"), texts)), max_size=40),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=8),
    st.integers(min_value=1, max_value=7),
)
def test_ndjson_records_keep_their_line_numbers_whatever_the_reads(
    items: list[object], cuts: list[int], size: int
) -> None:
    lines = [b"" if item == "" else orjson.dumps(item) for item in items]
    data = b"\n".join(lines)
    chunks = _run(NdjsonSplitter(size), data, cuts)
    assert all(0 < len(c) <= size for c in chunks)
    assert _records(chunks) == [(n, line) for n, line in enumerate(lines, 1) if line]


def test_ndjson_line_too_long_becomes_a_problem_and_reading_goes_on() -> None:
    long = b'{"a": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}'
    data = b'{"a": 1}\n' + long + b"\n\n" + b'{"b": 2}'
    chunks = _run(NdjsonSplitter(100), data, [20, 30_000, 66_000])
    assert _records(chunks) == [(1, b'{"a": 1}'), (2, TOO_LONG), (4, b'{"b": 2}')]


COLUMNS = ["id_number", "full_name", "address", "gender"]


@given(
    st.lists(st.tuples(texts, texts, texts, texts), max_size=25),
    st.lists(st.integers(min_value=0, max_value=5_000), max_size=8),
)
@example([("", "", "", "0\r\n0")], [])  # a CRLF inside a quoted field is the field's
def test_csv_rows_become_claims_numbered_by_their_first_line(
    rows: list[tuple[str, str, str, str]], cuts: list[int]
) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    expected, line = [], 2
    for row in rows:
        text = io.StringIO()
        csv.writer(text, lineterminator="\r\n").writerow(row)
        claim = {
            k: v.strip() for k, v in zip(COLUMNS, row, strict=True)
            if k != "address" and v.strip()
        }  # fmt: skip
        expected.append((line, orjson.dumps(claim)))
        line += text.getvalue().replace("\r\n", "\n").count("\n")
        out.write(text.getvalue())
    data = out.getvalue().encode()
    assert _records(_run(CsvSplitter(4), data, cuts)) == expected


def test_csv_blank_lines_are_skipped_but_counted_and_empty_cells_left_out() -> None:
    data = b"id_number,full_name,gender\r\n\r\n,,\r\n1, ,male\r\n"
    assert _records(_run(CsvSplitter(10), data, [5])) == [
        (3, b"{}"), (4, b'{"id_number":"1","gender":"male"}'),
    ]  # fmt: skip


def test_csv_bad_rows_are_problems_in_place() -> None:
    data = b'id_number,full_name\n1,A\n2\n3,"unclosed\n'
    assert _records(_run(CsvSplitter(10), data, [])) == [
        (2, b'{"id_number":"1","full_name":"A"}'), (3, BAD_ROW), (4, BAD_ROW),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "invalid_csv_header"),
        (b"id_number,id_number\n", "invalid_csv_header"),
        (b"full_name\nAn\n", "invalid_csv_header"),
        (b"001203012345,Nguyen Van An\n", "invalid_csv_header"),
        (b"id_number\n\xc3\x28\n", "invalid_encoding"),
    ],
)
def test_csv_file_level_errors(data: bytes, code: str) -> None:
    with pytest.raises(ValidationError) as e:
        _run(CsvSplitter(10), data, [])
    assert e.value.code == code
    assert "001203012345" not in e.value.detail  # a data row read as a header is not echoed
