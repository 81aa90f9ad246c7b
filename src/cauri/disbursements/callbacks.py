"""The batch's ``callback_url``: a signed notification at the end (and at 25/50/75 % when asked), with retries.

Each notification is a ``bulk_callbacks`` row written **in the transaction that moved the batch** (no event
without its change), unique per (batch, event key) so a replayed settlement never announces twice, and sent by
the ``disbursements.deliver_callback`` job outside any transaction. A batch's notifications arrive in order
(25 %, 50 %, 75 %, the end): each is sent once the one before it was delivered or given up.

The signature is the payments module's (:mod:`cauri.payments.signing`):
``Cauri-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`` with the batch's own secret, returned
once when the batch was created. Receivers verify it exactly as docs/payments.md shows, and deduplicate on
``Cauri-Event-Id``.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings
from cauri.core.db import unit_of_work, utcnow
from cauri.core.jobs import enqueue
from cauri.core.outbound import refused_target
from cauri.core.security import Encryptor
from cauri.disbursements.models import BulkBatch, BulkCallback
from cauri.payments.signing import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signature_header

log = structlog.get_logger(__name__)

DELIVER_JOB = "disbursements.deliver_callback"
MILESTONES = (25, 50, 75)
RETRY_WINDOW = timedelta(days=3)
BACKOFF_SECONDS = (10, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200)
LEASE = timedelta(seconds=60)
USER_AGENT = "Cauri-Webhooks/1"


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


async def _add(session: AsyncSession, batch: BulkBatch, key: str, event_type: str, data: dict[str, Any]) -> None:
    now = utcnow()
    callback_id = uuid.uuid4()
    payload = json.dumps(
        {
            "id": str(callback_id),
            "type": event_type,
            "created_at": now.isoformat(),
            "organization_id": str(batch.organization_id),
            "data": data,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    builder = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    inserted = await session.execute(
        builder(BulkCallback)
        .values(
            id=callback_id,
            batch_id=batch.id,
            organization_id=batch.organization_id,
            event_key=key,
            event_type=event_type,
            payload=payload,
            state="pending",
            attempts=0,
            next_attempt_at=now,
            give_up_at=now + RETRY_WINDOW,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["batch_id", "event_key"])
        .returning(BulkCallback.id)
    )
    if inserted.scalar_one_or_none() is not None and await _first_pending(session, batch.id) == callback_id:
        await enqueue(session, DELIVER_JOB, {"callback_id": str(callback_id)})


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
    if not batch.callback_url or not batch.callback_progress:
        return
    percent = progress_percent(batch)
    for milestone in MILESTONES:
        if batch.callback_milestone < milestone <= percent:
            data = {**summary(batch), "milestone": milestone}
            await _add(session, batch, f"run{batch.run}:progress:{milestone}", "bulk.progress", data)
            batch.callback_milestone = milestone


async def enqueue_final_callback(session: AsyncSession, batch: BulkBatch, settings: Settings) -> None:
    """Announce the end of a run: ``bulk.completed``, ``bulk.partially_completed``, ``bulk.failed`` or
    ``bulk.cancelled``."""
    if not batch.callback_url:
        return
    event_type = f"bulk.{batch.state.lower()}"
    await _add(session, batch, f"run{batch.run}:final", event_type, summary(batch))


# -- delivery ----------------------------------------------------------------------------------------------------


def retry_delay(attempts: int) -> timedelta:
    base = BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1]
    return timedelta(seconds=base * random.uniform(0.9, 1.1))  # noqa: S311 - jitter, not cryptography


async def _lease(
    sessionmaker: async_sessionmaker[AsyncSession], callback_id: uuid.UUID, settings: Settings
) -> tuple[str, str, str, str] | None:
    """(url, secret, payload, event type) of a due callback, leased so no other worker sends it meanwhile."""
    async with unit_of_work(sessionmaker) as session:
        callback = (
            await session.execute(
                select(BulkCallback)
                .where(BulkCallback.id == callback_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
        now = utcnow()
        if callback is None or callback.state != "pending":
            return None
        if callback.next_attempt_at is not None and callback.next_attempt_at > now:
            return None
        if await _first_pending(session, callback.batch_id) != callback.id:
            return None  # an earlier one is still on its way; it rings for this one when done
        batch = await session.get(BulkBatch, callback.batch_id)
        if batch is None or not batch.callback_url or not batch.callback_secret_encrypted:
            callback.state = "failed"
            callback.last_error = "no callback address"
            return None
        callback.next_attempt_at = now + LEASE
        secret = Encryptor(settings.encryption_key_list).decrypt(batch.callback_secret_encrypted)
        return batch.callback_url, secret, callback.payload, callback.event_type


async def deliver(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, callback_id: uuid.UUID) -> None:
    """One attempt of one callback, if due; a failure schedules the next attempt until the window closes."""
    leased = await _lease(sessionmaker, callback_id, settings)
    if leased is None:
        return
    url, secret, payload, event_type = leased
    body = payload.encode()
    status_code: int | None = None
    error = await refused_target(url, settings)
    started = time.perf_counter()
    if error is None:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: signature_header(secret, body),
            EVENT_ID_HEADER: json.loads(payload)["id"],
            EVENT_TYPE_HEADER: event_type,
        }
        timeout = settings.bulk_callback_timeout_seconds
        try:
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http:
                response = await http.post(url, content=body, headers=headers)
            status_code = response.status_code
            error = None if response.is_success else f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
    log.info(
        "bulk_callback_attempt",
        callback_id=str(callback_id),
        status=status_code,
        error=error,
        ms=int((time.perf_counter() - started) * 1000),
    )
    async with unit_of_work(sessionmaker) as session:
        callback = await session.get(BulkCallback, callback_id, with_for_update=True, populate_existing=True)
        if callback is None:
            return
        now = utcnow()
        callback.attempts += 1
        callback.last_status_code = status_code
        callback.last_error = error
        if error is None:
            callback.state = "delivered"
            callback.delivered_at = now
            callback.next_attempt_at = None
        else:
            following = now + retry_delay(callback.attempts)
            if following <= callback.give_up_at:
                callback.next_attempt_at = following
                await enqueue(session, DELIVER_JOB, {"callback_id": str(callback_id)}, run_after=following)
                return
            callback.state = "failed"
            callback.next_attempt_at = None
        await session.flush()
        following_id = await _first_pending(session, callback.batch_id)
        if following_id is not None:
            await enqueue(session, DELIVER_JOB, {"callback_id": str(following_id)})


async def overdue(session: AsyncSession, *, now: datetime, limit: int = 200) -> list[uuid.UUID]:
    """Pending callbacks whose attempt is overdue (their job was lost): the sweeper rings again."""
    rows = await session.execute(
        select(BulkCallback.id)
        .where(BulkCallback.state == "pending", BulkCallback.next_attempt_at <= now - LEASE)
        .order_by(BulkCallback.next_attempt_at)
        .limit(limit)
    )
    return list(rows.scalars())
