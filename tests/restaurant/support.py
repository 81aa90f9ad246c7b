"""Connecting a test organisation to the Square simulator through the real OAuth flow."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.restaurant.pos.square.connector import SquareConnector
from cauri.connectors.restaurant.pos.square.simulator import SquareSimulator
from cauri.core.config import Settings
from cauri.kit.auth import BearerToken
from cauri.kit.http import HttpPolicy
from cauri.restaurant import connections
from cauri.restaurant.models import RestaurantConnection
from tests.support.identity import Actor, create_org_with_user


async def authorize(client: httpx.AsyncClient, actor: Actor) -> str:
    """Start connecting and let the simulator "approve": the callback path and query it redirects to."""
    started = await client.post("/api/v1/restaurant/connections/square/connect", headers=actor.headers)
    assert started.status_code == 200, started.text
    async with httpx.AsyncClient() as browser:
        redirect = await browser.get(started.json()["authorize_url"])
    assert redirect.status_code == 302, redirect.text
    target = urlsplit(redirect.headers["location"])
    return f"{target.path}?{target.query}"


async def connect(client: httpx.AsyncClient, actor: Actor) -> dict[str, object]:
    answer = await client.get(await authorize(client, actor))
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


@dataclass
class Connected:
    actor: Actor
    connection_id: uuid.UUID
    location_id: str


async def connected_restaurant(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], simulator: SquareSimulator
) -> Connected:
    """A new organisation connected to the simulator, syncing a location of its own (tests share the simulator)."""
    actor = await create_org_with_user(client)
    await connect(client, actor)
    location = f"LVM-{uuid.uuid4().hex[:8].upper()}"
    simulator.locations[location] = "Le Vieux Moulin (test)"
    async with sessionmaker() as session:
        row = (
            await session.execute(
                select(RestaurantConnection).where(RestaurantConnection.organization_id == actor.organization_id)
            )
        ).scalar_one()
        row.settings = {"location_ids": [location]}
        await session.commit()
        return Connected(actor, row.id, location)


async def square_connector(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, connection_id: uuid.UUID, page_size: int = 10
) -> SquareConnector:
    """The connection's connector with small pages and a quick retry policy (the tests' choice, not production's)."""
    token = await connections.access_token(sessionmaker, settings, connection_id)
    return SquareConnector(
        auth=BearerToken(token),
        base_url=settings.restaurant_square_url,
        orders_page_size=page_size,
        policy=HttpPolicy(max_attempts=3, backoff_base=0.01, backoff_cap=0.05, breaker_failures=1000),
    )
