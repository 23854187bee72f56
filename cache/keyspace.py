"""Every Redis key, version, TTL and size bound of the cache, in one place.

Keys never hold an ID number: ``{prefix}:r:v1:{hmac}`` where ``hmac`` is the
base64url of HMAC-SHA256(hmac_key, "id12:" + id_number) truncated to 128 bits.
Bump ``KEY_VERSION`` when the value layout changes: old entries are then simply
never read again and expire by their TTL. The rate limiter's state lives under
the same prefix, ``{prefix}:rl:v1:{key_id}`` (``verify/adapters/ratelimit.py``).
"""

from __future__ import annotations

import base64
import hmac
import random

KEY_VERSION = "v1"

RECORD_TTL_S = 3600  # a cached register record (positive entry)
RECORD_TTL_JITTER = 0.1  # +-10 %, so entries filled together do not expire together
FORMER_TTL_S = 3600  # former CMND -> 12-digit ID mapping
NEGATIVE_TTL_S = 30  # "this ID is not in the register"
TOMBSTONE_TTL_S = 120  # outlives any in-flight reader (db timeout is seconds)
CURSOR_TTL_S = 0  # the change-feed cursor never expires (0: no TTL)

L1_TTL_S = 30.0  # in-process entries; the change feed evicts them, and bypasses the
# caches whenever it is not live (FEED_TRUST_S), so this is a memory bound, not the freshness one
# (at 5 s, a hot set of 1,000 people read 2,400 times a second per process missed L1 8 % of
# the time: every entry expired every 5 s in every process)
L1_REFRESH_AHEAD_S = 5.0  # an entry read in its last 5 s is reloaded off the request path
L1_MAX_ENTRIES = 50_000
L1_BLOCK_TTL_S = 10.0  # "do not fill below version V" after an invalidation
L1_MAX_BLOCKS = 50_000

MGET_MAX = 500  # keys per MGET (per tick)
REFRESH_MAX_KEYS = 10_000  # L1 entries reloading ahead of expiry at once; beyond, they expire
FILL_MAX_PENDING = 5_000  # fills queued beyond this are dropped (and counted)
FILL_MAX_TASKS = 8  # concurrent fill pipelines; beyond, fills are dropped
CLUSTER_MAX_CONNECTIONS = 64  # per cluster node
POOL_MAX_CONNECTIONS = 64

# the probing limit's state, {prefix}:pa:v1:{HMAC(agency id, ID number)}
# (verify/adapters/attempts.py, under this prefix), expires a second after its bucket is
# full again, i.e. at most a day after the last attempt

BREAKER_FAILURES = 5  # consecutive Redis failures that open the breaker
BREAKER_COOLDOWN_S = 2.0  # open for this long, then one half-open probe

CHANGE_POLL_S = 0.5  # safety-net poll of the change log (a NOTIFY can be lost)
CHANGE_BATCH = 1_000  # change-log rows read per query
CHANGE_MAX_ROWS = 50_000  # change-log rows read per sync (a backlog takes several)
TOMBSTONE_CHUNK = 500  # tombstones per pipeline
FEED_TRUST_S = 1.0  # without a successful sync for this long, caches are bypassed
RECONNECT_BACKOFF_S = 0.2

MAX_VERSION = 2**52  # tombstone of a deleted row / former mapping: blocks every fill
_HMAC_BYTES = 16


KEY_MEMO_MAX = 50_000  # record keys remembered (an L1 miss of a hot person skips the HMAC)


class KeySpace:
    """Builds the Redis keys of one deployment (``settings.redis_key_prefix``)."""

    def __init__(self, prefix: str, hmac_key: bytes) -> None:
        self._prefix = prefix
        self._hmac_key = hmac_key
        self._records: dict[str, str] = {}  # ID number -> its record key; emptied when full

    def _digest(self, domain: bytes, value: str) -> str:
        # hmac.digest: OpenSSL's one-shot HMAC, the same bytes as hmac.new(...).digest()
        mac = hmac.digest(self._hmac_key, domain + value.encode("ascii"), "sha256")
        return base64.urlsafe_b64encode(mac[:_HMAC_BYTES]).rstrip(b"=").decode("ascii")

    def record(self, id_number: str) -> str:
        key = self._records.get(id_number)
        if key is None:
            key = f"{self._prefix}:r:{KEY_VERSION}:{self._digest(b'id12:', id_number)}"
            if len(self._records) >= KEY_MEMO_MAX:
                self._records.clear()
            self._records[id_number] = key
        return key

    def former(self, former_id: str) -> str:
        return f"{self._prefix}:f:{KEY_VERSION}:{self._digest(b'id9:', former_id)}"

    @property
    def cursor(self) -> str:
        """The highest change-log sequence whose invalidations this Redis has seen."""
        return f"{self._prefix}:feed:{KEY_VERSION}"

    @property
    def pattern(self) -> str:
        return f"{self._prefix}:*"


def record_ttl_ms(rand: random.Random | None = None) -> int:
    spread = (rand or random).uniform(-RECORD_TTL_JITTER, RECORD_TTL_JITTER)
    return int(RECORD_TTL_S * (1 + spread) * 1000)
