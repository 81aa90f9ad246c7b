"""Console tests run an app of their own on a fresh database, served over real HTTP on 127.0.0.1, next to the
sandbox provider's simulator (another server on loopback, as ``cauri simulate sandbox`` runs it): approved batches
are really paid, and the live stream can be read over a real connection.

Pages are fetched with a browser-like client (cookies kept, ``Accept: text/html``) from an address of its own, so
that login throttling in one test never spills into another.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from cauri.app import create_app
from cauri.connectors.mobile_money.sandbox import SandboxSimulator
from cauri.core.config import Settings
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import free_port, serve_app
from tests.conftest import create_postgres_database, drop_postgres_database, make_settings, migrate, service_url
from tests.identity.conftest import random_address
from tests.web.support import new_browser

# Quick batches: short provider polls, a progress event every half second, a sweeper that wakes every second.
FAST_BULK = {
    "bulk_poll_initial_seconds": 0.05,
    "bulk_poll_max_seconds": 0.5,
    "bulk_stream_interval_seconds": 0.5,
    "bulk_provider_rate_limits": {"sandbox": "none"},
    "job_sweep_seconds": 1,
    "job_retry_base_seconds": 0.5,
}


@pytest.fixture(scope="session")
async def sandbox_url() -> AsyncIterator[str]:
    """The sandbox provider with the application's development credentials; payments settle in 0.1 s."""
    defaults = Settings()
    simulator = SandboxSimulator(
        api_key=defaults.sandbox_api_key.get_secret_value(),
        webhook_secret=defaults.sandbox_webhook_secret.get_secret_value(),
        settings=SimulatorSettings(settle_seconds=0.1),
    )
    async with serve_app(simulator.app) as url:
        yield url
    await simulator.aclose()


@pytest.fixture(scope="session")
async def web_settings(
    backend: str, tmp_path_factory: pytest.TempPathFactory, sandbox_url: str
) -> AsyncIterator[Settings]:
    directory = tmp_path_factory.mktemp(f"web-{backend}")
    admin_url = None
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{directory / 'console.db'}"
    else:
        admin_url = service_url("postgres")
        url = await create_postgres_database(admin_url)
    try:
        await migrate(url)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        yield make_settings(url, directory, public_base_url=base_url, sandbox_url=sandbox_url, **FAST_BULK)
    finally:
        if admin_url is not None:
            await drop_postgres_database(admin_url, url)


@pytest.fixture(scope="session")
async def app(web_settings: Settings) -> AsyncIterator[FastAPI]:
    """Overrides the root ``app``: this one listens on the port its ``public_base_url`` names."""
    application = create_app(web_settings)
    port = int(web_settings.public_base_url.rsplit(":", 1)[1])
    async with serve_app(application, port=port, shutdown_timeout=2):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The API, for setting the scene (organisations, members) as a client would."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(random_address(), 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as http:
        yield http


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with new_browser(app) as http:
        yield http
