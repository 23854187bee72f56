"""The redis-py asyncio client, built from settings with every timeout bounded.

redis-py's defaults (5 s socket timeouts, retries) would let a stalled Redis
hold a request for a minute; here every call has ``redis_timeout_s`` (tens of
ms) to connect and to answer, no retries (the breaker and the fall-through to
Postgres are the retry), a blocking pool that waits at most as long, and no
health-check pings.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from cache.keyspace import CLUSTER_MAX_CONNECTIONS, POOL_MAX_CONNECTIONS
from cache.settings import CacheSettings

RedisClient = Redis | RedisCluster


def create_client(settings: CacheSettings) -> RedisClient:
    timeout = settings.redis_timeout_s
    if settings.redis_cluster:
        return RedisCluster.from_url(
            settings.redis_url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            max_connections=CLUSTER_MAX_CONNECTIONS,
            health_check_interval=0,
        )
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=POOL_MAX_CONNECTIONS,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )
    return Redis.from_pool(pool)
