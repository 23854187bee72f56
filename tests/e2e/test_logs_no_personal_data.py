"""Invariant 5: no ID number, name or birth date of the register in any log line.

The whole verify/lookup/history surface runs with every logger at DEBUG and the
production JSON formatter; the captured text is then searched for each person's
data in every form a client sends it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.cases import BATCH_ITEMS, CASES, INVALID_CASES, REGISTER, TODAY
from tests.e2e.conftest import AiohttpServerClient
from verify.bootstrap import create_app
from verify.domain.names import fold
from verify.logs import JsonFormatter
from verify.settings import Settings


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield out
    root.removeHandler(handler)
    root.setLevel(old_level)


def _personal_strings() -> set[str]:
    found: set[str] = set()
    for entry in REGISTER:
        r = entry.record
        found |= {r.id_number, r.full_name, fold(r.full_name), *entry.former_ids, entry.address}
        if r.birth.precision.value == "day":
            found |= {r.birth.value.isoformat(), r.birth.value.strftime("%d%m%Y")}
    return found


async def test_no_personal_data_in_logs(
    settings: Settings, loaded_db: str, token: str, captured: io.StringIO,
    aiohttp_client: AiohttpServerClient,
) -> None:  # fmt: skip
    app: web.Application = create_app(settings, today=lambda: TODAY)
    # the server runs without aiohttp's access log, as `verify serve` does
    server = TestServer(app)
    await server.start_server(access_log=None)
    client = await aiohttp_client(server)
    auth = {"Authorization": f"Bearer {token}"}
    bodies: list[object] = [c.body for c in CASES] + [c.body for c in INVALID_CASES]
    for body in bodies:
        await client.post("/v1/verify", json=body, headers=auth)
    await client.post(
        "/v1/verify/batch", json={"items": [i.body for i in BATCH_ITEMS]}, headers=auth
    )
    for entry in REGISTER:
        path = f"/v1/citizens/{entry.record.id_number}"
        await client.get(path, params={"purpose": "kyc"}, headers=auth)
        await client.get(f"{path}/access-history", headers=auth)
    await client.post("/v1/verify", json=CASES[0].body)  # 401
    text = captured.getvalue()
    assert '"msg": "request"' in text or '"msg":"request"' in text  # the access lines are there
    leaked = sorted(s for s in _personal_strings() if s in text)
    assert not leaked, f"{len(leaked)} personal values in the logs"
