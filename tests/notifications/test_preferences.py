"""Preferences over HTTP on SQLite and PostgreSQL: per kind and channel, mandatory kinds refused off, quiet hours
in the recipient's time zone delaying the delivery job (urgent kinds not)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import unit_of_work
from cauri.core.jobs import Job
from cauri.notifications.kinds import NotificationKind, register_kind
from cauri.notifications.models import Notification
from cauri.notifications.notify import Recipient, notify
from cauri.notifications.service import DELIVER_JOB
from tests.support.identity import Actor, create_api_key, create_org_with_user, register

URL = "/api/v1/notifications/preferences"
NEWS = register_kind(
    NotificationKind("test.news", channels=("sms", "email"), templates=Path(__file__).parent / "kind_templates")
)


def recipient_of(actor: Actor, timezone: str = "Africa/Dakar") -> Recipient:
    return Recipient(actor.user_id, email=actor.email, phone="+221770000123", language="fr", timezone=timezone)


async def send_news(sessionmaker: async_sessionmaker[AsyncSession], recipient: Recipient) -> list[Notification]:
    async with unit_of_work(sessionmaker) as session:
        return await notify(
            session, kind="test.news", recipient=recipient, context={"title": "t"}, object_id=uuid.uuid4()
        )


async def delivery_due(sessionmaker: async_sessionmaker[AsyncSession], notification: Notification) -> datetime:
    async with sessionmaker() as session:
        job = await session.scalar(select(Job).where(Job.dedupe_key == f"{DELIVER_JOB}:{notification.id}"))
        assert job is not None
        return job.run_after.replace(tzinfo=UTC) if job.run_after.tzinfo is None else job.run_after


def kind_in(body: dict[str, object], name: str) -> dict[str, object]:
    kinds = body["kinds"]
    assert isinstance(kinds, list)
    found: dict[str, object] = next(kind for kind in kinds if kind["kind"] == name)
    return found


async def test_a_kind_turned_off_on_one_channel_is_not_sent_there(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    actor = await register(client)
    initial = await client.get(URL, headers=actor.headers)
    assert initial.status_code == 200, initial.text
    assert kind_in(initial.json(), "test.news")["channels"] == [
        {"channel": "sms", "enabled": True},
        {"channel": "email", "enabled": True},
    ]
    assert kind_in(initial.json(), "auth.code")["mandatory"] is True
    assert initial.json()["quiet_hours"] is None
    changed = await client.put(
        URL, json={"preferences": [{"kind": "test.news", "channel": "sms", "enabled": False}]}, headers=actor.headers
    )
    assert changed.status_code == 200, changed.text
    assert kind_in(changed.json(), "test.news")["channels"][0] == {"channel": "sms", "enabled": False}  # type: ignore[index]
    assert (await client.get(URL, headers=actor.headers)).json() == changed.json()
    [queued] = await send_news(sessionmaker, recipient_of(actor))
    assert queued.channel == "email"
    # Another person's choice is theirs only.
    other = await register(client)
    assert sorted(message.channel for message in await send_news(sessionmaker, recipient_of(other))) == [
        "email",
        "sms",
    ]
    # On again.
    again = await client.put(
        URL, json={"preferences": [{"kind": "test.news", "channel": "sms", "enabled": True}]}, headers=actor.headers
    )
    assert again.status_code == 200
    assert len(await send_news(sessionmaker, recipient_of(actor))) == 2


async def test_mandatory_kinds_unknown_kinds_and_foreign_channels_are_refused_naming_the_field(
    client: httpx.AsyncClient,
) -> None:
    actor = await register(client)
    headers = {**actor.headers, "Accept-Language": "en"}
    field = "preferences[1].kind"
    cases = [
        ({"kind": "auth.code", "channel": "sms", "enabled": False}, field, "notification_mandatory"),
        ({"kind": "nope.never", "channel": "sms", "enabled": False}, field, "unknown_notification_kind"),
    ]
    for bad, field, code in cases:
        body = {"preferences": [{"kind": "test.news", "channel": "email", "enabled": False}, bad]}
        response = await client.put(URL, json=body, headers=headers)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert (response.json()["errors"][0]["field"], response.json()["errors"][0]["code"]) == (field, code)
    assert "auth.code" in (await client.put(URL, json={"preferences": [cases[0][0]]}, headers=headers)).text
    unknown_channel = await client.put(
        URL, json={"preferences": [{"kind": "test.news", "channel": "pigeon", "enabled": False}]}, headers=headers
    )
    assert unknown_channel.status_code == 422
    # Nothing half-written: the first, valid, change of each refused request was not kept.
    unchanged = (await client.get(URL, headers=actor.headers)).json()
    assert kind_in(unchanged, "test.news")["channels"][1] == {"channel": "email", "enabled": True}  # type: ignore[index]
    assert (await client.get(URL)).status_code == 401


async def test_quiet_hours_delay_the_delivery_to_their_end_in_the_recipients_time_zone(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    actor = await register(client)
    tokyo = "Asia/Tokyo"  # UTC+9 all year: the window is set in Tokyo's hours around now
    now_tokyo = datetime.now(UTC) + timedelta(hours=9)
    start = (now_tokyo - timedelta(hours=1)).strftime("%H:%M")
    end = (now_tokyo + timedelta(hours=2)).replace(second=0, microsecond=0)
    quiet = {"start": start, "end": end.strftime("%H:%M")}
    response = await client.put(URL, json={"quiet_hours": quiet}, headers=actor.headers)
    assert response.status_code == 200, response.text
    assert response.json()["quiet_hours"] == {"start": f"{start}:00", "end": f"{quiet['end']}:00"}

    [sms, email] = await send_news(sessionmaker, recipient_of(actor, tokyo))
    expected = end - timedelta(hours=9)  # back to UTC
    for message in (sms, email):
        assert await delivery_due(sessionmaker, message) == expected.replace(tzinfo=UTC)
    # In Dakar (UTC) the same hours are not now: sent at once.
    [dakar, _] = await send_news(sessionmaker, recipient_of(actor))
    assert await delivery_due(sessionmaker, dakar) <= datetime.now(UTC)
    # Urgent kinds (one-time codes) ignore quiet hours.
    async with unit_of_work(sessionmaker) as session:
        [code] = await notify(
            session,
            kind="auth.code",
            recipient=Recipient(actor.user_id, email=actor.email, timezone=tokyo),
            context={"code": "123456", "minutes": 10, "purpose": "verify_email"},
            object_id=uuid.uuid4(),
        )
    assert await delivery_due(sessionmaker, code) <= datetime.now(UTC)

    # Preferences changes leave quiet hours alone; null removes them; start == end is refused.
    kept = await client.put(URL, json={"preferences": []}, headers=actor.headers)
    assert kept.json()["quiet_hours"] is not None
    empty = await client.put(URL, json={"quiet_hours": {"start": "22:00", "end": "22:00"}}, headers=actor.headers)
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "quiet_hours.end"
    removed = await client.put(URL, json={"quiet_hours": None}, headers=actor.headers)
    assert removed.json()["quiet_hours"] is None


async def test_an_api_key_has_no_preferences(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    key = await create_api_key(client, owner, role="admin")
    for response in (
        await client.get(URL, headers=key.headers),
        await client.put(URL, json={"preferences": []}, headers=key.headers),
        await client.get("/api/v1/notifications", headers=key.headers),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "person_required"
