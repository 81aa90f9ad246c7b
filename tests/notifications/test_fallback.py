"""Fallback between channels through the Africa's Talking simulator over loopback HTTP, on SQLite and PostgreSQL:
the SMS first; the e-mail only when the SMS fails for good (refused, reported failed, opted out), each attempt on
its own row with its provider and outcome."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from cauri.core.db import unit_of_work
from cauri.kit.outcomes import Outcome, magic_phone
from cauri.notifications.kinds import NotificationKind, register_kind
from cauri.notifications.models import Notification, NotificationStatus
from cauri.notifications.notify import Recipient, notify
from tests.jobs.support import fresh_database
from tests.notifications.sms_support import SmsWorld, sms_world

ALERT = register_kind(
    NotificationKind(
        "test.alert", channels=("sms", "email"), fallback=True, templates=Path(__file__).parent / "kind_templates"
    )
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with fresh_database(str(request.param), tmp_path_factory.mktemp("fallback")) as url:
        yield url


@pytest.fixture(scope="module")
async def world(database: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SmsWorld]:
    """One world per database for the module: each test's alert has a recipient of its own."""
    async with sms_world("africastalking", database, tmp_path_factory.mktemp("fallback-world")) as running:
        yield running


async def alert(world: SmsWorld, phone: str | None) -> tuple[uuid.UUID, ...]:
    recipient = Recipient(uuid.uuid4(), email=f"{uuid.uuid4().hex[:10]}@example.org", phone=phone)
    async with unit_of_work(world.maker) as session:
        queued = await notify(session, kind="test.alert", recipient=recipient, context={"what": "x"}, object_id="o")
    return tuple(message.id for message in queued)


async def test_the_email_goes_when_the_provider_refuses_the_number(world: SmsWorld) -> None:
    sms_id, email_id = await alert(world, magic_phone(Outcome.NOT_FOUND, "CI"))
    failed = await world.wait_for(sms_id, NotificationStatus.FAILED, NotificationStatus.SENT)
    assert (failed.status, failed.provider) == (NotificationStatus.FAILED, "africastalking")
    email = await world.wait_for(email_id, NotificationStatus.SENT)
    assert (email.channel, email.provider, email.attempts) == ("email", "console", 1)
    assert email.fallback_rank == 1 and failed.sent_at is not None and email.sent_at is not None
    assert email.sent_at >= failed.sent_at  # released by the SMS's failure, not sent beside it


async def test_the_email_goes_when_the_sms_is_reported_undeliverable(world: SmsWorld) -> None:
    sms_id, email_id = await alert(world, magic_phone(Outcome.ACCOUNT_INACTIVE, "SN"))
    failed = await world.wait_for(sms_id, NotificationStatus.FAILED, NotificationStatus.DELIVERED)
    assert failed.status == NotificationStatus.FAILED and failed.failure_reason
    await world.wait_for(email_id, NotificationStatus.SENT)


async def test_a_delivered_sms_keeps_the_email_held(world: SmsWorld) -> None:
    sms_id, email_id = await alert(world, magic_phone(Outcome.SUCCESS, "SN"))
    await world.wait_for(sms_id, NotificationStatus.DELIVERED)
    await world.wait_for_reports(await world.notification(sms_id), 1)
    assert (await world.notification(email_id)).status == NotificationStatus.HELD


async def test_without_a_phone_the_email_is_the_first_channel(world: SmsWorld) -> None:
    (email_id,) = await alert(world, None)
    await world.wait_for(email_id, NotificationStatus.SENT)
    async with world.maker() as session:
        rows = list(await session.scalars(select(Notification).where(Notification.id == email_id)))
    assert [row.fallback_rank for row in rows] == [0]
