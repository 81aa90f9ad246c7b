"""The seeds' surfaces, tested as their clients call them: an app of its own per backend, served over real HTTP
on 127.0.0.1 (the SSE stream is read from the socket), next to the sandbox provider, with the three operator
organisations configured by slug and created over the native API once per run."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from cauri.app import create_app
from cauri.core.config import Settings
from cauri.kit.testing import free_port, serve_app
from tests.conftest import drop_postgres_database, make_settings, migrate
from tests.disbursements.support import Sandbox, bulk_settings, fresh_database, served_sandbox
from tests.support.identity import Actor, register

OPERATORS = {"gateway": "CNSS Pensions", "kobiri": "Kobiri", "lokahome": "LokaHome"}
SLUGS = {"gateway": "cnss-pensions", "kobiri": "kobiri", "lokahome": "lokahome"}


@pytest.fixture(scope="session")
async def sandbox() -> AsyncIterator[Sandbox]:
    async with served_sandbox() as served:
        yield served


@pytest.fixture(scope="session")
async def compat_settings(
    backend: str, tmp_path_factory: pytest.TempPathFactory, sandbox: Sandbox
) -> AsyncIterator[Settings]:
    directory = tmp_path_factory.mktemp(f"compat-{backend}")
    url, admin_url = await fresh_database(backend, directory)
    try:
        await migrate(url)
        surfaces = {f"{name}_organization": slug for name, slug in SLUGS.items()}
        yield make_settings(url, directory, **bulk_settings(sandbox.url, free_port()), **surfaces)
    finally:
        if admin_url is not None:
            await drop_postgres_database(admin_url, url)


@pytest.fixture(scope="session")
async def app(compat_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(compat_settings)
    port = int(compat_settings.public_base_url.rsplit(":", 1)[1])
    async with serve_app(application, port=port, shutdown_timeout=2):
        yield application


def asgi_client(app: FastAPI) -> httpx.AsyncClient:
    """Each client calls from an address of its own: login throttling counts per address."""
    address = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as http:
        yield http


@pytest.fixture
async def http(compat_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Over the socket, for streams (the in-process transport buffers a whole response)."""
    async with httpx.AsyncClient(base_url=compat_settings.public_base_url, timeout=60) as session:
        yield session


@dataclass(frozen=True)
class Operators:
    gateway: Actor
    kobiri: Actor
    lokahome: Actor


@pytest.fixture(scope="session")
async def operators(app: FastAPI) -> Operators:
    """The owners of the three operator organisations, registered over the native API (slugs from their names)."""
    async with asgi_client(app) as http:
        owners = {name: await register(http, org_name=title) for name, title in OPERATORS.items()}
    return Operators(**owners)
