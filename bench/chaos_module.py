"""The chaos run's own subscriber, loaded by every worker of the run (``CAURI_EXTRA_JOB_MODULES=chaos_module``).

It writes one receipt per settlement event it is handed, in the session the delivery gives it, into a table of
its own with no unique key: a lost event shows as no receipt, an event delivered twice as two.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, insert
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from cauri.payments.public import SettlementEvent, on_settled

chaos_metadata = MetaData()
receipts = Table(
    "chaos_receipts",
    chaos_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),  # not unique on purpose: a second delivery would show
    Column("payment_id", String(36), nullable=False),
    Column("status", String(20), nullable=False),
)


@on_settled("*")
async def auditor(session: AsyncSession, event: SettlementEvent) -> None:
    await session.execute(
        insert(receipts).values(event_id=str(event.id), payment_id=str(event.payment_id), status=event.status)
    )


async def create_tables(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(chaos_metadata.create_all)
    finally:
        await engine.dispose()
