"""A batch's events: a signed notification at the end (and at 25/50/75 % when asked), with retries, to the
batch's ``callback_url`` **and** to the organisation's webhook endpoints.

* To the ``callback_url``: each notification is a ``bulk_callbacks`` row written **in the transaction that moved
  the batch** (no event without its change), unique per (batch, event key) so a replayed settlement never
  announces twice, and sent by the ``disbursements.deliver_callback`` job outside any transaction. A batch's
  notifications arrive in order (25 %, 50 %, 75 %, the end): each is sent once the one before it was delivered
  or given up. It is signed with the batch's own secret, returned once when the batch was created.
* To the organisation's webhook endpoints (``/api/v1/webhook-endpoints``, those subscribed to the event type):
  the same event (same id and body) as a payments webhook delivery (:func:`cauri.payments.webhooks.emit_event`),
  with its attempts log and replay, signed with each endpoint's secret.

Both are sent by the shared delivery of :mod:`cauri.core.outbound` (``Cauri-Signature``, SSRF guard,
``Retry-After``); receivers verify them exactly as docs/payments.md shows, and deduplicate on ``Cauri-Event-Id``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core import outbound
from cauri.core.config import Settings
from cauri.core.db import unit_of_work, utcnow
from cauri.core.jobs import enqueue
from cauri.core.security import Encryptor
from cauri.disbursements.models import BulkBatch, BulkCallback
from cauri.payments.schemas import register_event_types
from cauri.payments.webhooks import emit_event

log = structlog.get_logger(__name__)

DELIVER_JOB = "disbursements.deliver_callback"
MILESTONES = (25, 50, 75)
EVENT_TYPES = ("bulk.progress", "bulk.completed", "bulk.partially_completed", "bulk.failed", "bulk.cancelled")
register_event_types(*EVENT_TYPES)  # endpoints may subscribe to them like to payment events


def progress_percent(batch: BulkBatch) -> float:
    if batch.valid_lines == 0:
        return 100.0
    done = batch.completed_lines + batch.failed_lines + batch.cancelled_lines
    return round(100.0 * done / batch.valid_lines, 2)


def summary(batch: BulkBatch) -> dict[str, Any]:
    """What a callback says about the batch (the same numbers as GET /bulk-transfers/{id}/status)."""
    return {
        "id": str(batch.id),
        "state": batch.state,
        "run": batch.run,
        "provider": batch.provider,
        "currency": batch.currency,
        "total": batch.valid_lines,
        "completed": batch.completed_lines,
        "failed": batch.failed_lines,
        "cancelled": batch.cancelled_lines,
        "total_amount": batch.total_amount,
        "completed_amount": batch.completed_amount,
        "failed_amount": batch.failed_amount,
        "progress_percent": progress_percent(batch),
    }


async def _add_callback(
    session: AsyncSession,
    batch: BulkBatch,
    key: str,
    *,
    event_id: uuid.UUID,
    event_type: str,
    data: dict[str, Any],
    now: datetime,
) -> bool:
    """The ``callback_url`` notification of an event; False when this event key was already announced."""
    payload = outbound.event_body(
        event_id=str(event_id),
        event_type=event_type,
        organization_id=str(batch.organization_id),
        data=data,
        created_at=now,
    )
    builder = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    inserted = await session.execute(
        builder(BulkCallback)
        .values(
            id=event_id,
            batch_id=batch.id,
            organization_id=batch.organization_id,
            event_key=key,
            event_type=event_type,
            payload=payload,
            **outbound.new_delivery(now),
        )
        .on_conflict_do_nothing(index_elements=["batch_id", "event_key"])
        .returning(BulkCallback.id)
    )
    if inserted.scalar_one_or_none() is None:
        return False
    if await _first_pending(session, batch.id) == event_id:
        await enqueue(session, DELIVER_JOB, {"callback_id": str(event_id)})
    return True


async def _announce(session: AsyncSession, batch: BulkBatch, key: str, event_type: str, data: dict[str, Any]) -> None:
    """One event of the batch, to its ``callback_url`` (if any) and to the organisation's endpoints, under one
    event id. The callers run once per event, under the batch lock (a milestone is passed once, a run ends
    once); the callback row's unique key guards the ``callback_url`` against a replay all the same."""
    event_id, now = uuid.uuid4(), utcnow()
    if batch.callback_url and not await _add_callback(
        session, batch, key, event_id=event_id, event_type=event_type, data=data, now=now
    ):
        return
    await emit_event(
        session,
        organization_id=batch.organization_id,
        event_type=event_type,
        data=data,
        event_id=event_id,
        created_at=now,
    )


async def _first_pending(session: AsyncSession, batch_id: uuid.UUID) -> uuid.UUID | None:
    """The batch's oldest undelivered callback: the only one that may be sent now."""
    found = await session.execute(
        select(BulkCallback.id)
        .where(BulkCallback.batch_id == batch_id, BulkCallback.state == "pending")
        .order_by(BulkCallback.created_at, BulkCallback.id)
        .limit(1)
    )
    return found.scalar_one_or_none()


async def enqueue_progress_callbacks(session: AsyncSession, batch: BulkBatch, settings: Settings) -> None:
    """Announce each 25/50/75 % milestone passed since the last one (batches that asked for progress); a round
    that jumps over several announces each, in order, before the end is announced."""
    if not batch.callback_progress:
        return
    percent = progress_percent(batch)
    for milestone in MILESTONES:
        if batch.callback_milestone < milestone <= percent:
            data = {**summary(batch), "milestone": milestone}
            await _announce(session, batch, f"run{batch.run}:progress:{milestone}", "bulk.progress", data)
            batch.callback_milestone = milestone


async def enqueue_final_callback(session: AsyncSession, batch: BulkBatch, settings: Settings) -> None:
    """Announce the end of a run: ``bulk.completed``, ``bulk.partially_completed``, ``bulk.failed`` or
    ``bulk.cancelled``."""
    event_type = f"bulk.{batch.state.lower()}"
    await _announce(session, batch, f"run{batch.run}:final", event_type, summary(batch))


# -- delivery ----------------------------------------------------------------------------------------------------


async def _lease(
    sessionmaker: async_sessionmaker[AsyncSession], callback_id: uuid.UUID, settings: Settings
) -> outbound.Message | None:
    """A due callback, leased so no other worker sends it meanwhile."""
    async with unit_of_work(sessionmaker) as session:
        callback = await session.get(BulkCallback, callback_id, with_for_update=True, populate_existing=True)
        if callback is None or await _first_pending(session, callback.batch_id) != callback.id:
            return None  # done, or an earlier one is still on its way (it rings for this one when done)
        if not outbound.take_lease(callback, utcnow()):
            return None
        batch = await session.get(BulkBatch, callback.batch_id)
        if batch is None or not batch.callback_url or not batch.callback_secret_encrypted:
            outbound.give_up(callback, "no callback address")
            return None
        return outbound.Message(
            url=batch.callback_url,
            secret=Encryptor(settings.encryption_key_list).decrypt(batch.callback_secret_encrypted),
            payload=callback.payload,
            event_id=str(callback.id),
            event_type=callback.event_type,
        )


async def deliver(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, callback_id: uuid.UUID) -> None:
    """One attempt of one callback, if due; a failure schedules the next attempt until the window closes."""
    message = await _lease(sessionmaker, callback_id, settings)
    if message is None:
        return
    timeout = settings.bulk_callback_timeout_seconds
    attempt = await outbound.post_signed(message, settings=settings, timeout_seconds=timeout)
    async with unit_of_work(sessionmaker) as session:
        # The batch's row lock first, as _add_callback's callers hold it: a new callback inserted while this one
        # was on its way rings for itself only if it is the first pending, and this transaction rings for the
        # next one only if it sees it. Without the lock, on PostgreSQL each saw the other still uncommitted
        # (this one pending, that one absent), neither rang, and the next callback waited for the sweeper.
        batch_id = await session.scalar(select(BulkCallback.batch_id).where(BulkCallback.id == callback_id))
        if batch_id is None:
            return
        await session.get(BulkBatch, batch_id, with_for_update=True, populate_existing=True)
        callback = await session.get(BulkCallback, callback_id, with_for_update=True, populate_existing=True)
        if callback is None:
            return
        following = outbound.record_attempt(callback, attempt, utcnow())
        if following is not None:
            await enqueue(session, DELIVER_JOB, {"callback_id": str(callback_id)}, run_after=following)
            return
        await session.flush()
        following_id = await _first_pending(session, callback.batch_id)
        if following_id is not None:
            await enqueue(session, DELIVER_JOB, {"callback_id": str(following_id)})


async def overdue(session: AsyncSession, *, now: datetime, limit: int = 200) -> list[uuid.UUID]:
    """Pending callbacks whose attempt is overdue (their job was lost): the sweeper rings again."""
    rows = await session.execute(
        select(BulkCallback.id)
        .where(BulkCallback.state == "pending", BulkCallback.next_attempt_at <= now - outbound.LEASE)
        .order_by(BulkCallback.next_attempt_at)
        .limit(limit)
    )
    return list(rows.scalars())
