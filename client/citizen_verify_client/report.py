"""Output rows of `verify-client check` and the summary by verdict and reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from citizen_verify_client.csvmap import RowProblem

RESULT_COLUMNS = [
    "line",
    "verdict",
    "reasons",
    "full_name",
    "date_of_birth",
    "gender",
    "card",
    "problem",
    "problem_field",
]


def _field(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    if not isinstance(value, dict):
        return ""
    rule = value.get("rule")
    return f"{value.get('result', '')}/{rule}" if rule else str(value.get("result", ""))


def result_row(line: int, result: Mapping[str, Any] | RowProblem) -> list[str]:
    """The output columns of one input row: its verdict, or the problem that took its place."""
    if isinstance(result, RowProblem):
        return [str(line), "", "", "", "", "", "", result.code, result.field or ""]
    if "verdict" not in result:
        code, where = str(result.get("code", "")), str(result.get("field", ""))
        return [str(line), "", "", "", "", "", "", code, where]
    fields = result.get("fields") or {}
    return [
        str(line),
        str(result["verdict"]),
        ";".join(result.get("reasons") or []),
        *(_field(fields, f) for f in ("full_name", "date_of_birth", "gender", "card")),
        "",
        "",
    ]


@dataclass
class Summary:
    verdicts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)

    def add(self, row: Sequence[str]) -> None:
        verdict, reasons, problem = row[1], row[2], row[7]
        if problem:
            self.verdicts["problem"] += 1
            self.problems[problem] += 1
            return
        self.verdicts[verdict] += 1
        self.reasons.update(r for r in reasons.split(";") if r)

    def write(self, out: TextIO) -> None:
        total = sum(self.verdicts.values())
        out.write(f"{total} rows\n")
        for title, counts in (
            ("verdict", self.verdicts),
            ("reason", self.reasons),
            ("problem", self.problems),
        ):
            for name, n in counts.most_common():
                out.write(f"  {title:<8} {name:<24} {n:>10}\n")
