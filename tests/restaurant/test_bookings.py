"""The reservation book: capacity per service, an overbooking refused (problem+json for a direct booking, the
channel told for a channel's), availability pushed back to TheFork and OpenTable, channel notifications
authenticated and processed once, two bookings racing for the last table."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.restaurant.reservations.simulator import OpenTableSimulator, TheForkSimulator
from cauri.core.config import Settings
from cauri.kit.testing import serve_app
from cauri.restaurant import bookings
from cauri.restaurant.models import BookedReservation, RestaurantConnection
from tests.support.identity import Actor, create_org_with_user
from tests.support.waiting import until

PARIS = ZoneInfo("Europe/Paris")
HOOK = "lvm-webhook-secret"


@dataclass
class Channels:
    thefork: TheForkSimulator
    opentable: OpenTableSimulator


@pytest.fixture
async def channels() -> AsyncIterator[Channels]:
    fork = TheForkSimulator(webhook_secret=HOOK)
    table = OpenTableSimulator(webhook_secret=HOOK)
    async with serve_app(fork.app) as fork_url, serve_app(table.app) as table_url:
        fork.url, table.url = fork_url, table_url  # type: ignore[attr-defined]
        yield Channels(fork, table)


def _lunch(days: int = 1, hour: int = 12, minute: int = 30) -> datetime:
    day = datetime.now(PARIS).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)


async def _restaurant(client: httpx.AsyncClient, channels: Channels) -> Actor:
    actor = await create_org_with_user(client)
    for name, starts, ends, capacity in (("dejeuner", "12:00", "14:30", 10), ("diner", "19:00", "22:30", 20)):
        answer = await client.put(
            f"/api/v1/restaurant/services/{name}",
            json={"starts": starts, "ends": ends, "capacity": capacity},
            headers=actor.headers,
        )
        assert answer.status_code == 200, answer.text
    for name, sim, auth in (
        ("thefork", channels.thefork, "/oauth/token"),
        ("opentable", channels.opentable, ""),
    ):
        url = sim.url  # type: ignore[attr-defined]
        body = {
            "restaurant_id": sim.restaurant_id,
            "client_id": sim.client_id,
            "client_secret": sim.client_secret,
            "webhook_secret": HOOK,
            "base_url": url,
            "auth_url": url + auth,
        }
        answer = await client.put(f"/api/v1/restaurant/channels/{name}", json=body, headers=actor.headers)
        assert answer.status_code == 200, answer.text
        assert "secret" not in answer.text
    return actor


async def _channel_id(sessionmaker: async_sessionmaker[AsyncSession], actor: Actor, name: str) -> uuid.UUID:
    async with sessionmaker() as session:
        row = await session.scalar(
            select(RestaurantConnection).where(
                RestaurantConnection.organization_id == actor.organization_id, RestaurantConnection.provider == name
            )
        )
        assert row is not None
        return row.id


def _booking(party: int, at: datetime) -> dict[str, object]:
    return {"party_size": party, "starts_at": at.isoformat(), "guest_name": "Awa Ndiaye", "email": "awa@example.sn"}


async def test_a_direct_overbooking_is_refused_and_availability_reaches_both_channels(
    client: httpx.AsyncClient, channels: Channels
) -> None:
    actor = await _restaurant(client, channels)
    lunch = _lunch()
    first = await client.post("/api/v1/restaurant/reservations", json=_booking(6, lunch), headers=actor.headers)
    assert first.status_code == 201, first.text
    assert (first.json()["service"], first.json()["status"]) == ("dejeuner", "confirmed")
    over = await client.post(
        "/api/v1/restaurant/reservations", json=_booking(5, lunch + timedelta(hours=1)), headers=actor.headers
    )
    assert over.status_code == 409
    assert over.headers["content-type"].startswith("application/problem+json")
    problem = over.json()
    assert (problem["code"], problem["available"]) == ("restaurant_overbooked", 4)
    assert "Complet" in problem["detail"]
    english = await client.post(
        "/api/v1/restaurant/reservations",
        json=_booking(5, lunch),
        headers={**actor.headers, "Accept-Language": "en"},
    )
    assert "Fully booked" in english.json()["detail"]
    closed = await client.post(
        "/api/v1/restaurant/reservations", json=_booking(2, _lunch(hour=16)), headers=actor.headers
    )
    assert closed.status_code == 422
    assert [(e["field"], e["code"]) for e in closed.json()["errors"]] == [("starts_at", "restaurant_no_service")]
    book = await client.get(f"/api/v1/restaurant/reservations?day={lunch.date().isoformat()}", headers=actor.headers)
    assert [r["party_size"] for r in book.json()["items"]] == [6]  # nothing half-written

    async def pushed() -> bool:
        return all((sim.pushed or [(None, -1)])[0][1] == 4 for sim in (channels.thefork, channels.opentable))

    await until(pushed, "the covers left were pushed to TheFork and OpenTable", within=15)
    assert channels.thefork.pushed[0][0] == lunch.replace(hour=12, minute=0)
    left = await client.get(f"/api/v1/restaurant/availability?day={lunch.date().isoformat()}", headers=actor.headers)
    assert [s["covers"] for s in left.json()["items"]] == [4, 20]


async def test_channel_reservations_beyond_capacity_are_refused_at_the_channel(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    restaurant_settings: Settings,
    channels: Channels,
) -> None:
    actor = await _restaurant(client, channels)
    lunch = _lunch(days=2)
    taken = channels.thefork.add_reservation(8, lunch, consent=True)
    late = channels.opentable.add_reservation(4, lunch + timedelta(minutes=30))
    fork_id = await _channel_id(sessionmaker, actor, "thefork")
    report = await bookings.sync_channel(sessionmaker, restaurant_settings, fork_id)
    assert (report.recorded, report.refused, report.status) == (1, 0, "ok")
    table_id = await _channel_id(sessionmaker, actor, "opentable")
    report = await bookings.sync_channel(sessionmaker, restaurant_settings, table_id)
    assert (report.recorded, report.refused) == (0, 1)
    assert channels.opentable.status_word(late) == "Cancelled"  # the channel was told
    assert channels.thefork.status_word(taken) == "RECORDED"
    assert channels.thefork.pushed[0][1] == channels.opentable.pushed[0][1] == 2
    again = await bookings.sync_channel(sessionmaker, restaurant_settings, table_id)
    assert (again.seen, again.refused) == (1, 0)  # the channel's cancellation comes back: kept, not refused again
    async with sessionmaker() as session:
        rows = (
            await session.scalars(
                select(BookedReservation).where(BookedReservation.organization_id == actor.organization_id)
            )
        ).all()
    assert sorted((r.channel, r.status, r.refused) for r in rows) == [
        ("opentable", "cancelled", "restaurant_overbooked"),
        ("thefork", "confirmed", None),
    ]
    seated_id = next(r.id for r in rows if r.channel == "thefork")
    seated = await client.patch(
        f"/api/v1/restaurant/reservations/{seated_id}", json={"status": "seated"}, headers=actor.headers
    )
    assert seated.status_code == 200, seated.text

    async def told() -> bool:
        return channels.thefork.reservations[taken].meal_status == "SEATED"

    await until(told, "TheFork learnt the table is seated", within=15)


async def test_channel_notifications_are_authenticated_and_processed_once(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    restaurant_settings: Settings,
    channels: Channels,
) -> None:
    actor = await _restaurant(client, channels)
    booking = channels.thefork.add_reservation(3, _lunch(days=3, hour=20))
    path = bookings.webhook_path(await _channel_id(sessionmaker, actor, "thefork"))
    headers, body, url = channels.thefork.notification(restaurant_settings.public_base_url + path, booking)
    query = urlsplit(url).query
    forged = await client.post(f"{path}?token=not-ours", content=body, headers=headers)
    assert (forged.status_code, forged.json()["code"]) == (401, "invalid_callback_signature")
    first = await client.post(f"{path}?{query}", content=body, headers=headers)
    assert first.json() == {"received": True, "duplicate": False}, first.text
    again = await client.post(f"{path}?{query}", content=body, headers=headers)
    assert again.json()["duplicate"] is True

    async def booked() -> bool:
        async with sessionmaker() as session:
            row = await session.scalar(select(BookedReservation).where(BookedReservation.external_id == booking))
            return row is not None and row.service_name == "diner"

    await until(booked, "the notified reservation is in the book", within=15)
    headers, body, _ = channels.opentable.notification("", channels.opentable.add_reservation(2, _lunch(days=3)))
    table_path = bookings.webhook_path(await _channel_id(sessionmaker, actor, "opentable"))
    tampered = await client.post(table_path, content=body.replace(b'"type"', b'"kind"'), headers=headers)
    assert tampered.status_code == 401


async def test_two_bookings_racing_for_the_last_covers(client: httpx.AsyncClient, channels: Channels) -> None:
    actor = await _restaurant(client, channels)
    lunch = _lunch(days=4)
    seated = await client.post("/api/v1/restaurant/reservations", json=_booking(6, lunch), headers=actor.headers)
    assert seated.status_code == 201
    answers = await asyncio.gather(
        *(
            client.post("/api/v1/restaurant/reservations", json=_booking(4, lunch), headers=actor.headers)
            for _ in range(2)
        )
    )
    assert sorted(a.status_code for a in answers) == [201, 409]
    cancelled = await client.patch(
        f"/api/v1/restaurant/reservations/{seated.json()['id']}", json={"status": "cancelled"}, headers=actor.headers
    )
    assert cancelled.json()["status"] == "cancelled"
    left = await client.get(f"/api/v1/restaurant/availability?day={lunch.date().isoformat()}", headers=actor.headers)
    assert left.json()["items"][0]["covers"] == 6
