"""Test harness: every database test runs on SQLite and on PostgreSQL, through real HTTP calls into the app.

* ``backend`` is parametrised over ``sqlite`` and ``postgresql``; PostgreSQL needs ``CAURI_TEST_POSTGRES_URL``.
* A fresh database is created per test run (a temporary SQLite file; a ``cauri_test_<random>`` PostgreSQL
  database dropped at the end), migrated with Alembic exactly as production is.
* Service URLs missing locally skip with a reason; with ``CAURI_TEST_REQUIRE_SERVICES=1`` (CI) they fail.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Generator, Iterator
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


# Each test database is migrated from a template made once per test process: the migrations cost about 3 s of
# CPU on SQLite and 1 s (plus the server's work) on PostgreSQL, and a run makes over a hundred databases on two
# cores. The template itself is made by the real migrations, and tests/core/test_schema.py compares the result
# with the models.
_templates: dict[str, str] = {}
_templates_lock = threading.Lock()


def _template(kind: str, admin_url: str | None) -> str:
    with _templates_lock:
        if kind not in _templates:
            if kind == "sqlite":
                directory = Path(os.environ.get("TMPDIR", "/tmp")) / f"cauri-template-{os.getpid()}"
                directory.mkdir(parents=True, exist_ok=True)
                path = directory / f"{uuid.uuid4().hex[:8]}.db"
                upgrade(f"sqlite+aiosqlite:///{path}")
                _templates[kind] = str(path)
            else:
                assert admin_url is not None
                url = asyncio.run(create_postgres_database(admin_url))
                upgrade(url)
                _templates[kind] = str(make_url(url).database)
        return _templates[kind]


def _copy_template(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        target = Path(str(parsed.database))
        target.parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(_template("sqlite", None))
        destination = sqlite3.connect(target)
        try:
            source.backup(destination)  # the backup API copies a WAL database consistently
        finally:
            destination.close()
            source.close()
        return
    admin_url = service_url("postgres")
    template = _template("postgresql", admin_url)

    async def recreate() -> None:
        connection = await asyncpg.connect(_asyncpg_dsn(admin_url))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{parsed.database}" TEMPLATE "{template}"')
        finally:
            await connection.close()

    asyncio.run(recreate())


async def migrate(url: str) -> None:
    """Bring a new, empty test database (a SQLite path, or a database from ``create_postgres_database``) to the
    schema's head, as ``upgrade`` would, by copying this process's migrated template."""
    await asyncio.to_thread(_copy_template, url)


def pytest_sessionfinish(session: pytest.Session) -> None:
    for kind, template in _templates.items():
        if kind == "sqlite":
            Path(template).unlink(missing_ok=True)
        else:
            asyncio.run(drop_postgres_database(service_url("postgres"), f"postgresql://x/{template}"))


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


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    """With CAURI_TEST_CPU_REPORT=<file>, append each test's wall and CPU seconds (its process and the child
    processes it waited for; setup and teardown included) as JSON lines: the suite is CPU-bound on CI's two
    cores, so CPU, not wall time, says what to trim (docs/development.md)."""
    report = os.environ.get("CAURI_TEST_CPU_REPORT")
    if not report:
        yield
        return
    wall, cpu = time.monotonic(), _cpu_seconds()
    yield
    line = {"test": item.nodeid, "wall": time.monotonic() - wall, "cpu": _cpu_seconds() - cpu}
    with open(report, "a", encoding="utf-8") as output:
        output.write(json.dumps(line) + "\n")


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
async def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    if backend == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "cauri.db"
        url = f"sqlite+aiosqlite:///{path}"
        await migrate(url)
        yield url
        return
    admin_url = service_url("postgres")
    url = await create_postgres_database(admin_url)
    try:
        await migrate(url)
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
