"""Connections: OAuth with PKCE through the API, state checks, tokens encrypted at rest, refresh by one caller at a
time, a refresh token kept when the provider omits it, revocation and re-connection, health."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.core.security import Encryptor
from cauri.restaurant import connections
from cauri.restaurant.models import RestaurantConnection
from tests.restaurant.conftest import ServedSquare
from tests.restaurant.support import authorize, connect
from tests.support.identity import create_org_with_user


async def _connection(sessionmaker: async_sessionmaker[AsyncSession], organization_id: object) -> RestaurantConnection:
    async with sessionmaker() as session:
        return (
            await session.execute(
                select(RestaurantConnection).where(RestaurantConnection.organization_id == organization_id)
            )
        ).scalar_one()


async def test_connect_with_pkce_stores_encrypted_tokens_and_shows_health(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    restaurant_settings: Settings,
    square: ServedSquare,
) -> None:
    owner = await create_org_with_user(client)
    path = await authorize(client, owner)
    assert "code=" in path and "state=" in path
    connected = await client.get(path)
    assert connected.status_code == 200, connected.text
    assert connected.json()["status"] == "connected"
    assert connected.json()["refreshable"] is True
    assert "ORDERS_READ" in connected.json()["scopes"]
    row = await _connection(sessionmaker, owner.organization_id)
    assert row.token_ciphertext is not None
    tokens = json.loads(Encryptor(restaurant_settings.encryption_key_list).decrypt(row.token_ciphertext))
    assert tokens["access_token"].startswith("EAAA")
    assert tokens["access_token"] not in row.token_ciphertext  # encrypted at rest
    health = await client.get("/api/v1/restaurant/connections", headers=owner.headers)
    assert [c["provider"] for c in health.json()["items"]] == ["square"]
    assert "token" not in json.dumps(health.json()).replace("refresh", "").lower().replace("tokens", "")
    assert health.json()["items"][0]["merchant_id"] == square.simulator.merchant_id


async def test_wrong_or_replayed_state_is_refused_and_recorded(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    path = await authorize(client, owner)
    forged = await client.get(path.replace("state=", "state=x"))
    assert forged.status_code == 422
    assert forged.headers["content-type"].startswith("application/problem+json")
    assert (forged.json()["code"], forged.json()["field"]) == ("validation_error", "state")
    assert forged.json()["errors"][0]["code"] == "oauth_state_invalid"
    missing = await client.get("/api/v1/restaurant/connections/square/callback?code=abc")
    assert missing.status_code == 422
    assert (await client.get(path)).status_code == 200
    replayed = await client.get(path)
    assert replayed.status_code == 422
    assert replayed.json()["errors"][0]["code"] == "oauth_state_replayed"
    row = await _connection(sessionmaker, owner.organization_id)
    assert row.last_error_code == "oauth_state_replayed"  # the refusal is visible on the connection's health
    assert row.status == "connected"  # and the connection itself is unharmed


async def test_denied_authorisation_is_a_clear_error(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    path = await authorize(client, owner)
    state = path.split("state=")[1].split("&")[0]
    denied = await client.get(f"/api/v1/restaurant/connections/square/callback?state={state}&error=access_denied")
    assert denied.status_code == 422
    assert denied.json()["errors"][0]["code"] == "oauth_denied"


async def test_refresh_happens_once_for_concurrent_callers_and_keeps_an_omitted_refresh_token(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    restaurant_settings: Settings,
    square: ServedSquare,
) -> None:
    owner = await create_org_with_user(client)
    await connect(client, owner)
    row = await _connection(sessionmaker, owner.organization_id)
    encryptor = Encryptor(restaurant_settings.encryption_key_list)
    before = json.loads(encryptor.decrypt(row.token_ciphertext or ""))

    async def make_due() -> None:
        async with sessionmaker() as session:
            await session.execute(
                update(RestaurantConnection)
                .where(RestaurantConnection.id == row.id)
                .values(expires_at=utcnow() + timedelta(days=3))
            )
            await session.commit()

    await make_due()
    token_calls = square.simulator.requests["/oauth2/token"]
    tokens = await asyncio.gather(
        *(connections.access_token(sessionmaker, restaurant_settings, row.id) for _ in range(6))
    )
    assert square.simulator.requests["/oauth2/token"] == token_calls + 1  # one refresh for six callers
    assert len({t.get_secret_value() for t in tokens}) == 1
    assert tokens[0].get_secret_value() != before["access_token"]
    refreshed = await _connection(sessionmaker, owner.organization_id)
    after = json.loads(encryptor.decrypt(refreshed.token_ciphertext or ""))
    assert after["refresh_token"] != before["refresh_token"]  # PKCE: Square rotates it
    assert refreshed.expires_at is not None and refreshed.expires_at > utcnow() + timedelta(days=29)
    assert refreshed.refresh_lease_owner is None

    square.simulator.settings.omit_refresh_token = True
    try:
        await make_due()
        await connections.access_token(sessionmaker, restaurant_settings, row.id)
    finally:
        square.simulator.settings.omit_refresh_token = False
    kept = json.loads(
        encryptor.decrypt((await _connection(sessionmaker, owner.organization_id)).token_ciphertext or "")
    )
    assert kept["refresh_token"] == after["refresh_token"]  # omitted by the provider: ours is kept
    await make_due()
    await connections.access_token(sessionmaker, restaurant_settings, row.id)  # and it still refreshes


async def test_token_answer_without_refresh_token_is_flagged(client: httpx.AsyncClient, square: ServedSquare) -> None:
    owner = await create_org_with_user(client)
    square.simulator.settings.omit_refresh_token = True
    try:
        connected = await connect(client, owner)
    finally:
        square.simulator.settings.omit_refresh_token = False
    assert connected["status"] == "connected"
    assert connected["refreshable"] is False
    assert connected["last_error_code"] == "refresh_token_missing"


async def test_revoke_then_reconnect(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    restaurant_settings: Settings,
    restaurant_app: FastAPI,
) -> None:
    owner = await create_org_with_user(client)
    await connect(client, owner)
    row = await _connection(sessionmaker, owner.organization_id)
    token = await connections.access_token(sessionmaker, restaurant_settings, row.id)
    revoked = await client.delete("/api/v1/restaurant/connections/square", headers=owner.headers)
    assert revoked.status_code == 204, revoked.text
    health = await client.get("/api/v1/restaurant/connections/square", headers=owner.headers)
    assert health.json()["status"] == "revoked"
    async with httpx.AsyncClient() as http:  # the provider no longer honours the old token
        answer = await http.get(
            f"{restaurant_settings.restaurant_square_url}/v2/locations",
            headers={"Authorization": f"Bearer {token.get_secret_value()}"},
        )
    assert answer.status_code == 401
    again = await connect(client, owner)
    assert again["status"] == "connected"
    assert restaurant_app.state.settings is restaurant_settings


async def test_members_cannot_connect(client: httpx.AsyncClient) -> None:
    member = await create_org_with_user(client, role="member")
    refused = await client.post("/api/v1/restaurant/connections/square/connect", headers=member.headers)
    assert refused.status_code == 403
    unknown = await client.post(
        "/api/v1/restaurant/connections/clover/connect",
        headers=(await create_org_with_user(client)).headers,
    )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "restaurant_provider_unknown"
