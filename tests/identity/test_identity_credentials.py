"""Tampered tokens, API keys, and the choice of the organisation a call acts for."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.security import encode_jwt
from cauri.identity.audit import AuditEvent
from cauri.identity.models import ApiKey
from tests.support.identity import (
    Actor,
    add_member,
    create_api_key,
    create_org_with_user,
    create_platform_admin,
    register,
)

ME = "/api/v1/auth/me"


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def claims_of(actor: Actor) -> dict[str, object]:
    return jwt.decode(actor.access_token, options={"verify_signature": False})


def secret_of(app: FastAPI) -> str:
    return str(app.state.settings.secret_key.get_secret_value())


async def me_with_token(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get(ME, headers={"Authorization": f"Bearer {token}"})


async def test_alg_none_is_refused(client: httpx.AsyncClient) -> None:
    actor = await register(client)
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims_of(actor))}."
    response = await me_with_token(client, unsigned)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_a_token_signed_with_another_key_is_refused(client: httpx.AsyncClient) -> None:
    actor = await register(client)
    forged = jwt.encode(claims_of(actor), "another-key-that-is-long-enough-0123456789", algorithm="HS256")
    assert (await me_with_token(client, forged)).json()["code"] == "invalid_token"


async def test_a_modified_payload_breaks_the_signature(client: httpx.AsyncClient) -> None:
    victim = await register(client)
    attacker = await register(client)
    header, _, signature = attacker.access_token.split(".")
    claims = claims_of(attacker) | {"sub": str(victim.user_id)}
    response = await me_with_token(client, f"{header}.{b64(claims)}.{signature}")
    assert response.status_code == 401


async def test_an_expired_token_is_refused(client: httpx.AsyncClient, app: FastAPI) -> None:
    actor = await register(client)
    claims = claims_of(actor)
    expired = encode_jwt(
        secret_of(app), {"sub": claims["sub"], "sid": claims["sid"], "typ": "access"}, timedelta(seconds=-60)
    )
    response = await me_with_token(client, expired)
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


async def test_a_token_of_another_type_is_not_an_access_token(client: httpx.AsyncClient, app: FastAPI) -> None:
    actor = await register(client)
    claims = claims_of(actor)
    refresh_typed = encode_jwt(
        secret_of(app), {"sub": claims["sub"], "sid": claims["sid"], "typ": "refresh"}, timedelta(minutes=5)
    )
    assert (await me_with_token(client, refresh_typed)).json()["code"] == "invalid_token"
    # The opaque refresh token is not a bearer credential either.
    assert (await me_with_token(client, actor.refresh_token)).status_code == 401


async def test_a_valid_signature_for_an_unknown_session_is_refused(client: httpx.AsyncClient, app: FastAPI) -> None:
    actor = await register(client)
    made_up = encode_jwt(
        secret_of(app), {"sub": str(actor.user_id), "sid": str(uuid.uuid4()), "typ": "access"}, timedelta(minutes=5)
    )
    assert (await me_with_token(client, made_up)).json()["code"] == "session_revoked"


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not-a-jwt", "Bearer a.b.c", "Token abc", "Bearer ..."],
)
async def test_garbage_credentials_are_a_401_problem(client: httpx.AsyncClient, authorization: str) -> None:
    response = await client.get(ME, headers={"Authorization": authorization, "Accept-Language": "en"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_token"


async def test_a_bad_credential_on_a_public_route_is_still_a_401(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": "someone@example.org", "password": "whatever-it-is"},
        headers={"Authorization": "Bearer garbage"},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_api_key_authenticates_for_its_organisation_until_revoked(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    created = await client.post(
        "/api/v1/api-keys", json={"name": "Comptabilité", "role": "gestionnaire"}, headers=owner.headers
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("cauri_test_") and created.json()["prefix"] in key
    me = await client.get(ME, headers={"X-API-Key": key})
    assert me.status_code == 200
    assert me.json() | {"memberships": []} == {
        "user": None,
        "api_key_id": created.json()["id"],
        "organization_id": str(owner.organization_id),
        "roles": ["gestionnaire"],
        "permissions": sorted(
            [
                "org_read",
                "ledger_read",
                "payments_read",
                "payments_create",
                "bulk_read",
                "bulk_create",
                "bulk_approve",
                "tontines_use",  # a gestionnaire may run the operator's tontines (tontines module)
            ]
        ),
        "memberships": [],
    }
    listed = await client.get("/api/v1/api-keys", headers=owner.headers)
    assert [k["id"] for k in listed.json()["items"]] == [created.json()["id"]]
    assert key not in listed.text and "digest" not in listed.text
    async with sessionmaker() as session:
        stored = await session.get(ApiKey, uuid.UUID(created.json()["id"]))
        assert stored is not None and stored.last_used_at is not None
        assert key not in (stored.key_digest, stored.prefix)
    revoked = await client.delete(f"/api/v1/api-keys/{created.json()['id']}", headers=owner.headers)
    assert revoked.status_code == 204
    after = await client.get(ME, headers={"X-API-Key": key})
    assert after.status_code == 401
    assert after.json()["code"] == "invalid_api_key"
    async with sessionmaker() as session:
        actions = (
            (
                await session.execute(
                    select(AuditEvent.action)
                    .where(AuditEvent.target_id == created.json()["id"])
                    .order_by(AuditEvent.created_at)
                )
            )
            .scalars()
            .all()
        )
    assert actions == ["api_key.created", "api_key.revoked"]


async def test_a_key_with_a_wrong_secret_or_format_is_refused(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    api_key = await create_api_key(client, owner)
    # The secret's last character changed (its random part may itself hold an underscore: never split on one).
    tampered = api_key.key[:-1] + ("A" if api_key.key[-1] != "A" else "B")
    secret = api_key.key[-20:]
    for bad in (tampered, "cauri_test_nothex000000_" + secret, "", "sk_live_123", api_key.key + "x"):
        response = await client.get(ME, headers={"X-API-Key": bad})
        assert response.status_code == 401, bad
        assert response.json()["code"] == "invalid_api_key"


async def test_api_keys_never_get_the_owner_role_and_cannot_open_sessions(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    refused = await client.post("/api/v1/api-keys", json={"name": "x", "role": "owner"}, headers=owner.headers)
    assert refused.status_code == 422
    assert refused.json()["field"] == "role"
    api_key = await create_api_key(client, owner, role="admin")
    logout = await client.post("/api/v1/auth/logout", headers=api_key.headers)
    assert logout.status_code == 400
    assert logout.json()["code"] == "no_login_session"
    other_org = await client.get(ME, headers={**api_key.headers, "X-Organization-ID": str(uuid.uuid4())})
    assert other_org.status_code == 403


async def test_token_and_key_together_are_ambiguous(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    api_key = await create_api_key(client, owner)
    response = await client.get(ME, headers={**owner.headers, **api_key.headers})
    assert response.status_code == 401
    assert response.json()["code"] == "ambiguous_credentials"


async def test_the_organisation_header_chooses_among_memberships(client: httpx.AsyncClient) -> None:
    first = await create_org_with_user(client)
    second = await create_org_with_user(client)
    member = await add_member(client, first, role="superviseur")
    added = await client.post(
        f"/api/v1/organizations/{second.organization_id}/members",
        json={"email": member.email, "role": "gestionnaire"},
        headers=second.headers,
    )
    assert added.status_code == 201, added.text
    bearer = {"Authorization": f"Bearer {member.access_token}"}
    default = (await client.get(ME, headers=bearer)).json()
    assert default["organization_id"] == str(first.organization_id)  # the oldest membership
    assert default["roles"] == ["superviseur"]
    assert len(default["memberships"]) == 2
    chosen = (await client.get(ME, headers={**bearer, "X-Organization-ID": str(second.organization_id)})).json()
    assert chosen["organization_id"] == str(second.organization_id)
    assert chosen["roles"] == ["gestionnaire"]
    outsider = await client.get(ME, headers={**bearer, "X-Organization-ID": str(uuid.uuid4())})
    assert outsider.status_code == 403
    assert outsider.json()["code"] == "not_a_member"
    malformed = await client.get(ME, headers={**bearer, "X-Organization-ID": "not-a-uuid"})
    assert malformed.status_code == 422
    assert malformed.json()["field"] == "X-Organization-ID"


async def test_platform_admins_may_act_for_any_organisation(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    admin = await create_platform_admin(client, sessionmaker)
    headers = {"Authorization": f"Bearer {admin.access_token}", "X-Organization-ID": str(owner.organization_id)}
    me = (await client.get(ME, headers=headers)).json()
    assert me["organization_id"] == str(owner.organization_id)
    assert "platform_admin" in me["permissions"]
    organization = await client.get(f"/api/v1/organizations/{owner.organization_id}", headers=headers)
    assert organization.status_code == 200
    everyone = await client.get("/api/v1/admin/organizations?limit=500", headers=admin.headers)
    assert everyone.status_code == 200
    assert str(owner.organization_id) in {o["id"] for o in everyone.json()["items"]}
    not_admin = await client.get("/api/v1/admin/organizations", headers=owner.headers)
    assert not_admin.status_code == 403
    assert not_admin.json()["code"] == "permission_denied"
