"""Restaurant tests run an app of their own whose Square and Lightspeed applications point at simulators served on
127.0.0.1 (one each per test session), on both databases (the session's migrated database)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.app import create_app
from cauri.connectors.restaurant.pos.lightspeed.simulator import LightspeedSimulator
from cauri.connectors.restaurant.pos.square.simulator import SquareSimSettings, SquareSimulator
from cauri.connectors.restaurant.suppliers.simulator import SupplierSimulator
from cauri.core.config import Settings
from cauri.kit.testing import serve_app
from tests.conftest import make_settings


@dataclass
class ServedSquare:
    simulator: SquareSimulator
    url: str


@pytest.fixture(scope="session")
async def square() -> AsyncIterator[ServedSquare]:
    simulator = SquareSimulator(SquareSimSettings(), access_token=None)
    async with serve_app(simulator.app) as url:
        yield ServedSquare(simulator, url)
        await simulator.aclose()


@dataclass
class ServedLightspeed:
    simulator: LightspeedSimulator
    url: str


@pytest.fixture(scope="session")
async def lightspeed() -> AsyncIterator[ServedLightspeed]:
    simulator = LightspeedSimulator(access_token=None)
    async with serve_app(simulator.app) as url:
        yield ServedLightspeed(simulator, url)


@pytest.fixture(scope="session")
async def restaurant_settings(settings: Settings, square: ServedSquare, lightspeed: ServedLightspeed) -> Settings:
    # The session's database and files: the demo seeded here (test_kitchen) stores the same listing photos the
    # session's app serves (tests/test_demo.py reads them).
    return make_settings(
        settings.database_url,
        settings.files_dir.parent,
        public_base_url="https://lvm.cauri.test",
        restaurant_square_url=square.url,
        restaurant_square_client_id=square.simulator.client_id,
        restaurant_square_client_secret=square.simulator.client_secret,
        restaurant_square_signature_key=square.simulator.signature_key,
        restaurant_lightspeed_url=lightspeed.url,
        restaurant_lightspeed_oauth_url=lightspeed.url,
        restaurant_lightspeed_client_id=lightspeed.simulator.client_id,
        restaurant_lightspeed_client_secret=lightspeed.simulator.client_secret,
        restaurant_lightspeed_signature_secret=lightspeed.simulator.signature_secret,
    )


@pytest.fixture(scope="session")
async def restaurant_app(restaurant_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(restaurant_settings)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application


@pytest.fixture
async def client(restaurant_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    address = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"
    transport = httpx.ASGITransport(app=restaurant_app, raise_app_exceptions=False, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def sessionmaker(restaurant_app: FastAPI) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = restaurant_app.state.sessionmaker
    return maker


@dataclass
class ServedSupplier:
    simulator: SupplierSimulator
    url: str


@pytest.fixture(scope="session")
async def metro() -> AsyncIterator[ServedSupplier]:
    simulator = SupplierSimulator("metro", api_key="metro-test-key")
    async with serve_app(simulator.app) as url:
        yield ServedSupplier(simulator, url)
