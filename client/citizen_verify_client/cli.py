"""`verify-client check`: verify a ministry's CSV against the register, row by row.

    verify-client check --in records.csv --out results.csv --purpose P \\
        [--map full_name=HoTen,date_of_birth=NgaySinh,gender=GioiTinh,id_number=SoDinhDanh]

The server and key come from --url/--key or VERIFY_URL/VERIFY_API_KEY. Rows go
in batches of up to 1,000 (or, with --job, as one resumable bulk job). The
output has one row per input row: its line number, verdict, reasons and field
results, or the problem code that took their place. Bad rows are reported on
stderr by line number and reason, never by value.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx

from citizen_verify_client import _core, _jobs
from citizen_verify_client.client import Client
from citizen_verify_client.csvmap import Columns, MapError, RowProblem, parse_map, row_claim
from citizen_verify_client.errors import VerifyClientError
from citizen_verify_client.progress import Bar
from citizen_verify_client.report import RESULT_COLUMNS, Summary, result_row
from citizen_verify_client.types import Claim

MAX_REPORTED = 50  # bad rows listed on stderr; the rest are counted
Row = tuple[int, list[str], Claim | RowProblem]  # input line, kept cells, claim or problem


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="verify-client", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="verify the rows of a CSV file")
    check.add_argument("--in", dest="input", required=True, type=Path, help="CSV (UTF-8)")
    check.add_argument("--out", required=True, type=Path, help="results CSV")
    check.add_argument("--purpose", required=True, help="the purpose recorded in the audit")
    check.add_argument("--url", default=os.environ.get("VERIFY_URL"))
    check.add_argument("--key", default=os.environ.get("VERIFY_API_KEY"))
    check.add_argument("--map", default="", help="field=Header,... (full_name=HoTen,...)")
    check.add_argument("--keep", default="", help="input columns copied to the output")
    check.add_argument("--delimiter", default=",")
    check.add_argument("--batch-size", type=int, default=_core.BATCH_MAX)
    check.add_argument("--accept-partial", action="store_true")
    check.add_argument("--job", action="store_true", help="one resumable bulk job (big files)")
    check.add_argument("--no-progress", action="store_true")
    return parser


@dataclass(frozen=True)
class Input:
    path: Path
    delimiter: str
    columns: Columns
    keep: list[int]
    keep_names: list[str]
    accept_partial: bool

    @classmethod
    def open(cls, args: argparse.Namespace) -> Input:
        with args.input.open(newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f, delimiter=args.delimiter), None)
        if not header:
            raise MapError("the input has no header row")
        columns = Columns.resolve(header, parse_map(args.map))
        names = [k.strip() for k in args.keep.split(",") if k.strip()]
        keep = [columns.position(name, header) for name in names]
        return cls(args.input, args.delimiter, columns, keep, names, args.accept_partial)

    def rows(self) -> Iterator[Row]:
        with self.path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=self.delimiter)
            next(reader)
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                kept = [row[i] if i < len(row) else "" for i in self.keep]
                claim = row_claim(row, self.columns)
                if self.accept_partial and not isinstance(claim, RowProblem):
                    claim["accept_partial"] = True
                yield reader.line_num, kept, claim

    def count(self) -> int:
        with self.path.open(newline="", encoding="utf-8-sig") as f:
            return max(0, sum(1 for _ in csv.reader(f, delimiter=self.delimiter)) - 1)


def _batched(client: Client, rows: Iterator[Row]) -> Iterator[tuple[Row, Any]]:
    for block in _core.chunks(rows, client.batch_size):
        claims = [c for _, _, c in block if not isinstance(c, RowProblem)]
        answers = iter(client.verify_many(claims))
        for row in block:
            yield row, row[2] if isinstance(row[2], RowProblem) else next(answers)


def _as_job(client: Client, source: Input, bar: Bar) -> Iterator[tuple[Row, Any]]:
    with tempfile.TemporaryDirectory(prefix="verify-client-") as tmp:
        upload = Path(tmp) / "claims.ndjson"
        with upload.open("wb") as f:
            for _, _, claim in source.rows():
                if not isinstance(claim, RowProblem):
                    f.write(_core.ndjson_line(claim))
        job = client.jobs.submit(upload, content_type=_jobs.NDJSON)
    sys.stderr.write(f"job {job['job_id']} submitted\n")
    client.jobs.wait(job["job_id"], progress=lambda s: bar.set(s["lines_done"], s["lines_total"]))
    answers = iter(client.jobs.results(job["job_id"]))
    for row in source.rows():  # the same rows again, in step with the results
        yield row, row[2] if isinstance(row[2], RowProblem) else next(answers)


def _report_bad(bar: Bar, line: int, out_row: Sequence[str], reported: int) -> int:
    if reported < MAX_REPORTED:
        where = f" ({out_row[8]})" if out_row[8] else ""
        bar.write(f"line {line}: {out_row[7]}{where}\n")
    return reported + 1


def check(
    args: argparse.Namespace,
    err: TextIO | None = None,
    transport: httpx.BaseTransport | None = None,
) -> int:
    err = err or sys.stderr
    source = Input.open(args)
    summary, reported = Summary(), 0
    bar = Bar(source.count(), "verifying", out=err, enabled=not args.no_progress)
    with (
        Client(
            args.url,
            args.key,
            purpose=args.purpose,
            batch_size=args.batch_size,
            transport=transport,
        ) as client,
        args.out.open("w", newline="", encoding="utf-8") as out,
    ):
        writer = csv.writer(out)
        writer.writerow([*source.keep_names, *RESULT_COLUMNS])
        pairs = _as_job(client, source, bar) if args.job else _batched(client, source.rows())
        for (line, kept, _), result in pairs:
            out_row = result_row(line, result)
            writer.writerow([*kept, *out_row])
            summary.add(out_row)
            if out_row[7]:
                reported = _report_bad(bar, line, out_row, reported)
            if not args.job:
                bar.update()
    bar.close()
    if reported > MAX_REPORTED:
        err.write(f"... and {reported - MAX_REPORTED} more bad rows (see the output)\n")
    summary.write(err)
    return 0


def main(argv: Sequence[str] | None = None, transport: httpx.BaseTransport | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.url or not args.key:
        sys.stderr.write("verify-client: give --url and --key (or VERIFY_URL, VERIFY_API_KEY)\n")
        return 2
    try:
        return check(args, transport=transport)
    except (MapError, OSError, UnicodeDecodeError) as e:
        sys.stderr.write(f"verify-client: {e}\n")
        return 2
    except VerifyClientError as e:
        sys.stderr.write(f"verify-client: {e}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
