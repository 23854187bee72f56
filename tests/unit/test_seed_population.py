"""The seed's population keeps its shape at every size: chi-square tests of the family names,
given names, birth provinces and ages drawn, at two sizes, against the tables they come from
(shares in ../shared/data/README.md, the 2019 census and age pyramid); and the vectorised
card expiry agrees with the domain's rule."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.adapters import seed_cards, seed_gen, seed_names
from verify.adapters.seed_gen import EPOCH, Population, chunk_sizes
from verify.domain.cards import card_expiry

TODAY = dt.date(2025, 6, 1)
SIZES = (20_000, 400_000)  # one partial chunk; four chunks
Z_1E4 = 3.719  # one-sided normal quantile for p = 1e-4


def chi2_critical(df: int, z: float = Z_1E4) -> float:
    """Wilson-Hilferty approximation of the chi-square quantile."""
    k = 2 / (9 * df)
    return df * (1 - k + z * math.sqrt(k)) ** 3


def assert_fits(observed: np.ndarray, weights: Sequence[float], what: str) -> None:
    """Chi-square goodness of fit; categories expecting fewer than 5 are pooled."""
    w = np.asarray(weights, np.float64)
    expected = w / w.sum() * observed.sum()
    small = expected < 5
    obs = np.r_[observed[~small], observed[small].sum()]
    exp = np.r_[expected[~small], expected[small].sum()]
    keep = exp > 0
    stat = float((((obs - exp) ** 2)[keep] / exp[keep]).sum())
    df = int(keep.sum()) - 1
    assert stat < chi2_critical(df), f"{what}: chi2 {stat:.1f} over {df} df"


def people(count: int) -> list:  # type: ignore[type-arg]
    population = Population(11, TODAY)
    return [population.chunk(k, n) for k, n in enumerate(chunk_sizes(count))]


@pytest.fixture(scope="module", params=SIZES, ids=lambda n: f"{n}")
def drawn(request: pytest.FixtureRequest) -> dict[str, np.ndarray]:
    chunks = people(request.param)
    cat = {
        name: np.concatenate([getattr(c.people, name) for c in chunks])
        for name in ("id_number", "family", "given", "birth", "year_only", "female")
    }
    assert len(cat["id_number"]) == request.param
    assert len(np.unique(cat["id_number"])) == request.param
    return cat


T = Population(11, TODAY).t


def test_family_names_hold_their_cited_shares(drawn: dict[str, np.ndarray]) -> None:
    weights = list(seed_names.family_weights().values())
    counts = np.bincount(drawn["family"], minlength=len(weights))
    assert_fits(counts, weights, "family names")
    nguyen = counts[T.families.index("Nguyễn")] / counts.sum()
    assert abs(nguyen - 0.38) < 0.015


def test_given_names_follow_their_tables_by_gender(drawn: dict[str, np.ndarray]) -> None:
    n_male = len(T.male_names)
    for female, cum in ((False, T.male_cum), (True, T.female_cum)):
        picked = drawn["given"][drawn["female"] == female] - (n_male if female else 0)
        weights = np.diff(np.r_[0.0, cum])
        assert picked.min() >= 0 and picked.max() < len(weights)
        assert_fits(np.bincount(picked, minlength=len(weights)), weights, f"given {female=}")
    share = drawn["female"].mean()
    assert abs(share - 0.5025) < 4 * math.sqrt(0.25 / len(drawn["female"]))


def test_birth_provinces_follow_the_census(drawn: dict[str, np.ndarray]) -> None:
    codes = drawn["id_number"] // 1_000_000_000
    index = {int(c): i for i, c in enumerate(T.codes)}
    counts = np.bincount([index[int(c)] for c in codes], minlength=len(T.codes))
    assert_fits(counts, [seed_names.PROVINCE_POPULATION[c] for c in T.codes], "provinces")


def test_ages_follow_the_pyramid(drawn: dict[str, np.ndarray]) -> None:
    """Ages by five-year band; those known only by their birth year are left out (their age is
    shifted by the 1 January birth date), and the expectation discounts them likewise."""
    birth = drawn["birth"][~drawn["year_only"]]
    ages = np.asarray(
        [_age(d) for d in birth.astype("M8[D]").astype(object)], np.int64
    )  # calendar age, the way the domain counts it
    weights = seed_names.age_weights(Population(11, TODAY).max_age)
    expected = [w * (1 - yo) for w, yo in zip(weights, T.year_only, strict=True)]
    bands = [(first, min(last, len(weights) - 1)) for first, last, _ in seed_names.AGE_BANDS]
    observed = np.asarray([((ages >= a) & (ages <= b)).sum() for a, b in bands])
    assert_fits(observed, [sum(expected[a : b + 1]) for a, b in bands], "age bands")


def _age(birth: dt.date) -> int:
    return TODAY.year - birth.year - int((TODAY.month, TODAY.day) < (birth.month, birth.day))


def test_cards_and_former_ids_at_their_rates() -> None:
    chunks = people(100_000)
    cards = np.concatenate([c.cards.status for c in chunks])
    assert 1.0 < len(cards) / 100_000 < 1.4
    assert 0.2 < sum(c.counts[2] for c in chunks) / 100_000 < 0.3


dates = st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31))


@settings(max_examples=300, deadline=None)
@given(birth=dates, issue=dates)
def test_vectorised_expiry_is_the_domain_rule(birth: dt.date, issue: dt.date) -> None:
    if issue < birth:
        birth, issue = issue, birth
    days = np.asarray([birth.toordinal() - EPOCH]), np.asarray([issue.toordinal() - EPOCH])
    got = int(seed_cards.expiry(*days)[0])
    want = card_expiry(birth, issue)
    assert got == (seed_cards.NEVER if want is None else want.toordinal() - EPOCH)


def _reference(cum: np.ndarray, r: np.ndarray) -> np.ndarray:
    drawn = np.searchsorted(cum, r * cum[-1], side="right")
    capped: np.ndarray = np.minimum(drawn, len(cum) - 1)
    return capped


@settings(max_examples=200, deadline=None)
@given(
    weights=st.lists(
        st.one_of(st.just(0.0), st.floats(1e-12, 1e-6), st.floats(1e-6, 1e3)), min_size=1,
        max_size=300,
    ).filter(lambda w: sum(w) > 0),
    seed=st.integers(0, 2**32),
)  # fmt: skip
def test_guided_draws_are_the_binary_search(weights: list[float], seed: int) -> None:
    """The guide of a draw table returns what a binary search per draw returns, whatever the
    weights: zero weights, a long tail of tiny ones many to a bucket, one entry."""
    cum = np.cumsum(np.asarray(weights, np.float64))
    drawn = seed_gen.Table(cum).pick(np.random.Generator(np.random.PCG64(seed)), 5_000)
    r = np.random.Generator(np.random.PCG64(seed)).random(5_000)
    assert np.array_equal(drawn, _reference(cum, r))


def test_guided_draws_on_the_seed_tables() -> None:
    population = Population(3, TODAY)
    for table in (population.male_cum, population.female_cum, population.family_cum,
                  population.age_cum, population.province_cum):  # fmt: skip
        r = np.random.Generator(np.random.PCG64(5)).random(200_000)
        drawn = table.pick(np.random.Generator(np.random.PCG64(5)), 200_000)
        assert np.array_equal(drawn, _reference(table.cum, r))


def test_guided_draws_on_exact_ties() -> None:
    """Draws that land exactly on a cumulative weight (side="right": the next entry), inside
    a bucket and on its edges: whole weights summing to 2**20, draws k / 2**20 and next to
    them."""
    rng = np.random.Generator(np.random.PCG64(1))
    weights = rng.integers(0, 3_000, 600).astype(np.float64)
    weights[-1] += 2**20 - weights.sum()
    cum = np.cumsum(weights)
    r = np.arange(1 << 20, dtype=np.float64) / (1 << 20)
    r = np.r_[r, np.nextafter(r[1:], 0), np.nextafter(r, 1)]
    assert np.isin(r * cum[-1], cum).sum() > 500  # ties happen, most inside a bucket
    assert np.array_equal(seed_gen.Table(cum).draw(r), _reference(cum, r))
