"""One Alembic history for SQLite and PostgreSQL (batch mode makes ALTERs work on SQLite)."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from cauri.core.config import get_settings
from cauri.core.db import UTCDateTime
from cauri.models import metadata

config = context.config


def database_url() -> str:
    return config.attributes.get("database_url") or get_settings().database_url


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render our column types as plain SQLAlchemy types so migrations never import application code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_with_connection(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
        # Tables and indexes a migration makes for one database only (metadata.info["unmanaged"]).
        include_name=lambda name, _type, _parent: name not in metadata.info.get("unmanaged", set()),
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    engine = create_async_engine(database_url())
    async with engine.connect() as connection:
        await connection.run_sync(run_with_connection)
        await connection.commit()
    await engine.dispose()


def run_offline() -> None:
    context.configure(url=database_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def main() -> Any:
    if context.is_offline_mode():
        return run_offline()
    connection = config.attributes.get("connection")
    if connection is not None:
        return run_with_connection(connection)
    return asyncio.run(run_online())


main()
