"""Replacing Square by Lightspeed is configuration: the same connect flow (OAuth, the account discovered), the same
sync engine and kitchen hooks, the same relay-signed notifications."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.restaurant.pos.lightspeed.simulator import ACCOUNT_ID
from cauri.core.config import Settings
from cauri.restaurant import sync
from cauri.restaurant.models import RestaurantConnection, SyncedRecord
from cauri.restaurant.webhooks import webhook_path
from tests.restaurant.conftest import ServedLightspeed
from tests.support.identity import create_org_with_user


async def test_a_restaurant_on_lightspeed_connects_and_syncs_like_one_on_square(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    restaurant_settings: Settings,
    lightspeed: ServedLightspeed,
) -> None:
    actor = await create_org_with_user(client)
    started = await client.post("/api/v1/restaurant/connections/lightspeed/connect", headers=actor.headers)
    assert started.status_code == 200, started.text
    async with httpx.AsyncClient() as browser:
        redirect = await browser.get(started.json()["authorize_url"])
    target = urlsplit(redirect.headers["location"])
    callback = await client.get(f"{target.path}?{target.query}")
    assert callback.status_code == 200, callback.text
    health = (await client.get("/api/v1/restaurant/connections/lightspeed", headers=actor.headers)).json()
    assert (health["status"], health["merchant_id"], health["refreshable"]) == ("connected", ACCOUNT_ID, True)

    dish = lightspeed.simulator.add_item("Cassoulet", 1900)
    mine = {lightspeed.simulator.add_order([(dish, 2)]) for _ in range(3)}
    async with sessionmaker() as session:
        row = await session.scalar(
            select(RestaurantConnection).where(RestaurantConnection.organization_id == actor.organization_id)
        )
        assert row is not None
    report = await sync.run_sync(sessionmaker, restaurant_settings, connection_id=row.id, kind="sales")
    assert report.error_code is None, report
    async with sessionmaker() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(SyncedRecord)
            .where(SyncedRecord.connection_id == row.id, SyncedRecord.external_id.in_(mine))
        )
    assert stored == 3
    again = await sync.run_sync(sessionmaker, restaurant_settings, connection_id=row.id, kind="sales")
    assert again.written == 0  # nothing changed: nothing written

    url = restaurant_settings.public_base_url + webhook_path("lightspeed")
    body = lightspeed.simulator.event_body("sale.updated", {"saleID": next(iter(mine))})
    received = await client.post(
        webhook_path("lightspeed"), content=body, headers=lightspeed.simulator.signed(url, body)
    )
    assert received.json() == {"received": True, "duplicate": False}, received.text
    forged = await client.post(
        webhook_path("lightspeed"),
        content=body.replace(b"sale", b"item"),
        headers=lightspeed.simulator.signed(url, body),
    )
    assert forged.status_code == 401
    assert json.loads(body)["accountID"] == ACCOUNT_ID
