"""What tontines tell their members, through the notifications service, in each member's language: a reminder when a
session opens, a late notice (with the penalty) at close, once each however often it is asked; and every kind's
templates render in French and English."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.identity.models import User
from cauri.notifications.models import InAppNotification, Notification, Reminder
from tests.tontines.support import ok, record_cash, set_phone, unique_phone
from tests.tontines.test_tontines_money import group, open_first_session


async def messages(
    sessionmaker: async_sessionmaker[AsyncSession], user: uuid.UUID, kind: str
) -> tuple[list[str], list[str]]:
    """(in-app titles, SMS bodies) of ``kind`` for one person."""
    async with sessionmaker() as session:
        titles = list(
            await session.scalars(
                select(InAppNotification.title).where(InAppNotification.user_id == user, InAppNotification.kind == kind)
            )
        )
        phone = await session.scalar(select(User.phone).where(User.id == user))
        sms = list(
            await session.scalars(
                select(Notification.body).where(Notification.recipient == phone, Notification.kind == kind)
            )
        )
        return titles, sms


async def test_reminders_and_late_notices_in_each_member_s_language(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tontine, (president, treasurer, member), _ids = await group(
        client, 3, rules={"max_members": 5, "penalty_kind": "fixed", "penalty_amount": 1_000}
    )
    for actor in (president, treasurer, member):
        await set_phone(sessionmaker, actor, unique_phone())
    async with sessionmaker() as session:
        await session.execute(update(User).where(User.id == member.user_id).values(language="en"))
        await session.commit()
    row = await open_first_session(client, treasurer, tontine["id"])
    titles, sms = await messages(sessionmaker, member.user_id, "tontine.due_soon")
    assert titles == [f"Contribution {tontine['name']}: session 1"]
    assert len(sms) == 1 and "10,000" in sms[0] and "is due on" in sms[0]
    titles, sms = await messages(sessionmaker, president.user_id, "tontine.due_soon")
    assert titles == [f"Cotisation {tontine['name']} : séance 1"]
    assert len(sms) == 1 and "est due le" in sms[0]
    assert any(amount in sms[0] for amount in ("10\u202f000", "10\xa0000", "10 000")), sms

    ok(await client.post(f"/api/v1/tontines/{tontine['id']}/sessions/{row['id']}/close", headers=treasurer.headers))
    _, late = await messages(sessionmaker, member.user_id, "tontine.late")
    assert len(late) == 1 and "Penalty" in late[0] and "1,000" in late[0]
    # A replayed close changes nothing and tells no one twice.
    again = await client.post(f"/api/v1/tontines/{tontine['id']}/sessions/{row['id']}/close", headers=treasurer.headers)
    assert again.status_code == 409
    assert len((await messages(sessionmaker, member.user_id, "tontine.late"))[1]) == 1


@pytest.mark.parametrize("kind", ["tontine.due_soon", "tontine.late", "tontine.payout_sent"])
async def test_every_tontine_notice_renders_in_french_and_english(client: httpx.AsyncClient, kind: str) -> None:
    tontine, (president, *_), _ = await group(client, 2)
    del tontine
    for language, word in (("fr", "Kobiri :"), ("en", "Kobiri:")):
        preview = ok(
            await client.get(
                f"/api/v1/notifications/templates/{kind}/preview", params={"language": language},
                headers=president.headers,
            )
        )  # fmt: skip
        bodies = [channel["body"] for channel in preview["channels"]]
        assert bodies and all(word in body for body in bodies), bodies


async def test_a_session_is_reminded_the_day_before_and_by_hand_to_those_who_owe(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    start = date.today() + timedelta(days=10)
    tontine, (president, treasurer, member), ids = await group(client, 3, start_date=start.isoformat())
    tid = tontine["id"]
    planned = ok(
        await client.post(f"/api/v1/tontines/{tid}/sessions", json={"count": 2}, headers=treasurer.headers), 201
    )
    async with sessionmaker() as session:
        scheduled = {
            r.object_id: (r.remind_at.astimezone(ZoneInfo("Africa/Dakar")), r.status)
            for r in await session.scalars(select(Reminder).where(Reminder.target == "tontine_session"))
            if r.object_id in {s["id"] for s in planned}
        }
    first_due = date.fromisoformat(planned[0]["due_date"])
    assert scheduled[planned[0]["id"]][0].replace(tzinfo=None) == datetime.combine(
        first_due - timedelta(days=1), time(9)
    )
    assert len(scheduled) == 2 and {s for _, s in scheduled.values()} == {"scheduled"}

    # By hand: a manager reminds those who still owe; the président paid, so only the two others are told.
    sid = planned[0]["id"]
    ok(await client.post(f"/api/v1/tontines/{tid}/sessions/{sid}/open", headers=treasurer.headers))
    # (allow_advance is off, but an open session takes payments whatever its date)
    cash = ok(await record_cash(client, treasurer, tid, session_id=sid, member_id=ids[president.user_id]), 201)
    ok(await client.post(f"/api/v1/tontines/{tid}/contributions/{cash['id']}/validate", json={"approve": True},
                         headers=president.headers))  # fmt: skip
    refused = await client.post(
        "/api/v1/notifications/send-reminder", json={"target": "tontine_session", "object_id": sid},
        headers=member.headers,
    )  # fmt: skip
    assert refused.status_code == 403
    sent = ok(
        await client.post(
            "/api/v1/notifications/send-reminder", json={"target": "tontine_session", "object_id": sid},
            headers=treasurer.headers,
        ),
        201,
    )  # fmt: skip
    assert sent is not None
    async with sessionmaker() as session:
        told = set(
            await session.scalars(
                select(InAppNotification.user_id).where(
                    InAppNotification.kind == "tontine.due_soon", InAppNotification.object_id.like("manual:%")
                )
            )
        )
    assert told == {treasurer.user_id, member.user_id}
    ok(await client.post(f"/api/v1/tontines/{tid}/sessions/{sid}/close", headers=treasurer.headers))
    async with sessionmaker() as session:
        status = await session.scalar(select(Reminder.status).where(Reminder.object_id == sid))
    assert status == "cancelled"
