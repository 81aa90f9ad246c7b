"""The incremental sync engine against the Square simulator: initial and incremental runs, change hashes, a crash
mid-run resumed at the checkpoint, provider errors recorded (never a crash), webhooks triggering targeted syncs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings
from cauri.restaurant import sync
from cauri.restaurant.models import RestaurantConnection, SyncCheckpoint, SyncedRecord, WebhookReceipt
from cauri.restaurant.webhooks import webhook_path
from tests.restaurant.conftest import ServedSquare
from tests.restaurant.support import connected_restaurant, square_connector
from tests.support.waiting import until

ORDERS = "/v2/orders/search"


async def _records(sessionmaker: async_sessionmaker[AsyncSession], connection_id: object, kind: str) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(SyncedRecord)
            .where(SyncedRecord.connection_id == connection_id, SyncedRecord.kind == kind)
        )
        return int(count or 0)


def _seed_orders(square: ServedSquare, location: str, count: int) -> list[str]:
    dish = square.simulator.add_item("Bouillabaisse", 2400)
    start = datetime.now(UTC) - timedelta(hours=2)
    return [
        square.simulator.add_order([(dish, 1 + n % 2)], location_id=location, at=start + timedelta(seconds=n))
        for n in range(count)
    ]


async def test_initial_then_incremental_sync_writes_only_the_changes(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    restaurant_settings: Settings,
    square: ServedSquare,
) -> None:
    shop = await connected_restaurant(client, sessionmaker, square.simulator)
    orders = _seed_orders(square, shop.location_id, 25)
    connector = await square_connector(sessionmaker, restaurant_settings, shop.connection_id)
    try:
        first = await sync.run_sync(
            sessionmaker, restaurant_settings, connection_id=shop.connection_id, kind="sales", connector=connector
        )
        assert (first.status, first.pages, first.seen, first.written) == ("idle", 3, 25, 25)
        again = await sync.run_sync(
            sessionmaker, restaurant_settings, connection_id=shop.connection_id, kind="sales", connector=connector
        )
        assert again.written == 0  # nothing changed: nothing written (the watermark's own order is read again)
        assert again.seen <= 1
        square.simulator.update_order(orders[4], state="CANCELED")
        square.simulator.update_order(orders[9])  # a new version, same content apart from its version and time
        changed = await sync.run_sync(
            sessionmaker, restaurant_settings, connection_id=shop.connection_id, kind="sales", connector=connector
        )
        assert changed.written == 2
    finally:
        await connector.aclose()
    assert await _records(sessionmaker, shop.connection_id, "sales") == 25
    health = await client.get("/api/v1/restaurant/connections/square", headers=shop.actor.headers)
    (sales,) = [c for c in health.json()["sync"] if c["kind"] == "sales"]
    assert sales["status"] == "idle" and sales["resumable"] is False and sales["last_success_at"]


async def test_a_run_that_dies_resumes_at_its_checkpoint(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    restaurant_settings: Settings,
    square: ServedSquare,
) -> None:
    shop = await connected_restaurant(client, sessionmaker, square.simulator)
    _seed_orders(square, shop.location_id, 35)
    pages_written = 0

    async def dies_on_the_third_page(
        _session: AsyncSession, _connection: RestaurantConnection, _written: list[sync.Written]
    ) -> None:
        nonlocal pages_written
        pages_written += 1
        if pages_written == 3:
            raise RuntimeError("the worker was killed")

    connector = await square_connector(sessionmaker, restaurant_settings, shop.connection_id)
    try:
        with pytest.raises(RuntimeError):
            await sync.run_sync(
                sessionmaker,
                restaurant_settings,
                connection_id=shop.connection_id,
                kind="sales",
                connector=connector,
                on_page=dies_on_the_third_page,
            )
        assert await _records(sessionmaker, shop.connection_id, "sales") == 20  # two pages committed, not the third
        health = await client.get("/api/v1/restaurant/connections/square", headers=shop.actor.headers)
        (sales,) = health.json()["sync"]
        assert (sales["resumable"], sales["pages"]) == (True, 2)
        before = square.simulator.requests[ORDERS]
        resumed = await sync.run_sync(
            sessionmaker, restaurant_settings, connection_id=shop.connection_id, kind="sales", connector=connector
        )
    finally:
        await connector.aclose()
    assert resumed.resumed
    assert (resumed.pages, resumed.written) == (4, 35)  # the run's totals: pages 3 and 4 were the only new work
    assert square.simulator.requests[ORDERS] - before == 2
    assert await _records(sessionmaker, shop.connection_id, "sales") == 35


async def test_provider_errors_end_the_run_with_a_visible_status(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    restaurant_settings: Settings,
    square: ServedSquare,
) -> None:
    shop = await connected_restaurant(client, sessionmaker, square.simulator)
    _seed_orders(square, shop.location_id, 5)
    connector = await square_connector(sessionmaker, restaurant_settings, shop.connection_id)
    try:
        square.simulator.faults.malformed[ORDERS] = 1
        unreadable = await sync.run_sync(
            sessionmaker, restaurant_settings, connection_id=shop.connection_id, kind="sales", connector=connector
        )
        assert (unreadable.status, unreadable.error_code) == ("error", "provider_unreadable_answer")
        assert await _records(sessionmaker, shop.connection_id, "sales") == 0
        square.simulator.faults.server_errors[ORDERS] = 3  # every attempt of one call
        down = await sync.run_sync(
            sessionmaker, restaurant_settings, connection_id=shop.connection_id, kind="sales", connector=connector
        )
        assert (down.status, down.error_code) == ("error", "provider_unavailable")
        health = (await client.get("/api/v1/restaurant/connections/square", headers=shop.actor.headers)).json()
        assert (health["status"], health["last_error_code"]) == ("error", "provider_unavailable")
        assert health["sync"][0]["last_error_code"] == "provider_unavailable"
        square.simulator.faults.rate_limited[ORDERS] = 1  # a 429 is waited out and retried (a read is safe)
        recovered = await sync.run_sync(
            sessionmaker, restaurant_settings, connection_id=shop.connection_id, kind="sales", connector=connector
        )
    finally:
        await connector.aclose()
    assert (recovered.status, recovered.written) == ("idle", 5)
    health = (await client.get("/api/v1/restaurant/connections/square", headers=shop.actor.headers)).json()
    assert health["status"] == "connected"
    assert health["sync"][0]["last_error_code"] is None


async def test_catalog_and_stock_sync_with_change_hashes(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    restaurant_settings: Settings,
    square: ServedSquare,
) -> None:
    shop = await connected_restaurant(client, sessionmaker, square.simulator)
    dishes = [square.simulator.add_item(f"Entrée {n}", 700 + n) for n in range(3)]
    for dish in dishes:
        square.simulator.set_count(dish, 12)
    for kind in ("catalog", "stock"):
        first = await sync.run_sync(sessionmaker, restaurant_settings, connection_id=shop.connection_id, kind=kind)
        assert first.status == "idle" and first.written >= 3
        again = await sync.run_sync(sessionmaker, restaurant_settings, connection_id=shop.connection_id, kind=kind)
        assert again.written == 0
    square.simulator.update_item(dishes[1], price=990)
    changed = await sync.run_sync(sessionmaker, restaurant_settings, connection_id=shop.connection_id, kind="catalog")
    assert changed.written == 2  # the item and its variation
    async with sessionmaker() as session:
        stored = await session.scalar(
            select(SyncedRecord.data).where(
                SyncedRecord.connection_id == shop.connection_id, SyncedRecord.external_id == dishes[1]
            )
        )
    assert stored is not None and stored["price"] == 990 and stored["currency"] == "EUR"


async def test_sync_through_the_api_runs_in_the_background(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], square: ServedSquare
) -> None:
    shop = await connected_restaurant(client, sessionmaker, square.simulator)
    _seed_orders(square, shop.location_id, 3)
    queued = await client.post("/api/v1/restaurant/connections/square/sync/sales", headers=shop.actor.headers)
    assert queued.status_code == 202, queued.text
    unknown = await client.post("/api/v1/restaurant/connections/square/sync/tables", headers=shop.actor.headers)
    assert (unknown.status_code, unknown.json()["field"]) == (422, "kind")

    async def synced() -> bool:
        return await _records(sessionmaker, shop.connection_id, "sales") == 3

    await until(synced, "the queued sync stored the three sales", within=15)


async def test_verified_webhooks_trigger_a_targeted_sync_once(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    restaurant_settings: Settings,
    square: ServedSquare,
) -> None:
    shop = await connected_restaurant(client, sessionmaker, square.simulator)
    (order,) = _seed_orders(square, shop.location_id, 1)
    url = restaurant_settings.public_base_url + webhook_path("square")
    body = square.simulator.event_body(
        "order.updated",
        {"type": "order", "id": order, "object": {"order_updated": {"order_id": order, "state": "COMPLETED"}}},
    )
    headers = square.simulator.signed(url, body)
    tampered = await client.post(
        webhook_path("square"), content=body.replace(b"COMPLETED", b"CANCELED"), headers=headers
    )
    assert tampered.status_code == 401
    assert tampered.json()["code"] == "invalid_callback_signature"
    first = await client.post(webhook_path("square"), content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"received": True, "duplicate": False}
    again = await client.post(webhook_path("square"), content=body, headers=headers)
    assert again.json() == {"received": True, "duplicate": True}

    async def processed() -> bool:
        async with sessionmaker() as session:
            receipt = await session.scalar(
                select(WebhookReceipt).where(WebhookReceipt.event_id == json.loads(body)["event_id"])
            )
            return receipt is not None and receipt.processed_at is not None

    await until(processed, "the webhook's job synced the order", within=15)
    assert await _records(sessionmaker, shop.connection_id, "sales") == 1
    async with sessionmaker() as session:
        checkpoint = await session.scalar(
            select(SyncCheckpoint).where(SyncCheckpoint.connection_id == shop.connection_id)
        )
    assert checkpoint is None  # targeted: the checkpoint of the incremental sync is untouched


async def test_more_locations_than_square_searches_at_once_is_a_clear_error(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    restaurant_settings: Settings,
    square: ServedSquare,
) -> None:
    shop = await connected_restaurant(client, sessionmaker, square.simulator)
    async with sessionmaker() as session:
        row = await session.get(RestaurantConnection, shop.connection_id)
        assert row is not None
        row.settings = {"location_ids": [f"L{n}" for n in range(11)]}
        await session.commit()
    report = await sync.run_sync(sessionmaker, restaurant_settings, connection_id=shop.connection_id, kind="sales")
    assert (report.status, report.error_code) == ("error", "restaurant_too_many_locations")
    health = (await client.get("/api/v1/restaurant/connections/square", headers=shop.actor.headers)).json()
    assert health["sync"][0]["last_error_code"] == "restaurant_too_many_locations"
