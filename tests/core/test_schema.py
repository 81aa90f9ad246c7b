"""Migrations and models describe the same schema, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI

from cauri.models import metadata


async def test_migrations_match_models(app: FastAPI) -> None:
    def diff(connection: object) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": False})  # type: ignore[arg-type]
        return list(compare_metadata(context, metadata))

    async with app.state.engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == []
