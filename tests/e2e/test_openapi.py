"""/openapi.json describes the app's real routes and the responses they really give."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.cases import REGISTER
from tests.e2e.conftest import Client
from verify.http.openapi import SPEC

VALID_ID = REGISTER[0].record.id_number


def _app_routes(app: web.Application) -> set[tuple[str, str]]:
    routes = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method != "HEAD" and path:
            routes.add((route.method.lower(), str(path)))
    return routes


def _spec_routes() -> set[tuple[str, str]]:
    return {(m, p) for p, ops in SPEC["paths"].items() for m in ops}


async def test_served_spec_is_the_spec(client: Client) -> None:
    response = await client.get("/openapi.json")
    assert response.status == 200
    assert await response.json() == SPEC


async def test_every_route_is_documented_and_every_documented_route_exists(client: Client) -> None:
    assert _app_routes(client.app) == _spec_routes()


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    node: Any = SPEC
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return _resolve(node)


def _check_shape(body: Any, schema: dict[str, Any]) -> None:
    """A small structural check: required keys present, no undocumented keys."""
    schema = _resolve(schema)
    props = schema.get("properties")
    if props is None or not isinstance(body, dict):
        return
    for key in schema.get("required", []):
        assert key in body, key
    assert set(body) <= set(props), set(body) - set(props)
    for key, value in body.items():
        _check_shape(value, props[key])


async def _check(client: Client, method: str, path: str, **kwargs: Any) -> None:
    await _check_path(client, path, path, method=method, **kwargs)


async def _check_path(
    client: Client, template: str, path: str, method: str = "GET", **kwargs: Any
) -> None:
    response = await client.request(method, path, **kwargs)
    documented = SPEC["paths"][template][method.lower()]["responses"]
    assert str(response.status) in documented, (method, path, response.status)
    content = _resolve(documented[str(response.status)]).get("content", {})
    if response.content_type in ("application/json", "application/problem+json"):
        schema = content[response.content_type]["schema"]
        _check_shape(await response.json(content_type=None), schema)


async def test_responses_are_documented(client: Client, auth: dict[str, str]) -> None:
    await _check(client, "GET", "/healthz")
    await _check(client, "GET", "/docs")
    for path in ("/counter", "/counter/app.js", "/counter/app.css"):
        await _check(client, "GET", path)
    await _check(
        client, "POST", "/v1/verify", json={"id_number": VALID_ID, "gender": "male"}, headers=auth
    )
    await _check(client, "POST", "/v1/verify", json={"id_number": "1"}, headers=auth)
    await _check(client, "POST", "/v1/verify", json={"id_number": VALID_ID, "gender": "male"})
    batch = {"items": [{"id_number": VALID_ID, "gender": "male"}, {"id_number": "x"}]}
    await _check(client, "POST", "/v1/verify/batch", json=batch, headers=auth)
    too_many = {"items": [{"id_number": VALID_ID, "gender": "male"}] * 1001}
    await _check(client, "POST", "/v1/verify/batch", json=too_many, headers=auth)
    lookup = "/v1/citizens/{id_number}"
    history = "/v1/citizens/{id_number}/access-history"
    for id_number, params in (
        (VALID_ID, {"purpose": "kyc"}),
        (VALID_ID, {}),
        ("001099999999", {"purpose": "x"}),
    ):
        await _check_path(client, lookup, f"/v1/citizens/{id_number}", params=params, headers=auth)
    await _check_path(client, history, f"/v1/citizens/{VALID_ID}/access-history", headers=auth)
    await _check_path(
        client,
        history,
        f"/v1/citizens/{VALID_ID}/access-history",
        params={"limit": "0"},
        headers=auth,
    )
    line = b'{"id_number": "' + VALID_ID.encode() + b'", "gender": "male"}\n'
    await _check(client, "POST", "/v1/verify/stream", data=line, headers=auth)
    await _check(client, "POST", "/v1/verify/stream", data=line)


async def test_job_responses_are_documented(client: Client, auth: dict[str, str]) -> None:
    ndjson = {**auth, "Content-Type": "application/x-ndjson"}
    line = b'{"id_number": "' + VALID_ID.encode() + b'"}\n'
    jobs, job, results = "/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/results"
    response = await client.post(jobs, params={"purpose": "kyc"}, data=line, headers=ndjson)
    job_id = (await response.json())["job_id"]
    await _check(client, "POST", jobs, params={"purpose": "kyc"}, data=line, headers=ndjson)
    await _check(client, "POST", jobs, params={"purpose": "kyc"}, data=b"", headers=ndjson)
    await _check(client, "POST", jobs, params={"purpose": "kyc"}, data=line, headers=auth)
    await _check(client, "POST", jobs, data=line, headers=ndjson)
    await _check_path(client, job, f"/v1/jobs/{job_id}", headers=auth)
    await _check_path(client, results, f"/v1/jobs/{job_id}/results", headers=auth)
    await _check_path(client, job, f"/v1/jobs/{job_id}", method="DELETE", headers=auth)
    await _check_path(client, results, f"/v1/jobs/{job_id}/results", headers=auth)
    await _check_path(client, job, "/v1/jobs/00000000-0000-0000-0000-000000000000", headers=auth)
    await _check_path(client, job, f"/v1/jobs/{job_id}")
