"""TLS to PostgreSQL (sslmode=verify-full in the URL) and Redis (rediss:// + a CA file).

The URLs and settings are turned into the drivers' connect arguments here: a
certificate is required and checked against the given CA, and so is the host name.
"""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
from asyncpg import connect_utils
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from redis.asyncio import Redis
from redis.asyncio.connection import SSLConnection

from cache.redis_client import create_client
from verify.bootstrap import cache_settings_from
from verify.settings import Secret, Settings, SettingsError

CA_NAME = "citizen-verify test CA"


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _pg_ssl(dsn: str) -> object:
    """asyncpg's own parsing of a DSN (what asyncpg.create_pool does with our URL)."""
    parse = getattr(connect_utils, "_parse_connect_dsn_and_args")  # noqa: B009 (private)
    _, params = parse(
        dsn=dsn, host=None, port=None, user=None, password=None, passfile=None,
        database=None, ssl=None, service=None, servicefile=None, direct_tls=False,
        server_settings=None, target_session_attrs=None, krbsrvname=None, gsslib=None,
    )  # fmt: skip
    return params.ssl


def _trusts(context: ssl.SSLContext, name: str) -> bool:
    return f"commonName', '{name}'" in str(context.get_ca_certs())


def test_postgres_verify_full_checks_the_certificate_and_the_host(ca_file: Path) -> None:
    url = f"postgresql://verify@db.example:5432/verify?sslmode=verify-full&sslrootcert={ca_file}"
    context = _pg_ssl(url)
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert _trusts(context, CA_NAME)
    # for contrast: sslmode=require encrypts but trusts any certificate
    loose = _pg_ssl("postgresql://verify@db.example:5432/verify?sslmode=require")
    assert isinstance(loose, ssl.SSLContext) and not loose.check_hostname


def _settings(redis_url: str, ca: str = "") -> Settings:
    return Settings(
        database_url="postgresql://u@db.invalid/verify",
        redis_url=redis_url,
        hmac_key=Secret(b"h" * 32),
        cache_key=Secret(b"c" * 32),
        redis_ca_file=ca,
    )


async def test_rediss_verifies_the_certificate_and_the_host(ca_file: Path) -> None:
    client = create_client(
        cache_settings_from(_settings("rediss://cache.example:6380/0", str(ca_file)))
    )
    assert isinstance(client, Redis)
    try:
        pool = client.connection_pool
        assert pool.connection_class is SSLConnection
        connection = pool.make_connection()  # type: ignore[no-untyped-call]
        assert isinstance(connection, SSLConnection)
        context = connection.ssl_context.get()
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        assert _trusts(context, CA_NAME)
    finally:
        await client.aclose()


async def test_plain_redis_has_no_tls() -> None:
    client = create_client(cache_settings_from(_settings("redis://cache.example:6379/0")))
    assert isinstance(client, Redis)
    try:
        assert client.connection_pool.connection_class is not SSLConnection
    finally:
        await client.aclose()


def test_a_ca_file_needs_a_rediss_url() -> None:
    env = {
        "VERIFY_DATABASE_URL": "postgresql://u@db.invalid/verify",
        "VERIFY_REDIS_URL": "redis://cache.example:6379/0",
        "VERIFY_HMAC_KEY": "aGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGg=",
        "VERIFY_CACHE_KEY": "aGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGg=",
        "VERIFY_REDIS_CA_FILE": "/etc/ssl/redis-ca.pem",
    }
    with pytest.raises(SettingsError, match="rediss://"):
        Settings.from_env(env)
    assert Settings.from_env({**env, "VERIFY_REDIS_URL": "rediss://c:6380/0"}).redis_ca_file
