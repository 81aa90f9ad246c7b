"""Payments tests run an app of their own, served over real HTTP on 127.0.0.1, next to the sandbox simulator.

The simulator POSTs signed callbacks to the URL Cauri gives it, so Cauri must listen on a real port and know it
(``public_base_url``): the app here gets its own fresh database per backend (SQLite and PostgreSQL), its own
settings, and is served by uvicorn; ``client`` (from the root conftest) and ``sessionmaker`` use it.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cauri.app import create_app
from cauri.connectors.mobile_money.sandbox import SandboxSimulator
from cauri.core.config import Settings
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import free_port, serve_app
from tests.conftest import create_postgres_database, drop_postgres_database, make_settings, migrate, service_url
from tests.payments import fake_module


@dataclass
class Sandbox:
    simulator: SandboxSimulator
    url: str
    api_key: str
    webhook_secret: str


@pytest.fixture(scope="session")
async def sandbox() -> AsyncIterator[Sandbox]:
    defaults = Settings()
    api_key = defaults.sandbox_api_key.get_secret_value()
    webhook_secret = defaults.sandbox_webhook_secret.get_secret_value()
    simulator = SandboxSimulator(
        api_key=api_key,
        webhook_secret=webhook_secret,
        settings=SimulatorSettings(
            settle_seconds=0.2,
            slow_seconds=0.5,
            hang_seconds=3.0,  # beyond the 1 s read timeout of the app below: a timeout after accepting
            expiry_seconds=0.5,
            late_callback_seconds=1.5,
            callback_attempts=2,
        ),
    )
    async with serve_app(simulator.app) as url:
        yield Sandbox(simulator, url, api_key, webhook_secret)
    await simulator.aclose()


async def _database(backend: str, directory: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{directory / 'payments.db'}", None
    admin_url = service_url("postgres")
    return await create_postgres_database(admin_url), admin_url


@contextlib.asynccontextmanager
async def fresh_payments_settings(
    backend: str, directory: Path, sandbox: Sandbox, **overrides: Any
) -> AsyncIterator[Settings]:
    """Settings of a payments app on a fresh, migrated database of its own, listening on a free port."""
    url, admin_url = await _database(backend, directory)
    try:
        await migrate(url)
        await fake_module.create_tables(url)  # its "*" subscriber receives every payment's events
        port = free_port()
        values: dict[str, Any] = {
            "public_base_url": f"http://127.0.0.1:{port}",
            "sandbox_url": sandbox.url,
            "payments_poll_initial_seconds": 0.5,
            "payments_poll_max_seconds": 2.0,
            "payments_provider_read_timeout_seconds": 1.0,
            "payments_webhook_timeout_seconds": 2.0,
            "job_sweep_seconds": 1,  # jobs due later (retries) are rung by the sweeper
            "job_retry_base_seconds": 1.0,
        }
        yield make_settings(url, directory, **{**values, **overrides})
    finally:
        if admin_url is not None:
            await drop_postgres_database(admin_url, url)


@contextlib.asynccontextmanager
async def served_payments_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app, served over HTTP on the port its ``public_base_url`` names (providers call it back there)."""
    application = create_app(settings)
    port = int(settings.public_base_url.rsplit(":", 1)[1])
    async with serve_app(application, port=port, shutdown_timeout=2.0):
        yield application


@pytest.fixture(scope="session")
async def payments_settings(
    backend: str, tmp_path_factory: pytest.TempPathFactory, sandbox: Sandbox
) -> AsyncIterator[Settings]:
    async with fresh_payments_settings(backend, tmp_path_factory.mktemp(f"payments-{backend}"), sandbox) as settings:
        yield settings


@pytest.fixture(scope="session")
async def app(payments_settings: Settings) -> AsyncIterator[FastAPI]:
    """Overrides the root ``app``: this one listens on the port its ``public_base_url`` names."""
    async with served_payments_app(payments_settings) as application:
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Each test calls from an address of its own: login throttling counts per address."""
    address = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as http:
        yield http
