"""Sign up, log in by e-mail or phone, tokens with rotation and reuse detection, logout, password change."""

from __future__ import annotations

import secrets
import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.identity.audit import AuditEvent
from cauri.identity.models import LoginSession, Membership, RefreshToken, User
from tests.support.identity import DEFAULT_PASSWORD, login, register, unique_email

PROBLEM = "application/problem+json"


def cameroon_mobile() -> str:
    """A valid, unique-enough MTN Cameroon number as people type it locally."""
    pairs = " ".join(f"{secrets.randbelow(100):02d}" for _ in range(3))
    return f"67{secrets.randbelow(10)} {pairs}"


def e164_of_local(local: str) -> str:
    return "+237" + local.replace(" ", "")


async def test_register_with_email_creates_the_organisation_with_its_owner(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    email = unique_email("Awa").upper()
    response = await client.post(
        "/api/v1/auth/register",
        json={
            "email": email,
            "password": DEFAULT_PASSWORD,
            "full_name": "  Awa Diop ",
            "organization_name": "Caisse de Retraite — Dakar",
            "language": "en",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["user"]["email"] == email.lower()
    assert body["user"]["full_name"] == "Awa Diop"
    assert body["user"]["language"] == "en"
    assert body["organization"]["name"] == "Caisse de Retraite — Dakar"
    assert body["organization"]["slug"].startswith("caisse-de-retraite-dakar")
    assert body["tokens"]["token_type"] == "bearer"
    assert body["tokens"]["expires_in"] == 30 * 60
    assert body["tokens"]["refresh_expires_in"] == 7 * 24 * 3600
    assert "password" not in response.text and "hash" not in response.text
    async with sessionmaker() as session:
        user = await session.get(User, uuid.UUID(body["user"]["id"]))
        assert user is not None and user.password_hash.startswith("$argon2id$")
        membership = (await session.execute(select(Membership).where(Membership.user_id == user.id))).scalar_one()
        assert membership.role == "owner"
        assert str(membership.organization_id) == body["organization"]["id"]
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['tokens']['access_token']}"})
    assert me.status_code == 200
    assert me.json()["organization_id"] == body["organization"]["id"]
    assert me.json()["roles"] == ["owner"]
    assert "bulk_approve" in me.json()["permissions"]
    assert "platform_admin" not in me.json()["permissions"]


async def test_register_with_a_local_phone_number_and_log_in_with_any_spelling_of_it(client: httpx.AsyncClient) -> None:
    local = cameroon_mobile()
    response = await client.post(
        "/api/v1/auth/register", json={"phone": local, "password": DEFAULT_PASSWORD, "full_name": "Jean Mballa"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["user"]["phone"] == e164_of_local(local)
    assert response.json()["user"]["email"] is None
    assert response.json()["organization"] is None
    for spelling in (local, e164_of_local(local), "00" + e164_of_local(local)[1:]):
        logged_in = await client.post("/api/v1/auth/login", json={"phone": spelling, "password": DEFAULT_PASSWORD})
        assert logged_in.status_code == 200, (spelling, logged_in.text)


async def test_register_reads_a_local_number_with_the_region_given(client: httpx.AsyncClient) -> None:
    senegal_local = f"77 {secrets.randbelow(1000):03d} {secrets.randbelow(100):02d} {secrets.randbelow(100):02d}"
    response = await client.post(
        "/api/v1/auth/register",
        json={"phone": senegal_local, "region": "sn", "password": DEFAULT_PASSWORD, "full_name": "Fatou Sall"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["user"]["phone"] == "+221" + senegal_local.replace(" ", "")


async def test_an_address_or_number_cannot_be_registered_twice(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await register(client, email=email)
    again = await client.post(
        "/api/v1/auth/register",
        json={"email": email.upper(), "password": DEFAULT_PASSWORD, "full_name": "Someone Else"},
        headers={"Accept-Language": "en"},
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    assert again.json()["code"] == "email_taken"
    assert again.json()["field"] == "email"
    assert "already used" in again.json()["detail"]


async def test_register_needs_an_email_or_a_phone(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/register", json={"password": DEFAULT_PASSWORD, "full_name": "Anonyme"})
    assert response.status_code == 422
    assert response.json()["field"] == "email"
    assert response.json()["errors"][0]["code"] == "email_or_phone_required"
    assert "e-mail" in response.json()["detail"]  # French by default


async def test_unknown_account_and_wrong_password_get_the_same_answer(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    actor = await register(client)
    wrong_password = await client.post(
        "/api/v1/auth/login", json={"email": actor.email, "password": "not-the-password"}
    )
    unknown = await client.post("/api/v1/auth/login", json={"email": unique_email(), "password": "not-the-password"})
    assert wrong_password.status_code == unknown.status_code == 401
    assert wrong_password.json()["code"] == unknown.json()["code"] == "invalid_credentials"
    assert wrong_password.json()["detail"] == unknown.json()["detail"]
    async with sessionmaker() as session:
        failures = (
            await session.execute(
                select(AuditEvent).where(
                    AuditEvent.action == "auth.login_failed", AuditEvent.target_id == str(actor.user_id)
                )
            )
        ).scalars()
        failure = failures.one()
    assert failure.changes == {"identifier": f"{actor.email[0]}***@example.org", "reason": "wrong_password"}
    assert failure.ip is not None and failure.ip.startswith("10.")


async def test_login_by_email_opens_a_session(client: httpx.AsyncClient) -> None:
    actor = await register(client)
    tokens = await login(client, email=actor.email.upper())
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json()["user"]["id"] == str(actor.user_id)
    assert me.json()["organization_id"] is None
    assert me.json()["permissions"] == []


async def test_a_disabled_account_cannot_log_in(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    actor = await register(client)
    async with sessionmaker() as session:
        user = await session.get(User, actor.user_id)
        assert user is not None
        user.is_active = False
        await session.commit()
    refused = await client.post("/api/v1/auth/login", json={"email": actor.email, "password": actor.password})
    assert refused.status_code == 403
    assert refused.json()["code"] == "account_disabled"
    # The tokens it already held stop working too.
    assert (await client.get("/api/v1/auth/me", headers=actor.headers)).status_code == 401


async def test_refresh_rotates_the_refresh_token(client: httpx.AsyncClient) -> None:
    actor = await register(client)
    first = await client.post("/api/v1/auth/refresh", json={"refresh_token": actor.refresh_token})
    assert first.status_code == 200, first.text
    rotated = first.json()
    assert rotated["refresh_token"] != actor.refresh_token
    second = await client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert second.status_code == 200
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {second.json()['access_token']}"})
    assert me.status_code == 200


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    actor = await register(client)
    stolen = actor.refresh_token
    newest = (await client.post("/api/v1/auth/refresh", json={"refresh_token": stolen})).json()
    replay = await client.post("/api/v1/auth/refresh", json={"refresh_token": stolen})
    assert replay.status_code == 401
    assert replay.json()["code"] == "invalid_refresh_token"
    # Even the legitimate newest tokens are dead now: both holders must log in again.
    newest_refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": newest["refresh_token"]})
    assert newest_refresh.status_code == 401
    newest_access = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {newest['access_token']}"})
    assert newest_access.status_code == 401
    assert newest_access.json()["code"] == "session_revoked"
    async with sessionmaker() as session:
        reason = (
            await session.execute(select(LoginSession.revoked_reason).where(LoginSession.user_id == actor.user_id))
        ).scalar_one()
        assert reason == "refresh_token_reused"
        audited = await session.execute(
            select(AuditEvent.id).where(
                AuditEvent.action == "auth.refresh_token_reused",
                AuditEvent.changes["user_id"].as_string() == str(actor.user_id),
            )
        )
        assert audited.first() is not None


async def test_refresh_tokens_are_stored_as_digests_only(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    actor = await register(client)
    async with sessionmaker() as session:
        digests = (
            (
                await session.execute(
                    select(RefreshToken.token_digest)
                    .join(LoginSession, LoginSession.id == RefreshToken.session_id)
                    .where(LoginSession.user_id == actor.user_id)
                )
            )
            .scalars()
            .all()
        )
    assert len(digests) == 1
    assert actor.refresh_token not in digests[0] and len(digests[0]) == 64


async def test_an_unknown_or_expired_refresh_token_is_refused(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    unknown = await client.post("/api/v1/auth/refresh", json={"refresh_token": secrets.token_urlsafe(32)})
    assert unknown.status_code == 401
    actor = await register(client)
    async with sessionmaker() as session:
        token = (
            await session.execute(
                select(RefreshToken)
                .join(LoginSession, LoginSession.id == RefreshToken.session_id)
                .where(LoginSession.user_id == actor.user_id)
            )
        ).scalar_one()
        token.expires_at = token.created_at
        await session.commit()
    expired = await client.post("/api/v1/auth/refresh", json={"refresh_token": actor.refresh_token})
    assert expired.status_code == 401
    assert expired.json()["code"] == "invalid_refresh_token"


async def test_logout_ends_the_session_and_its_tokens(client: httpx.AsyncClient) -> None:
    actor = await register(client)
    other_device = await login(client, email=actor.email)
    assert (await client.post("/api/v1/auth/logout", headers=actor.headers)).status_code == 204
    after = await client.get("/api/v1/auth/me", headers=actor.headers)
    assert after.status_code == 401
    assert after.headers["content-type"] == PROBLEM
    assert after.json()["code"] == "session_revoked"
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": actor.refresh_token})
    assert refreshed.status_code == 401
    # Another device's session is untouched.
    other = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {other_device['access_token']}"})
    assert other.status_code == 200


async def test_change_password_ends_the_other_sessions(client: httpx.AsyncClient) -> None:
    actor = await register(client)
    other_device = await login(client, email=actor.email)
    new_password = "a-brand-new-passphrase"
    wrong = await client.post(
        "/api/v1/auth/password/change",
        json={"current_password": "not-my-password", "new_password": new_password},
        headers=actor.headers,
    )
    assert wrong.status_code == 422
    assert wrong.json()["field"] == "current_password"
    changed = await client.post(
        "/api/v1/auth/password/change",
        json={"current_password": actor.password, "new_password": new_password},
        headers=actor.headers,
    )
    assert changed.status_code == 204, changed.text
    assert (await client.get("/api/v1/auth/me", headers=actor.headers)).status_code == 200
    other = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {other_device['access_token']}"})
    assert other.status_code == 401
    old = await client.post("/api/v1/auth/login", json={"email": actor.email, "password": actor.password})
    assert old.status_code == 401
    await login(client, email=actor.email, password=new_password)


async def test_update_my_name_and_language(client: httpx.AsyncClient) -> None:
    actor = await register(client)
    response = await client.patch(
        "/api/v1/auth/me", json={"full_name": "Awa Diop Ndiaye", "language": "en"}, headers=actor.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["full_name"] == "Awa Diop Ndiaye"
    assert response.json()["language"] == "en"
