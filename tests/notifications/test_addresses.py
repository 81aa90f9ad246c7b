"""``notify`` on SQLite and PostgreSQL: a malformed e-mail address or phone number is a 422 naming it and nothing is
written; a landline is not texted; quiet hours are in the recipient's time zone, from their number or country
when the caller does not know it, not the server's."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import unit_of_work
from cauri.core.errors import ValidationFailed
from cauri.notifications.addresses import check_number, is_mobile, number_facts, zone_of_number
from cauri.notifications.models import Notification
from cauri.notifications.notify import Recipient, notify
from cauri.notifications.preferences import Window, save_quiet_hours
from tests.notifications.notify_support import TRACKED
from tests.notifications.test_preferences import delivery_due

TOKYO_MOBILE = "+819012345678"


async def tell(maker: async_sessionmaker[AsyncSession], recipient: Recipient) -> list[Notification]:
    async with unit_of_work(maker) as session:
        return await notify(session, kind=TRACKED.name, recipient=recipient, context={"n": 1}, object_id=uuid.uuid4())


@pytest.mark.parametrize(
    ("email", "phone", "field"),
    [
        ("pas-une-adresse", None, "recipient.email"),
        ("awa@", "+221770001122", "recipient.email"),
        (None, "12345", "recipient.phone"),
        ("awa@example.org", "+221 77", "recipient.phone"),
    ],
)
async def test_a_malformed_address_is_named_and_nothing_is_written(
    sessionmaker: async_sessionmaker[AsyncSession], email: str | None, phone: str | None, field: str
) -> None:
    user_id = uuid.uuid4()
    with pytest.raises(ValidationFailed) as refused:
        await tell(sessionmaker, Recipient(user_id, email=email, phone=phone))
    assert [error.field for error in refused.value.errors] == [field]
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).where(Notification.user_id == user_id)) == 0


async def test_a_landline_is_not_texted(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    queued = await tell(sessionmaker, Recipient(uuid.uuid4(), email="awa@example.org", phone="+221338210000"))
    assert [message.channel for message in queued] == ["email"]


def window_around_now_in(zone: str) -> Window:
    local = datetime.now(UTC).astimezone(ZoneInfo(zone))
    minute = local.hour * 60 + local.minute
    return Window((minute - 30) % 1440, (minute + 60) % 1440)


@pytest.mark.parametrize(
    "recipient_of",
    [
        lambda user_id: Recipient(user_id, phone=TOKYO_MOBILE),  # the number's country
        lambda user_id: Recipient(user_id, email="kenji@example.org", country="JP"),  # the profile's country
        lambda user_id: Recipient(user_id, email="kenji@example.org", timezone="Asia/Tokyo"),  # given
    ],
    ids=["number", "country", "given"],
)
async def test_quiet_hours_are_kept_in_the_recipient_s_time_zone(
    sessionmaker: async_sessionmaker[AsyncSession], recipient_of: object
) -> None:
    user_id = uuid.uuid4()
    async with unit_of_work(sessionmaker) as session:
        await save_quiet_hours(session, user_id, window_around_now_in("Asia/Tokyo"))
    recipient = recipient_of(user_id)  # type: ignore[operator]
    assert recipient.zone_name == "Asia/Tokyo"
    [message] = await tell(sessionmaker, recipient)
    due = await delivery_due(sessionmaker, message)
    # The quiet window ends an hour from now in Tokyo: held until then, although it is not quiet time in UTC.
    assert timedelta(minutes=55) <= due - datetime.now(UTC) <= timedelta(minutes=61)
    # Someone of whom nothing is known gets UTC: the same window (Tokyo's clock) is not quiet for them.
    unknown = Recipient(user_id, email="x@example.org")
    assert unknown.zone_name == "UTC"
    [other] = await tell(sessionmaker, unknown)
    assert await delivery_due(sessionmaker, other) - datetime.now(UTC) < timedelta(minutes=1)


async def test_two_concurrent_notifies_of_one_event_tell_the_person_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    recipient = Recipient(uuid.uuid4(), email="awa@example.org", phone="+221770001122")
    object_id = uuid.uuid4()

    async def tell_once() -> None:
        async with unit_of_work(sessionmaker) as session:
            await notify(session, kind=TRACKED.name, recipient=recipient, context={"n": 1}, object_id=object_id)

    outcomes = await asyncio.gather(*(tell_once() for _ in range(4)), return_exceptions=True)
    # The losers of the race fail on the unique key (a job is retried, a request answers 409) and write nothing.
    assert all(o is None or isinstance(o, (IntegrityError, OperationalError)) for o in outcomes), outcomes
    await tell_once()  # the retry finds the event told
    async with sessionmaker() as session:
        rows = list(await session.scalars(select(Notification).where(Notification.user_id == recipient.user_id)))
    assert sorted(row.channel for row in rows) == ["email", "sms"]


@pytest.mark.parametrize(
    "number",
    [
        "+2250700000919",  # Côte d'Ivoire, mobile
        "+221771234567",  # Senegal, mobile
        "+221338210000",  # Senegal, landline
        TOKYO_MOBILE,
        "+14155550100",  # United States: a geographic zone per area code
        "+12015550123",
        "+243812345678",  # DR Congo: several zones
        "+33612345678",
        "+22507",  # too short
        "+999123456789",  # no such country
        "not a number",
    ],
)
def test_the_fan_out_s_one_parse_agrees_with_notify_s_checks(number: str) -> None:
    """``number_facts`` (fan-out: one parse, one type look-up) says what ``check_number``, ``is_mobile`` and
    ``zone_of_number`` (notify) say, invalid numbers included."""
    try:
        expected: object = (is_mobile(check_number(number, field="phone")), zone_of_number(number))
    except ValidationFailed:
        expected = "invalid"
    try:
        facts = number_facts(number, field="phone")
        found: object = (facts.mobile, facts.zone)
    except ValidationFailed:
        found = "invalid"
    assert found == expected
