"""The cache's own settings: built by the composition root from the service's settings."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CacheSettings:
    redis_url: str = field(repr=False)  # may hold a password
    hmac_key: bytes = field(repr=False)  # keys Redis key names (no ID number in clear)
    cache_key: bytes = field(repr=False)  # seals Redis values (AES-GCM)
    enabled: bool = True
    redis_cluster: bool = False
    redis_timeout_s: float = 0.05
    key_prefix: str = "cv"
    max_batch: int = 1000  # IDs per query to the record source
