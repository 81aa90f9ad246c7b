"""Test harness: every database test runs on SQLite and on PostgreSQL, through real HTTP calls into the app.

* ``backend`` is parametrised over ``sqlite`` and ``postgresql``; PostgreSQL needs ``CAURI_TEST_POSTGRES_URL``.
* A fresh database is created per test run (a temporary SQLite file; a ``cauri_test_<random>`` PostgreSQL
  database dropped at the end), migrated with Alembic exactly as production is.
* Service URLs missing locally skip with a reason; with ``CAURI_TEST_REQUIRE_SERVICES=1`` (CI) they fail.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.app import create_app
from cauri.core.config import Environment, Settings
from cauri.core.migrate import upgrade

BACKENDS = ("sqlite", "postgresql")


def service_url(name: str) -> str:
    """The URL of a real service for tests, or a skip (locally) / failure (CI) naming what is missing."""
    variable = f"CAURI_TEST_{name.upper()}_URL"
    url = os.environ.get(variable)
    if url:
        return url
    reason = f"{variable} is not set: {name} tests need a running {name}"
    if os.environ.get("CAURI_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def create_postgres_database(admin_url: str) -> str:
    """Create a fresh database next to ``admin_url``'s and return its SQLAlchemy URL."""
    name = f"cauri_test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    connection = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``postgres_only`` tests are dropped on SQLite, not skipped: concurrency proofs (SQLite serialises writes by
    design) and multi-process proofs whose database is beside the point."""
    dropped = [
        item
        for item in items
        if item.get_closest_marker("postgres_only")
        and getattr(getattr(item, "callspec", None), "params", {}).get("backend") == "sqlite"
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
async def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    if backend == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "cauri.db"
        url = f"sqlite+aiosqlite:///{path}"
        await asyncio.to_thread(upgrade, url)
        yield url
        return
    admin_url = service_url("postgres")
    url = await create_postgres_database(admin_url)
    try:
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        await drop_postgres_database(admin_url, url)


def make_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": Environment.TEST,
        "database_url": database_url,
        "files_dir": tmp_path / "files",
        "log_json": True,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(database_url, tmp_path_factory.mktemp("files"))


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def sessionmaker(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    return maker


@pytest.fixture(scope="session")
def project_root() -> Iterator[Path]:
    yield Path(__file__).resolve().parents[1]
