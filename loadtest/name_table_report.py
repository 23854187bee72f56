"""Before/after of name matching on the name table (tests/name_cases.py).

    python -m loadtest.name_table_report [--before COMMIT] [--by-category]

Replays every row of the table through the matcher of ``COMMIT`` (default 7718d7b, the
fuzzy rapidfuzz matcher; read with ``git show``, needs the ``loadtest`` extra for
rapidfuzz) and through the current one, and prints for each: how many same-person
spellings are answered ``match`` (and how many would pass with ``accept_partial``), and
how many other-person claims are rejected (``no_match``), answered ``partial`` (which a
caller with ``accept_partial`` takes as verified) or ``match``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import types
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.name_cases import NAME_CASES, NameCase
from verify.domain.names import match_name

Matcher = Callable[[str, str], str]  # (claim, register) -> "match" | "partial" | "no_match"
OLD_IMPORT = "from verify.domain.model import FieldOutcome, FieldResult, Rule"
OLD_MODEL = """
from dataclasses import dataclass
from verify.domain.model import FieldOutcome, Rule

@dataclass(frozen=True)
class FieldResult:
    result: FieldOutcome
    rule: Rule | None = None
    score: int | None = None
"""


def old_matcher(commit: str) -> Matcher:
    """``match_name`` of ``commit``'s verify/domain/names.py (its FieldResult had a score)."""
    root = Path(__file__).resolve().parent.parent
    source = subprocess.run(
        ["git", "show", f"{commit}:verify/domain/names.py"],
        cwd=root, check=True, capture_output=True, text=True, timeout=30,
    ).stdout  # fmt: skip
    if OLD_IMPORT not in source:
        raise SystemExit(f"{commit}: verify/domain/names.py is not the expected old matcher")
    module = types.ModuleType(f"names_{commit}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source.replace(OLD_IMPORT, OLD_MODEL), module.__name__, "exec"), module.__dict__)
    return lambda claim, register: str(module.match_name(claim, register).result.value)


def new_matcher(claim: str, register: str) -> str:
    return match_name(claim, register).result.value


@dataclass
class Tally:
    same: Counter[str]
    other: Counter[str]


def tally(matcher: Matcher, cases: list[NameCase]) -> Tally:
    result = Tally(Counter(), Counter())
    for case in cases:
        (result.same if case.same else result.other)[matcher(case.claim, case.register)] += 1
    return result


def _line(label: str, t: Tally) -> str:
    same, other = t.same.total(), t.other.total()
    return (
        f"{label:<8} same person: {t.same['match']:>3}/{same} match"
        f" ({t.same['match'] + t.same['partial']:>3}/{same} with accept_partial) | "
        f"other person: {t.other['no_match']:>3}/{other} no_match,"
        f" {t.other['partial']:>2} partial, {t.other['match']:>2} match"
    )


def report(before: Matcher, cases: list[NameCase], by_category: bool) -> list[str]:
    lines = [
        f"name table: {sum(c.same for c in cases)} same-person spellings, "
        f"{sum(not c.same for c in cases)} other-person claims (tests/name_cases.py)",
        _line("before", tally(before, cases)),
        _line("after", tally(new_matcher, cases)),
    ]
    if by_category:
        for category in sorted({c.category for c in cases}):
            chosen = [c for c in cases if c.category == category]
            old, new = tally(before, chosen), tally(new_matcher, chosen)
            lines.append(f"  {category:<15} before {_short(old)}  after {_short(new)}")
    return lines


def _short(t: Tally) -> str:
    counts = t.same + t.other
    return " ".join(f"{k}={counts[k]}" for k in ("match", "partial", "no_match"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default="7718d7b", help="commit of the old matcher")
    parser.add_argument("--by-category", action="store_true")
    args = parser.parse_args(argv)
    try:
        before = old_matcher(args.before)
    except ModuleNotFoundError as e:
        print(f"{e}: pip install -e '.[loadtest]'", file=sys.stderr)
        return 2
    print("\n".join(report(before, NAME_CASES, args.by_category)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
