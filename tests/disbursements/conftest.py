"""Bulk disbursement tests run an app of their own, served over real HTTP on 127.0.0.1, next to the sandbox
simulator (another server on loopback) whose own books prove what was paid.

Each backend (SQLite, PostgreSQL) gets a fresh, migrated database. The settings keep the batches small and
quick: few lines per claim and few provider calls at once, so that a test can cancel a batch half-way.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from cauri.app import create_app
from cauri.core.config import Settings
from cauri.kit.testing import free_port, serve_app
from tests.conftest import drop_postgres_database, make_settings, migrate
from tests.disbursements.support import (
    Sandbox,
    bulk_settings,
    fresh_database,
    served_sandbox,
)


@pytest.fixture(scope="session")
async def sandbox() -> AsyncIterator[Sandbox]:
    async with served_sandbox() as served:
        yield served


@pytest.fixture(scope="session")
async def bulk_app_settings(
    backend: str, tmp_path_factory: pytest.TempPathFactory, sandbox: Sandbox
) -> AsyncIterator[Settings]:
    directory = tmp_path_factory.mktemp(f"bulk-{backend}")
    url, admin_url = await fresh_database(backend, directory)
    try:
        await migrate(url)
        port = free_port()
        yield make_settings(url, directory, **bulk_settings(sandbox.url, port))
    finally:
        if admin_url is not None:
            await drop_postgres_database(admin_url, url)


@pytest.fixture(scope="session")
async def app(bulk_app_settings: Settings) -> AsyncIterator[FastAPI]:
    """Overrides the root ``app``: this one listens on the port its ``public_base_url`` names (for SSE)."""
    application = create_app(bulk_app_settings)
    port = int(bulk_app_settings.public_base_url.rsplit(":", 1)[1])
    async with serve_app(application, port=port, shutdown_timeout=2):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Each test calls from an address of its own: login throttling counts per address."""
    address = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as http:
        yield http
