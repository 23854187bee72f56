"""One Redis round trip for a batch of GCRA charges (``gcra_many.lua``, by SHA).

Standalone Redis: one EVALSHA carrying every key of the batch, through redis-py's
``Script`` call (on NOSCRIPT, a restarted or new server, it loads the script and
retries once; no SCRIPT EXISTS round trip as a pipeline would send first).

Redis Cluster: a script may only touch keys of one hash slot, and the limiters'
keys (an API key id, an HMAC) spread over all slots. The batch's keys are grouped
by slot, keeping their order, and each group is one EVALSHA in a non-transactional
cluster pipeline (one round trip per node, in parallel); NOSCRIPT groups are
retried once after SCRIPT LOAD on every primary.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError

from verify.adapters.gcra_batch import Charge, Send

SCRIPT = (resources.files("verify.adapters") / "gcra_many.lua").read_text("utf-8")


def script_args(charges: Sequence[Charge]) -> list[int]:
    """ARGV of ``gcra_many.lua``: interval_us, burst, cost, strict per charge."""
    args: list[int] = []
    for charge in charges:
        rule = charge.rule
        args += (rule.interval_us, rule.burst, charge.cost, 1 if charge.strict else 0)
    return args


def redis_sender(client: Redis | RedisCluster) -> Send:
    if isinstance(client, RedisCluster):
        return ClusterSender(client)
    script = client.register_script(SCRIPT)

    async def send(charges: Sequence[Charge]) -> Sequence[int]:
        reply: list[int] = await script(
            keys=[charge.key for charge in charges], args=script_args(charges)
        )
        return reply

    return send


class ClusterSender:
    def __init__(self, client: RedisCluster) -> None:
        self._client = client
        self._sha = client.register_script(SCRIPT).sha

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
        flat = [0] * (2 * len(charges))
        for group, result in zip(groups, results, strict=True):
            if isinstance(result, Exception):
                raise result
            if len(result) != 2 * len(group):
                return []  # the batcher counts a malformed answer as a failure
            for j, i in enumerate(group):
                flat[2 * i] = result[2 * j]
                flat[2 * i + 1] = result[2 * j + 1]
        return flat

    async def _pipeline(self, charges: Sequence[Charge], groups: list[list[int]]) -> list[Any]:
        pipe = self._client.pipeline(transaction=False)
        for group in groups:
            some = [charges[i] for i in group]
            keys = [charge.key for charge in some]
            # execute_command: a cluster pipeline refuses .evalsha(), yet routes EVALSHA by its
            # keys (all of one slot here)
            pipe.execute_command("EVALSHA", self._sha, len(keys), *keys, *script_args(some))
        results: list[Any] = await pipe.execute(raise_on_error=False)
        return results
