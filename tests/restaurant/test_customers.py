"""Guests from the reservation book reach HubSpot and Zoho only with their recorded consent, earn loyalty points
once per completed reservation, and are erased on request — at both CRMs, then here."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.restaurant.crm.simulator import HubSpotSimulator, ZohoSimulator
from cauri.core.config import Settings
from cauri.kit.testing import serve_app
from cauri.restaurant import customers
from cauri.restaurant.models import BookedReservation, Customer
from tests.support.identity import Actor, create_org_with_user
from tests.support.waiting import until


@dataclass
class Crms:
    hubspot: HubSpotSimulator
    hubspot_url: str
    zoho: ZohoSimulator
    zoho_url: str


@pytest.fixture
async def crms() -> AsyncIterator[Crms]:
    hub, zo = HubSpotSimulator(token="hs-token", client_secret="hs-secret"), ZohoSimulator()
    async with serve_app(hub.app) as hub_url, serve_app(zo.app) as zoho_url:
        yield Crms(hub, hub_url, zo, zoho_url)


async def _restaurant(client: httpx.AsyncClient, crms: Crms) -> Actor:
    actor = await create_org_with_user(client)
    answer = await client.put(
        "/api/v1/restaurant/services/diner",
        json={"starts": "19:00", "ends": "22:30", "capacity": 30},
        headers=actor.headers,
    )
    assert answer.status_code == 200, answer.text
    hub = {"access_token": "hs-token", "client_secret": "hs-secret", "base_url": crms.hubspot_url}
    zoho = {
        "client_id": crms.zoho.client_id,
        "client_secret": crms.zoho.client_secret,
        "refresh_token": crms.zoho.refresh_token,
        "accounts_url": crms.zoho_url,
        "api_domain": crms.zoho_url,
    }
    for name, body in (("hubspot", hub), ("zoho", zoho)):
        answer = await client.put(f"/api/v1/restaurant/crm/{name}", json=body, headers=actor.headers)
        assert answer.status_code == 200, answer.text
        assert "token" not in answer.text.replace("access_token", "")
    return actor


def _dinner(days: int) -> str:
    day = datetime.now(ZoneInfo("Europe/Paris")).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, 20, 0, tzinfo=ZoneInfo("Europe/Paris")).isoformat()


async def test_only_consenting_guests_reach_the_crms_and_erasure_reaches_them_too(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    restaurant_settings: Settings,
    crms: Crms,
) -> None:
    actor = await _restaurant(client, crms)
    guests = (("Awa Ndiaye", "awa@example.sn", True), ("Paul Martin", "paul@example.fr", False))
    booked = {}
    for name, email, consent in guests:
        body = {"party_size": 4, "starts_at": _dinner(1), "guest_name": name, "email": email}
        answer = await client.post(
            "/api/v1/restaurant/reservations", json={**body, "marketing_consent": consent}, headers=actor.headers
        )
        assert answer.status_code == 201, answer.text
        booked[email] = answer.json()["id"]
    done = await client.patch(
        f"/api/v1/restaurant/reservations/{booked['awa@example.sn']}",
        json={"status": "completed"},
        headers=actor.headers,
    )
    assert done.status_code == 200, done.text
    again = await client.patch(  # completing twice earns nothing more
        f"/api/v1/restaurant/reservations/{booked['awa@example.sn']}",
        json={"status": "completed"},
        headers=actor.headers,
    )
    assert again.status_code == 200
    assert actor.organization_id is not None
    # Two runs at once (besides the job the completion enqueued): one push to a CRM at a time, so that neither
    # returns while the other has inserted Zoho's reward but not yet written the balance.
    await asyncio.gather(*(customers.sync_crm(sessionmaker, restaurant_settings, actor.organization_id) for _ in "ab"))
    assert crms.hubspot.contacts_with("awa@example.sn") == 1 == crms.zoho.contacts_with("awa@example.sn")
    assert crms.hubspot.contacts_with("paul@example.fr") == 0 == crms.zoho.contacts_with("paul@example.fr")
    listed = (await client.get("/api/v1/restaurant/customers", headers=actor.headers)).json()["items"]
    awa = next(c for c in listed if c["email"] == "awa@example.sn")
    assert (awa["points"], awa["in_crms"], awa["consent_source"]) == (40, ["hubspot", "zoho"], "direct")
    hub_id = next(iter(crms.hubspot.contacts))
    assert crms.hubspot.points(hub_id) == 40 == crms.zoho.points(next(iter(crms.zoho.contacts)))
    await customers.sync_crm(sessionmaker, restaurant_settings, actor.organization_id)  # nothing changed
    assert crms.hubspot.points(hub_id) == 40

    erased = await client.post(f"/api/v1/restaurant/customers/{awa['id']}/erase", headers=actor.headers)
    assert erased.status_code == 202, erased.text

    async def gone() -> bool:
        async with sessionmaker() as session:
            row = await session.get(Customer, uuid.UUID(awa["id"]))
            return row is not None and row.erased_at is not None

    await until(gone, "the guest is erased at both CRMs and here", within=15)
    assert not crms.hubspot.contacts and not crms.zoho.contacts
    async with sessionmaker() as session:
        row = await session.get(BookedReservation, uuid.UUID(booked["awa@example.sn"]))
        assert row is not None and (row.email, row.guest_name) == (None, "")
    withdrawn = await client.post(
        "/api/v1/restaurant/customers/consent",
        json={"email": "paul@example.fr", "consent": False},
        headers=actor.headers,
    )
    assert withdrawn.json()["consent"] is False
