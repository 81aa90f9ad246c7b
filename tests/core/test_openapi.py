"""The OpenAPI description tells the truth about security, headers and errors; /docs works without Internet."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.support.identity import DEFAULT_PASSWORD, create_org_with_user, unique_email

PROBLEM = "application/problem+json"
MUTATING = ("post", "put", "patch", "delete")


def api_operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in item.items()
    ]


def header_names(operation: dict[str, Any]) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}


async def test_security_schemes_make_a_working_authorize_button(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["apiKeyAuth"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["oauth2Password"]["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    me = schema["paths"]["/api/v1/auth/me"]["get"]
    assert {name for requirement in me["security"] for name in requirement} == set(schemes)
    assert "security" not in schema["paths"]["/api/v1/auth/login"]["post"], "logging in needs no login"


async def test_headers_are_declared_where_the_app_reads_them(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    operations = api_operations(schema)
    assert len(operations) > 40
    for method, path, operation in operations:
        headers = header_names(operation)
        assert "Accept-Language" in headers, (method, path)
        assert ("X-Organization-ID" in headers) == ("security" in operation), (method, path)
        assert ("Idempotency-Key" in headers) == (method in MUTATING), (method, path)


async def test_every_error_is_a_documented_problem(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert set(schema["components"]["schemas"]["Problem"]["required"]) >= {"code", "detail", "status"}
    for method, path, operation in api_operations(schema):
        responses = operation["responses"]
        assert {"401", "403", "422"} <= set(responses), (method, path)
        if "{" in path or "security" in operation:
            assert "404" in responses, (method, path)
        if method in MUTATING:
            assert "409" in responses, (method, path)
        for status, response in responses.items():
            if int(status) >= 400:
                assert list(response["content"]) == [PROBLEM], (method, path, status)
    throttled = ("login", "token", "password/change", "password/forgot", "password/reset", "verification/send")
    for path in throttled:
        assert "429" in schema["paths"][f"/api/v1/auth/{path}"]["post"]["responses"], path


async def test_an_error_answered_matches_its_documentation(client: httpx.AsyncClient) -> None:
    refused = await client.get("/api/v1/auth/me", headers={"Authorization": "Bearer nope", "Accept-Language": "en"})
    assert refused.status_code == 401
    assert refused.headers["content-type"] == PROBLEM
    assert {"type", "title", "status", "detail", "code"} <= set(refused.json())


async def test_the_token_endpoint_logs_in_with_an_email_or_a_phone(client: httpx.AsyncClient) -> None:
    email = unique_email("swagger")
    registered = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": DEFAULT_PASSWORD, "full_name": "Awa Diop", "organization_name": "Awa SARL"},
    )
    assert registered.status_code == 201, registered.text
    by_phone_owner = await client.post(
        "/api/v1/auth/register",
        json={"phone": "690 55 44 33", "password": DEFAULT_PASSWORD, "full_name": "Paul Ngono", "region": "CM"},
    )
    assert by_phone_owner.status_code == 201, by_phone_owner.text
    for username in (email.upper(), "690554433", "+237690554433"):
        form = {"grant_type": "password", "username": username, "password": DEFAULT_PASSWORD}
        answered = await client.post("/api/v1/auth/token", data=form)
        assert answered.status_code == 200, (username, answered.text)
        tokens = answered.json()
        assert tokens["token_type"] == "bearer"
        me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert me.status_code == 200, me.text
    # Swagger's Authorize form also sends the OAuth client's Basic credentials (an empty client id by default).
    swagger = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": DEFAULT_PASSWORD, "scope": ""},
        headers={"Authorization": "Basic Og=="},
    )
    assert swagger.status_code == 200, swagger.text
    wrong = await client.post("/api/v1/auth/token", data={"username": email, "password": "not-the-password"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
    malformed = await client.post(
        "/api/v1/auth/token", data={"username": "a@b@c", "password": "x"}, headers={"Accept-Language": "en"}
    )
    assert malformed.status_code == 422
    assert malformed.json()["field"] == "username"
    assert malformed.json()["detail"] == "Invalid e-mail address."


async def test_the_token_endpoint_is_throttled_as_documented(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    documented = (await client.get("/openapi.json")).json()["paths"]["/api/v1/auth/token"]["post"]["responses"]
    statuses = []
    for _ in range(8):
        answer = await client.post("/api/v1/auth/token", data={"username": owner.email, "password": "wrong-one"})
        statuses.append(answer.status_code)
        assert str(answer.status_code) in documented
        assert answer.headers["content-type"] == PROBLEM
    assert statuses[0] == 401 and statuses[-1] == 429, statuses


async def test_an_idempotent_form_post_is_replayed(client: httpx.AsyncClient) -> None:
    """The form parser reads the body before the idempotency guard: the guard fingerprints the parsed form."""
    owner = await create_org_with_user(client)
    form = {"username": owner.email, "password": DEFAULT_PASSWORD}
    headers = {"Idempotency-Key": "token-1"}
    first = await client.post("/api/v1/auth/token", data=form, headers=headers)
    again = await client.post("/api/v1/auth/token", data=form, headers=headers)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    other = await client.post("/api/v1/auth/token", data={**form, "password": "other"}, headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "validation_error"
    assert other.json()["field"] == "Idempotency-Key"


ASSET = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url\s*:\s*["']([^"']+)["']""")
CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_work_offline_from_local_assets(client: httpx.AsyncClient, page: str) -> None:
    html = await client.get(page)
    assert html.status_code == 200
    references = [a or b for a, b in ASSET.findall(html.text)]
    assets = [r for r in references if not r.startswith("#")]
    assert assets, html.text
    assert not [a for a in assets if "://" in a or a.startswith("//")], f"{page} fetches from the Internet: {assets}"
    assert "fonts.googleapis" not in html.text and "cdn.jsdelivr" not in html.text
    for asset in assets:
        served = await client.get(asset)
        assert served.status_code == 200, asset
        suffix = asset[asset.rfind(".") :]
        assert CONTENT_TYPES[suffix] in served.headers["content-type"], (asset, served.headers["content-type"])
        assert len(served.content) > 1000 or suffix == ".json", asset


def test_the_schema_is_generated_once(app: FastAPI) -> None:
    assert app.openapi() is app.openapi()
