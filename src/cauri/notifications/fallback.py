"""Fallback between channels: a kind registered with ``fallback=True`` is sent on the first channel the recipient
can receive; the next ones are written ``held`` by ``notify`` (rendered, with their address) and the first held one
is queued when the message before it fails for good — refused by the provider, reported undeliverable, its number
opted out, or its last attempt failed. Each channel's row keeps its own attempt, provider and outcome.

Called in the transaction that records the failure, so a failure is never recorded without its fallback queued.
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.notifications.models import Notification, NotificationStatus
from cauri.notifications.service import enqueue_delivery

log = structlog.get_logger("cauri.notifications")


async def release_next(session: AsyncSession, failed_id: uuid.UUID) -> uuid.UUID | None:
    """Queue the held fallback that follows ``failed_id`` (same notify() call); its id, or None if there is none."""
    key = await session.scalar(select(Notification.dedupe_key).where(Notification.id == failed_id))
    if key is None:
        return None
    next_id = await session.scalar(
        select(Notification.id)
        .where(Notification.dedupe_key == key, Notification.status == NotificationStatus.HELD.value)
        .order_by(Notification.fallback_rank)
        .limit(1)
    )
    if next_id is None:
        return None
    # Only from held: two workers recording two failures of the same notify() release it once.
    released = await session.execute(
        update(Notification)
        .where(Notification.id == next_id, Notification.status == NotificationStatus.HELD.value)
        .values(status=NotificationStatus.QUEUED.value, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not getattr(released, "rowcount", 0):
        return None
    await enqueue_delivery(session, next_id, None)
    log.info("notification_fallback", failed_id=str(failed_id), notification_id=str(next_id))
    return next_id
