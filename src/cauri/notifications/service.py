"""Queue a message (in the caller's transaction) and list an organisation's messages."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.jobs import enqueue
from cauri.core.pagination import PageParams, paginate
from cauri.notifications.models import Channel, Notification, NotificationStatus

DELIVER_JOB = "notifications.deliver"
LANGUAGES = ("fr", "en")


async def queue_message(
    session: AsyncSession,
    *,
    channel: Literal["email", "sms", "push"],
    recipient: str,
    subject: str,
    body: str,
    language: str = "fr",
    organization_id: uuid.UUID | None = None,
    kind: str | None = None,
    user_id: uuid.UUID | None = None,
    dedupe_key: str | None = None,
    run_after: datetime | None = None,
    fallback_rank: int | None = None,
    unsubscribe_kind: str | None = None,
) -> Notification:
    """Write the message and its delivery job; both exist only if the caller's transaction commits.

    A fallback (``fallback_rank`` > 0) is written ``held``, with no job: ``fallback.release_next`` queues it when
    the channel before it fails for good. ``unsubscribe_kind``: for a non-essential e-mail, the kind its
    unsubscribe link turns off (it then carries one); leave None for messages that must always arrive (codes,
    receipts)."""
    if channel not in {c.value for c in Channel}:
        raise ValueError(f"unknown notification channel {channel!r}")
    if not recipient.strip():
        raise ValueError("a notification needs a recipient")
    if language not in LANGUAGES:
        raise ValueError(f"notifications are written in {' or '.join(LANGUAGES)}, not {language!r}")
    notification = Notification(
        id=uuid.uuid4(),
        organization_id=organization_id,
        channel=channel,
        recipient=recipient.strip(),
        subject=subject,
        body=body,
        language=language,
        unsubscribe_kind=unsubscribe_kind if channel == Channel.EMAIL.value else None,
        status=(NotificationStatus.HELD if fallback_rank else NotificationStatus.QUEUED).value,
        attempts=0,
        kind=kind,
        user_id=user_id,
        dedupe_key=dedupe_key,
        fallback_rank=fallback_rank,
    )
    session.add(notification)
    await session.flush()
    if fallback_rank:
        return notification
    await enqueue_delivery(session, notification.id, run_after)
    return notification


async def enqueue_delivery(session: AsyncSession, notification_id: uuid.UUID, run_after: datetime | None) -> None:
    await enqueue(
        session,
        DELIVER_JOB,
        {"notification_id": str(notification_id)},
        run_after=run_after,
        dedupe_key=f"{DELIVER_JOB}:{notification_id}",
    )


async def list_messages(
    session: AsyncSession, *, organization_id: uuid.UUID, params: PageParams
) -> tuple[list[Notification], str | None]:
    """An organisation's messages, newest first (cursor pagination)."""
    statement = select(Notification).where(Notification.organization_id == organization_id)
    return await paginate(session, statement, params, created_at=Notification.created_at, row_id=Notification.id)
