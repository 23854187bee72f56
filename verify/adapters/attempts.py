"""The probing limit's counters in Redis (one GCRA key per agency and person, by HMAC).

All subjects of a request are charged together, and with every other charge of
the same event-loop tick (``gcra_batch.py``: one Redis round trip; on a cluster,
grouped by slot, ``gcra_redis.py``). The rule is strict: a batch of guesses on
one person is refused as a whole unless its whole cost fits. While Redis fails
(or its breaker is open) a per-process limiter with the same rule applies instead
of none: with N instances an agency then gets at most N times the quota.

A person's key is ``{prefix}:pa:v1:{HMAC-SHA256(hmac_key, "attempts:" + agency id
+ ":" + ID number)}`` (128 bits, base64url): never the number in clear. It expires
by itself once its bucket is full again (at most a day after the last attempt).
"""

from __future__ import annotations

import binascii
import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence

from verify.adapters.gcra_batch import Buckets, Charge, ChargeBatcher
from verify.adapters.gcra_local import LocalLimiter
from verify.domain.gcra import Decision, Quota
from verify.service.keyed_hash import HmacSha256

KEY_VERSION = "v1"
LOCAL_MAX_KEYS = 100_000  # per-process fallback while Redis is down
KEY_MEMO_MAX = 100_000  # Redis keys of recent (agency, person) pairs, per process
_HMAC_BYTES = 16
_B64_CHARS = 22  # 16 bytes in base64, without its "==" padding
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def attempts_key(prefix: str, hmac_key: bytes, agency_id: int, id_number: str) -> str:
    """The Redis key of an agency's attempts on a person (the definition; see ``KeyMaker``)."""
    message = f"attempts:{agency_id}:{id_number}".encode("ascii")
    mac = hmac.digest(hmac_key, message, "sha256")[:_HMAC_BYTES]  # one-shot: C all the way
    return _key_text(prefix, mac)


def _key_text(prefix: str, mac: bytes) -> str:
    text = binascii.b2a_base64(mac, newline=False)[:_B64_CHARS].translate(_URLSAFE).decode()
    return f"{prefix}:pa:{KEY_VERSION}:{text}"


class KeyMaker:
    """``attempts_key`` of one agency, the same keys at less than half the CPU (a batch of
    new people makes one per item): the HMAC's key pads and the message's
    ``attempts:{agency}:`` start are absorbed once (verify/service/keyed_hash.py)."""

    __slots__ = ("_head", "_mac")

    def __init__(self, prefix: str, hmac_key: bytes, agency_id: int) -> None:
        self._mac = HmacSha256(hmac_key, f"attempts:{agency_id}:".encode("ascii"))
        self._head = f"{prefix}:pa:{KEY_VERSION}:"  # as _key_text writes it

    def key(self, id_number: str) -> str:
        return self.keys([id_number])[0]

    def keys(self, id_numbers: Iterable[str]) -> list[str]:
        """The keys of ``id_numbers``, in order (``_key_text`` inlined: one loop, no call)."""
        head, b64, urlsafe = self._head, binascii.b2a_base64, _URLSAFE
        macs = self._mac.digests([id_number.encode("ascii") for id_number in id_numbers])
        return [
            head + b64(mac[:_HMAC_BYTES], newline=False)[:_B64_CHARS].translate(urlsafe).decode()
            for mac in macs
        ]


class RedisAttemptLimiter:
    def __init__(
        self,
        batcher: ChargeBatcher | None,
        *,
        prefix: str,
        hmac_key: bytes,
        local: LocalLimiter | None = None,
        on_fallback: Callable[[int], None] | None = None,
    ) -> None:
        self._prefix = prefix
        self._hmac_key = hmac_key
        local = local or LocalLimiter(max_keys=LOCAL_MAX_KEYS)
        self._buckets = Buckets(batcher, local=local, on_fallback=on_fallback)
        # agency -> ID number -> its Redis key: a person verified again (a cached verify)
        # costs no HMAC; process memory only, as the register cache's, and bounded. Strings
        # only: a dict of them is not tracked by the garbage collector, however large
        self._keys: dict[int, dict[str, str]] = {}
        self._memo_size = 0
        self._makers: dict[int, KeyMaker] = {}  # one per agency (a few: they hold API keys)

    def _maker(self, agency_id: int) -> KeyMaker:
        maker = self._makers.get(agency_id)
        if maker is None:
            maker = self._makers[agency_id] = KeyMaker(self._prefix, self._hmac_key, agency_id)
        return maker

    def _memo(self, agency_id: int, adding: int) -> dict[str, str] | None:
        """The agency's memo, with room for ``adding`` keys (None: more than it can ever hold)."""
        if self._memo_size + adding > KEY_MEMO_MAX:
            self._keys.clear()
            self._memo_size = 0
            if adding > KEY_MEMO_MAX:
                return None
        keys = self._keys.get(agency_id)
        if keys is None:
            keys = self._keys[agency_id] = {}
        self._memo_size += adding
        return keys

    def key_of(self, agency_id: int, id_number: str) -> str:
        keys = self._keys.get(agency_id)
        key = None if keys is None else keys.get(id_number)
        if key is None:
            key = self._maker(agency_id).key(id_number)
            memo = self._memo(agency_id, 1)
            if memo is not None:
                memo[id_number] = key
        return key

    def keys_of(self, agency_id: int, subjects: Sequence[str]) -> list[str]:
        """``key_of`` of each subject (distinct), in order: one pass over the memo, then the
        keys it misses (most of a batch of random people of a large register) together."""
        keys = self._keys.get(agency_id)
        if keys is None:
            found: list[str | None] = [None] * len(subjects)
        else:
            get = keys.get
            found = [get(subject) for subject in subjects]
        missing = [i for i, key in enumerate(found) if key is None]
        if missing:
            new = [subjects[i] for i in missing]
            made = self._maker(agency_id).keys(new)
            for i, key in zip(missing, made, strict=True):
                found[i] = key
            memo = self._memo(agency_id, len(missing))
            if memo is not None:
                memo.update(zip(new, made, strict=True))
        return found  # type: ignore[return-value]  # every None was replaced

    async def spend(
        self, agency_id: int, costs: Mapping[str, int], quota: Quota
    ) -> dict[str, Decision]:
        if len(costs) == 1:  # a verify: one person, one attempt (mostly)
            [(subject, cost)] = costs.items()
            charge = Charge(self.key_of(agency_id, subject), quota, cost, True)
            return {subject: await self._buckets.charge_one(charge)}
        keys = self.keys_of(agency_id, list(costs))
        new = _new_charge
        pairs = zip(keys, costs.values(), strict=True)
        charges = [new(Charge, (key, quota, cost, True)) for key, cost in pairs]
        decisions = await self._buckets.charge(charges)
        return dict(zip(costs, decisions, strict=True))


_new_charge = tuple.__new__  # a Charge by position in one C call (a NamedTuple's is Python)
