"""Migrations and models describe the same schema, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI

from cauri.models import metadata


async def test_migrations_match_models(app: FastAPI) -> None:
    def diff(connection: object) -> list[object]:
        # A module's migration may make tables or indexes for one database only (SQLite FTS5, a PostgreSQL GIN
        # index), listed in ``metadata.info["unmanaged"]``: they are not in the models, so not compared.
        unmanaged = metadata.info.get("unmanaged", set())

        def include_name(name: str | None, type_: str, _parent: object) -> bool:
            return name not in unmanaged

        opts = {"compare_type": False, "include_name": include_name}
        context = MigrationContext.configure(connection, opts=opts)  # type: ignore[arg-type]
        return list(compare_metadata(context, metadata))

    async with app.state.engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == []
