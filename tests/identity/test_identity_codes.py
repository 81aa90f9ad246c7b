"""Six-digit codes through the notification outbox: forgotten password, e-mail and phone verification.

The tests read each code where the user would: the message queued in the outbox.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import utcnow
from cauri.identity.models import LoginSession, VerificationCode
from cauri.notifications.models import Notification
from tests.support.identity import Actor, create_org_with_user, login, register, unique_email

FORGOT, RESET = "/api/v1/auth/password/forgot", "/api/v1/auth/password/reset"
SEND, CONFIRM = "/api/v1/auth/verification/send", "/api/v1/auth/verification/confirm"
NEW_PASSWORD = "a-new-and-long-passphrase"


async def messages_to(sessionmaker: async_sessionmaker[AsyncSession], recipient: str) -> list[Notification]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Notification).where(Notification.recipient == recipient).order_by(Notification.created_at)
        )
        return list(rows.scalars().all())


async def latest_code(sessionmaker: async_sessionmaker[AsyncSession], recipient: str) -> str:
    messages = await messages_to(sessionmaker, recipient)
    assert messages, f"no message queued for {recipient}"
    match = re.search(r"\b(\d{6})\b", messages[-1].body)
    assert match, messages[-1].body
    return match.group(1)


def wrong_code(right: str) -> str:
    return f"{(int(right) + 1 + secrets.randbelow(999_998)) % 1_000_000:06d}"


async def forgot(client: httpx.AsyncClient, actor: Actor) -> None:
    response = await client.post(FORGOT, json={"email": actor.email})
    assert response.status_code == 202, response.text


async def test_forgotten_password_is_reset_with_the_emailed_code(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    actor = await register(client)
    await forgot(client, actor)
    [message] = await messages_to(sessionmaker, actor.email)
    assert message.channel == "email"
    assert "Réinitialisation" in message.subject  # the account's language: French by default
    code = await latest_code(sessionmaker, actor.email)
    reset = await client.post(RESET, json={"email": actor.email, "code": code, "new_password": NEW_PASSWORD})
    assert reset.status_code == 204, reset.text
    # Every session ends with a reset; the new password works, the old one does not.
    assert (await client.get("/api/v1/auth/me", headers=actor.headers)).status_code == 401
    old_password = await client.post("/api/v1/auth/login", json={"email": actor.email, "password": actor.password})
    assert old_password.status_code == 401
    tokens = await login(client, email=actor.email, password=NEW_PASSWORD)
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.json()["user"]["email_verified_at"] is not None
    # A code works once.
    again = await client.post(RESET, json={"email": actor.email, "code": code, "new_password": "yet-another-password"})
    assert again.status_code == 422
    assert again.json()["errors"][0]["code"] == "code_expired"


async def test_forgot_password_answers_the_same_for_an_unknown_account(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    actor = await register(client)
    known = await client.post(FORGOT, json={"email": actor.email})
    nobody = unique_email()
    unknown = await client.post(FORGOT, json={"email": nobody})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert await messages_to(sessionmaker, nobody) == []
    reset = await client.post(RESET, json={"email": nobody, "code": "123456", "new_password": NEW_PASSWORD})
    assert reset.status_code == 422
    assert reset.json()["errors"][0]["code"] == "code_expired"


async def test_a_reset_code_by_sms_for_a_phone_account(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    local = f"69{secrets.randbelow(10)}{secrets.randbelow(1_000_000):06d}"
    registered = await client.post(
        "/api/v1/auth/register",
        json={"phone": local, "password": "first-password-here", "full_name": "Jean", "language": "en"},
    )
    assert registered.status_code == 201, registered.text
    e164 = registered.json()["user"]["phone"]
    assert (await client.post(FORGOT, json={"phone": local})).status_code == 202
    [sms] = await messages_to(sessionmaker, e164)
    assert sms.channel == "sms"
    assert sms.body.startswith("Your Cauri code")  # the account's language
    code = await latest_code(sessionmaker, e164)
    reset = await client.post(RESET, json={"phone": e164, "code": code, "new_password": NEW_PASSWORD})
    assert reset.status_code == 204, reset.text
    logged_in = await client.post("/api/v1/auth/login", json={"phone": local, "password": NEW_PASSWORD})
    assert logged_in.status_code == 200


async def test_five_wrong_tries_kill_the_code(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    actor = await register(client)
    await client.post(SEND, json={"channel": "email"}, headers=actor.headers)
    code = await latest_code(sessionmaker, actor.email)
    left = []
    for _ in range(4):
        response = await client.post(
            CONFIRM, json={"channel": "email", "code": wrong_code(code)}, headers=actor.headers
        )
        assert response.status_code == 422
        assert response.json()["field"] == "code"
        left.append(response.json()["attempts_left"])
    assert left == [4, 3, 2, 1]
    fifth = await client.post(CONFIRM, json={"channel": "email", "code": wrong_code(code)}, headers=actor.headers)
    assert fifth.json()["errors"][0]["code"] == "code_attempts_exhausted"
    # Dead: even the right code is refused now.
    right = await client.post(CONFIRM, json={"channel": "email", "code": code}, headers=actor.headers)
    assert right.status_code == 422
    assert right.json()["errors"][0]["code"] == "code_expired"
    async with sessionmaker() as session:
        stored = (
            await session.execute(select(VerificationCode).where(VerificationCode.user_id == actor.user_id))
        ).scalar_one()
    assert stored.attempts == 5 and stored.consumed_at is not None
    assert code not in stored.code_digest


async def test_an_expired_code_is_refused(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    actor = await register(client)
    await client.post(SEND, json={"channel": "email"}, headers=actor.headers)
    code = await latest_code(sessionmaker, actor.email)
    async with sessionmaker() as session:
        await session.execute(
            update(VerificationCode)
            .where(VerificationCode.user_id == actor.user_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    response = await client.post(CONFIRM, json={"channel": "email", "code": code}, headers=actor.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "code_expired"


async def test_verifying_the_email_address(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    actor = await register(client)
    sent = await client.post(SEND, json={"channel": "email"}, headers=actor.headers)
    assert sent.status_code == 202
    first_code = await latest_code(sessionmaker, actor.email)
    await client.post(SEND, json={"channel": "email"}, headers=actor.headers)
    second_code = await latest_code(sessionmaker, actor.email)
    async with sessionmaker() as session:
        codes = (
            (
                await session.execute(
                    select(VerificationCode)
                    .where(VerificationCode.user_id == actor.user_id)
                    .order_by(VerificationCode.created_at)
                )
            )
            .scalars()
            .all()
        )
    # Asking again killed the previous code.
    assert [code.consumed_at is None for code in codes] == [False, True]
    if first_code != second_code:
        stale = await client.post(CONFIRM, json={"channel": "email", "code": first_code}, headers=actor.headers)
        assert stale.status_code == 422
    confirmed = await client.post(CONFIRM, json={"channel": "email", "code": second_code}, headers=actor.headers)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["email_verified_at"] is not None
    again = await client.post(SEND, json={"channel": "email"}, headers=actor.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "already_verified"
    no_phone = await client.post(SEND, json={"channel": "phone"}, headers=actor.headers)
    assert no_phone.status_code == 422
    assert no_phone.json()["field"] == "channel"


async def test_a_reset_code_does_not_verify_and_a_verification_code_does_not_reset(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    actor = await register(client)
    await client.post(SEND, json={"channel": "email"}, headers=actor.headers)
    verification_code = await latest_code(sessionmaker, actor.email)
    reset = await client.post(
        RESET, json={"email": actor.email, "code": verification_code, "new_password": NEW_PASSWORD}
    )
    assert reset.status_code == 422
    async with sessionmaker() as session:
        open_sessions = await session.execute(
            select(func.count()).where(LoginSession.user_id == actor.user_id, LoginSession.revoked_at.is_(None))
        )
        assert open_sessions.scalar_one() == 1


async def test_someone_invited_without_a_password_is_told_how_to_choose_one(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client, org_name="Agence Immobilière Akwa")
    email = unique_email("invited")
    invited = await client.post(
        f"/api/v1/organizations/{owner.organization_id}/members",
        json={"email": email, "full_name": "Invitée", "role": "gestionnaire"},
        headers=owner.headers,
    )
    assert invited.status_code == 201, invited.text
    [invitation] = await messages_to(sessionmaker, email)
    assert invitation.organization_id == owner.organization_id
    assert "Agence Immobilière Akwa" in invitation.body
    assert "Mot de passe oublié" in invitation.body
    assert (await client.post(FORGOT, json={"email": email})).status_code == 202
    code = await latest_code(sessionmaker, email)
    reset = await client.post(RESET, json={"email": email, "code": code, "new_password": NEW_PASSWORD})
    assert reset.status_code == 204
    tokens = await login(client, email=email, password=NEW_PASSWORD)
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.json()["organization_id"] == str(owner.organization_id)
    assert me.json()["roles"] == ["gestionnaire"]
