"""The redis-py asyncio client, built from settings with every timeout bounded.

redis-py's defaults (5 s socket timeouts, retries) would let a stalled Redis
hold a request for a minute; here every call has ``redis_timeout_s`` (tens of
ms) to connect and to answer, no retries (the breaker and the fall-through to
Postgres are the retry), a blocking pool that waits at most as long, and no
health-check pings.

TLS: a ``rediss://`` URL connects over TLS, verifying the server's certificate
and host name against ``VERIFY_REDIS_CA_FILE`` (or the system's CAs when it is
empty).
"""

from __future__ import annotations

import contextlib
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import TimeoutError as RedisTimeoutError

from cache.keyspace import CLUSTER_MAX_CONNECTIONS, POOL_MAX_CONNECTIONS
from cache.settings import CacheSettings

RedisClient = Redis | RedisCluster


def tls_arguments(settings: CacheSettings) -> dict[str, Any]:
    """redis-py's TLS arguments for a ``rediss://`` URL (none for ``redis://``)."""
    if not settings.redis_url.startswith("rediss://"):
        return {}
    return {
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
        "ssl_ca_certs": settings.redis_ca_file or None,
    }


def create_client(settings: CacheSettings) -> RedisClient:
    timeout = settings.redis_timeout_s
    tls = tls_arguments(settings)
    if settings.redis_cluster:
        return RedisCluster.from_url(
            settings.redis_url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            max_connections=CLUSTER_MAX_CONNECTIONS,
            health_check_interval=0,
            **tls,
        )
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=POOL_MAX_CONNECTIONS,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
        **tls,
    )
    return Redis.from_pool(pool)


async def close_client(client: RedisClient) -> None:
    """Closes the client's connections. redis-py closes each socket, then waits for it to
    close within the connect timeout (``redis_timeout_s``, tens of ms) and raises when a
    busy machine takes longer: the sockets are closing by then, only that wait ran out,
    which must not fail a shutdown (seen in the tests under load, on both event loops)."""
    with contextlib.suppress(RedisTimeoutError):
        await client.aclose()
