"""Settings from ``VERIFY_*`` environment variables: parsed once, typed, secrets masked.

``Settings.from_env(os.environ)`` is called by the entry points only; nothing
reads the environment anywhere else.
"""

from __future__ import annotations

import base64
import binascii
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import TypeVar

T = TypeVar("T")


class SettingsError(ValueError):
    """A missing or malformed setting; the message names the variable, never a secret's value."""


@dataclass(frozen=True, repr=False)
class Secret:
    """Bytes that never show in ``repr``/``str`` (logs, tracebacks)."""

    value: bytes

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__


def _mask_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str
    hmac_key: Secret = field(repr=False)
    cache_key: Secret = field(repr=False)
    database_read_urls: tuple[str, ...] = ()
    # the owner role's URL (migrate, maintenance, load, seed, keys, audit verify); None: the
    # admin commands use database_url (a single-role setup; production sets both)
    admin_database_url: str | None = None
    redis_cluster: bool = False
    redis_ca_file: str = ""  # CA bundle verifying a rediss:// server (empty: the system's)
    host: str = "127.0.0.1"
    port: int = 8080
    metrics_host: str = ""  # the operations port's address; empty: the same as ``host``
    metrics_port: int = 9464  # /metrics and /readyz; 0 picks a free port (tests)
    workers: int = 1
    db_pool_min: int = 2
    db_pool_max: int = 8
    db_timeout_s: float = 2.0
    db_connect_timeout_s: float = 5.0
    redis_timeout_s: float = 0.05
    request_timeout_s: float = 5.0
    max_body_bytes: int = 2 * 1024 * 1024
    max_batch_items: int = 1000
    max_concurrency: int = 64
    bulk_concurrency: int = 8
    queue_target_s: float = 0.005
    queue_timeout_s: float = 0.5
    overload_queue_timeout_s: float = 0.25
    bulk_queue_timeout_s: float = 5.0
    loop_lag_target_s: float = 0.05
    drain_s: float = 5.0
    # requests in progress per API key and process: under VERIFY_MAX_CONCURRENCY, so that
    # one agency cannot hold every admission slot
    max_concurrent_per_key: int = 32
    stream_max_s: float = 300.0  # a stream's total duration
    subject_attempts_per_day: int = 50  # verify attempts per agency and person, rolling day
    lookup_batch_max: int = 1000
    cache_enabled: bool = True
    redis_key_prefix: str = "cv"
    audit_retention_days: int = 180
    # the most audit commits a process keeps in flight: one as a rule (fuller groups cost
    # PostgreSQL less per row), more for a backlog (verify/adapters/audit.py, SPILL_ROWS)
    audit_commits_in_flight: int = 4
    # audit commits of this many rows or more go by binary COPY, fewer by the prepared
    # INSERT (verify/adapters/audit.py, COPY_ROWS: what each costs, measured)
    audit_copy_rows: int = 1
    key_cache_ttl_s: float = 5.0
    default_key_rate: int = 100  # requests/s of a key minted without --rate (burst: twice)
    # rate-limit tokens a process may lease from Redis per API key (at most a tenth of the
    # key's burst; 0: every request charged at Redis), and how long a lease lasts
    rate_lease_max: int = 1000
    rate_lease_ttl_s: float = 1.0
    # probing-limit attempts a process may lease per (agency, person) (at most a tenth of
    # what the bucket refills in a TTL: none below ~29,000 a day; 0, the default: every
    # verify charged at Redis), and how long such a lease lasts (a quota of a day: a
    # person's demand is read over a longer window than a key's)
    attempt_lease_max: int = 0
    attempt_lease_ttl_s: float = 30.0
    log_level: str = "INFO"
    access_log: str = "errors"  # all | errors | sample:N (errors and slow ones always)
    # bulk jobs (POST /v1/jobs, `verify worker`)
    job_chunk_lines: int = 2000
    job_max_lines: int = 20_000_000
    job_concurrency: int = 2
    job_slice_s: float = 30.0
    job_stale_s: float = 60.0
    job_drain_s: float = 25.0
    job_retention_days: int = 7  # finished jobs (results, input left) deleted by maintenance
    worker_metrics_port: int = 9102
    gc_gen0: int = 50_000  # the collector's threshold 0 after startup (verify/gc_tuning.py)
    timezone: str = "Asia/Ho_Chi_Minh"  # "today" (card expiry, ages) is this zone's date

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Secret):
                shown.append(f"{f.name}={value!r}")
            elif f.name in ("database_url", "admin_database_url", "redis_url") and value:
                shown.append(f"{f.name}={_mask_url(value)!r}")
            elif f.name == "database_read_urls":
                shown.append(f"{f.name}={tuple(_mask_url(u) for u in value)!r}")
            else:
                shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    @property
    def owner_database_url(self) -> str:
        """The URL of the admin commands: the owner role's, else the one URL there is."""
        return self.admin_database_url or self.database_url

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        settings = cls._read(_Reader(env))
        if settings.redis_ca_file and not settings.redis_url.startswith("rediss://"):
            raise SettingsError("VERIFY_REDIS_CA_FILE is set but VERIFY_REDIS_URL is not rediss://")
        if settings.audit_commits_in_flight > settings.db_pool_max // 2:
            # an audit slot keeps its connection across back-to-back commits: past half the
            # pool, the register, key and readiness reads would find none under load
            raise SettingsError(
                f"VERIFY_AUDIT_COMMITS_IN_FLIGHT ({settings.audit_commits_in_flight}) must be at"
                f" most half of VERIFY_DB_POOL_MAX ({settings.db_pool_max})"
            )
        return settings

    @classmethod
    def _read(cls, r: _Reader) -> Settings:
        return cls(
            database_url=r.req("VERIFY_DATABASE_URL", str),
            redis_url=r.req("VERIFY_REDIS_URL", str),
            hmac_key=r.secret("VERIFY_HMAC_KEY"),
            cache_key=r.secret("VERIFY_CACHE_KEY"),
            database_read_urls=r.opt("VERIFY_DATABASE_READ_URLS", _csv, ()),
            admin_database_url=r.opt("VERIFY_ADMIN_DATABASE_URL", str, None),
            redis_cluster=r.opt("VERIFY_REDIS_CLUSTER", _bool, False),
            redis_ca_file=r.opt("VERIFY_REDIS_CA_FILE", str, ""),
            host=r.opt("VERIFY_HOST", str, "127.0.0.1"),
            port=r.opt("VERIFY_PORT", _port, 8080),
            metrics_host=r.opt("VERIFY_METRICS_HOST", str, ""),
            metrics_port=r.opt("VERIFY_METRICS_PORT", _port, 9464),
            workers=r.opt("VERIFY_WORKERS", _positive_int, 1),
            db_pool_min=r.opt("VERIFY_DB_POOL_MIN", _positive_int, 2),
            db_pool_max=r.opt("VERIFY_DB_POOL_MAX", _positive_int, 8),
            db_timeout_s=r.opt("VERIFY_DB_TIMEOUT", _db_seconds, 2.0),
            db_connect_timeout_s=r.opt("VERIFY_DB_CONNECT_TIMEOUT", _seconds, 5.0),
            redis_timeout_s=r.opt("VERIFY_REDIS_TIMEOUT", _seconds, 0.05),
            request_timeout_s=r.opt("VERIFY_REQUEST_TIMEOUT", _seconds, 5.0),
            max_body_bytes=r.opt("VERIFY_MAX_BODY_BYTES", _positive_int, 2 * 1024 * 1024),
            max_batch_items=r.opt("VERIFY_MAX_BATCH_ITEMS", _positive_int, 1000),
            max_concurrency=r.opt("VERIFY_MAX_CONCURRENCY", _positive_int, 64),
            bulk_concurrency=r.opt("VERIFY_BULK_CONCURRENCY", _positive_int, 8),
            queue_target_s=r.opt("VERIFY_QUEUE_TARGET", _seconds, 0.005),
            queue_timeout_s=r.opt("VERIFY_QUEUE_TIMEOUT", _seconds, 0.5),
            overload_queue_timeout_s=r.opt("VERIFY_OVERLOAD_QUEUE_TIMEOUT", _seconds, 0.25),
            bulk_queue_timeout_s=r.opt("VERIFY_BULK_QUEUE_TIMEOUT", _seconds, 5.0),
            loop_lag_target_s=r.opt("VERIFY_LOOP_LAG_TARGET", _seconds, 0.05),
            drain_s=r.opt("VERIFY_DRAIN_SECONDS", _drain_seconds, 5.0),
            max_concurrent_per_key=r.opt("VERIFY_MAX_CONCURRENT_PER_KEY", _positive_int, 32),
            stream_max_s=r.opt("VERIFY_STREAM_MAX_SECONDS", _seconds, 300.0),
            subject_attempts_per_day=r.opt("VERIFY_SUBJECT_ATTEMPTS_PER_DAY", _positive_int, 50),
            lookup_batch_max=r.opt("VERIFY_LOOKUP_BATCH_MAX", _positive_int, 1000),
            cache_enabled=r.opt("VERIFY_CACHE_ENABLED", _bool, True),
            redis_key_prefix=r.opt("VERIFY_REDIS_KEY_PREFIX", str, "cv"),
            audit_retention_days=r.opt("VERIFY_AUDIT_RETENTION_DAYS", _positive_int, 180),
            audit_commits_in_flight=r.opt("VERIFY_AUDIT_COMMITS_IN_FLIGHT", _positive_int, 4),
            audit_copy_rows=r.opt("VERIFY_AUDIT_COPY_ROWS", _positive_int, 1),
            key_cache_ttl_s=r.opt("VERIFY_KEY_CACHE_TTL", _seconds, 5.0),
            default_key_rate=r.opt("VERIFY_DEFAULT_KEY_RATE", _positive_int, 100),
            rate_lease_max=r.opt("VERIFY_RATE_LEASE_MAX", _count, 1000),
            rate_lease_ttl_s=r.opt("VERIFY_RATE_LEASE_TTL", _lease_seconds, 1.0),
            attempt_lease_max=r.opt("VERIFY_ATTEMPT_LEASE_MAX", _count, 0),
            attempt_lease_ttl_s=r.opt("VERIFY_ATTEMPT_LEASE_TTL", _lease_seconds, 30.0),
            log_level=r.opt("VERIFY_LOG_LEVEL", _log_level, "INFO"),
            access_log=r.opt("VERIFY_ACCESS_LOG", _access_log, "errors"),
            job_chunk_lines=r.opt("VERIFY_JOB_CHUNK_LINES", _positive_int, 2000),
            job_max_lines=r.opt("VERIFY_JOB_MAX_LINES", _positive_int, 20_000_000),
            job_concurrency=r.opt("VERIFY_JOB_CONCURRENCY", _positive_int, 2),
            job_slice_s=r.opt("VERIFY_JOB_SLICE", _seconds, 30.0),
            job_stale_s=r.opt("VERIFY_JOB_STALE", _seconds, 60.0),
            job_drain_s=r.opt("VERIFY_JOB_DRAIN", _seconds, 25.0),
            job_retention_days=r.opt("VERIFY_JOB_RETENTION_DAYS", _positive_int, 7),
            worker_metrics_port=r.opt("VERIFY_WORKER_METRICS_PORT", _port, 9102),
            gc_gen0=r.opt("VERIFY_GC_GEN0", _positive_int, 50_000),
            timezone=r.opt("VERIFY_TIMEZONE", _zone, "Asia/Ho_Chi_Minh"),
        )


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def req(self, name: str, cast: Callable[[str], T]) -> T:
        raw = self._env.get(name, "").strip()
        if not raw:
            raise SettingsError(f"{name} is not set (run `verify dev env` for a local setup)")
        return self._cast(name, raw, cast)

    def opt(self, name: str, cast: Callable[[str], T], default: T) -> T:
        raw = self._env.get(name, "").strip()
        return self._cast(name, raw, cast) if raw else default

    def secret(self, name: str) -> Secret:
        raw = self._env.get(name, "").strip()
        if not raw:
            raise SettingsError(f"{name} is not set: a base64 secret of at least 32 bytes")
        try:
            value = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise SettingsError(f"{name} is not valid base64") from None
        if len(value) < 32:
            raise SettingsError(f"{name} must decode to at least 32 bytes")
        return Secret(value)

    @staticmethod
    def _cast(name: str, raw: str, cast: Callable[[str], T]) -> T:
        try:
            return cast(raw)
        except ValueError as e:
            raise SettingsError(f"{name}: {e}") from None


def _bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true/false, got {raw!r}")


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError(f"expected a positive integer, got {raw!r}")
    return value


def _count(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError(f"expected an integer >= 0, got {raw!r}")
    return value


def _lease_seconds(raw: str) -> float:
    # a lease's unspent tokens are lost to the key's other processes until it expires
    value = _seconds(raw)
    if value > 60:
        raise ValueError(f"at most 60 seconds, got {raw!r}")
    return value


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 65535:
        raise ValueError(f"expected a port 0-65535, got {raw!r}")
    return value


def _seconds(raw: str) -> float:
    value = float(raw)
    if not 0 < value <= 3600:
        raise ValueError(f"expected seconds in (0, 3600], got {raw!r}")
    return value


def _db_seconds(raw: str) -> float:
    # a register read can take two of these (pool acquire, then the query); the cache
    # refuses fills for 10 s after an invalidation (cache/keyspace.py L1_BLOCK_TTL_S), which
    # must outlast the slowest read that started before it
    value = _seconds(raw)
    if value > 4.0:
        raise ValueError(f"at most 4 seconds (the cache's invalidation window), got {raw!r}")
    return value


def _drain_seconds(raw: str) -> float:
    value = float(raw)
    if not 0 <= value <= 300:
        raise ValueError(f"expected seconds in [0, 300], got {raw!r}")
    return value


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _access_log(raw: str) -> str:
    mode = raw.strip().lower()
    kind, _, n = mode.partition(":")
    if mode in ("all", "errors") or (kind == "sample" and n.isdigit() and int(n) >= 1):
        return mode
    raise ValueError(f"expected all, errors or sample:N (N >= 1), got {raw!r}")


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError(f"expected DEBUG/INFO/WARNING/ERROR, got {raw!r}")
    return level


def _zone(raw: str) -> str:
    """An IANA zone name that the zone database (system or the ``tzdata`` package) knows."""
    try:
        zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        detail = f"unknown time zone {raw!r} (an IANA name such as Asia/Ho_Chi_Minh)"
        raise ValueError(detail) from None
    return raw
