"""The serving role (migration 005): made, or given a new password, by an owner connection.

`verify dev up` and the test fixtures use this; in production the DBA creates the role
with its password (or runs ALTER ROLE) and the migrations grant to it.
"""

from __future__ import annotations

import re

from verify.adapters.pg import Conn

SERVING_ROLE = "verify_app"
_SAFE_PASSWORD = re.compile(r"^[A-Za-z0-9_-]{16,128}$")

_ENSURE_SQL = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
        CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT
            NOREPLICATION NOBYPASSRLS;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END $$
"""


async def ensure_serving_role(conn: Conn, password: str) -> None:
    """Create the serving role when it is missing and set its password (cluster-wide)."""
    if not _SAFE_PASSWORD.match(password):
        raise ValueError("the serving role's password must be 16-128 URL-safe characters")
    await conn.execute(_ENSURE_SQL.format(role=SERVING_ROLE))
    # a utility statement takes no parameters; the password matched _SAFE_PASSWORD above
    await conn.execute(f"ALTER ROLE {SERVING_ROLE} LOGIN PASSWORD '{password}'")
