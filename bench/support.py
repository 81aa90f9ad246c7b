"""What the PostgreSQL benchmarks share: the server they use and a scratch database dropped afterwards.

A benchmark runs as ``python bench/<name>.py``, so this file is importable as ``support`` (its folder is first on
``sys.path``). The server is ``CAURI_BENCH_POSTGRES_URL`` (default: the local one as ``postgres``).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import make_url

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def postgres_admin_url() -> str:
    return os.environ.get("CAURI_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def dsn(url: str, database: str | None = None) -> str:
    """``url`` (SQLAlchemy form) as the plain DSN asyncpg and libpq tools take, optionally for another database."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def database_url(admin_url: str, database: str) -> str:
    return make_url(admin_url).set(database=database).render_as_string(hide_password=False)


async def admin_execute(admin_url: str, statement: str) -> None:
    connection = await asyncpg.connect(dsn(admin_url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@asynccontextmanager
async def scratch_database(admin_url: str, prefix: str = "cauri_bench", *, migrate: bool = True) -> AsyncIterator[str]:
    """A new database on the server of ``admin_url`` (migrated to head unless ``migrate`` is false); its URL.

    Dropped on the way out, even when the benchmark fails, with ``FORCE`` so that a leaked connection cannot keep it.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    await admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    url = database_url(admin_url, name)
    try:
        if migrate:
            from cauri.core.migrate import upgrade

            await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        await admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
