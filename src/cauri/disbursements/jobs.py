"""Background work of bulk disbursements. Every handler reads its work from the database and is safe to run twice.

* ``disbursements.process``: one worker round on a batch (:mod:`.processing`); it enqueues its own continuation
  in the runner's transaction, so a round that dies (killed worker) is retried, and one that ends leaves exactly
  one follow-up while lines remain.
* ``disbursements.sweep`` (every 30 s): restarts batches no worker has touched for two line leases (every job of
  theirs lost), rings again for overdue callbacks.
* ``disbursements.check_payees``, ``disbursements.deliver_callback``: see :mod:`.payees`, :mod:`.callbacks`.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import select

from cauri.core.db import unit_of_work, utcnow
from cauri.core.jobs import JobContext, enqueue, job, periodic
from cauri.disbursements import callbacks, payees, processing
from cauri.disbursements.models import RUNNING_BATCH_STATES, BulkBatch

log = structlog.get_logger(__name__)

SWEEP_JOB = "disbursements.sweep"


@job(processing.WORK_JOB)
async def process_batch(ctx: JobContext, payload: dict[str, Any]) -> None:
    batch_id = uuid.UUID(payload["batch_id"])
    delay = await processing.run_worker(ctx.sessionmaker, ctx.settings, batch_id)
    if delay is not None:
        await enqueue(ctx.session, processing.WORK_JOB, payload, run_after=utcnow() + timedelta(seconds=delay))


@job(payees.CHECK_JOB)
async def check_payees(ctx: JobContext, payload: dict[str, Any]) -> None:
    await payees.check_payees(ctx.sessionmaker, ctx.settings, uuid.UUID(payload["batch_id"]))


@job(callbacks.DELIVER_JOB)
async def deliver_callback(ctx: JobContext, payload: dict[str, Any]) -> None:
    await callbacks.deliver(ctx.sessionmaker, ctx.settings, uuid.UUID(payload["callback_id"]))


@periodic(SWEEP_JOB, every=timedelta(seconds=30))
async def sweep(ctx: JobContext, payload: dict[str, Any]) -> None:
    """The safety net: a running batch nobody works on gets a worker again; lost callback deliveries are rung."""
    now = utcnow()
    silent_since = now - timedelta(seconds=2 * ctx.settings.bulk_line_lease_seconds)
    async with unit_of_work(ctx.sessionmaker) as session:
        stalled = (
            (
                await session.execute(
                    select(BulkBatch)
                    .where(
                        BulkBatch.state.in_([state.value for state in RUNNING_BATCH_STATES]),
                        BulkBatch.heartbeat_at < silent_since,
                    )
                    .limit(100)
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        for batch in stalled:
            batch.heartbeat_at = now
            log.warning("bulk_batch_restarted", batch_id=str(batch.id))
            await enqueue(session, processing.WORK_JOB, {"batch_id": str(batch.id), "run": batch.run, "slot": -1})
        for callback_id in await callbacks.overdue(session, now=now):
            await enqueue(session, callbacks.DELIVER_JOB, {"callback_id": str(callback_id)})
