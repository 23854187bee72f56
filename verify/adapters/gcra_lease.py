"""Token leases: a process buys a bucket's tokens from Redis in blocks and spends them in
memory, so that almost no request waits on Redis for its rate limit (an API key's bucket),
nor a verify of a busy person for the probing limit (an agency and person's bucket,
:class:`LeasedAttemptLimiter`).

A lease is a strict charge of ``n`` tokens on the key's shared GCRA bucket in Redis
(``gcra_many.lua``, through the same per-tick batcher): Redis grants it only when the
bucket holds all ``n`` at once, and the tokens are then spent here, one request at a
time, with no round trip. A new lease is bought in the background when half of the
held tokens are spent, so a key in steady use never waits; a request finding no token
is charged at Redis on its own, exactly as without leases (and the lease it triggers
goes in the same round trip).

The bound. A process never holds more than ``size`` unspent tokens of a key: a refill
asks ``size - held`` tokens, one refill at a time, and ``size`` is at most
``burst // LEASE_SHARE`` and ``max_tokens`` (``VERIFY_RATE_LEASE_MAX``). Every token spent
was charged in Redis first, so over any interval the requests admitted across N
processes exceed the key's GCRA limit (``burst + rate x interval``) by at most what
they held at its start: N x size tokens (one lease per process). A key of burst below
``2 x LEASE_SHARE`` (20) gets no lease and is charged per request, exactly as before.

Leases expire (``VERIFY_RATE_LEASE_TTL``): tokens left unspent then are dropped, never
handed back; that is the other side of the bound, a key's other processes may be
refused up to ``size`` tokens early per lease dropped. To keep that small for keys in
light use, a lease is sized by the key's recent demand here (at most twice the tokens
spent in the current or the last TTL window), so a key used once a TTL holds none.

Refusals and failures. A lease Redis refuses (the bucket holds fewer than ``n``: the
key is near its limit) is asked again only after the wait Redis named (at most a TTL);
meanwhile each request is charged on its own, precise to the token, and refused with
its ``Retry-After`` as before. A lease Redis did not decide (failure, timeout, open
breaker) is not retried for a TTL; requests go the per-request path, whose breaker and
local fallback (``gcra_batch.Buckets``) are unchanged.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from verify.adapters.gcra_batch import ALLOWED, Charge, ChargeBatcher
from verify.adapters.ratelimit import RateLimiter
from verify.domain.gcra import MICROS, Decision, Limit, Quota, Rule

LEASE_SHARE = 10  # a lease is at most this fraction of the key's burst: the bound per process
LEASE_MAX_KEYS = 10_000  # keys with lease state in one process (oldest dropped)
ATTEMPT_LEASE_MAX_KEYS = 50_000  # (agency, person) pairs with lease state in one process


def lease_size(limit: Rule, max_tokens: int) -> int:
    """The most tokens of ``limit`` one process may hold; 0: none (charged per request)."""
    size = min(max_tokens, limit.burst // LEASE_SHARE)
    return size if size >= 2 else 0


LOST_SHARE = 10  # an attempt lease loses at most this fraction of what its bucket refills


def attempt_lease_size(limit: Rule, max_tokens: int, ttl_s: float) -> int:
    """The most attempts of a probing-limit bucket one process may lease; 0: none.

    Unlike a key's tokens, an (agency, person) bucket refills slowly (50 a day: one every
    29 min), and a lease's unspent attempts are lost when it expires: a pair verified twice
    within a TTL and then not again would burn its lease. A pair's lease expires at most
    once a TTL, so a lease is at most a tenth of what the bucket refills in a TTL: what one
    process's leases lose is at most a tenth of the quota. At the default quota (50 a day)
    and TTL (30 s) that is no lease at all: every verify is charged at Redis, exactly. Only
    a quota of about 58,000 a day or more (57,600 at a 30 s TTL: a lease is at least 2
    attempts) gets leases."""
    refilled = ttl_s * MICROS / limit.interval_us
    size = min(lease_size(limit, max_tokens), int(refilled / LOST_SHARE))
    return size if size >= 2 else 0


@dataclass(slots=True)
class Held:
    """One key's lease in this process."""

    limit: Rule
    size: int  # lease_size(limit): the most tokens held; 0: none (charged per request)
    tokens: int = 0
    expires: float = 0.0
    refilling: bool = False
    quiet_until: float = 0.0  # no lease asked before (after a refusal or a failure)
    window_start: float = 0.0
    spent: int = 0  # tokens this process spent on the key since window_start
    spent_before: int = 0  # in the window before


class Leases:
    """Token leases of GCRA buckets in Redis, by a name of the caller's (``bucket_key`` gives
    the name's Redis key when a lease is bought): what both leased limiters share."""

    def __init__(
        self,
        batcher: ChargeBatcher,
        bucket_key: Callable[[str], str],
        *,
        max_tokens: int,
        ttl_s: float,
        clock: Callable[[], float],
        max_keys: int,
        size_of: Callable[[Rule, int, float], int] | None = None,
    ) -> None:
        self._batcher = batcher
        self._size_of = size_of
        self._bucket_key = bucket_key
        self._max_tokens = max_tokens
        self._ttl_s = ttl_s
        self._clock = clock
        self._max_keys = max_keys
        # oldest first: the one dropped past max_keys (popitem, not next(iter(dict)), which
        # scans the deleted slots at a plain dict's front: slow once many keys came and went)
        self._held: OrderedDict[str, Held] = OrderedDict()
        # names seen once in the last TTL, and when: no lease state until a second request
        # (most people are verified once: they cost a float here, not a Held)
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._pending: set[asyncio.Future[Decision | None]] = set()  # leases in flight
        self._buying = 0  # leases to be queued at the end of this tick

    def take(self, name: str, limit: Rule, cost: int) -> bool:
        """Spend ``cost`` leased tokens (True), or say the request must go to Redis; either
        way start a refill when the lease runs low."""
        held = self._held.get(name)
        if held is None:
            held = self._second(name, limit, cost)
            if held is None:
                return False  # the first request in a TTL: nothing held, none to buy
        elif held.limit is not limit and held.limit != limit:
            held = self._track(name, limit)  # its limit changed
        if not held.size:
            return False
        now = self._clock()
        if now - held.window_start >= self._ttl_s:
            recent = now - held.window_start < 2 * self._ttl_s
            held.spent_before = held.spent if recent else 0
            held.window_start, held.spent = now, 0
        held.spent += cost
        tokens = held.tokens
        if tokens and now >= held.expires:
            tokens = 0  # expired: dropped, not handed back
        taken = tokens >= cost
        if taken:
            tokens -= cost
        held.tokens = tokens
        if 2 * tokens <= held.size and not held.refilling and now >= held.quiet_until:
            demand = max(held.spent, held.spent_before)  # tokens of a TTL window, here
            size = min(held.size, 2 * demand) if demand > 1 else 0
            if size and 2 * tokens <= size:
                self._refill(name, held, size - tokens)
        return taken

    def _second(self, name: str, limit: Rule, cost: int) -> Held | None:
        """The lease state of a name not tracked yet, from its second request in a TTL
        (the first one's cost counted in its demand); None: its first, noted."""
        now = self._clock()
        seen = self._seen.pop(name, None)
        if seen is None or now - seen >= self._ttl_s:
            self._seen[name] = now
            if len(self._seen) > self._max_keys:
                self._seen.popitem(last=False)
            return None
        held = self._track(name, limit)
        held.window_start, held.spent = seen, cost
        return held

    def _track(self, name: str, limit: Rule) -> Held:
        size = (
            lease_size(limit, self._max_tokens)
            if self._size_of is None
            else self._size_of(limit, self._max_tokens, self._ttl_s)
        )
        held = self._held[name] = Held(limit, size)
        if len(self._held) > self._max_keys:
            self._held.popitem(last=False)
        return held

    def _refill(self, name: str, held: Held, tokens: int) -> None:
        """Buy ``tokens`` more with the tick's other charges: a callback and a future, no task
        (a busy process buys many leases a second). Queued after this tick's callbacks, as a
        task's first step would be: a request charged at Redis in the same tick goes before
        the lease (near the limit, a lease must not take the tokens of the request)."""
        held.refilling = True
        self._buying += 1
        asyncio.get_running_loop().call_soon(self._buy, name, held, tokens)

    def _buy(self, name: str, held: Held, tokens: int) -> None:
        self._buying -= 1
        charge = Charge(self._bucket_key(name), held.limit, tokens, True)
        future = self._batcher.enqueue_one(charge)
        self._pending.add(future)
        future.add_done_callback(functools.partial(self._landed, held, tokens))

    def _landed(self, held: Held, tokens: int, future: asyncio.Future[Decision | None]) -> None:
        self._pending.discard(future)
        held.refilling = False
        decision = None if future.cancelled() else future.result()
        now = self._clock()
        if decision is None:  # Redis did not decide: the per-request path (and its fallback)
            held.quiet_until = now + self._ttl_s
        elif not decision.allowed:  # near the limit: per request, precise, until it fits
            held.quiet_until = now + min(self._ttl_s, decision.retry_after_us / MICROS)
        else:
            if now >= held.expires:  # what was held expired while this lease was on its way
                held.tokens = 0
            held.tokens += tokens
            held.expires = now + self._ttl_s

    def held(self, name: str) -> int:
        """Unspent leased tokens of a name (tests, the bound's check)."""
        held = self._held.get(name)
        return 0 if held is None or self._clock() >= held.expires else held.tokens

    async def aclose(self) -> None:
        """Wait for the leases in flight (each bounded by the batcher's deadline)."""
        while self._pending or self._buying:
            if self._pending:
                await asyncio.gather(*self._pending, return_exceptions=True)
            else:  # bought at the end of this tick
                await asyncio.sleep(0)


class LeasedRateLimiter:
    """The ``Limiter`` port: a request spends a leased token, else is charged on its own."""

    def __init__(
        self,
        exact: RateLimiter,
        batcher: ChargeBatcher,
        *,
        max_tokens: int,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = LEASE_MAX_KEYS,
    ) -> None:
        self._exact = exact
        self._leases = leases = Leases(
            batcher, exact.key_of, max_tokens=max_tokens, ttl_s=ttl_s, clock=clock,
            max_keys=max_keys,
        )  # fmt: skip
        self.take = leases.take  # (key id, limit, cost) -> spent from the lease
        self.held = leases.held  # unspent leased tokens of a key id
        self.aclose = leases.aclose
        self.charge = exact.check  # what no lease could spend: charged on its own

    async def check(self, key_id: str, limit: Limit, cost: int) -> Decision:
        if self.take(key_id, limit, cost):
            return ALLOWED
        return await self._exact.check(key_id, limit, cost)


class AttemptBuckets(Protocol):
    """The probing limit's per-request path (``verify/adapters/attempts.py``)."""

    def key_of(self, agency_id: int, id_number: str) -> str: ...

    async def spend(
        self, agency_id: int, costs: Mapping[str, int], quota: Quota
    ) -> dict[str, Decision]: ...


def _same(key: str) -> str:
    return key


class LeasedAttemptLimiter:
    """The probing limit's ``AttemptLimiter`` port with leases in front: a verify's one
    attempt on one person is spent from a lease of that (agency, person) bucket when this
    process holds one; anything else (a batch, a person without a lease) is charged at
    Redis as before. The bound is the rate limit's: every attempt spent was charged on the
    person's bucket in Redis first (a lease is granted only when the bucket holds all of
    it), so across N processes the attempts let through over any interval exceed the
    quota's by at most N leases, and over a day never exceed it. An expired lease's attempts
    are lost (the person's bucket fills up again at the quota's pace), so a lease is at most
    a tenth of what the bucket refills in a TTL (:func:`attempt_lease_size`): no lease at
    the default quota, leases only for quotas of tens of thousands a day. A lease is sized
    by the pair's recent demand in this process: only a person verified more than once a
    lease TTL by one agency holds one."""

    def __init__(
        self,
        exact: AttemptBuckets,
        batcher: ChargeBatcher,
        *,
        max_tokens: int,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = ATTEMPT_LEASE_MAX_KEYS,
    ) -> None:
        self._exact = exact
        self._leases = Leases(
            batcher, _same, max_tokens=max_tokens, ttl_s=ttl_s, clock=clock, max_keys=max_keys,
            size_of=attempt_lease_size,
        )  # fmt: skip
        self.aclose = self._leases.aclose

    async def spend(
        self, agency_id: int, costs: Mapping[str, int], quota: Quota
    ) -> dict[str, Decision]:
        if len(costs) == 1:
            [(subject, cost)] = costs.items()
            if self._leases.take(self._exact.key_of(agency_id, subject), quota, cost):
                return {subject: ALLOWED}
        return await self._exact.spend(agency_id, costs, quota)

    def held(self, agency_id: int, id_number: str) -> int:
        """Unspent leased attempts on a person (tests, the bound's check)."""
        return self._leases.held(self._exact.key_of(agency_id, id_number))
