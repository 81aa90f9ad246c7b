"""Notification kinds and ``notify`` on SQLite and PostgreSQL: templates in the recipient's language and time
zone, one message per channel they can receive, nothing twice, clear errors; previews over HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import unit_of_work
from cauri.core.errors import AppError
from cauri.notifications.kinds import NotificationKind, register_kind
from cauri.notifications.models import Notification
from cauri.notifications.notify import Recipient, notify
from tests.support.identity import register, unique_email

RECEIPT = register_kind(
    NotificationKind(
        "test.receipt",
        channels=("sms", "email"),
        mandatory=True,
        templates=Path(__file__).parent / "kind_templates",
        sample={"amount": 10000, "currency": "XOF", "paid_at": datetime(2026, 12, 7, 12, 30, tzinfo=UTC)},
    )
)
PAID_AT = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)  # already 8 December in Asia/Tokyo, still the 7th in Dakar


def phone() -> str:
    return f"+22177{uuid.uuid4().int % 10_000_000:07d}"


async def messages_of(sessionmaker: async_sessionmaker[AsyncSession], user_id: uuid.UUID) -> list[Notification]:
    async with sessionmaker() as session:
        found = await session.scalars(
            select(Notification).where(Notification.user_id == user_id).order_by(Notification.channel)
        )
        return list(found)


async def test_one_message_per_channel_in_the_recipients_language_and_never_twice(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    recipient = Recipient(uuid.uuid4(), email=unique_email(), phone=phone(), language="fr", timezone="Africa/Dakar")
    context = {"amount": 10000, "currency": "XOF", "paid_at": PAID_AT}
    payment_id = uuid.uuid4()
    async with unit_of_work(sessionmaker) as session:
        queued = await notify(session, kind="test.receipt", recipient=recipient, context=context, object_id=payment_id)
    assert sorted(message.channel for message in queued) == ["email", "sms"]
    async with unit_of_work(sessionmaker) as session:
        again = await notify(session, kind="test.receipt", recipient=recipient, context=context, object_id=payment_id)
    assert again == []
    email, sms = await messages_of(sessionmaker, recipient.user_id)  # type: ignore[arg-type]
    assert (email.recipient, sms.recipient) == (recipient.email, recipient.phone)
    assert email.subject == "Reçu : 10\u202f000\xa0F\u202fCFA"
    assert sms.body == "Vous avez payé 10\u202f000\xa0F\u202fCFA le 07/12/2026 23:30."
    assert {email.kind, sms.kind} == {"test.receipt"} and email.language == "fr"
    assert email.dedupe_key == sms.dedupe_key == f"test.receipt:{payment_id}:user:{recipient.user_id}"


async def test_english_local_time_and_only_the_addresses_the_recipient_has(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    recipient = Recipient(uuid.uuid4(), email=unique_email(), language="en", timezone="Asia/Tokyo")
    async with unit_of_work(sessionmaker) as session:
        await notify(
            session,
            kind="test.receipt",
            recipient=recipient,
            context={"amount": 250050, "currency": "EUR", "paid_at": PAID_AT},
            object_id="order-1",
        )
    [email] = await messages_of(sessionmaker, recipient.user_id)  # type: ignore[arg-type]
    assert email.channel == "email" and email.language == "en"
    assert email.body == "You paid €2,500.50 on 12/8/26, 8:30\u202fAM."


async def test_a_second_object_or_recipient_is_a_new_notification(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    recipient = Recipient(uuid.uuid4(), phone=phone())
    context = {"amount": 500, "currency": "XOF", "paid_at": PAID_AT}
    async with unit_of_work(sessionmaker) as session:
        for object_id in ("a", "b"):
            await notify(session, kind="test.receipt", recipient=recipient, context=context, object_id=object_id)
    assert len(await messages_of(sessionmaker, recipient.user_id)) == 2  # type: ignore[arg-type]


async def test_an_unknown_kind_or_a_template_that_fails_names_the_field_and_writes_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    recipient = Recipient(uuid.uuid4(), email=unique_email(), phone=phone())
    async with sessionmaker() as session:
        with pytest.raises(AppError) as unknown:
            await notify(session, kind="test.nothing", recipient=recipient, context={}, object_id="x")
        with pytest.raises(AppError) as failed:
            # "paid_at" is missing: the SMS would have rendered "le ." — refused instead, and no e-mail either.
            await notify(
                session,
                kind="test.receipt",
                recipient=recipient,
                context={"amount": 1, "currency": "XOF"},
                object_id="x",
            )
        assert not session.new
    assert (unknown.value.status, unknown.value.field, unknown.value.code) == (
        422,
        "kind",
        "validation_error",
    )
    assert unknown.value.errors[0].code == "unknown_notification_kind"
    assert failed.value.field == "context" and "paid_at" in failed.value.message_en
    assert failed.value.errors[0].code == "notification_template_failed"
    assert await messages_of(sessionmaker, recipient.user_id) == []  # type: ignore[arg-type]


def test_a_kind_cannot_be_registered_twice_differently_nor_on_an_unknown_channel() -> None:
    assert register_kind(RECEIPT) is RECEIPT
    with pytest.raises(ValueError, match="already registered"):
        register_kind(NotificationKind("test.receipt", channels=("email",)))
    with pytest.raises(ValueError, match="channels"):
        register_kind(NotificationKind("test.pigeon", channels=("pigeon",)))


async def test_preview_in_french_and_english_needs_a_login(client: httpx.AsyncClient) -> None:
    actor = await register(client)
    url = "/api/v1/notifications/templates/auth.code/preview"
    french = await client.get(url, headers=actor.headers)
    assert french.status_code == 200, french.text
    body = french.json()
    assert body["language"] == "fr" and body["mandatory"] is True and body["urgent"] is True
    assert [channel["channel"] for channel in body["channels"]] == ["email", "sms"]
    assert body["channels"][0]["subject"] == "Cauri – Vérifiez votre adresse e-mail"
    assert body["channels"][1]["body"].startswith("Votre code Cauri : 482913.")
    english = await client.get(url, headers={**actor.headers, "Accept-Language": "en"})
    assert english.json()["channels"][1]["body"].startswith("Your Cauri code: 482913.")
    asked = await client.get(url, params={"language": "en"}, headers=actor.headers)
    assert asked.json()["language"] == "en"
    receipt = await client.get("/api/v1/notifications/templates/test.receipt/preview", headers=actor.headers)
    assert receipt.json()["channels"][0]["body"] == "Vous avez payé 10\u202f000\xa0F\u202fCFA le 07/12/2026 12:30."
    assert (await client.get(url)).status_code == 401


async def test_preview_of_an_unknown_kind_is_a_problem_naming_it(client: httpx.AsyncClient) -> None:
    actor = await register(client)
    response = await client.get(
        "/api/v1/notifications/templates/nope.nothing/preview", headers={**actor.headers, "Accept-Language": "en"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["errors"][0]["field"] == "kind"
    assert problem["errors"][0]["message"] == "Unknown notification kind: 'nope.nothing'."
