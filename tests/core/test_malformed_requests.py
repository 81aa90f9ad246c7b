"""A stream of malformed bodies and parameters against every API operation: always a 4xx problem, never a 500.

Generated from the app's own OpenAPI description, so every new route is covered the day it is added.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.support.identity import create_org_with_user

WRONG_VALUES: list[Any] = [None, "", "x" * 5000, -1, 0, 10**30, 1.5, True, [], {}, "\u0000", "'; DROP TABLE users; --"]
# Routes whose whole purpose is to accept what a third party sends (validated by signature, not by schema).
SKIPPED_PATHS = ("/api/v1/webhooks/",)
# Every SHARDS-th operation per test, so that CI's parallel workers share the stream (minutes in one test).
SHARDS = 3


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def json_body_schema(schema: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return resolve(schema, content["application/json"].get("schema", {}))


def malformed_bodies(body_schema: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    yield "invalid json", b"{not json"
    yield "empty body", b""
    yield "json array", b"[]"
    yield "json string", b'"hello"'
    yield "deeply nested", (b"[" * 500) + (b"]" * 500)
    properties: dict[str, Any] = body_schema.get("properties", {})
    required: list[str] = body_schema.get("required", [])
    valid_looking = dict.fromkeys(properties, "x")
    for name in required:
        partial = {k: v for k, v in valid_looking.items() if k != name}
        yield f"missing {name}", json.dumps(partial).encode()
    for name in properties:
        for value in WRONG_VALUES:
            yield f"{name}={str(value)[:20]!r}", json.dumps({**valid_looking, name: value}).encode()
    yield "unknown field", json.dumps({**valid_looking, "surprise_field": 1}).encode()


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "not-a-uuid", path)


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/") and not path.startswith(SKIPPED_PATHS)
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    # Logging out ends the session the rest of the stream uses: keep it for last.
    return sorted(found, key=lambda op: op[1].endswith("/logout"))


def assert_problem(response: httpx.Response, context: str) -> None:
    assert response.status_code < 500, f"{context}: {response.status_code} {response.text[:300]}"
    # A 401 would mean the stream lost its session and tested nothing but authentication.
    assert response.status_code != 401 or context.startswith("POST /api/v1/auth/"), context
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json", context
        assert response.json()["code"], context


@pytest.mark.slow
@pytest.mark.parametrize("shard", range(SHARDS))
async def test_malformed_bodies_and_parameters_never_cause_a_500(
    app: FastAPI, client: httpx.AsyncClient, shard: int
) -> None:
    owner = await create_org_with_user(client, role="owner")
    schema = app.openapi()
    sent = 0
    for method, path, operation in operations(schema)[shard::SHARDS]:
        url = concrete(path)
        headers = {**owner.headers, "Accept-Language": "en"}
        body_schema = json_body_schema(schema, operation)
        if body_schema is not None:
            for label, body in malformed_bodies(body_schema):
                headers_json = {**headers, "Content-Type": "application/json"}
                response = await client.request(method, url, content=body, headers=headers_json)
                assert_problem(response, f"{method} {path} [{label}]")
                sent += 1
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query":
                continue
            for value in ("", "-1", "abc", "9" * 40, "%00", "2026-13-45", str(uuid.uuid4())):
                response = await client.request(method, url, params={parameter["name"]: value}, headers=headers)
                assert_problem(response, f"{method} {path} ?{parameter['name']}={value!r}")
                sent += 1
        if "{" not in path and path.endswith("/stream"):
            continue  # a well-formed request opens a live stream that lasts minutes: nothing malformed to send
        response = await client.request(method, path.replace("{", "").replace("}", ""), headers=headers)
        assert_problem(response, f"{method} {path} with bad path parameters")
    assert sent > 100 // SHARDS
