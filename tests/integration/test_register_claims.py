"""The 100M bench's claims come from the seed's generator, not a table sample (which would warm
the pages it then asks for): they must be people of the seeded register, as the register has
them."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from loadtest.bench import register
from verify.adapters.seed import seed_register

TODAY = dt.date(2025, 6, 1)


async def test_generated_claims_are_people_of_the_register(db_url: str) -> None:
    conn = await asyncpg.connect(db_url, timeout=10)
    try:
        await seed_register(
            conn, count=3_000, seed=9, today=TODAY, progress=False, parallel=True, dsn=db_url
        )
        run = await register._run_of(db_url, 3_000)
        assert run == (9, TODAY)
        record = await register._seeded(db_url, 3_000)  # what register-100m.json records
        seconds = record["seed_seconds"]
        assert isinstance(seconds, float) and seconds > 0
        rate = record["seed_citizens_per_s"]
        assert isinstance(rate, int) and rate > 0 and str(record["seed_started_at"])[:4] >= "2025"
        assert await register._seeded(db_url, 4_000) == {}  # no run of that size
        claims = register.generated_claims(9, TODAY, 3_000, 200)
        assert len(claims) == 200
        for claim in claims:
            row = await conn.fetchrow(
                "SELECT full_name, birth_date, birth_year_only, gender,"
                " (SELECT max(issue_date) FROM id_cards k WHERE k.id_number = c.id_number) AS issue"
                " FROM citizens c WHERE id_number = $1",
                int(str(claim["id_number"])),
            )
            assert row is not None
            assert claim["full_name"] == row["full_name"]
            birth = row["birth_date"]
            assert claim["date_of_birth"] == (
                str(birth.year) if row["birth_year_only"] else birth.isoformat()
            )
            assert claim["gender"] == ("female" if row["gender"] == b"F" else "male")
            issue = row["issue"]
            assert claim.get("card_issue_date") == (issue.isoformat() if issue else None)
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("text", "count"), [("100M", 100_000_000), ("10m", 10_000_000), ("500k", 500_000), ("42", 42)]
)
def test_register_sizes(text: str, count: int) -> None:
    assert register.parse_size(text) == count
    assert register.parse_size(register.label(count).upper()) == count


def test_a_bad_size_is_refused() -> None:
    with pytest.raises(ValueError, match="not a register size"):
        register.parse_size("lots")
