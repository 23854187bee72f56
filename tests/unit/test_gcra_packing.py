"""The probing limit's lean EVALSHA: runs of charges, a hand-packed RESP command equal to
redis-py's, and the script's refusals-only reply mapped back to the charges."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio.connection import Connection

from verify.adapters import attempts
from verify.adapters.attempts import RedisAttemptLimiter, attempts_key
from verify.adapters.gcra_batch import Charge
from verify.adapters.gcra_redis import (
    KEEP,
    SHA,
    OutOfStep,
    StandaloneSender,
    evalsha_command,
    refusals_of,
    script_runs,
)
from verify.domain.gcra import Limit, Quota

RULES = [Limit(10, 20), Limit(10, 20), Quota(50, 86_400), Quota(3, 86_400)]


def test_charges_sharing_rule_and_cost_are_one_run() -> None:
    quota = Quota(50, 86_400)
    charges = [Charge(f"k{i}", quota, 1, True) for i in range(1_000)]
    assert script_runs(charges) == [1_000, quota.interval_us, 50, 1, 1]


def test_a_run_ends_where_rule_cost_or_strictness_changes() -> None:
    a, b = Limit(10, 20), Limit(10, 20)  # equal, not the same object: one run
    charges = [
        Charge("x", a, 1, False),
        Charge("y", b, 1, False),
        Charge("z", b, 2, False),
        Charge("z", b, 2, True),
        Charge("w", Limit(5, 20), 2, True),
    ]
    assert script_runs(charges) == [
        *(2, 100_000, 20, 1, 0),
        *(1, 100_000, 20, 2, 0),
        *(1, 100_000, 20, 2, 1),
        *(1, 200_000, 20, 2, 1),
    ]


def _expanded(charges: list[Charge]) -> list[tuple[int, int, int, bool]]:
    runs = script_runs(charges)
    out: list[tuple[int, int, int, bool]] = []
    for n in range(0, len(runs), 5):
        count, interval, burst, cost, strict = runs[n : n + 5]
        out += [(interval, burst, cost, strict == 1)] * count
    return out


keys = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=20)
batches = st.lists(
    st.tuples(keys, st.sampled_from(RULES), st.integers(1, 60), st.booleans()), max_size=30
)


@given(batches)
def test_runs_expand_to_every_charge_in_order(made: list[tuple[str, Limit, int, bool]]) -> None:
    charges = [Charge(*c) for c in made]
    assert _expanded(charges) == [(r.interval_us, r.burst, c, s) for _, r, c, s in made]


@given(st.lists(keys, max_size=30), st.lists(st.integers(0, 10**15), max_size=10))
def test_the_hand_packed_command_is_redis_pys(some: list[str], args: list[int]) -> None:
    packed = b"".join(Connection().pack_command("EVALSHA", SHA, len(some), *some, *args))
    assert evalsha_command(some, args) == packed


def test_refusals_are_mapped_to_the_charges() -> None:
    assert refusals_of([3, 1, 500, 3, 7], 3) == [0, 500, 2, 7]
    assert refusals_of([3, 2, 9], 3, indices=[4, 8, 15]) == [8, 9]
    assert refusals_of([5], 5) == []


@pytest.mark.parametrize("reply", [[], [4], [6, 1, 9], b"OK", 1])
def test_a_reply_not_counting_the_commands_keys_decides_nothing(reply: object) -> None:
    # an empty or foreign reply (a connection out of step) must not read as "all allowed"
    with pytest.raises(OutOfStep):
        refusals_of(reply, 5)  # type: ignore[arg-type]


def _attempts_key_as_before(prefix: str, hmac_key: bytes, agency_id: int, id_number: str) -> str:
    """The key's definition (hmac.new, urlsafe base64): Redis holds keys made by it."""
    message = f"attempts:{agency_id}:{id_number}".encode("ascii")
    mac = hmac.new(hmac_key, message, hashlib.sha256).digest()[:16]
    return f"{prefix}:pa:v1:{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


@given(
    st.binary(min_size=32, max_size=32),
    st.integers(1, 10**9),
    st.text("0123456789", min_size=9, max_size=12),
)
def test_the_fast_attempts_key_is_the_same_key(key: bytes, agency: int, number: str) -> None:
    limiter = RedisAttemptLimiter(None, prefix="cv", hmac_key=key)
    expected = _attempts_key_as_before("cv", key, agency, number)
    assert attempts_key("cv", key, agency, number) == expected
    assert limiter.key_of(agency, number) == expected == limiter.key_of(agency, number)


def test_the_key_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attempts, "KEY_MEMO_MAX", 3)
    limiter = RedisAttemptLimiter(None, prefix="cv", hmac_key=b"k" * 32)
    for i in range(10):
        assert limiter.key_of(i % 2, f"00109000000{i}") == attempts_key(
            "cv", b"k" * 32, i % 2, f"00109000000{i}"
        )
    assert sum(len(keys) for keys in limiter._keys.values()) <= 3


class _Conn:
    """A connected redis-py connection as the sender uses it: its stream writer (and that
    writer's transport) and its reply parser are itself."""

    is_connected = True
    socket_timeout = None

    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.disconnected = False
        self.sent = 0
        self._writer = self._parser = self.transport = self

    def write(self, command: bytes) -> None:
        self.sent += 1

    def get_write_buffer_size(self) -> int:
        return 0

    async def read_response(self) -> list[int]:
        await self.pool.gate.wait()
        if self.pool.error is not None:
            raise self.pool.error
        return [self.pool.keys]

    async def disconnect(self, nowait: bool = False) -> None:
        self.disconnected = True


class _Pool:
    """A connection pool that counts what is checked out; replies wait for ``gate``."""

    def __init__(self) -> None:
        self.out: set[_Conn] = set()
        self.made: list[_Conn] = []
        self.gate = asyncio.Event()
        self.error: BaseException | None = None
        self.keys = 1

    async def get_connection(self) -> _Conn:
        conn = _Conn(self)
        self.out.add(conn)
        self.made.append(conn)
        return conn

    async def release(self, conn: _Conn) -> None:
        self.out.discard(conn)


class _Client:
    def __init__(self) -> None:
        self.connection_pool = _Pool()


async def test_the_sender_keeps_a_few_connections_and_gives_back_the_rest() -> None:
    client = _Client()
    sender = StandaloneSender(client)  # type: ignore[arg-type]
    charge = Charge("t:k", Limit(1, 10), 1, False)
    calls = [asyncio.ensure_future(sender([charge])) for _ in range(KEEP + 6)]
    await asyncio.sleep(0)
    assert len(client.connection_pool.out) == KEEP + 6  # a slow spell: all in flight
    client.connection_pool.gate.set()
    await asyncio.gather(*calls)
    assert len(client.connection_pool.out) == KEEP  # the rest went back to the pool
    await sender([charge])
    assert len(client.connection_pool.out) == KEEP  # a kept one was used again


async def test_a_failed_round_trip_gives_back_every_connection() -> None:
    client = _Client()
    pool = client.connection_pool
    sender = StandaloneSender(client)  # type: ignore[arg-type]
    charge = Charge("t:k", Limit(1, 10), 1, False)
    calls = [asyncio.ensure_future(sender([charge])) for _ in range(3)]
    await asyncio.sleep(0)
    pool.gate.set()
    await asyncio.gather(*calls)
    assert len(pool.out) == 3
    pool.error = ConnectionError("reset")
    with pytest.raises(ConnectionError):
        await sender([charge])
    assert not pool.out  # every kept connection went back, disconnected
    pool.error, pool.keys = None, 2  # a reply that answers another command
    pool.gate.clear()
    calls = [asyncio.ensure_future(sender([charge])) for _ in range(KEEP + 2)]
    await asyncio.sleep(0)
    pool.gate.set()  # all in flight at once, more than KEEP
    for outcome in await asyncio.gather(*calls, return_exceptions=True):
        assert isinstance(outcome, OutOfStep)
    assert not pool.out  # none went back to the pool or stayed kept with a stale reply
    assert all(conn.disconnected for conn in pool.made[-(KEEP + 2) :])
