"""Wire forms of bulk jobs: the status object, and results as CSV (from the stored NDJSON)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import orjson

from verify.service.jobs import Job

CSV_COLUMNS = (
    "line", "reference", "verdict", "reasons", "full_name", "date_of_birth", "gender", "card",
    "error_code", "error_field",
)  # fmt: skip
_FIELDS = ("full_name", "date_of_birth", "gender", "card")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _time(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def job_json(job: Job) -> dict[str, object]:
    body: dict[str, object] = {
        "job_id": job.id,
        "state": job.state.value,
        "purpose": job.purpose,
        "format": job.format,
        "lines_total": job.lines_total,
        "lines_done": job.lines_done,
        "counts": job.counts,
        "created_at": _time(job.created_at),
        "started_at": _time(job.started_at),
        "finished_at": _time(job.finished_at),
    }
    if job.error is not None:
        body["error"] = job.error
    return body


def _cell(value: object) -> str:
    """A caller's text as a CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _field(value: object) -> str:
    if not isinstance(value, dict):
        return ""
    result, rule = value.get("result", ""), value.get("rule")
    return f"{result}/{rule}" if rule else str(result)


def _row(result: dict[str, object]) -> list[object]:
    fields = result.get("fields")
    fields = fields if isinstance(fields, dict) else {}
    reasons = result.get("reasons")
    return [
        result.get("line"),
        _cell(result.get("reference")),
        result.get("verdict", ""),
        ";".join(str(r) for r in reasons) if isinstance(reasons, list) else "",
        *(_field(fields.get(name)) for name in _FIELDS),
        result.get("code", ""),
        result.get("field", ""),
    ]


def results_csv(ndjson: bytes, *, header: bool) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    writer.writerows(_row(orjson.loads(line)) for line in ndjson.splitlines() if line)
    return out.getvalue().encode("utf-8")
