"""Delivery tracking: every step of a message's life recorded as an attempt, and the organisation's view of its
messages (``queued → sending → sent → delivered | failed(reason)``, each attempt with its provider and outcome).

And the rate limits on messages of non-urgent kinds (per recipient address, per organisation), checked when a
message is first handed to its channel: a message over a limit is recorded ``suppressed`` (``rate_limited``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.core.limits import limit_store
from cauri.core.pagination import PageParams, paginate
from cauri.notifications.kinds import registered_kinds
from cauri.notifications.models import DeliveryAttempt, Notification

RATE_LIMITED = "rate_limited"


async def record_attempt(
    session: AsyncSession,
    notification_id: uuid.UUID,
    *,
    attempt: int,
    provider: str,
    outcome: str,
    detail: str | None = None,
) -> None:
    # A Core insert (no ORM object to flush): one per message sent.
    await session.execute(
        insert(DeliveryAttempt).values(
            id=uuid.uuid4(),
            notification_id=notification_id,
            attempt=max(attempt, 0),
            provider=provider[:30],
            outcome=outcome,
            detail=detail[:200] if detail else None,
            created_at=utcnow(),
        )
    )


def is_urgent(kind: str | None) -> bool:
    """Urgent kinds (security codes) are never rate-limited; nor are messages outside any kind, nor a kind this
    process does not know (the safe side: a code must never be dropped)."""
    if kind is None:
        return True
    known = {registered.name: registered for registered in registered_kinds()}
    definition = known.get(kind)
    return definition is None or definition.urgent


@dataclass(frozen=True, slots=True)
class Verdict:
    """``defer_seconds``: the organisation is over its limit, try again then; ``suppress``: the recipient is."""

    defer_seconds: float = 0.0
    suppress: bool = False


GO = Verdict()


async def rate_verdict(
    settings: Settings, *, kind: str | None, organization_id: uuid.UUID | None, channel: str, recipient: str
) -> Verdict:
    """Count this message against its organisation's and its recipient's limits.

    Over the organisation's limit, the message waits (a large send is spread out, never dropped); over the
    recipient's, it is not sent (flooding one person is what the limit stops)."""
    if is_urgent(kind):
        return GO
    store = limit_store()
    if organization_id is not None and settings.notification_limit_per_organization:
        wait = await store.reserve(
            f"notifications:organization:{organization_id}",
            settings.notification_limit_per_organization,
            settings.notification_limit_organization_seconds,
        )
        if wait:
            return Verdict(defer_seconds=wait)
    if settings.notification_limit_per_recipient and await store.reserve(
        f"notifications:recipient:{channel}:{recipient.lower()}",
        settings.notification_limit_per_recipient,
        settings.notification_limit_recipient_seconds,
    ):
        return Verdict(suppress=True)
    return GO


async def messages_page(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    params: PageParams,
    state: str | None = None,
    channel: str | None = None,
    kind: str | None = None,
) -> tuple[list[Notification], dict[uuid.UUID, list[DeliveryAttempt]], str | None]:
    """The organisation's messages, newest first (keyset paging), filtered, each with its attempts in order."""
    statement = select(Notification).where(Notification.organization_id == organization_id)
    if state is not None:
        statement = statement.where(Notification.status == state)
    if channel is not None:
        statement = statement.where(Notification.channel == channel)
    if kind is not None:
        statement = statement.where(Notification.kind == kind)
    rows, next_cursor = await paginate(
        session, statement, params, created_at=Notification.created_at, row_id=Notification.id
    )
    return rows, await attempts_of(session, [row.id for row in rows]), next_cursor


async def attempts_of(
    session: AsyncSession, notification_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[DeliveryAttempt]]:
    found: dict[uuid.UUID, list[DeliveryAttempt]] = defaultdict(list)
    if notification_ids:
        rows = await session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.notification_id.in_(list(notification_ids)))
            .order_by(DeliveryAttempt.created_at, DeliveryAttempt.id)
        )
        for row in rows:
            found[row.notification_id].append(row)
    return found
