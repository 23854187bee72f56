"""The claim field `terminal` is stored with each answer's audit row and shown in the history."""

from __future__ import annotations

from tests.cases import AN, HA
from tests.e2e.conftest import Client, make_key

WHY = {"purpose": "citizen_request"}
QR_AN = "001203012345||Nguyễn Văn An|14052003|Nam|Hà Nội|01072021"


async def _history(client: Client, auth: dict[str, str], id_number: str) -> list[dict[str, object]]:
    response = await client.get(
        f"/v1/citizens/{id_number}/access-history", params=WHY, headers=auth
    )
    assert response.status == 200
    items: list[dict[str, object]] = (await response.json())["items"]
    return items


async def test_single_and_batch_checks_record_their_terminal(
    client: Client, auth: dict[str, str], loaded_db: str
) -> None:
    kiosk = {"Authorization": f"Bearer {await make_key(loaded_db, frozenset({'verify'}))}"}
    await client.post("/v1/verify", json={"id_number": AN, "full_name": "x"}, headers=kiosk)
    body = {"qr": QR_AN, "terminal": "HAN-T2 Quầy 7", "require_card": True}
    response = await client.post("/v1/verify", json=body, headers=kiosk)
    assert response.status == 200 and (await response.json())["verdict"] == "match"
    items = [
        {"id_number": HA, "gender": "female", "terminal": "kiosk-3"},
        {"id_number": HA, "gender": "female"},
    ]
    response = await client.post("/v1/verify/batch", json={"items": items}, headers=kiosk)
    assert response.status == 200

    assert [i["terminal"] for i in await _history(client, auth, AN)] == ["HAN-T2 Quầy 7", None]
    assert sorted(str(i["terminal"]) for i in await _history(client, auth, HA)) == [
        "None",
        "kiosk-3",
    ]


async def test_a_bad_terminal_is_refused_before_anything_is_audited(
    client: Client, auth: dict[str, str]
) -> None:
    for terminal in ("x" * 65, "T1\nQ2", "", 7):
        body = {"id_number": AN, "gender": "male", "terminal": terminal}
        response = await client.post("/v1/verify", json=body, headers=auth)
        assert response.status == 400, terminal
        problem = await response.json(content_type=None)
        assert problem["field"] == "terminal"
    assert await _history(client, auth, AN) == []
