"""Job handlers used by the job tests; a ``cauri worker`` subprocess loads them with CAURI_EXTRA_JOB_MODULES.

Their effect is a row in ``test_job_effects``, a table of the tests' own (created next to the real schema),
so "done exactly once" is checked in the database, as a real handler's effect would be.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from cauri.core.jobs import JobContext, job, periodic

RECORD_EFFECT = "test.record_effect"
ALWAYS_FAILS = "test.always_fails"
HOURLY = "test.hourly"

test_metadata = MetaData()
effects = Table(
    "test_job_effects",
    test_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("label", String(100), nullable=False),
    Column("job_id", String(36), nullable=False),
    Column("attempt", Integer, nullable=False),
)


@job(RECORD_EFFECT)
async def record_effect(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Pause, write the effect, pause again: a worker killed in the second pause leaves its write uncommitted.

    (On SQLite the write takes the database lock until commit, so crash tests there pause before writing.)
    """
    await asyncio.sleep(float(payload.get("pause_before", 0)))
    await ctx.session.execute(
        insert(effects).values(label=payload["label"], job_id=str(ctx.job_id), attempt=ctx.attempt)
    )
    await asyncio.sleep(float(payload.get("pause_after", 0)))


@job(ALWAYS_FAILS)
async def always_fails(ctx: JobContext, payload: dict[str, Any]) -> None:
    await ctx.session.execute(insert(effects).values(label=payload["label"], job_id=str(ctx.job_id), attempt=0))
    raise RuntimeError(f"boom on attempt {ctx.attempt}")


@periodic(HOURLY, every=timedelta(hours=1))
async def hourly(ctx: JobContext, payload: dict[str, Any]) -> None:
    await ctx.session.execute(
        insert(effects).values(label=f"hourly:{payload['slot']}", job_id=str(ctx.job_id), attempt=1)
    )


async def create_effects_table(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(test_metadata.create_all)
    finally:
        await engine.dispose()


async def count_effects(sessionmaker: async_sessionmaker[AsyncSession], label: str) -> int:
    async with sessionmaker() as session:
        statement = select(func.count()).select_from(effects).where(effects.c.label == label)
        return int((await session.execute(statement)).scalar_one())


async def effect_attempts(sessionmaker: async_sessionmaker[AsyncSession], label: str) -> list[int]:
    async with sessionmaker() as session:
        rows = await session.execute(select(effects.c.attempt).where(effects.c.label == label).order_by(effects.c.id))
        return [int(attempt) for attempt in rows.scalars()]
