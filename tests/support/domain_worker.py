"""A child process that answers calls of verify/domain functions, for the parity test of the
compiled and pure-Python builds (tests/unit/domain/test_native_parity.py).

``python -m tests.support.domain_worker``: the parent's environment decides the build
(``VERIFY_PURE_PYTHON``). It first writes which build it runs (verify/native.py's mode and the
domain modules it imported from compiled files), then answers requests until stdin closes.
Frames are a 4-byte big-endian length and a pickle. A request is a list of calls
``(function, args)``, ``function`` a name of :data:`CALLS`; the answer is, per call, the
canonical form of its result (or of the exception it raised) computed twice in a row, so that
memoised functions answer once computed and once from their memo. The canonical form is plain
data that says everything an answer is: type, fields, ``repr``, an exception's type, message
and attributes (no hashes: ``hash(None)`` differs between processes before Python 3.12);
plain data because the compiled build's native classes do not pickle.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import importlib
import pickle
import struct
import sys
from collections.abc import Callable
from typing import Any, BinaryIO

from verify import native
from verify.domain import gcra

_LEN = struct.Struct(">I")


def _decide(
    tat: int | None, now: int, kind: str, a: int, b: int, cost: int, strict: bool
) -> gcra.Decision:
    rule = gcra.Limit(a, b) if kind == "limit" else gcra.Quota(a, b)
    return gcra.decide(tat, now, rule, cost, strict=strict)


def _interval(kind: str, a: int, b: int) -> tuple[int, int]:
    rule = gcra.Limit(a, b) if kind == "limit" else gcra.Quota(a, b)
    return rule.interval_us, rule.burst


def _evaluate(claim: Any, record: Any, today: dt.date) -> tuple[object, object]:
    verdict = importlib.import_module("verify.domain.verdict")
    outcome = verdict.evaluate(claim, record, today)
    return outcome, verdict.outcome_to_json(outcome)


def _disclose(
    record: Any,
    province: str,
    address: str,
    raw: str | None,
    scopes: frozenset[str],
    today: dt.date,
) -> object:
    disclosure = importlib.import_module("verify.domain.disclosure")
    groups, missing = disclosure.parse_groups(raw, scopes)
    profile = disclosure.CitizenProfile(record, province, address)
    return (
        groups,
        missing,
        disclosure.disclosed_fields(groups),
        disclosure.disclose(profile, groups, today),
    )


def _resolve(name: str) -> Callable[..., object]:
    module, _, function = name.rpartition(".")
    return getattr(importlib.import_module(f"verify.domain.{module}"), function)  # type: ignore[no-any-return]


SPECIAL: dict[str, Callable[..., object]] = {
    "gcra.decide_with": _decide,
    "gcra.interval_of": _interval,
    "verdict.evaluate_wire": _evaluate,
    "disclosure.disclose_with": _disclose,
}


def call(name: str, args: tuple[object, ...]) -> Callable[[], object]:
    function = SPECIAL.get(name) or _resolve(name)
    return lambda: function(*args)


def canonical(value: object) -> object:
    """Everything that makes ``value`` what it is, as plain data comparable across builds."""
    kind = type(value)
    name = f"{kind.__module__}.{kind.__qualname__}"
    if isinstance(value, BaseException):
        attrs = getattr(value, "__dict__", {})
        return ("raised", name, str(value), repr(value), canonical(value.args), canonical(attrs))
    if isinstance(value, enum.Enum):
        return ("enum", name, value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = tuple(canonical(getattr(value, f.name)) for f in dataclasses.fields(value))
        return ("dataclass", name, fields, repr(value))
    if isinstance(value, dict):
        return ("dict", name, tuple((canonical(k), canonical(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return ("seq", name, tuple(canonical(v) for v in value))
    if isinstance(value, set | frozenset):
        return ("set", name, tuple(sorted((canonical(v) for v in value), key=repr)))
    if isinstance(value, float):  # by repr: nan is not equal to itself
        return ("plain", name, repr(value))
    if value is None or isinstance(value, bool | int | str | bytes | dt.date):
        return ("plain", name, value)
    raise TypeError(f"no canonical form for {name}")


def answer(function: Callable[[], object]) -> object:
    try:
        result = function()
    except Exception as e:
        return canonical(e)
    return canonical(result)


def _read(stream: BinaryIO) -> Any:
    head = stream.read(_LEN.size)
    if len(head) < _LEN.size:
        return None
    return pickle.loads(stream.read(_LEN.unpack(head)[0]))


def _write(stream: BinaryIO, value: object) -> None:
    data = pickle.dumps(value)
    stream.write(_LEN.pack(len(data)) + data)
    stream.flush()


def main() -> None:
    for module in native.compiled_names():  # every one, so the hello says which loaded how
        importlib.import_module(module)
    out, into = sys.stdout.buffer, sys.stdin.buffer
    _write(out, {"mode": native.mode().name, "compiled": native.loaded_compiled()})
    while (calls := _read(into)) is not None:
        answers = []
        for name, args in calls:
            function = call(name, args)
            answers.append((answer(function), answer(function)))
        _write(out, answers)


if __name__ == "__main__":
    main()
