from __future__ import annotations

import base64

import pytest

from verify.settings import Settings, SettingsError

SECRET = base64.b64encode(b"k" * 32).decode()
BASE = {
    "VERIFY_DATABASE_URL": "postgresql://app:hunter2@db.internal:5432/verify",
    "VERIFY_REDIS_URL": "redis://127.0.0.1:6379/0",
    "VERIFY_HMAC_KEY": SECRET,
    "VERIFY_CACHE_KEY": SECRET,
}


def test_defaults_and_types() -> None:
    s = Settings.from_env({**BASE, "VERIFY_PORT": "9000", "VERIFY_CACHE_ENABLED": "false"})
    assert (s.port, s.cache_enabled, s.redis_timeout_s, s.host) == (9000, False, 0.05, "127.0.0.1")
    assert s.hmac_key.value == b"k" * 32


@pytest.mark.parametrize(
    ("raw", "mode"), [(None, "errors"), ("ALL", "all"), ("sample:100", "sample:100")]
)
def test_access_log_modes(raw: str | None, mode: str) -> None:
    env = BASE if raw is None else {**BASE, "VERIFY_ACCESS_LOG": raw}
    assert Settings.from_env(env).access_log == mode


def test_secrets_and_passwords_never_in_repr() -> None:
    shown = repr(Settings.from_env(BASE))
    assert "hunter2" not in shown and SECRET not in shown and "kkkk" not in shown
    assert "app:***@db.internal" in shown


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("VERIFY_DATABASE_URL", "", "VERIFY_DATABASE_URL is not set"),
        ("VERIFY_PORT", "eighty", "VERIFY_PORT"),
        ("VERIFY_PORT", "70000", "VERIFY_PORT"),
        ("VERIFY_REDIS_TIMEOUT", "0", "VERIFY_REDIS_TIMEOUT"),
        ("VERIFY_DB_TIMEOUT", "5", "invalidation window"),
        ("VERIFY_CACHE_ENABLED", "maybe", "VERIFY_CACHE_ENABLED"),
        ("VERIFY_ACCESS_LOG", "sample:0", "VERIFY_ACCESS_LOG"),
        ("VERIFY_ACCESS_LOG", "some", "VERIFY_ACCESS_LOG"),
        ("VERIFY_HMAC_KEY", "not base64!", "VERIFY_HMAC_KEY is not valid base64"),
        ("VERIFY_HMAC_KEY", base64.b64encode(b"short").decode(), "at least 32 bytes"),
        ("VERIFY_WORKERS", "0", "VERIFY_WORKERS"),
        ("VERIFY_LOG_LEVEL", "LOUD", "VERIFY_LOG_LEVEL"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as raised:
        Settings.from_env({**BASE, name: value})
    assert SECRET not in str(raised.value)


def test_read_replicas_are_a_list() -> None:
    s = Settings.from_env(
        {**BASE, "VERIFY_DATABASE_READ_URLS": "postgresql://a/x, postgresql://b/x"}
    )
    assert s.database_read_urls == ("postgresql://a/x", "postgresql://b/x")


def test_timezone_defaults_to_vietnam_and_is_read_from_the_zone_database() -> None:
    assert Settings.from_env(BASE).timezone == "Asia/Ho_Chi_Minh"
    assert Settings.from_env({**BASE, "VERIFY_TIMEZONE": "UTC"}).timezone == "UTC"
    for bad in ("Asia/Hanoi_Nowhere", "+07:00", "../etc/passwd"):
        with pytest.raises(SettingsError, match="VERIFY_TIMEZONE"):
            Settings.from_env({**BASE, "VERIFY_TIMEZONE": bad})


def test_the_owner_url_is_masked_and_falls_back_to_the_serving_url() -> None:
    alone = Settings.from_env(BASE)
    assert alone.admin_database_url is None
    assert alone.owner_database_url == BASE["VERIFY_DATABASE_URL"]
    owner = "postgresql://owner:s3cr3t-owner@db.internal:5432/verify"
    both = Settings.from_env({**BASE, "VERIFY_ADMIN_DATABASE_URL": owner})
    assert both.owner_database_url == owner and both.database_url == BASE["VERIFY_DATABASE_URL"]
    shown = repr(both)
    assert "s3cr3t-owner" not in shown and "owner:***@db.internal" in shown


def test_the_default_key_rate() -> None:
    assert Settings.from_env(BASE).default_key_rate == 100
    assert Settings.from_env({**BASE, "VERIFY_DEFAULT_KEY_RATE": "5"}).default_key_rate == 5
    with pytest.raises(SettingsError, match="VERIFY_DEFAULT_KEY_RATE"):
        Settings.from_env({**BASE, "VERIFY_DEFAULT_KEY_RATE": "0"})


def test_the_rate_lease_settings() -> None:
    default = Settings.from_env(BASE)
    assert (default.rate_lease_max, default.rate_lease_ttl_s) == (1000, 1.0)
    assert (default.attempt_lease_max, default.attempt_lease_ttl_s) == (0, 30.0)  # off
    off = Settings.from_env(
        {**BASE, "VERIFY_RATE_LEASE_MAX": "0", "VERIFY_RATE_LEASE_TTL": "0.2",
         "VERIFY_ATTEMPT_LEASE_MAX": "500"}
    )  # fmt: skip
    assert (off.rate_lease_max, off.rate_lease_ttl_s, off.attempt_lease_max) == (0, 0.2, 500)
    for name, raw in [
        ("VERIFY_RATE_LEASE_MAX", "-1"),
        ("VERIFY_ATTEMPT_LEASE_MAX", "-1"),
        ("VERIFY_ATTEMPT_LEASE_TTL", "61"),
        ("VERIFY_RATE_LEASE_TTL", "0"),
        ("VERIFY_RATE_LEASE_TTL", "61"),
    ]:
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({**BASE, name: raw})


def test_the_smallest_audit_commit_by_copy() -> None:
    assert Settings.from_env(BASE).audit_copy_rows == 1
    assert Settings.from_env({**BASE, "VERIFY_AUDIT_COPY_ROWS": "64"}).audit_copy_rows == 64
    with pytest.raises(SettingsError, match="VERIFY_AUDIT_COPY_ROWS"):
        Settings.from_env({**BASE, "VERIFY_AUDIT_COPY_ROWS": "0"})


def test_the_audit_commits_in_flight() -> None:
    assert Settings.from_env(BASE).audit_commits_in_flight == 4
    one = Settings.from_env({**BASE, "VERIFY_AUDIT_COMMITS_IN_FLIGHT": "1"})
    assert one.audit_commits_in_flight == 1
    with pytest.raises(SettingsError, match="VERIFY_AUDIT_COMMITS_IN_FLIGHT"):
        Settings.from_env({**BASE, "VERIFY_AUDIT_COMMITS_IN_FLIGHT": "0"})
    # an audit slot holds its connection while commits follow back to back: at most half
    # the pool, so the register and key reads always find one
    with pytest.raises(SettingsError, match="at most half of VERIFY_DB_POOL_MAX"):
        Settings.from_env({**BASE, "VERIFY_AUDIT_COMMITS_IN_FLIGHT": "5"})
    small = {**BASE, "VERIFY_DB_POOL_MAX": "4", "VERIFY_AUDIT_COMMITS_IN_FLIGHT": "2"}
    assert Settings.from_env(small).audit_commits_in_flight == 2
