"""Delivery of queued notifications, retried by the job system.

The message is read and sent with no transaction open (an SMTP server or an SMS provider may be slow); it is
marked ``sending`` first (committed, so an operator sees it) and ``sent`` in the job's own transaction, so the job
is done exactly when the message is marked sent. A crash between sending and that commit sends the message
again: delivery is at least once, as e-mail and SMS are. An SMS to a number that answered ``STOP`` is not sent:
it is recorded as ``suppressed``, as is an e-mail to an address that unsubscribed from its kind or that an SMTP
server refused for good (which a 5xx to ``RCPT TO`` records). A push FCM refuses with ``UNREGISTERED`` or
``INVALID_ARGUMENT`` fails and its device token is deleted.
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import unit_of_work, utcnow
from cauri.core.jobs import JobContext, enqueue, job
from cauri.core.jobs.runner import ERROR_TEXT_LIMIT
from cauri.notifications import reminders as _reminders  # noqa: F401 (registers the reminders' job)
from cauri.notifications.channels import Delivery, OutgoingMessage, backend_for, send
from cauri.notifications.email.suppression import mark_undeliverable, suppression_reason
from cauri.notifications.fallback import release_next
from cauri.notifications.metrics import count
from cauri.notifications.models import Channel, Notification, NotificationStatus
from cauri.notifications.push.client import DEAD_TOKEN_CODES
from cauri.notifications.push.devices import drop_token
from cauri.notifications.reports import is_opted_out
from cauri.notifications.service import DELIVER_JOB
from cauri.notifications.tracking import GO, RATE_LIMITED, rate_verdict, record_attempt

log = structlog.get_logger("cauri.notifications")

# A message still to send: queued, or "sending" when the worker sending it died before marking it sent.
_PENDING = (NotificationStatus.QUEUED.value, NotificationStatus.SENDING.value)


@job(DELIVER_JOB)
async def deliver(ctx: JobContext, payload: dict[str, Any]) -> None:
    notification_id = uuid.UUID(payload["notification_id"])
    # One short transaction reads the message and its opt-outs, counts it against the rate limits and, when it is
    # to go, marks it ``sending`` (committed before it is handed over, so an operator sees it).
    async with unit_of_work(ctx.sessionmaker) as session:
        notification = await session.get(Notification, notification_id)
        message = OutgoingMessage.of(notification) if notification else None
        pending = notification is not None and notification.status in _PENDING
        suppressed = await _suppression(session, message) if message is not None and pending else None
        kind, organization_id = (notification.kind, notification.organization_id) if notification else (None, None)
        attempt = (notification.attempts if notification else 0) + 1
        if message is None or not pending:
            return  # already sent (or given up): a duplicate job has nothing left to do
        backend = backend_for(ctx.settings, message.channel)
        verdict = GO
        # Counted once, when first handed over: a retry of an admitted message is not a new message.
        if suppressed is None and ctx.attempt == 1:
            verdict = await rate_verdict(
                ctx.settings,
                kind=kind,
                organization_id=organization_id,
                channel=message.channel,
                recipient=message.recipient,
            )
        if suppressed is None and not verdict.defer_seconds and not verdict.suppress:
            await _mark(session, notification_id, status=NotificationStatus.SENDING.value)
    if verdict.defer_seconds:
        await _defer(ctx, notification_id, verdict.defer_seconds, message.channel, backend)
        return
    if verdict.suppress:
        await _mark(
            ctx.session, notification_id, status=NotificationStatus.SUPPRESSED.value, failure_reason=RATE_LIMITED
        )
        await record_attempt(
            ctx.session,
            notification_id,
            attempt=attempt,
            provider=backend,
            outcome="suppressed",
            detail=RATE_LIMITED,
        )
        log.info("notification_rate_limited", notification_id=str(notification_id), channel=message.channel)
        count(message.channel, backend, "suppressed")
        return  # not the next channel: that would only carry the flood elsewhere
    if suppressed is not None:
        await _mark(ctx.session, notification_id, status=NotificationStatus.SUPPRESSED.value, failure_reason=suppressed)
        await record_attempt(
            ctx.session, notification_id, attempt=attempt, provider=backend, outcome="suppressed", detail=suppressed
        )
        await release_next(ctx.session, notification_id)  # the next channel of the kind's order, if any
        log.info("notification_suppressed", notification_id=str(notification_id), channel=message.channel)
        count(message.channel, backend, "suppressed")
        return
    try:
        delivery = await send(ctx.settings, message)
    except Exception as exc:
        count(message.channel, backend, "error")
        await _record_failure(ctx, notification_id, exc, backend)
        raise
    await _mark_sent(ctx.session, notification_id, delivery)
    await record_attempt(
        ctx.session,
        notification_id,
        attempt=attempt,
        provider=delivery.backend,
        outcome="sent" if delivery.refused is None else "refused",
        detail=delivery.refused,
    )
    if message.channel == Channel.PUSH.value and delivery.refused in DEAD_TOKEN_CODES:
        await drop_token(ctx.session, message.recipient)  # in the same commit as the failed mark
    if delivery.undeliverable:
        await mark_undeliverable(ctx.session, address=message.recipient, reason=delivery.refused or "refused")
    count(message.channel, delivery.backend, "sent" if delivery.refused is None else "refused")
    log.info(
        "notification_sent" if delivery.refused is None else "notification_refused",
        notification_id=str(notification_id),
        channel=message.channel,
        backend=delivery.backend,
    )


async def _defer(ctx: JobContext, notification_id: uuid.UUID, wait: float, channel: str, backend: str) -> None:
    """The organisation is over its limit: deliver later, in a new job (this one ends), spread over a quarter of the
    window so that a deferred crowd does not come back all at once. The message stays queued."""
    spread = random.uniform(0, ctx.settings.notification_limit_organization_seconds / 4)  # noqa: S311 (not a secret)
    await enqueue(
        ctx.session,
        DELIVER_JOB,
        {"notification_id": str(notification_id)},
        run_after=utcnow() + timedelta(seconds=wait + spread),
        dedupe_key=f"{DELIVER_JOB}:{notification_id}:after:{uuid.uuid4().hex[:12]}",
    )
    log.info("notification_deferred", notification_id=str(notification_id), seconds=round(wait + spread, 2))
    count(channel, backend, "deferred")


async def _suppression(session: AsyncSession, message: OutgoingMessage) -> str | None:
    """Why this message must not be sent: the number answered STOP, the address unsubscribed from its kind or
    was refused for good by its mail server; None to send it."""
    if message.channel == Channel.SMS.value:
        return "opted_out" if await is_opted_out(session, message.recipient) else None
    if message.channel == Channel.EMAIL.value:
        return await suppression_reason(session, address=message.recipient, kind=message.unsubscribe_kind)
    return None


async def _mark(session: AsyncSession, notification_id: uuid.UUID, **values: Any) -> None:
    """Move a pending message on (never one a report or another worker already moved past sending)."""
    await session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.status.in_(_PENDING))
        .values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def _mark_sent(session: AsyncSession, notification_id: uuid.UUID, delivery: Delivery) -> None:
    # A provider's refusal (invalid number…) is final: the message fails with its words, and is not retried.
    status = NotificationStatus.SENT if delivery.refused is None else NotificationStatus.FAILED
    await _mark(
        session,
        notification_id,
        status=status.value,
        sent_at=utcnow(),
        attempts=Notification.attempts + 1,
        last_error=None,
        provider=delivery.backend,
        provider_message_id=delivery.provider_message_id,
        failure_reason=delivery.refused[:200] if delivery.refused else None,
    )
    if delivery.refused is not None:
        await release_next(session, notification_id)


async def _record_failure(ctx: JobContext, notification_id: uuid.UUID, exc: Exception, provider: str) -> None:
    """Record the attempt where an operator can see it; the last allowed attempt marks the message failed."""
    final = ctx.attempt >= ctx.settings.job_max_attempts
    status = NotificationStatus.FAILED if final else NotificationStatus.QUEUED
    async with unit_of_work(ctx.sessionmaker) as session:
        attempts = await session.scalar(select(Notification.attempts).where(Notification.id == notification_id))
        await record_attempt(
            session,
            notification_id,
            attempt=(attempts or 0) + 1,
            provider=provider,
            outcome="error",
            detail=f"{type(exc).__name__}: {exc}",
        )
        await session.execute(
            update(Notification)
            .where(Notification.id == notification_id)
            .values(
                status=status.value,
                attempts=Notification.attempts + 1,
                last_error=f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_LIMIT],
                failure_reason=type(exc).__name__ if final else None,
                updated_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
        if final:
            await release_next(session, notification_id)
    log.warning(
        "notification_failed" if final else "notification_retry",
        notification_id=str(notification_id),
        attempt=ctx.attempt,
        error=type(exc).__name__,
    )
