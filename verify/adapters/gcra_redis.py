"""One Redis round trip for a batch of GCRA charges (``gcra_many.lua``, by SHA).

The command is lean on both ends, as a tick of a 1,000-item batch carries 1,000
charges of the probing limit:
- arguments: the charges' rules and costs go as runs (``script_runs``: five numbers
  per run of charges sharing rule, cost and strictness, usually one run a batch), not
  four arguments per charge;
- packing: on a standalone Redis the EVALSHA is written as RESP by hand, the keys
  joined in one pass (``evalsha_command``), and written on a pooled connection's stream,
  its reply read by that connection's parser, under the batcher's deadline
  (``_exchange``); redis-py's ``pack_command`` encodes, checks and copies argument by
  argument, with its retry wrapper and response callbacks around it, and its send and
  read add a task and a second timer per round trip;
- reply: the count of keys decided, then the refused charges only (index, wait), so an
  all-allowed batch answers one number; a reply whose count is not the command's own is
  refused (``OutOfStep``), never read as "all allowed".

On NOSCRIPT (a restarted or new server) the script is loaded and the command sent
once more; no SCRIPT EXISTS round trip as a pipeline would send first.

Redis Cluster: a script may only touch keys of one hash slot, and the limiters'
keys (an API key id, an HMAC) spread over all slots. The batch's keys are grouped
by slot, keeping their order, and each group is one EVALSHA (its own runs) in a
non-transactional cluster pipeline (one round trip per node, in parallel); NOSCRIPT
groups are retried once after SCRIPT LOAD on every primary.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Sequence
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError, RedisError, ResponseError

from verify.adapters.gcra_batch import Charge, Send

SCRIPT = (resources.files("verify.adapters") / "gcra_many.lua").read_text("utf-8")
SHA = hashlib.sha1(SCRIPT.encode("utf-8")).hexdigest()  # the name Redis gives the script


def script_runs(charges: Sequence[Charge]) -> list[int]:
    """ARGV of ``gcra_many.lua``: count, interval_us, burst, cost, strict per run of
    consecutive charges with one rule, cost and strictness."""
    args: list[int] = []
    last_rule: object = None
    last_cost, last_strict, count = 0, False, 0
    for _, rule, cost, strict in charges:
        if cost == last_cost and strict is last_strict and (rule is last_rule or rule == last_rule):
            count += 1
            continue
        if count:
            args[-5] = count
        args += (0, rule.interval_us, rule.burst, cost, 1 if strict else 0)
        last_rule, last_cost, last_strict, count = rule, cost, strict, 1
    if count:
        args[-5] = count
    return args


def evalsha_command(keys: Sequence[str], args: Sequence[int], sha: str = SHA) -> bytes:
    """``EVALSHA sha len(keys) *keys *args`` as one RESP array, ready for the socket."""
    numkeys = str(len(keys))
    parts = [f"*{3 + len(keys) + len(args)}\r\n$7\r\nEVALSHA\r\n${len(sha)}\r\n{sha}\r\n"]
    parts.append(f"${len(numkeys)}\r\n{numkeys}\r\n")
    parts += [f"${len(key)}\r\n{key}\r\n" for key in keys]
    for arg in args:
        text = str(arg)
        parts.append(f"${len(text)}\r\n{text}\r\n")
    command = "".join(parts)
    if command.isascii():  # lengths in characters are lengths in bytes
        return command.encode("ascii")
    return _encoded_one_by_one(keys, args, sha)


def _encoded_one_by_one(keys: Sequence[str], args: Sequence[int], sha: str) -> bytes:
    items = [b"EVALSHA", sha.encode(), b"%d" % len(keys)]
    items += [key.encode("utf-8") for key in keys]
    items += [b"%d" % arg for arg in args]
    return b"*%d\r\n" % len(items) + b"".join(b"$%d\r\n%b\r\n" % (len(i), i) for i in items)


class OutOfStep(RedisError):
    """A reply that is not the answer to the command sent: it decides nothing."""


def refusals_of(
    reply: Sequence[int], count: int, indices: Sequence[int] | None = None
) -> list[int]:
    """The script's reply (count, then 1-based index, wait, ...) as 0-based (or
    ``indices[i]``) pairs; OutOfStep unless it says it decided ``count`` keys."""
    if not isinstance(reply, list) or not reply or reply[0] != count:
        raise OutOfStep(f"limiter script reply does not answer a command of {count} keys")
    if len(reply) == 1:  # all allowed: the common answer
        return []
    flat = [int(v) for v in reply[1:]]
    for n in range(0, len(flat) - 1, 2):
        i = flat[n] - 1
        flat[n] = i if indices is None else indices[i]
    return flat


def redis_sender(client: Redis | RedisCluster) -> Send:
    if isinstance(client, RedisCluster):
        return ClusterSender(client)
    return StandaloneSender(client)


KEEP = 4  # connections a sender keeps between round trips; more in flight go back to the pool


class StandaloneSender:
    """One hand-packed EVALSHA on a connection of the client's pool, under the batcher's
    deadline (the client's timeouts apply to connecting and to SCRIPT LOAD).

    Up to ``KEEP`` connections it used are kept for the next round trips rather than handed
    back: the pool's checkout (a condition, a lock, a readability poll, observability
    hooks) cost about as much CPU as the command itself. Those in flight beyond ``KEEP``
    (a slow spell of Redis) go back to the pool, which the readiness check and SCRIPT LOAD
    share.
    A connection is kept only after its whole reply was read; on a failure every kept
    one goes back to the pool disconnected (a restarted Redis drops them all), and the
    next command reconnects. (A server closing idle clients, Redis's ``timeout``, costs
    one batch decided locally after each idle spell.) Closing the client closes them."""

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._idle: list[Any] = []  # redis.asyncio.Connection, in step, ready to send

    async def __call__(self, charges: Sequence[Charge]) -> Sequence[int]:
        command = evalsha_command([charge.key for charge in charges], script_runs(charges))
        try:
            reply = await self._round_trip(command, len(charges))
        except NoScriptError:
            await self._client.script_load(SCRIPT)
            reply = await self._round_trip(command, len(charges))
        return reply

    async def _round_trip(self, command: bytes, count: int) -> list[int]:
        """The refusals (``refusals_of``); the connection is kept or given back only once
        its reply was read and found to answer this command."""
        pool = self._client.connection_pool
        if self._idle:
            conn = self._idle.pop()
        else:
            conn = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            reply = refusals_of(await _exchange(conn, command), count)
        except ResponseError:  # an error reply: the connection is in step
            await self._put_back(conn)
            raise
        except BaseException:  # timeout, cancellation, I/O, a reply to another command
            await self._drop_all([conn])
            raise
        await self._put_back(conn)
        return reply

    async def _put_back(self, conn: Any) -> None:
        if len(self._idle) < KEEP:
            self._idle.append(conn)
        else:
            await self._client.connection_pool.release(conn)

    async def _drop_all(self, conns: list[Any]) -> None:
        """Disconnect ``conns`` and every kept connection, and give them all back to the
        pool. The kept list is taken before any await (a round trip finishing meanwhile
        keeps its connection in the new list), and every one is given back even when
        another's disconnect fails or the caller is cancelled."""
        conns, self._idle = [*conns, *self._idle], []
        pool = self._client.connection_pool
        for conn in conns:
            try:
                with contextlib.suppress(Exception):  # it goes back to the pool all the same
                    await conn.disconnect(nowait=True)
            finally:
                await asyncio.shield(pool.release(conn))


WRITE_HIGH = 64 * 1024  # bytes buffered for the socket above which a write awaits the drain


async def _exchange(conn: Any, command: bytes) -> Any:
    """Send ``command`` on a connected redis-py connection and read its one reply. No timer
    of its own: the batcher's deadline (``asyncio.timeout_at`` around every send, from the
    batch's first charge) bounds the round trip. The connection's socket timeout (tens of
    ms) was one more: in a process busy with bulk work the event loop can take longer than
    that to read a reply that came back in time, and each such timeout sent a whole batch
    of charges to the per-process limiter and counted against the breaker.

    The lean equivalent of ``send_packed_command`` + ``read_response``: on redis-py 8 those
    wrap the write in ``asyncio.wait_for`` (a task per write), the read in a timeout of its
    own, and format the server's address per call; a round trip cost twice the CPU of this.
    The connection's own stream writer and reply parser are used (redis-py's handshake,
    AUTH, TLS and parser stay its own); an error reply is raised as ``read_response`` does.
    """
    if not conn.is_connected:
        await conn.connect()  # under the client's connect timeout
    writer = conn._writer
    writer.write(command)
    if writer.transport.get_write_buffer_size() > WRITE_HIGH:
        await writer.drain()
    reply = await conn._parser.read_response()
    if isinstance(reply, ResponseError):
        raise reply
    return reply


class ClusterSender:
    def __init__(self, client: RedisCluster) -> None:
        self._client = client

    async def __call__(self, charges: Sequence[Charge]) -> Sequence[int]:
        slots: dict[int, list[int]] = {}  # slot -> indices of its charges, in order
        for i, charge in enumerate(charges):
            slots.setdefault(self._client.keyslot(charge.key), []).append(i)
        groups = list(slots.values())
        results = await self._pipeline(charges, groups)
        missing = [n for n, result in enumerate(results) if isinstance(result, NoScriptError)]
        if missing:
            await self._client.script_load(SCRIPT)
            retried = await self._pipeline(charges, [groups[n] for n in missing])
            for n, result in zip(missing, retried, strict=True):
                results[n] = result
        flat: list[int] = []
        for group, result in zip(groups, results, strict=True):
            if isinstance(result, Exception):
                raise result
            flat += refusals_of(result, len(group), group)
        return flat

    async def _pipeline(self, charges: Sequence[Charge], groups: list[list[int]]) -> list[Any]:
        pipe = self._client.pipeline(transaction=False)
        for group in groups:
            some = [charges[i] for i in group]
            keys = [charge.key for charge in some]
            # execute_command: a cluster pipeline refuses .evalsha(), yet routes EVALSHA by its
            # keys (all of one slot here)
            pipe.execute_command("EVALSHA", SHA, len(keys), *keys, *script_runs(some))
        results: list[Any] = await pipe.execute(raise_on_error=False)
        return results
