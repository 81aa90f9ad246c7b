"""Kobiri's and LokaHome's auth and user routes (seeds 003 and 004), replayed from their endpoint tables and
LokaHome's own tests (register → 201 with id and email; login with a form ``username`` → access_token,
refresh_token, token_type bearer; a wrong password → 401), over HTTP on both backends."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.identity.models import Membership, VerificationCode
from tests.compat.conftest import SLUGS, Operators
from tests.support.identity import DEFAULT_PASSWORD, add_member, unique_email

PASSWORD = "securepassword123"


def phone() -> str:
    return f"+22177{uuid.uuid4().int % 10_000_000:07d}"


def lokahome_user(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": unique_email("loka"),
        "phone": phone(),
        "password": PASSWORD,
        "first_name": "New",
        "last_name": "User",
        "user_type": "tenant",
    }
    body.update(changes)
    return body


def kobiri_user(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": unique_email("kobiri"),
        "password": PASSWORD,
        "first_name": "Awa",
        "last_name": "Diop Ndiaye",
    }
    body.update(changes)
    return body


async def register_and_login(client: httpx.AsyncClient, surface: str, body: dict[str, Any]) -> dict[str, str]:
    created = await client.post(f"/{surface}/api/v1/auth/register", json=body)
    assert created.status_code == 201, created.text
    login = await client.post(
        f"/{surface}/api/v1/auth/login", data={"username": body["email"], "password": body["password"]}
    )
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def test_lokahome_s_own_tests_register_then_log_in_with_a_form(
    client: httpx.AsyncClient, operators: Operators, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    body = lokahome_user(user_type="landlord")
    response = await client.post("/lokahome/api/v1/auth/register", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    assert "id" in data and data["email"] == body["email"]
    assert (data["first_name"], data["last_name"], data["user_type"], data["is_verified"]) == (
        "New",
        "User",
        "landlord",
        False,
    )
    async with sessionmaker() as session:
        membership = (
            await session.execute(select(Membership).where(Membership.user_id == uuid.UUID(data["id"])))
        ).scalar_one()
        assert (membership.organization_id, membership.role) == (operators.lokahome.organization_id, "landlord")

    login = await client.post("/lokahome/api/v1/auth/login", data={"username": body["email"], "password": PASSWORD})
    assert login.status_code == 200, login.text
    tokens = login.json()
    assert "access_token" in tokens and "refresh_token" in tokens and tokens["token_type"] == "bearer"
    by_phone = await client.post("/lokahome/api/v1/auth/login", json={"username": body["phone"], "password": PASSWORD})
    assert by_phone.status_code == 200, by_phone.text

    wrong = await client.post("/lokahome/api/v1/auth/login", data={"username": body["email"], "password": "wrong"})
    assert wrong.status_code == 401 and wrong.headers["content-type"] == "application/problem+json"

    me = await client.get("/lokahome/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200 and me.json()["email"] == body["email"]


async def test_lokahome_registration_refuses_bad_input_naming_the_field(
    client: httpx.AsyncClient, operators: Operators
) -> None:
    cases = [
        (lokahome_user(user_type="admin"), "user_type"),  # the seed's pattern: tenant, landlord or provider
        ({k: v for k, v in lokahome_user().items() if k != "phone"}, "phone"),
        (lokahome_user(email="not-an-email"), "email"),
        (lokahome_user(password="short"), "password"),
        (lokahome_user(phone="12"), "phone"),
    ]
    for body, field in cases:
        for language in ("fr", "en"):
            response = await client.post(
                "/lokahome/api/v1/auth/register", json=body, headers={"Accept-Language": language}
            )
            assert response.status_code == 422, (field, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["content-language"] == language
            assert response.json()["field"] == field, response.json()
    taken = lokahome_user()
    assert (await client.post("/lokahome/api/v1/auth/register", json=taken)).status_code == 201
    again = await client.post("/lokahome/api/v1/auth/register", json={**taken, "phone": phone()})
    assert again.status_code == 409 and again.json()["field"] == "email"


@pytest.mark.parametrize("surface", ["kobiri", "lokahome"])
async def test_the_auth_table_refresh_logout_change_password_and_profile(
    client: httpx.AsyncClient, operators: Operators, surface: str
) -> None:
    body = kobiri_user() if surface == "kobiri" else lokahome_user()
    api = f"/{surface}/api/v1"
    created = await client.post(f"{api}/auth/register", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["role"] == ("member" if surface == "kobiri" else "tenant")
    tokens = (await client.post(f"{api}/auth/login", json={"username": body["email"], "password": PASSWORD})).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    for path in ("/auth/me", "/users/me"):
        me = await client.get(api + path, headers=headers)
        assert me.status_code == 200 and me.json()["id"] == created.json()["id"]
    changed = await client.put(f"{api}/users/me", json={"last_name": "Sow"}, headers=headers)
    assert changed.status_code == 200
    assert (changed.json()["first_name"], changed.json()["last_name"]) == (body["first_name"], "Sow")
    unknown = await client.put(f"{api}/users/me", json={"nickname": "x"}, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["field"] == "nickname"

    refreshed = await client.post(f"{api}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200 and refreshed.json()["token_type"] == "bearer"
    replayed = await client.post(f"{api}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert replayed.status_code == 401  # rotation: a spent refresh token is refused (and its family revoked)

    fresh = (await client.post(f"{api}/auth/login", json={"username": body["email"], "password": PASSWORD})).json()
    headers = {"Authorization": f"Bearer {fresh['access_token']}"}
    wrong = await client.post(
        f"{api}/auth/change-password",
        json={"current_password": "not-it", "new_password": "another-password-1"},
        headers={**headers, "Accept-Language": "en"},
    )
    assert wrong.status_code in {400, 401, 422} and wrong.headers["content-type"] == "application/problem+json"
    ok = await client.post(
        f"{api}/auth/change-password",
        json={"current_password": PASSWORD, "new_password": "another-password-1"},
        headers=headers,
    )
    assert ok.status_code == 200, ok.text
    old = await client.post(f"{api}/auth/login", json={"username": body["email"], "password": PASSWORD})
    assert old.status_code == 401
    assert (await client.post(f"{api}/auth/logout", headers=headers)).status_code == 204
    assert (await client.get(f"{api}/users/me", headers=headers)).status_code == 401


async def test_forgot_reset_and_verify_with_codes(
    client: httpx.AsyncClient, operators: Operators, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    body = lokahome_user()
    headers = await register_and_login(client, "lokahome", body)
    api = "/lokahome/api/v1"

    sent = await client.post(f"{api}/auth/verify-email", json={}, headers=headers)
    assert sent.status_code == 202, sent.text
    bad = await client.post(f"{api}/auth/verify-email", json={"code": "12"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["field"] == "code"
    wrong = await client.post(f"{api}/auth/verify-email", json={"code": "000000"}, headers=headers)
    assert wrong.status_code == 422
    assert wrong.headers["content-type"] == "application/problem+json"

    forgot = await client.post(f"{api}/auth/forgot-password", json={"email": body["email"]})
    assert forgot.status_code == 202
    nobody = await client.post(f"{api}/auth/forgot-password", json={"email": unique_email()})
    assert nobody.status_code == 202 and nobody.json() == forgot.json()  # nobody learns which accounts exist
    async with sessionmaker() as session:
        codes = (await session.execute(select(VerificationCode.purpose))).scalars().all()
    assert {"verify_email", "reset_password"} <= set(codes)
    refused = await client.post(
        f"{api}/auth/reset-password",
        json={"email": body["email"], "code": "999999", "new_password": "brand-new-password"},
        headers={"Accept-Language": "en"},
    )
    assert refused.status_code == 422 and refused.headers["content-language"] == "en"


async def test_kobiri_admins_manage_people_and_members_only_themselves(
    client: httpx.AsyncClient, operators: Operators
) -> None:
    owner = operators.kobiri
    admin_headers = {"Authorization": f"Bearer {owner.access_token}"}
    member_body = kobiri_user()
    member_headers = await register_and_login(client, "kobiri", member_body)
    member_id = (await client.get("/kobiri/api/v1/users/me", headers=member_headers)).json()["id"]

    listed = await client.get("/kobiri/api/v1/users", params={"limit": 500}, headers=admin_headers)
    assert listed.status_code == 200 and isinstance(listed.json(), list)
    assert member_id in {user["id"] for user in listed.json()}
    page = await client.get("/kobiri/api/v1/users", params={"skip": 1, "limit": 1}, headers=admin_headers)
    assert len(page.json()) == 1 and page.json()[0]["id"] == listed.json()[1]["id"]
    bad_page = await client.get("/kobiri/api/v1/users", params={"limit": 0}, headers=admin_headers)
    assert bad_page.status_code == 422 and bad_page.json()["field"] == "limit"

    denied = await client.get("/kobiri/api/v1/users", headers=member_headers)
    assert denied.status_code == 403 and denied.json()["code"] == "permission_denied"
    other = await client.get(f"/kobiri/api/v1/users/{owner.user_id}", headers=member_headers)
    assert other.status_code == 403
    assert (await client.get(f"/kobiri/api/v1/users/{member_id}", headers=member_headers)).status_code == 200
    renamed = await client.put(
        f"/kobiri/api/v1/users/{member_id}", json={"first_name": "Aminata"}, headers=admin_headers
    )
    assert renamed.status_code == 200 and renamed.json()["first_name"] == "Aminata"
    missing = await client.get(f"/kobiri/api/v1/users/{uuid.uuid4()}", headers=admin_headers)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"

    removed = await client.delete(f"/kobiri/api/v1/users/{member_id}", headers=admin_headers)
    assert removed.status_code == 204
    after = await client.get("/kobiri/api/v1/users/me", headers=member_headers)
    assert after.status_code == 403 and after.json()["code"] == "not_a_member"


async def test_a_lokahome_account_is_not_a_kobiri_member(client: httpx.AsyncClient, operators: Operators) -> None:
    headers = await register_and_login(client, "lokahome", lokahome_user())
    assert (await client.get("/kobiri/api/v1/users/me", headers=headers)).status_code == 403
    gestionnaire = await add_member(client, operators.gateway, role="gestionnaire")
    tokens = await client.post(
        "/kobiri/api/v1/auth/login", json={"username": gestionnaire.email, "password": DEFAULT_PASSWORD}
    )
    kobiri_me = await client.get(
        "/kobiri/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}
    )
    assert kobiri_me.status_code == 403


async def test_every_surface_route_needs_a_login_unless_reviewed(
    app: FastAPI, client: httpx.AsyncClient, operators: Operators
) -> None:
    """Each surface route without a credential: the reviewed public ones answer, every other one is a 401. (The
    operators must exist: a surface whose operator is missing is a 503 before any login is asked for.)"""
    public = {
        ("post", f"/{surface}/api/v1/auth/{path}")
        for surface in ("kobiri", "lokahome")
        for path in ("register", "login", "refresh", "forgot-password", "reset-password")
    } | {("post", "/gateway/api/auth/login"), ("post", "/gateway/api/auth/refresh")}
    public |= {  # LokaHome's published listings (rentals)
        ("get", f"/lokahome/api/v1/properties{path}")
        for path in ("", "/search", "/nearby", "/{property_id}", "/{property_id}/availability")
    }
    public |= {  # LokaHome's services catalogue and providers' public profiles (rentals services)
        ("get", f"/lokahome/api/v1/{path}")
        for path in (
            "services",
            "service-providers",
            "service-providers/{provider_id}",
            "reviews/provider/{provider_id}",
        )
    }
    checked = 0
    for path, operations in app.openapi()["paths"].items():
        if not path.startswith(tuple(f"/{surface}/" for surface in SLUGS)):
            continue
        for method in operations:
            if (method, path) in public:
                continue
            concrete = path
            for name in ("bulk_transfer_id", "user_id", "property_id", "booking_id"):
                concrete = concrete.replace(f"{{{name}}}", str(uuid.uuid4()))
            response = await client.request(method.upper(), concrete)
            assert response.status_code == 401, (method, path, response.status_code)
            checked += 1
    assert checked >= 15
