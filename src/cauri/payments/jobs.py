"""Background work of the payments module. Every handler reads its work from the database and is safe to run twice.

Provider and receiver calls never happen inside a database transaction: the handlers use
``ctx.sessionmaker`` for short transactions around each call (see :mod:`cauri.payments.submission`).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import structlog

from cauri.core.db import unit_of_work, utcnow
from cauri.core.jobs import JobContext, enqueue, job, periodic
from cauri.payments import callbacks, events, reconciliation, refund_submission, refunds, submission, webhooks
from cauri.payments.states import Cause, Status

log = structlog.get_logger(__name__)

POLL_BATCH = 50
EXPIRY_BATCH = 100
CONCURRENT_CALLS = 5


def poll_lease(ctx: JobContext) -> timedelta:
    return timedelta(seconds=ctx.settings.payments_poll_lease_seconds)


@job(submission.SUBMIT_JOB)
async def submit_payment(ctx: JobContext, payload: dict[str, Any]) -> None:
    await submission.submit(ctx.sessionmaker, ctx.settings, uuid.UUID(payload["payment_id"]))


@job(refunds.REFUND_SUBMIT_JOB)
async def submit_refund(ctx: JobContext, payload: dict[str, Any]) -> None:
    await refund_submission.submit(ctx.sessionmaker, ctx.settings, uuid.UUID(payload["refund_id"]))


@job(callbacks.PROCESS_JOB)
async def process_callback(ctx: JobContext, payload: dict[str, Any]) -> None:
    await callbacks.process(ctx.sessionmaker, ctx.settings, uuid.UUID(payload["event_id"]), attempt=ctx.attempt)


@job(webhooks.DELIVER_JOB)
async def deliver_webhook(ctx: JobContext, payload: dict[str, Any]) -> None:
    await webhooks.deliver(ctx.sessionmaker, ctx.settings, uuid.UUID(payload["delivery_id"]))


@job(events.DELIVER_JOB)
async def deliver_settlement(ctx: JobContext, payload: dict[str, Any]) -> None:
    """In the runner's transaction: the subscriber's writes, its delivery mark and this job's "done" are one commit."""
    await events.deliver(ctx.session, uuid.UUID(payload["event_id"]), payload["subscriber"])


@job(reconciliation.RECONCILE_JOB)
async def reconcile(ctx: JobContext, payload: dict[str, Any]) -> None:
    await reconciliation.run(ctx.sessionmaker, ctx.settings, uuid.UUID(payload["run_id"]))


async def _bounded(calls: list[Any]) -> None:
    gate = asyncio.Semaphore(CONCURRENT_CALLS)

    async def one(call: Any) -> None:
        async with gate:
            try:
                await call
            except Exception:
                # One payment's failure (a provider bug, a lock timeout) must not stop the others; next round retries.
                log.exception("payments_batch_item_failed")

    await asyncio.gather(*(one(call) for call in calls))


@periodic("payments.poll_pending", every=timedelta(seconds=5))
async def poll_pending(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Ask the provider about pending payments whose next poll is due (backoff per payment)."""
    async with unit_of_work(ctx.sessionmaker) as session:
        due = await submission.claim_due(
            session, statuses=(Status.PENDING,), due_column="next_poll_at", limit=POLL_BATCH, lease=poll_lease(ctx)
        )
    await _bounded(
        [submission.refresh(ctx.sessionmaker, ctx.settings, payment_id, cause=Cause.POLL) for payment_id in due]
    )


@periodic("payments.refunds_poll", every=timedelta(seconds=5))
async def poll_refunds(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Ask where pending refunds stand (the provider, or the payout carrying the money back), backoff per refund."""
    async with unit_of_work(ctx.sessionmaker) as session:
        due = await refund_submission.claim_due(session, limit=POLL_BATCH, lease=poll_lease(ctx))
    await _bounded(
        [refund_submission.refresh(ctx.sessionmaker, ctx.settings, refund_id, cause=Cause.POLL) for refund_id in due]
    )


@periodic("payments.expire", every=timedelta(seconds=30))
async def expire_payments(ctx: JobContext, payload: dict[str, Any]) -> None:
    """End the payments past their expiry (a last status query first; payouts release their reservation)."""
    async with unit_of_work(ctx.sessionmaker) as session:
        due = await submission.claim_due(
            session,
            statuses=(Status.CREATED, Status.PENDING),
            due_column="expires_at",
            limit=EXPIRY_BATCH,
            lease=poll_lease(ctx),
        )
    await _bounded([submission.expire(ctx.sessionmaker, ctx.settings, payment_id) for payment_id in due])


@periodic("payments.webhooks_sweep", every=timedelta(seconds=60))
async def sweep_webhooks(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Ring again for deliveries whose attempt is overdue (their job was lost); a duplicate ring finds nothing due."""
    async with unit_of_work(ctx.sessionmaker) as session:
        overdue = await webhooks.overdue_deliveries(session, now=utcnow())
        for delivery_id in overdue:
            await enqueue(session, webhooks.DELIVER_JOB, {"delivery_id": str(delivery_id)})


@periodic("payments.reconcile_daily", every=timedelta(hours=1))
async def reconcile_yesterday(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Reconcile yesterday (UTC) for every organisation and provider that had payments and no report yet."""
    yesterday = (utcnow() - timedelta(days=1)).date()
    async with unit_of_work(ctx.sessionmaker) as session:
        for organization_id, provider in await reconciliation.pairs_to_reconcile(session, yesterday):
            run = await reconciliation.start_run(
                session, organization_id=organization_id, provider=provider, day=yesterday
            )
            await enqueue(session, reconciliation.RECONCILE_JOB, {"run_id": str(run.id)})
