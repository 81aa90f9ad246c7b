"""``Idempotency-Key`` on sign-up, organisation creation and API key creation: one row, one answer."""

from __future__ import annotations

import json
import uuid

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.idempotency import IdempotencyRecord, request_fingerprint
from cauri.identity.models import ApiKey, Organization, User
from tests.support.identity import DEFAULT_PASSWORD, create_org_with_user, register, unique_email

REGISTER = "/api/v1/auth/register"


async def count(sessionmaker: async_sessionmaker[AsyncSession], statement: object) -> int:
    async with sessionmaker() as session:
        return int((await session.execute(statement)).scalar_one())  # type: ignore[call-overload]


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def test_a_retried_sign_up_answers_the_first_response_and_creates_one_account(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    email, headers = unique_email(), key()
    # The database is shared with the other tests of this worker: a name of this test's own, counted below.
    organization_name = f"Awa SARL {uuid.uuid4().hex[:8]}"
    body = {"email": email, "password": DEFAULT_PASSWORD, "full_name": "Awa", "organization_name": organization_name}
    first = await client.post(REGISTER, json=body, headers=headers)
    retry = await client.post(REGISTER, json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await count(sessionmaker, select(func.count()).select_from(User).where(User.email == email)) == 1
    slug_prefix = first.json()["organization"]["slug"].split("-")[0]
    same_name = select(func.count()).select_from(Organization).where(Organization.name == organization_name)
    assert slug_prefix == "awa"
    assert await count(sessionmaker, same_name) == 1


async def test_the_same_key_with_another_body_is_refused(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    headers = key()
    first = {"email": unique_email(), "password": DEFAULT_PASSWORD, "full_name": "Awa"}
    assert (await client.post(REGISTER, json=first, headers=headers)).status_code == 201
    other_email = unique_email()
    other = await client.post(REGISTER, json={**first, "email": other_email}, headers=headers)
    assert other.status_code == 422
    assert other.json()["field"] == "Idempotency-Key"
    assert other.json()["errors"][0]["code"] == "idempotency_key_reused"
    assert await count(sessionmaker, select(func.count()).select_from(User).where(User.email == other_email)) == 0


async def test_a_key_still_in_progress_is_a_conflict(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    idempotency_key, email = uuid.uuid4().hex, unique_email()
    raw = json.dumps({"email": email, "password": DEFAULT_PASSWORD, "full_name": "Awa"}).encode()
    async with sessionmaker() as session:
        session.add(
            IdempotencyRecord(
                scope="anonymous",
                key=idempotency_key,
                method="POST",
                path=REGISTER,
                request_hash=request_fingerprint("POST", REGISTER, "", raw),
                owner_token="another-request",
            )
        )
        await session.commit()
    response = await client.post(
        REGISTER, content=raw, headers={"Idempotency-Key": idempotency_key, "Content-Type": "application/json"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_in_progress"
    assert await count(sessionmaker, select(func.count()).select_from(User).where(User.email == email)) == 0


async def test_a_retried_organisation_creation_creates_one_organisation(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    actor = await register(client)
    name, headers = f"Agence {uuid.uuid4().hex[:8]}", {**actor.headers, **key()}
    first = await client.post("/api/v1/organizations", json={"name": name}, headers=headers)
    retry = await client.post("/api/v1/organizations", json={"name": name}, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    same_name = select(func.count()).select_from(Organization).where(Organization.name == name)
    assert await count(sessionmaker, same_name) == 1
    changed = await client.post("/api/v1/organizations", json={"name": name + " bis"}, headers=headers)
    assert changed.status_code == 422


async def test_a_retried_api_key_creation_returns_the_same_key_once_created(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    headers = {**owner.headers, **key()}
    first = await client.post("/api/v1/api-keys", json={"name": "ERP"}, headers=headers)
    retry = await client.post("/api/v1/api-keys", json={"name": "ERP"}, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.json()["key"] == first.json()["key"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    keys = select(func.count()).select_from(ApiKey).where(ApiKey.organization_id == owner.organization_id)
    assert await count(sessionmaker, keys) == 1
    # Another caller cannot replay someone else's key: idempotency keys are scoped to the caller.
    stranger = await create_org_with_user(client)
    theirs = await client.post(
        "/api/v1/api-keys",
        json={"name": "ERP"},
        headers={**stranger.headers, "Idempotency-Key": headers["Idempotency-Key"]},
    )
    assert theirs.status_code == 201
    assert theirs.json()["key"] != first.json()["key"]
    assert "Idempotent-Replayed" not in theirs.headers
