"""GET /v1/citizens/{id}: scoped attribute lookup; and the citizen's access history."""

from __future__ import annotations

from tests.cases import AN, AN_CMND, LAN, REGISTER
from tests.e2e.conftest import Client, make_key

PATH = f"/v1/citizens/{AN}"
WHY = {"purpose": "citizen_request"}  # reading a history needs a purpose, and is audited


async def _headers(db_url: str, *scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await make_key(db_url, frozenset(scopes))}"}


async def test_lookup_returns_what_the_scopes_allow(client: Client, loaded_db: str) -> None:
    headers = await _headers(loaded_db, "lookup:basic")
    response = await client.get(PATH, params={"purpose": "kyc"}, headers=headers)
    assert response.status == 200
    body = await response.json()
    assert body["basic"] == {
        "full_name": "Nguyễn Văn An",
        "date_of_birth": "2003-05-14",
        "gender": "male",
    }
    assert "residence" not in body and "cards" not in body


async def test_lookup_of_a_group_the_key_lacks_is_403(client: Client, loaded_db: str) -> None:
    headers = await _headers(loaded_db, "lookup:basic")
    params = {"purpose": "kyc", "fields": "basic,residence"}
    response = await client.get(PATH, params=params, headers=headers)
    assert response.status == 403
    body = await response.json(content_type=None)
    assert body["code"] == "forbidden_scope" and "lookup:residence" in body["detail"]


async def test_lookup_without_any_lookup_scope_is_403(client: Client, loaded_db: str) -> None:
    headers = await _headers(loaded_db, "verify")
    response = await client.get(PATH, params={"purpose": "kyc"}, headers=headers)
    assert response.status == 403


async def test_lookup_needs_a_purpose(client: Client, auth: dict[str, str]) -> None:
    response = await client.get(PATH, headers=auth)
    assert response.status == 400
    body = await response.json(content_type=None)
    assert (body["code"], body["field"]) == ("missing_field", "purpose")


async def test_lookup_all_groups_with_former_id(client: Client, auth: dict[str, str]) -> None:
    response = await client.get(f"/v1/citizens/{AN_CMND}", params={"purpose": "kyc"}, headers=auth)
    assert response.status == 200
    body = await response.json()
    assert body["id_number"] == AN
    assert body["residence"]["province"] == "Hà Nội"
    assert body["cards"] == [
        {"issue_date": "2021-07-01", "expiry_date": "2028-05-14", "status": "valid"}
    ]


async def test_lookup_card_statuses(client: Client, auth: dict[str, str]) -> None:
    params = {"purpose": "kyc", "fields": "cards"}
    body = await (await client.get(f"/v1/citizens/{LAN}", params=params, headers=auth)).json()
    assert [c["status"] for c in body["cards"]] == ["valid", "revoked"]
    assert set(body) == {"request_id", "purpose", "id_number", "cards"}


async def test_lookup_unknown_and_malformed(client: Client, auth: dict[str, str]) -> None:
    unknown = "001099999999"
    response = await client.get(f"/v1/citizens/{unknown}", params={"purpose": "x"}, headers=auth)
    assert response.status == 404
    response = await client.get("/v1/citizens/12ab", params={"purpose": "x"}, headers=auth)
    assert response.status == 400
    assert (await response.json(content_type=None))["code"] == "invalid_id_number"


async def test_history_shows_each_access_newest_first(
    client: Client, auth: dict[str, str], loaded_db: str
) -> None:
    other = await _headers(loaded_db, "verify")
    await client.post(
        "/v1/verify", json={"id_number": AN, "gender": "male", "purpose": "airport"}, headers=other
    )
    await client.get(PATH, params={"purpose": "kyc", "fields": "basic"}, headers=auth)
    await client.post("/v1/verify", json={"id_number": AN_CMND, "full_name": "X"}, headers=auth)
    response = await client.get(f"{PATH}/access-history", params=WHY, headers=auth)
    assert response.status == 200
    items = (await response.json())["items"]
    assert [(i["kind"], i["verdict"]) for i in items] == [
        ("verify", "no_match"),
        ("lookup", "found"),
        ("verify", "match"),
    ]
    assert items[1]["fields"] == ["full_name", "date_of_birth", "gender"]
    assert items[2]["purpose"] == "airport"
    assert {i["agency"] for i in items} == {"test-agency"}


async def test_history_pages_with_a_cursor(client: Client, auth: dict[str, str]) -> None:
    for n in range(5):
        body = {"id_number": AN, "gender": "male", "reference": str(n), "purpose": f"p{n}"}
        await client.post("/v1/verify", json=body, headers=auth)
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"limit": "2", **WHY, **({"cursor": cursor} if cursor else {})}
        page = await (
            await client.get(f"{PATH}/access-history", params=params, headers=auth)
        ).json()
        seen += [i["purpose"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["p4", "p3", "p2", "p1", "p0"]


async def test_history_needs_its_scope_and_a_valid_cursor(
    client: Client, auth: dict[str, str], loaded_db: str
) -> None:
    headers = await _headers(loaded_db, "verify", "lookup:basic")
    response = await client.get(f"{PATH}/access-history", params=WHY, headers=headers)
    assert response.status == 403
    bad = await client.get(f"{PATH}/access-history", params={"cursor": "!!", **WHY}, headers=auth)
    assert bad.status == 400
    over = await client.get(f"{PATH}/access-history", params={"limit": "1000", **WHY}, headers=auth)
    assert over.status == 400


async def test_history_of_someone_never_checked_is_empty(
    client: Client, auth: dict[str, str]
) -> None:
    someone = REGISTER[-1].record.id_number
    path = f"/v1/citizens/{someone}/access-history"
    body = await (await client.get(path, params=WHY, headers=auth)).json()
    assert body["items"] == [] and body["next_cursor"] is None
