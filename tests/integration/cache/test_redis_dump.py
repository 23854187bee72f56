"""Nothing personal readable in a dump of Redis (keys and values of a real cache)."""

from __future__ import annotations

import datetime as dt
import unicodedata

import asyncpg

from tests.integration.cache.conftest import CountingSource, LookupFactory, add_citizen, new_id


def _forms(text: str) -> list[bytes]:
    folded = unicodedata.normalize("NFD", text).encode("ascii", "ignore").decode()
    return [f.encode() for f in (text, folded, folded.upper())] + [text.encode("utf-16-le")]


async def test_a_dump_of_redis_holds_no_personal_data(
    pg_pool: asyncpg.Pool, source: CountingSource, make_lookup: LookupFactory
) -> None:
    people = {new_id(): name for name in ("Phạm Minh Châu", "Đỗ Hoàng Long", "Vũ Thị Hạnh")}
    birth = dt.date(1987, 11, 23)
    for id12, name in people.items():
        await add_citizen(pg_pool, id12, name=name, birth=birth, former=id12[3:])
    lookup = await make_lookup(source)
    await lookup.get_many([*people, new_id()])
    await lookup.resolve_former([i[3:] for i in people])
    assert lookup.redis is not None
    await lookup.redis.drain()

    client, dump = lookup.redis.client, []
    async for key in client.scan_iter(match=lookup.keyspace.pattern, count=100):
        dump.append(key)
        dump.append(await client.get(key))
    assert len(dump) == 2 * (len(people) * 2 + 1)
    secrets_ = [b"1987-11-23", b"23111987", b"19871123", str(birth.toordinal()).encode()]
    for id12, name in people.items():
        secrets_ += [id12.encode(), id12[3:].encode(), *_forms(name)]
        secrets_ += [word.encode() for word in name.split()]
    for blob in dump:
        for secret in secrets_:
            assert secret not in blob
