"""The compiled (mypyc) domain gives exactly the pure-Python domain's answers.

Two child processes (tests/support/domain_worker.py) run the same calls, one on the
compiled build of verify/domain (verify/native.py) and one with ``VERIFY_PURE_PYTHON=1``;
every answer must be the same: the same value (type, fields, ``repr``) or the same
exception (type, message, attributes), computed and from the memos. The corpus: the name
table (tests/name_cases.py), the register and cases (tests/cases.py), the oracle's inputs
as tests/unit/domain/test_fast_path.py generates them, and hypothesis-generated bodies,
names, dates, ID numbers, QR payloads, cards and rate limits.

The compiled child must really run the compiled modules (its hello lists them). The build is
made here if ``make install`` has not made it for these sources (the first run after a
change of verify/domain: ~20 s); the test is skipped only where nothing can be compiled
(no C compiler or no mypyc), and says why.
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.cases import BATCH_ITEMS, CASES, INVALID_CASES, REGISTER, TODAY
from tests.name_cases import NAME_CASES
from tests.support.domain_worker import _LEN
from tests.unit.domain.test_fast_path import (
    BODIES,
    DATE_TEXT,
    DATES,
    IDS,
    NAME,
    NAMES,
    RECORD,
    SPACED,
    USUAL,
    _claims_on,
)
from verify import native, native_build
from verify.domain.claims import parse_claim
from verify.domain.errors import ValidationError
from verify.domain.model import Card, CardState, Claim, Gender, PartialDate, Precision

pytestmark = pytest.mark.timeout(600)  # the first run after a domain change compiles it
ROOT = Path(__file__).resolve().parents[3]
PARITY = settings(database=None, deadline=None, max_examples=150)
Call = tuple[str, tuple[object, ...]]


class Worker:
    def __init__(self, pure: bool) -> None:
        env = {k: v for k, v in os.environ.items() if k != native.ENV}
        env["PYTHONHASHSEED"] = "0"  # str hashes (in the answers) alike in both children
        if pure:
            env[native.ENV] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.domain_worker"],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        self.hello = self._read()

    def _read(self) -> object:
        assert self.proc.stdout is not None
        head = self.proc.stdout.read(_LEN.size)
        assert len(head) == _LEN.size, "the domain worker died (its stderr is above)"
        return pickle.loads(self.proc.stdout.read(_LEN.unpack(head)[0]))

    def ask(self, calls: list[Call]) -> list[object]:
        assert self.proc.stdin is not None
        data = pickle.dumps(calls)
        self.proc.stdin.write(_LEN.pack(len(data)) + data)
        self.proc.stdin.flush()
        answers = self._read()
        assert isinstance(answers, list)
        return answers

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


class Pair:
    def __init__(self) -> None:
        self.pure, self.compiled = Worker(pure=True), Worker(pure=False)

    def same(self, calls: list[Call]) -> None:
        pure, compiled = self.pure.ask(calls), self.compiled.ask(calls)
        for call, p, c in zip(calls, pure, compiled, strict=True):
            assert c == p, call


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    why = native_build.missing()
    if why is not None:
        pytest.skip(f"the domain cannot be compiled here ({why}): pure Python only")
    native_build.build(native.native_root(), quiet=True)
    workers = Pair()
    try:
        assert workers.pure.hello == {"mode": "pure", "compiled": []}
        assert workers.compiled.hello == {"mode": "compiled", "compiled": native.compiled_names()}
        yield workers
    finally:
        workers.pure.close()
        workers.compiled.close()


def test_the_compiled_worker_runs_every_compiled_module(pair: Pair) -> None:
    # the fixture asserts it; here, that the set is the domain's logic and not empty
    names = native.compiled_names()
    assert {"verify.domain.claims", "verify.domain.names", "verify.domain.verdict"} <= set(names)
    assert "verify.domain.model" not in names


def test_the_name_table(pair: Pair) -> None:
    calls: list[Call] = []
    for case in NAME_CASES:
        calls += [
            ("names.match_name", (case.claim, case.register)),
            ("names.match_name", (case.register, case.claim)),
            ("names.parse_name", (case.claim, "full_name")),
            ("name_text.normalise", (case.claim,)),
            ("name_text.fold", (case.claim,)),
            ("name_airline.airline_match", (case.claim, case.register)),
        ]
    pair.same(calls)


def test_the_cases_and_the_register(pair: Pair) -> None:
    records = {e.record.id_number: e.record for e in REGISTER}
    scopes = frozenset({"lookup:basic", "lookup:residence", "lookup:cards"})
    calls: list[Call] = []
    for case in CASES:
        calls.append(("claims.parse_claim", (case.body,)))
        claim = _claim_of(case.body)
        if claim is not None:
            record = records.get(claim.id_number)
            calls.append(("verdict.evaluate_wire", (claim, record, TODAY)))
    calls += [("claims.parse_claim", (invalid.body,)) for invalid in INVALID_CASES]
    calls += [("claims.parse_claim", (item,)) for item in BATCH_ITEMS]
    for entry in REGISTER:
        r, province, address = entry.record, entry.province_code, entry.address
        calls += [
            ("id_number.structure", (r.id_number,)),
            ("id_number.parse_id_number", (r.id_number,)),
            ("cards.check_card", (r.cards, r.cards[-1].issue_date if r.cards else None, TODAY)),
            ("disclosure.disclose_with", (r, province, address, None, scopes, TODAY)),
            ("disclosure.disclose_with", (r, province, address, "basic,bogus", scopes, TODAY)),
            ("disclosure.disclose_with", (r, province, address, "cards", frozenset(), TODAY)),
        ]
        calls += [("id_number.parse_id_number", (former,)) for former in entry.former_ids]
    pair.same(calls)


def _claim_of(body: object) -> Claim | None:
    """The claim of ``body`` (a model instance: the same class in both builds), or None."""
    try:
        return parse_claim(body)
    except ValidationError:
        return None


@PARITY
@given(st.lists(BODIES | USUAL, min_size=1, max_size=40))
def test_generated_bodies(pair: Pair, bodies: list[object]) -> None:
    pair.same([("claims.parse_claim", (body,)) for body in bodies])


@PARITY
@given(RECORD.flatmap(lambda r: st.tuples(st.just(r), st.lists(_claims_on(r), max_size=8))), DATES)
def test_generated_verdicts(pair: Pair, drawn: tuple[object, list[object]], today: dt.date) -> None:
    record, claims = drawn
    calls: list[Call] = [("verdict.evaluate_wire", (c, record, today)) for c in claims]
    calls.append(("verdict.evaluate_wire", (claims[0] if claims else None, None, today)))
    pair.same([c for c in calls if c[1][0] is not None])


@PARITY
@given(st.lists(st.tuples(NAME, NAME | st.sampled_from(NAMES)), min_size=1, max_size=20), SPACED)
def test_generated_names(pair: Pair, pairs: list[tuple[str, str]], spaced: str) -> None:
    calls: list[Call] = [("name_text.normalise", (spaced,)), ("names.parse_name", (spaced, "f"))]
    for claim, register in pairs:
        calls += [
            ("names.match_name", (claim, register)),
            ("names.parse_name", (claim, "booking_name")),
            ("names.well_formed", (claim,)),
            ("name_text.skeleton", (claim,)),
            ("name_text.has_forbidden_character", (claim,)),
            ("name_airline.airline_match", (claim, register)),
        ]
    pair.same(calls)


ID_TEXT = st.sampled_from(IDS) | st.from_regex(r" ?[0-9]{8,13} ?", fullmatch=True) | st.text()
QR = st.builds(
    lambda parts: "|".join(parts),
    st.lists(st.text(max_size=14) | st.from_regex(r"[0-9]{8,12}", fullmatch=True), max_size=8),
)


@PARITY
@given(
    st.lists(DATE_TEXT | st.integers() | st.none(), max_size=10),
    st.lists(st.tuples(DATES, st.sampled_from(list(Precision))), min_size=2, max_size=6),
    st.lists(ID_TEXT | st.integers(), max_size=10),
    st.lists(QR | st.sampled_from([c.body.get("qr") for c in CASES if "qr" in c.body]), max_size=6),
)
def test_generated_dates_ids_and_qr(
    pair: Pair,
    texts: list[object],
    partials: list[tuple[dt.date, Precision]],
    ids: list[object],
    qrs: list[object],
) -> None:
    calls: list[Call] = []
    for raw in texts:
        calls += [("dates.parse_partial_date", (raw, "date_of_birth")),
                  ("dates.parse_date", (raw, "card_issue_date"))]  # fmt: skip
    days = [PartialDate(day, precision) for day, precision in partials]
    calls += [("dates.match_date", (a, b)) for a in days for b in days]
    calls += [("id_number.parse_id_number", (raw,)) for raw in ids]
    calls += [("qr.parse_qr", (raw,)) for raw in qrs]
    pair.same(calls)


CARDS = st.lists(
    st.builds(Card, DATES, st.none() | DATES, st.sampled_from(list(CardState))), max_size=4
).map(tuple)


@PARITY
@given(CARDS, st.none() | DATES, DATES, DATES, st.sampled_from(list(Gender)))
def test_generated_cards(
    pair: Pair,
    cards: tuple[Card, ...],
    presented: dt.date | None,
    today: dt.date,
    birth: dt.date,
    gender: Gender,
) -> None:
    calls: list[Call] = [("cards.check_card", (cards, presented, today))]
    calls += [("cards.check_card", (cards, c.issue_date, today)) for c in cards]
    calls += [("cards.card_expiry", (birth, today)), ("cards.age_on", (birth, today))]
    calls += [("id_number.make_id12", ("001", gender, birth.year, 12345))]
    pair.same(calls)


@PARITY
@given(
    st.lists(
        st.tuples(
            st.none() | st.integers(0, 10**13),
            st.integers(0, 10**13),
            st.sampled_from(["limit", "quota"]),
            st.integers(1, 10**6),
            st.integers(1, 10**4),
            st.integers(0, 2 * 10**4),
            st.booleans(),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_generated_rate_limits(
    pair: Pair, calls: list[tuple[int | None, int, str, int, int, int, bool]]
) -> None:
    asked: list[Call] = [("gcra.decide_with", c) for c in calls]
    asked += [("gcra.interval_of", (c[2], c[3], c[4])) for c in calls]
    pair.same(asked)
