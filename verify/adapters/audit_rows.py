"""How one group commit's sealed rows travel to Postgres: one statement, one round trip,
atomic on its own (no BEGIN/COMMIT), the chain's link columns in it.

Two ways, both storing exactly what was hashed (audit_chain.canonical):

* Binary COPY (``copy``; commits of ``VERIFY_AUDIT_COPY_ROWS`` rows or more, every commit
  by default): each row a record of the entry's own values, encoded by asyncpg in Cython,
  ``at`` as the int8 of its microseconds since 2000 and chain_id as its 16 bytes (the wire
  formats of a timestamptz and a uuid: asyncpg's encoder of an aware datetime cost more
  than the other 13 values of a row together). Postgres parses no document and evaluates no
  expression per row, and COPY into the partitioned audit_log buffers rows per partition
  and writes them with heap_multi_insert (one WAL record per page of rows, not per row);
  the ``seq`` default (nextval) does not stop that. asyncpg sends the COPY, its data and
  its end at once and waits for one answer.
* The prepared INSERT ... SELECT FROM jsonb_array_elements (``INSERT_SQL``; smaller
  commits when ``VERIFY_AUDIT_COPY_ROWS`` says so): the parameter is the rows' canonical
  bytes joined, the very bytes their link hashes, and the INSERT stores the columns from
  them (``at`` from its microseconds, the latency from its `real`'s bit pattern).

Measured (``python -m loadtest.audit_write --variants insert,copy --cases
12x1,1x64,1x250,1x1000 --rounds 5``, serving role, rounds alternating, busy 2-core
machine), CPU per row, INSERT -> COPY:

    rows/commit   this process        Postgres
    12            32.0 -> 35.3 us     31.8 -> 25.8 us   (0.81x)
    64             7.2 ->  8.1 us     13.9 -> 11.0 us   (0.80x)
    250            4.6 ->  5.1 us      9.8 ->  7.2 us   (0.73x)
    1,000          3.7 ->  4.3 us     11.3 ->  9.3 us   (0.82x)

So COPY costs this process 0.5-3 us more a row (asyncpg encodes 14 values where the
INSERT sends one string, and a COPY's protocol costs ~15 us more a commit: three writes
and two answers where an INSERT has one of each) and saves Postgres 2-6 us a row: less
CPU in all, at every size. (An A/B of `make bench` (c) on the same busy machine,
``VERIFY_AUDIT_COPY_ROWS`` 1e9 against 1, could not tell: Postgres's CPU per request went
with the throughput, which others' load moved by 2x; (e), two rounds each: 19.3 and 20.4
us of Postgres CPU per item with the INSERT, 14.5 and 17.1 with COPY.)

The whole writer against main before COPY (147c3a4; ``--variants before,insert,now
--cases 12x1,1x1000 --rounds 6``, the 1,000 rows one batch request's): at 12 rows a
commit this process 1.02x, Postgres 0.74x (36.9 -> 27.2 us a row); at 1,000, this process
0.62x (6.8 -> 4.2 us a row: sealing a batch's items by parts, audit_chain._canonical_many,
more than pays for COPY's encoding), Postgres 0.76x (16.1 -> 12.2 us a row).

Also measured, and dropped: writing into the day's partition instead of audit_log (no
tuple routing) saved nothing measurable (INSERT: Postgres 1.00x at 12 rows, 1.06x at
1,000; COPY: 1.04x, 0.86x, within the noise) and would need INSERT granted on every
partition to the serving role, which migration 005 denies on purpose.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from verify.adapters.audit_chain import COPY_COLUMNS, Chain, Sealed

# $1: the rows, each its canonical JSON array (audit_chain.canonical: `at` in microseconds
# since 1970, subject hex, latency as the bit pattern of its `real`, trailing nulls left out,
# so `->>` of a position past the end is NULL); $2: the chain; $3: the first batch's number;
# $4: the position (1-based) of the batch's last row, $5 its link (for rows of several UTC
# days, INSERT_DAYS_SQL: one per batch, ascending, as arrays).
# `at` is exact: whole seconds (at most 2.6e11 for a Python datetime) times the 10^6 us of
# a second stay below 2^53 * 64 and are integral in float8, as the microseconds left are.
# The latency is the `real` of its bit pattern (sign, 8-bit exponent, 23-bit mantissa;
# exponent 0 subnormal, 255 infinity or NaN): the product of the mantissa and a power of
# two is exact in float8 and representable in float4, so the cast is exact too.
_INSERT = """
INSERT INTO audit_log (at, agency_id, key_id, request_id, kind, purpose, subject, verdict,
                       fields, latency_ms, terminal, chain_id, chain_batch, chain_link)
SELECT timestamptz 'epoch' + ((r->>0)::bigint / 1000000) * interval '1 second'
                           + ((r->>0)::bigint % 1000000) * interval '1 microsecond',
       (r->>1)::integer, r->>2, r->>3, r->>4, r->>5, decode(r->>6, 'hex'), r->>7,
       CASE WHEN jsonb_typeof(r->8) = 'array' THEN ARRAY(
           SELECT f FROM jsonb_array_elements_text(r->8) WITH ORDINALITY AS x (f, i) ORDER BY i
       ) END,
       CASE WHEN f.b IS NULL THEN NULL
            WHEN f.e < 255 THEN (f.sign * f.mantissa * 2::float8 ^ (greatest(f.e, 1) - 150))::real
            WHEN f.b & 8388607 <> 0 THEN 'NaN'::real
            WHEN f.b < 0 THEN '-Infinity'::real
            ELSE 'Infinity'::real END,
       r->>10, $2::uuid, {batch}, {link}
FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t (r, n)
CROSS JOIN LATERAL (SELECT b, (b >> 23) & 255 AS e, CASE WHEN b < 0 THEN -1 ELSE 1 END AS sign,
                           ((b & 8388607) + CASE WHEN (b >> 23) & 255 = 0 THEN 0 ELSE 8388608 END
                           )::float8 AS mantissa
                    FROM (SELECT (r->>9)::integer AS b) bits) f
ORDER BY n
"""
# the usual commit, one batch: scalars (asyncpg encodes an array parameter at some cost)
INSERT_SQL = _INSERT.format(batch="$3::bigint", link="CASE WHEN n = $4::bigint THEN $5::bytea END")
INSERT_DAYS_SQL = _INSERT.format(
    batch="$3::bigint + width_bucket(n - 1, $4::bigint[])",
    link="($5::bytea[])[array_position($4::bigint[], n)]",
)


def statement(sealed: Sealed, chain: Chain) -> tuple[str, tuple[object, ...]]:
    """The INSERT of a sealed commit and its parameters (one batch: scalars)."""
    rows, first = sealed.rows.decode(), sealed.batch - len(sealed.ends) + 1
    if len(sealed.ends) == 1:
        return INSERT_SQL, (rows, chain.chain_id, first, sealed.ends[0], sealed.head)
    return INSERT_DAYS_SQL, (rows, chain.chain_id, first, sealed.ends, sealed.links)


# The types of a COPY record's values (COPY_COLUMNS), as asyncpg encodes them in COPY's
# binary format: `at` as the int8 its timestamptz is on the wire (microseconds since 2000),
# chain_id as the bytea of its 16 bytes (a uuid's wire format): asyncpg's timestamptz
# encoder alone cost more than the other 13 values of a row together.
COPY_TYPES = (
    "int4", "text", "text", "text", "bytea", "text", "text[]",
    "float4", "text", "text", "int8", "bytea", "int8", "bytea",
)  # fmt: skip
_COPY_INTRO = "SELECT " + ", ".join(f"NULL::{t}" for t in COPY_TYPES)
_COPY_SQL = f"COPY audit_log ({', '.join(COPY_COLUMNS)}) FROM STDIN (FORMAT binary)"


async def copy(conn: PoolConnectionProxy, records: list[tuple[object, ...]], wait: float) -> None:
    """COPY ``records`` into audit_log in binary, in one statement (atomic on its own).

    asyncpg's ``copy_records_to_table`` encodes each value by the type of the table's
    column; this is its body with the types of ``COPY_TYPES`` (``_COPY_INTRO``: a statement
    asyncpg prepares once per connection and caches, as it does its own). asyncpg writes the
    COPY and its data at once and waits for one answer: one round trip, as an INSERT."""
    raw: Any = conn  # asyncpg's internals, as copy_records_to_table uses them (0.32)
    # one budget for both steps: the prepare is a round trip on a fresh connection (the one
    # after a failed commit), and must not give a stalled server a second full timeout
    deadline = time.monotonic() + wait
    intro = await raw._prepare(_COPY_INTRO, use_cache=True, timeout=wait)
    protocol = raw._protocol
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the audit COPY ran out of time before it was sent")
    try:
        await protocol.copy_in(_COPY_SQL, None, None, records, intro._state, left)
    except asyncpg.InternalClientError:
        _observe_waiters(protocol)
        raise


def _observe_waiters(protocol: object) -> None:
    """asyncpg's copy_in (0.32) makes its waiter before the protocol may refuse the COPY, and
    leaves it unobserved when it does: a server's FATAL read while the connection idled (a
    terminated backend, before its socket's end is read) puts the protocol in a state that
    refuses any operation ("cannot switch to state"); the connection's loss then sets an
    exception on that waiter which nobody retrieves (an asyncio error in the log, a failed
    test under the loop guard). An INSERT's execute observes its waiter on that path; this
    does the same for the COPY's, found among the protocol's references."""
    for held in gc.get_referents(protocol):
        if isinstance(held, asyncio.Future) and not held.done():
            held.add_done_callback(_observed)


def _observed(waiter: asyncio.Future[object]) -> None:
    if not waiter.cancelled():
        waiter.exception()
