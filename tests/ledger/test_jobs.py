"""The expiry job: registered on the scheduler's clock, it ends every hold whose timeout passed, batch after batch."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings
from cauri.core.db import unit_of_work, utcnow
from cauri.core.jobs.registry import JobContext, handler_for, load_job_modules, periodic_jobs
from cauri.ledger import jobs as ledger_jobs
from cauri.ledger import service as ledger
from cauri.ledger.models import LedgerTransfer
from tests.ledger.conftest import create_org, spec


def test_the_expiry_job_is_scheduled() -> None:
    load_job_modules()
    [expiry] = [p for p in periodic_jobs() if p.kind == "ledger.expire_pending"]
    assert expiry.every == timedelta(seconds=30)
    assert handler_for("ledger.expire_pending") is ledger_jobs.expire_pending


async def test_the_job_expires_every_due_hold(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with unit_of_work(sessionmaker) as session:
        # Other modules' tests share the database: end whatever is already due, so that the job meets ours.
        while await ledger.expire_pending_transfers(session):
            pass
        org = await create_org(session)
        source = await ledger.create_account(session, organization_id=org, currency="XOF", code="source")
        wallet = await ledger.operating_account(session, org, "XOF")
        await ledger.create_transfers(session, [spec(source.id, wallet.id, 1000)])
        due = await ledger.create_transfers(
            session, [spec(wallet.id, source.id, 100, pending=True, timeout_seconds=60) for _ in range(5)]
        )
        [kept] = await ledger.create_transfers(
            session, [spec(wallet.id, source.id, 100, pending=True, timeout_seconds=3600)]
        )
        # Their timeout passed (without waiting for it).
        await session.execute(
            update(LedgerTransfer)
            .where(LedgerTransfer.id.in_([t.id for t in due]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    # Small batches, to go through the job's loop of short transactions.
    monkeypatch.setattr(ledger_jobs, "EXPIRY_BATCH", 2)
    async with unit_of_work(sessionmaker) as session:
        context = JobContext(
            session=session,
            sessionmaker=sessionmaker,
            settings=settings,
            job_id=uuid.uuid4(),
            kind="ledger.expire_pending",
            attempt=1,
        )
        await ledger_jobs.expire_pending(context, {})
    async with unit_of_work(sessionmaker) as session:
        statuses = [(await ledger.get_transfer(session, t.id)).status for t in due]  # type: ignore[union-attr]
        assert statuses == ["expired"] * 5
        assert (await ledger.get_transfer(session, kept.id)).status == "pending"  # type: ignore[union-attr]
        balance = await ledger.balance(session, wallet.id)
    assert (balance.posted, balance.available) == (1000, 900)
