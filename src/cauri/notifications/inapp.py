"""In-app notifications: stored per person by ``notify`` (channel ``in_app``), listed with keyset paging, counted,
marked read, and pushed live to an open page by Server-Sent Events.

Live delivery works behind several API processes: storing one publishes a signal (the row's id, never its text)
on the person's pub/sub topic after the transaction commits (Redis when configured, ``core/pubsub.py``); every
process with a stream open for that person then reads the new rows from the database. Signals may be lost (no
history) and a process that is not the API (a worker) may have no pub/sub attached, so a stream also looks at the
database every ``poll_seconds``: a notification is late at worst, never lost.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import after_commit, utcnow
from cauri.core.pagination import PageParams, paginate
from cauri.core.pubsub import PubSub
from cauri.notifications.models import InAppNotification

CHANNEL = "in_app"
_PUBSUB_KEY = "cauri.notifications.pubsub"
# Rows committed a little out of creation order are still picked up: a stream re-reads this far back.
LOOKBACK = timedelta(seconds=5)


def topic(user_id: uuid.UUID) -> str:
    return f"notifications:user:{user_id}"


def attach_pubsub(sessionmaker: async_sessionmaker[AsyncSession], pubsub: PubSub) -> None:
    """Sessions of ``sessionmaker`` signal the in-app notifications they store (other keys of ``info`` kept)."""
    info: dict[str, Any] = dict(sessionmaker.kw.get("info") or {})
    info[_PUBSUB_KEY] = pubsub
    sessionmaker.configure(info=info)


async def store(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    organization_id: uuid.UUID | None,
    kind: str,
    title: str,
    body: str,
    object_id: str,
    dedupe_key: str,
) -> InAppNotification:
    row = InAppNotification(
        id=uuid.uuid4(),
        user_id=user_id,
        organization_id=organization_id,
        kind=kind,
        title=title[:200],
        body=body,
        object_id=object_id[:100],
        dedupe_key=dedupe_key,
    )
    session.add(row)
    await session.flush()
    pubsub: PubSub | None = session.info.get(_PUBSUB_KEY)
    if pubsub is not None:
        after_commit(session, partial(pubsub.publish, topic(user_id), str(row.id)))
    return row


async def is_stored(session: AsyncSession, dedupe_key: str) -> bool:
    found = await session.scalar(select(InAppNotification.id).where(InAppNotification.dedupe_key == dedupe_key))
    return found is not None


async def page_of(
    session: AsyncSession, user_id: uuid.UUID, *, unread: bool, params: PageParams
) -> tuple[list[InAppNotification], str | None]:
    """The person's notifications, newest first; only theirs, whatever ids a cursor names."""
    statement = select(InAppNotification).where(InAppNotification.user_id == user_id)
    if unread:
        statement = statement.where(InAppNotification.read_at.is_(None))
    return await paginate(
        session, statement, params, created_at=InAppNotification.created_at, row_id=InAppNotification.id
    )


async def slice_of(
    session: AsyncSession, user_id: uuid.UUID, *, unread: bool, offset: int, limit: int
) -> list[InAppNotification]:
    """The person's notifications, newest first, by offset (the seeds' ``skip``/``limit`` lists)."""
    statement = select(InAppNotification).where(InAppNotification.user_id == user_id)
    if unread:
        statement = statement.where(InAppNotification.read_at.is_(None))
    statement = statement.order_by(InAppNotification.created_at.desc(), InAppNotification.id.desc())
    return list(await session.scalars(statement.offset(offset).limit(limit)))


async def unread_count(session: AsyncSession, user_id: uuid.UUID) -> int:
    counted = await session.scalar(
        select(func.count())
        .select_from(InAppNotification)
        .where(InAppNotification.user_id == user_id, InAppNotification.read_at.is_(None))
    )
    return int(counted or 0)


async def mark_read(session: AsyncSession, user_id: uuid.UUID, ids: Sequence[uuid.UUID] | None) -> int:
    """Mark the person's unread notifications ``ids`` (None: all of them) read; how many changed. Another
    person's ids change nothing."""
    statement = update(InAppNotification).where(
        InAppNotification.user_id == user_id, InAppNotification.read_at.is_(None)
    )
    if ids is not None:
        statement = statement.where(InAppNotification.id.in_(list(ids)))
    now = utcnow()
    result = await session.execute(
        statement.values(read_at=now, updated_at=now).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _created_since(
    sessionmaker: async_sessionmaker[AsyncSession], user_id: uuid.UUID, since: datetime
) -> list[InAppNotification]:
    async with sessionmaker() as reader:
        rows = await reader.scalars(
            select(InAppNotification)
            .where(InAppNotification.user_id == user_id, InAppNotification.created_at >= since)
            .order_by(InAppNotification.created_at, InAppNotification.id)
        )
        # Closing the session ends its read transaction without expiring the rows (a rollback would).
        return list(rows)


async def live(
    sessionmaker: async_sessionmaker[AsyncSession],
    pubsub: PubSub,
    user_id: uuid.UUID,
    *,
    poll_seconds: float,
    max_seconds: float,
) -> AsyncIterator[InAppNotification]:
    """The person's notifications stored from now on, as they arrive (on a signal, or at the latest each poll),
    for ``max_seconds``."""
    since = utcnow()
    ends = time.monotonic() + max_seconds
    seen: dict[uuid.UUID, datetime] = {}
    async with pubsub.subscribe(topic(user_id)) as signals:
        iterator = signals.__aiter__()
        waiting: asyncio.Future[str] | None = None
        try:
            while (left := ends - time.monotonic()) > 0:
                for row in await _created_since(sessionmaker, user_id, since - LOOKBACK):
                    if row.id not in seen:
                        seen[row.id] = row.created_at
                        yield row
                since = utcnow()
                # Forget what is older than the look-back: the set stays small however long the stream lives.
                cutoff = _naive(since - LOOKBACK)
                seen = {row_id: at for row_id, at in seen.items() if _naive(at) >= cutoff}
                # One pending read of the signals at a time (cancelling it would end the subscription).
                waiting = waiting or asyncio.ensure_future(anext(iterator))
                done, _ = await asyncio.wait({waiting}, timeout=min(poll_seconds, left))
                if done:
                    waiting = None
        finally:
            if waiting is not None:
                waiting.cancel()
                with suppress(asyncio.CancelledError, StopAsyncIteration):
                    await waiting


def _naive(moment: datetime) -> datetime:
    # SQLite gives back naive UTC datetimes, PostgreSQL aware ones: compare both as naive UTC.
    return moment.replace(tzinfo=None)
