"""Digests on SQLite and PostgreSQL: a burst of one kind to one address within the window goes out as one message
carrying each text, once its window closes; a replay adds nothing; another address, another channel's message or a
message after the window are their own; in-app keeps each one."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import unit_of_work
from cauri.notifications.kinds import NotificationKind, register_kind
from cauri.notifications.models import InAppNotification, Notification
from cauri.notifications.notify import Recipient, notify

BURST = register_kind(
    NotificationKind(
        "test.burst",
        channels=("in_app", "email", "sms"),
        digest_window=timedelta(seconds=3),
        templates=Path(__file__).parent / "kind_templates",
    )
)


async def message(
    maker: async_sessionmaker[AsyncSession], recipient: Recipient, who: str, text: str, object_id: str | None = None
) -> list[Notification]:
    async with unit_of_work(maker) as session:
        return await notify(
            session,
            kind=BURST.name,
            recipient=recipient,
            context={"who": who, "text": text},
            object_id=object_id or str(uuid.uuid4()),
        )


async def reread(maker: async_sessionmaker[AsyncSession], notification_id: uuid.UUID) -> Notification:
    async with maker() as session:
        found = await session.get(Notification, notification_id)
        assert found is not None
        return found


async def until_sent(maker: async_sessionmaker[AsyncSession], notification_id: uuid.UUID) -> Notification:
    deadline = time.monotonic() + 20
    while (row := await reread(maker, notification_id)).status != "sent":
        assert time.monotonic() < deadline, row.status
        await asyncio.sleep(0.05)
    return row


async def test_a_burst_of_one_kind_goes_out_as_one_message(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    awa = Recipient(uuid.uuid4(), email=f"{uuid.uuid4().hex[:8]}@example.org", phone="+221770001234", language="fr")
    first = await message(sessionmaker, awa, "Moussa", "Bonjour", object_id="m1")
    assert sorted(m.channel for m in first) == ["email", "sms"]
    await message(sessionmaker, awa, "Fatou", "La chambre est libre ?")
    again = await message(sessionmaker, awa, "Moussa", "Bonjour", object_id="m1")  # a replay: nothing
    assert again == []
    await message(sessionmaker, awa, "Ibrahim", "Merci")
    other = Recipient(uuid.uuid4(), email=f"{uuid.uuid4().hex[:8]}@example.org", language="en")
    [theirs] = await message(sessionmaker, other, "Moussa", "Hello")
    email = next(m for m in first if m.channel == "email")
    sms = next(m for m in first if m.channel == "sms")
    assert theirs.id != email.id
    sent = await until_sent(sessionmaker, email.id)
    assert sent.digest_count == 3
    assert sent.subject == "Nouveau message de Moussa (+2 autres)"
    for text in ("Moussa : Bonjour", "Fatou : La chambre est libre ?", "Ibrahim : Merci"):
        assert text in sent.body
    assert sent.sent_at is not None and sent.sent_at - sent.created_at >= timedelta(seconds=2.5)  # waited
    sms_sent = await until_sent(sessionmaker, sms.id)
    assert sms_sent.digest_count == 3 and sms_sent.body.count("---") == 2
    assert (await reread(sessionmaker, theirs.id)).digest_count == 1
    async with sessionmaker() as session:
        stored = await session.scalar(
            select(func.count()).select_from(InAppNotification).where(InAppNotification.user_id == awa.user_id)
        )
        outbox = await session.scalar(
            select(func.count()).select_from(Notification).where(Notification.user_id == awa.user_id)
        )
    assert (stored, outbox) == (3, 2)  # in-app keeps each; e-mail and SMS carry the burst once each
    # After the window: a message of its own.
    [later_email, _] = sorted(await message(sessionmaker, awa, "Fatou", "Encore"), key=lambda m: m.channel)
    assert later_email.id != email.id and later_email.digest_count == 1


def test_a_digest_kind_has_a_positive_window_and_no_fallback() -> None:
    with pytest.raises(ValueError, match="digest"):
        register_kind(NotificationKind("test.bad_digest", channels=("sms",), digest_window=timedelta(0)))
    with pytest.raises(ValueError, match="digest"):
        register_kind(
            NotificationKind("test.bad_digest", channels=("sms", "email"), fallback=True, digest_window=timedelta(1))
        )
