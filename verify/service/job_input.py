"""A bulk job's upload cut into chunks of numbered records, fed a network read at a time.

Pure (no I/O): the HTTP layer feeds the bytes it reads, the store writes each full chunk,
so memory holds one chunk and one read whatever the size of the upload.

Every record keeps its line number in the uploaded file (1-based; blank lines are
skipped but counted; in CSV the header is line 1 and a record is numbered by the line it
starts on). A record is stored as one line of bytes: an NDJSON line as it came, a CSV row
as its claim in JSON, or ``!code`` for a line that cannot be read (too long, a CSV row
with the wrong number of fields); the worker answers that line with that problem.
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass, field

import orjson

from verify.domain.errors import ValidationError

MAX_LINE_BYTES = 64 * 1024
PROBLEM_MARK = b"!"
TOO_LONG = PROBLEM_MARK + b"body_too_large"
BAD_ROW = PROBLEM_MARK + b"invalid_csv_row"
# the claim's fields a CSV may carry (the `verify load` columns, plus the card presented)
CLAIM_COLUMNS = frozenset(
    {"id_number", "full_name", "date_of_birth", "gender", "card_issue_date", "reference"}
)
# register columns of a `verify load` citizens file: accepted and ignored
IGNORED_COLUMNS = frozenset({"status", "former_id", "province_code", "address"})


@dataclass
class Chunk:
    line_numbers: list[int] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.lines)


class _Chunker:
    def __init__(self, chunk_lines: int) -> None:
        self._size = chunk_lines
        self._current = Chunk()
        self._full: list[Chunk] = []
        self.records = 0

    def add(self, number: int, line: bytes) -> None:
        self._current.line_numbers.append(number)
        self._current.lines.append(line)
        self.records += 1
        if len(self._current) >= self._size:
            self._full.append(self._current)
            self._current = Chunk()

    def take(self, final: bool = False) -> list[Chunk]:
        full, self._full = self._full, []
        if final and self._current:
            full.append(self._current)
            self._current = Chunk()
        return full


class NdjsonSplitter:
    """NDJSON: a record per non-blank line, stored as it came."""

    def __init__(self, chunk_lines: int) -> None:
        self._chunks = _Chunker(chunk_lines)
        self._rest = b""
        self._number = 0
        self._skipping = False  # inside a line over MAX_LINE_BYTES: drop until its end

    @property
    def records(self) -> int:
        return self._chunks.records

    def feed(self, data: bytes) -> list[Chunk]:
        if self._skipping:
            end = data.find(b"\n")
            if end < 0:
                return []
            self._skipping = False
            data = data[end + 1 :]
        *lines, self._rest = (self._rest + data).split(b"\n")
        for line in lines:
            self._line(line)
        if len(self._rest) > MAX_LINE_BYTES:
            self._number += 1
            self._chunks.add(self._number, TOO_LONG)
            self._rest, self._skipping = b"", True
        return self._chunks.take()

    def finish(self) -> list[Chunk]:
        if not self._skipping and self._rest:
            self._line(self._rest)
        self._rest = b""
        return self._chunks.take(final=True)

    def _line(self, line: bytes) -> None:
        self._number += 1
        if len(line) > MAX_LINE_BYTES:
            self._chunks.add(self._number, TOO_LONG)
        elif line.strip():
            self._chunks.add(self._number, line)


class CsvSplitter:
    """CSV with a header row (UTF-8, optional BOM); each row becomes its claim in JSON.

    A record ends at a line break outside quotes (an even count of ``"`` so far), so a
    quoted field may hold line breaks.
    """

    def __init__(self, chunk_lines: int) -> None:
        self._chunks = _Chunker(chunk_lines)
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._text = ""
        self._record: list[str] = []  # physical lines of the record being read
        self._quotes = 0
        self._number = 0  # physical lines consumed
        self._start = 0  # line the record being read starts on
        self._columns: list[str] | None = None

    @property
    def records(self) -> int:
        return self._chunks.records

    def feed(self, data: bytes) -> list[Chunk]:
        self._text += self._decode(data, final=False)
        *lines, self._text = self._text.split("\n")
        for line in lines:
            self._physical(line)
        if len(self._text) > MAX_LINE_BYTES:
            raise ValidationError("body_too_large", f"a CSV line is over {MAX_LINE_BYTES} bytes")
        return self._chunks.take()

    def finish(self) -> list[Chunk]:
        self._text += self._decode(b"", final=True)
        if self._text:
            self._physical(self._text)
            self._text = ""
        if self._record:  # an unclosed quote at the end of the file
            self._chunks.add(self._start, BAD_ROW)
            self._record = []
        if self._columns is None:
            raise ValidationError("invalid_csv_header", "the CSV has no header row")
        return self._chunks.take(final=True)

    def _decode(self, data: bytes, final: bool) -> str:
        try:
            return self._decoder.decode(data, final)
        except UnicodeDecodeError:
            raise ValidationError("invalid_encoding", "the CSV is not valid UTF-8") from None

    def _physical(self, line: str) -> None:
        self._number += 1
        if not self._record:
            self._start = self._number
        self._record.append(line)
        self._quotes += line.count('"')
        if self._quotes % 2 == 0:
            # the record's own CRLF ends it; one inside a quoted field is the field's
            text = "\n".join(self._record).removesuffix("\r")
            self._record, self._quotes = [], 0
            self._complete(text)

    def _complete(self, text: str) -> None:
        if not text.strip():
            return
        try:
            values = next(csv.reader([text], strict=True))
        except csv.Error:
            values = None
        if self._columns is None:
            self._columns = _header(values)
        elif values is None or len(values) != len(self._columns):
            self._chunks.add(self._start, BAD_ROW)
        else:
            self._chunks.add(self._start, self._claim(values))

    def _claim(self, values: list[str]) -> bytes:
        assert self._columns is not None
        claim = {
            name: value.strip()
            for name, value in zip(self._columns, values, strict=True)
            if name in CLAIM_COLUMNS and value.strip()
        }
        return orjson.dumps(claim)


def _header(values: list[str] | None) -> list[str]:
    if values is None:
        raise ValidationError("invalid_csv_header", "the CSV header row cannot be read")
    columns = [v.strip().lower() for v in values]
    unknown = sorted(set(columns) - CLAIM_COLUMNS - IGNORED_COLUMNS)
    if unknown:
        raise ValidationError(  # names not echoed: a missing header row would be data
            "invalid_csv_header",
            f"{len(unknown)} unknown CSV column(s); the header row must name columns among "
            f"{', '.join(sorted(CLAIM_COLUMNS | IGNORED_COLUMNS))}",
        )
    if len(set(columns)) != len(columns):
        raise ValidationError("invalid_csv_header", "a CSV column is named twice")
    if "id_number" not in columns:
        raise ValidationError("invalid_csv_header", "the CSV has no id_number column")
    return columns


Splitter = NdjsonSplitter | CsvSplitter


def splitter_for(fmt: str, chunk_lines: int) -> Splitter:
    return CsvSplitter(chunk_lines) if fmt == "csv" else NdjsonSplitter(chunk_lines)
