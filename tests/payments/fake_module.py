"""A tiny business module of the tests' own, outside ``cauri.payments``: it keeps a pot account in the ledger,
collects into it and pays out of it through ``cauri.payments.public``, and subscribes to its payments' settlement
events. Its subscribers write receipts into a table of its own, in the session they are given, so "received
exactly once" is checked in the database. A ``cauri worker`` subprocess imports it with CAURI_EXTRA_JOB_MODULES.

Controls, for the tests: ``fail_first(owner_id, n)`` makes the ``flaky`` subscriber raise ``n`` times for that
owner (after writing a receipt that the rollback must undo); ``FAKEMOD_SLOW_DIR`` (environment) makes the
``crash`` subscriber touch ``<dir>/<event id>`` and then hang, so that a test can kill its worker mid-delivery.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from cauri.ledger import service as ledger
from cauri.payments.public import SettlementEvent, on_settled

PURPOSE = "fakemod.contribution"
PAYOUT_PURPOSE = "fakemod.share_out"
CRASH_PURPOSE = "fakemod.crash"
POT_CODE = "fakemod_pot"
SLOW_DIR_VARIABLE = "FAKEMOD_SLOW_DIR"

fake_metadata = MetaData()
receipts = Table(
    "fakemod_receipts",
    fake_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscriber", String(40), nullable=False),
    Column("event_id", String(36), nullable=False),  # not unique on purpose: a second delivery would show
    Column("payment_id", String(36), nullable=False),
    Column("owner_id", String(100), nullable=True),
    Column("status", String(20), nullable=False),
    Column("previous_status", String(20), nullable=True),
    Column("amount", Integer, nullable=False),
    Column("fee", Integer, nullable=True),
    Column("refund_amount", Integer, nullable=True),
)

_failures_left: dict[str, int] = {}


def fail_first(owner_id: str, times: int) -> None:
    _failures_left[owner_id] = times


async def _receipt(session: AsyncSession, subscriber: str, event: SettlementEvent) -> None:
    await session.execute(
        insert(receipts).values(
            subscriber=subscriber,
            event_id=str(event.id),
            payment_id=str(event.payment_id),
            owner_id=event.owner_id,
            status=event.status,
            previous_status=event.previous_status,
            amount=event.amount,
            fee=event.fee,
            refund_amount=event.refund_amount,
        )
    )


@on_settled(PURPOSE)
@on_settled(PAYOUT_PURPOSE)
async def bookkeeper(session: AsyncSession, event: SettlementEvent) -> None:
    await _receipt(session, "bookkeeper", event)


@on_settled(PURPOSE)
async def flaky(session: AsyncSession, event: SettlementEvent) -> None:
    await _receipt(session, "flaky", event)
    left = _failures_left.get(event.owner_id or "", 0)
    if left:
        _failures_left[event.owner_id or ""] = left - 1
        raise RuntimeError(f"fakemod: flaky subscriber fails ({left} left)")


@on_settled("*")
async def auditor(session: AsyncSession, event: SettlementEvent) -> None:
    """Every purpose, including payments created over HTTP (no purpose)."""
    await _receipt(session, "auditor", event)


@on_settled(CRASH_PURPOSE)
async def crash(session: AsyncSession, event: SettlementEvent) -> None:
    await _receipt(session, "crash", event)
    slow_dir = os.environ.get(SLOW_DIR_VARIABLE)
    if slow_dir:
        (Path(slow_dir) / str(event.id)).touch()
        await asyncio.sleep(3600)  # killed here, holding its uncommitted receipt and delivery mark


async def pot(session: AsyncSession, organization_id: uuid.UUID, owner: str, currency: str = "XAF") -> uuid.UUID:
    """The module's own ledger account (a tontine's pot), created through the ledger's service."""
    account = await ledger.get_or_create_account(
        session, organization_id=organization_id, currency=currency, code=POT_CODE, owner_ref=owner
    )
    return account.id


async def create_tables(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(fake_metadata.create_all)
    finally:
        await engine.dispose()


async def received(
    sessionmaker: async_sessionmaker[AsyncSession], payment_id: uuid.UUID, subscriber: str
) -> list[dict[str, object]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(receipts)
            .where(receipts.c.payment_id == str(payment_id), receipts.c.subscriber == subscriber)
            .order_by(receipts.c.id)
        )
        return [dict(row._mapping) for row in rows]
