"""Digests: a burst of one kind to one address merges into one message.

For a kind registered with ``digest_window``, the first ``notify`` writes its message (e-mail, SMS) as usual but
holds its delivery until the window closes (``digest_until``); each later ``notify`` of that kind to that address on
that channel while the window is open appends its text to that message instead of writing another (its key is kept
in ``notification_digest_items``, so a replay adds nothing). The subject says how many it carries. In-app
notifications are not merged: the list shows each one.

The delivery job runs once the window has closed, and a merge is only made while the window has more than
``GUARD`` left: what is merged is in the message before the job reads it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.core.i18n import pick
from cauri.notifications.kinds import Rendered
from cauri.notifications.models import DigestItem, Notification, NotificationStatus

GUARD = timedelta(seconds=2)
SEPARATOR = "\n\n---\n\n"


def digest_subject(first_subject: str, count: int, language: str) -> str:
    others = count - 1
    suffix = pick(
        f" (+{others} autre{'s' if others > 1 else ''})", f" (+{others} more)", "en" if language == "en" else "fr"
    )
    return (first_subject + suffix)[:200]


async def merge_into_open(
    session: AsyncSession,
    *,
    kind: str,
    channel: str,
    address: str,
    rendered: Rendered,
    dedupe_key: str,
) -> Notification | None:
    """Append ``rendered`` to the open digest of ``kind`` to ``address`` on ``channel``; None when none is open."""
    statement = (
        select(Notification)
        .where(
            Notification.kind == kind,
            Notification.channel == channel,
            Notification.recipient == address.strip(),
            Notification.status == NotificationStatus.QUEUED.value,
            Notification.digest_until > utcnow() + GUARD,
        )
        .order_by(Notification.created_at)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    open_digest = await session.scalar(statement)
    if open_digest is None:
        return None
    if open_digest.digest_count == 1:
        open_digest.body = f"{open_digest.subject}\n{open_digest.body}" if channel == "email" else open_digest.body
    open_digest.digest_count += 1
    addition = f"{rendered.subject}\n{rendered.body}" if channel == "email" else rendered.body
    open_digest.body = f"{open_digest.body}{SEPARATOR}{addition}"
    first_subject = open_digest.subject.split(" (+", 1)[0]
    open_digest.subject = digest_subject(first_subject, open_digest.digest_count, open_digest.language)
    session.add(DigestItem(id=uuid.uuid4(), notification_id=open_digest.id, dedupe_key=dedupe_key, created_at=utcnow()))
    await session.flush()
    return open_digest


async def is_merged(session: AsyncSession, dedupe_key: str) -> bool:
    return (await session.scalar(select(DigestItem.id).where(DigestItem.dedupe_key == dedupe_key).limit(1))) is not None


def window_end(window: timedelta) -> datetime:
    return utcnow() + window
