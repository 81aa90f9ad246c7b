"""Delivery of queued notifications, retried by the job system.

The message is read and sent with no transaction open (an SMTP server may be slow); the "sent" mark is
written in the job's own transaction, so the job is done exactly when the message is marked sent. A crash
between sending and that commit sends the message again: delivery is at least once, as e-mail and SMS are.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from sqlalchemy import update

from cauri.core.db import unit_of_work, utcnow
from cauri.core.jobs import JobContext, job
from cauri.core.jobs.runner import ERROR_TEXT_LIMIT
from cauri.notifications.channels import OutgoingMessage, send
from cauri.notifications.models import Notification, NotificationStatus
from cauri.notifications.service import DELIVER_JOB

log = structlog.get_logger("cauri.notifications")


@job(DELIVER_JOB)
async def deliver(ctx: JobContext, payload: dict[str, Any]) -> None:
    notification_id = uuid.UUID(payload["notification_id"])
    async with ctx.sessionmaker() as session:
        notification = await session.get(Notification, notification_id)
        message = OutgoingMessage.of(notification) if notification else None
        pending = notification is not None and notification.status == NotificationStatus.QUEUED.value
    if message is None or not pending:
        return  # already sent (or given up): a duplicate job has nothing left to do
    try:
        backend = await send(ctx.settings, message)
    except Exception as exc:
        await _record_failure(ctx, notification_id, exc)
        raise
    await ctx.session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.status == NotificationStatus.QUEUED.value)
        .values(
            status=NotificationStatus.SENT.value,
            sent_at=utcnow(),
            attempts=Notification.attempts + 1,
            last_error=None,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    log.info("notification_sent", notification_id=str(notification_id), channel=message.channel, backend=backend)


async def _record_failure(ctx: JobContext, notification_id: uuid.UUID, exc: Exception) -> None:
    """Record the attempt where an operator can see it; the last allowed attempt marks the message failed."""
    final = ctx.attempt >= ctx.settings.job_max_attempts
    status = NotificationStatus.FAILED if final else NotificationStatus.QUEUED
    async with unit_of_work(ctx.sessionmaker) as session:
        await session.execute(
            update(Notification)
            .where(Notification.id == notification_id)
            .values(
                status=status.value,
                attempts=Notification.attempts + 1,
                last_error=f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_LIMIT],
                updated_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
    log.warning(
        "notification_failed" if final else "notification_retry",
        notification_id=str(notification_id),
        attempt=ctx.attempt,
        error=type(exc).__name__,
    )
