"""Set-wise fan-out on SQLite and PostgreSQL: the same messages as ``notify`` would write, person by person
(preferences, mandatory kinds, quiet hours in the recipient's time zone, fallback, in-app, language), written with a
few multi-row INSERTs rather than one per message; idempotent; bad input refused before anything is written; and
the messages delivered by the job system."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import unit_of_work
from cauri.core.errors import AppError
from cauri.core.jobs import Job
from cauri.notifications import preferences
from cauri.notifications.fanout import fan_out
from cauri.notifications.kinds import NotificationKind, register_kind
from cauri.notifications.models import InAppNotification, Notification
from cauri.notifications.notify import Recipient, notify
from tests.support.waiting import until

TEMPLATES = Path(__file__).parent / "fanout_templates"
FANOUT = register_kind(NotificationKind("test.fanout", channels=("in_app", "sms", "email"), templates=TEMPLATES))
FALLBACK = register_kind(
    NotificationKind("test.fanout_fallback", channels=("sms", "email"), fallback=True, templates=TEMPLATES)
)
CONTEXT = {"amount": 10000, "due": datetime(2026, 12, 24, 9, 0, tzinfo=UTC)}


def people() -> list[Recipient]:
    """Five recipients whose messages differ: a preference, quiet hours in Tokyo, English, no phone, no account."""
    return [
        Recipient(uuid.uuid4(), email="awa@example.sn", phone="+221770000101", timezone="Africa/Dakar"),
        Recipient(uuid.uuid4(), email="jean@example.cm", phone="+237670000102", language="en"),
        Recipient(uuid.uuid4(), email="kenji@example.jp", phone="+221770000103", timezone="Asia/Tokyo"),
        Recipient(uuid.uuid4(), email="fatou@example.sn"),
        Recipient(None, email="guest@example.sn", phone="+221770000105"),
    ]


async def set_up(session: AsyncSession, recipients: list[Recipient]) -> None:
    """Awa turned SMS off for this kind; Kenji's quiet hours cover the whole day but one minute, in Tokyo."""
    awa, _, kenji, _, _ = recipients
    assert awa.user_id and kenji.user_id
    await preferences.save_choices(session, awa.user_id, [preferences.Choice(FANOUT.name, "sms", False)])
    now = datetime.now(UTC).astimezone(preferences.zone("Asia/Tokyo"))
    minute = now.hour * 60 + now.minute
    await preferences.save_quiet_hours(
        session, kenji.user_id, preferences.Window((minute - 2) % 1440, (minute + 1380) % 1440)
    )


def shape(rows: list[Notification], jobs: dict[str, Job]) -> list[tuple[Any, ...]]:
    """What a message is, whoever wrote it: its ids and keys aside."""
    return sorted(
        (
            row.channel,
            row.recipient,
            row.subject,
            row.body,
            row.language,
            row.status,
            row.fallback_rank,
            str(row.user_id),
            str(row.id) in jobs,
            jobs[str(row.id)].run_after > datetime.now(UTC).replace(tzinfo=None) if str(row.id) in jobs else None,
        )
        for row in rows
    )


async def written(
    session: AsyncSession, object_id: str
) -> tuple[list[Notification], list[InAppNotification], dict[str, Job]]:
    rows = list(await session.scalars(select(Notification).where(Notification.dedupe_key.like(f"%:{object_id}:%"))))
    in_app = list(await session.scalars(select(InAppNotification).where(InAppNotification.object_id == object_id)))
    ids = {str(row.id) for row in rows}
    jobs = {
        job.payload["notification_id"]: job
        for job in await session.scalars(select(Job))
        if job.payload.get("notification_id") in ids
    }
    return rows, in_app, jobs


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


@pytest.mark.parametrize("kind", [FANOUT.name, FALLBACK.name])
async def test_fan_out_writes_what_notify_would_person_by_person(
    sessionmaker: async_sessionmaker[AsyncSession], kind: str
) -> None:
    recipients = people()
    async with sessionmaker() as session:
        await set_up(session, recipients)
        for recipient in recipients:
            await notify(session, kind=kind, recipient=recipient, context=CONTEXT, object_id="one-by-one")
        result = await fan_out(session, kind=kind, recipients=recipients, context=CONTEXT, object_id="set-wise")
        await session.flush()
        by_notify, in_app_notify, jobs_notify = await written(session, "one-by-one")
        by_fanout, in_app_fanout, jobs_fanout = await written(session, "set-wise")
        for jobs in (jobs_notify, jobs_fanout):
            for job in jobs.values():
                job.run_after = _naive(job.run_after)
        assert by_fanout and len(by_fanout) == len(by_notify)
        assert shape(by_fanout, jobs_fanout) == shape(by_notify, jobs_notify)
        assert sorted((n.user_id, n.title, n.body) for n in in_app_fanout) == sorted(
            (n.user_id, n.title, n.body) for n in in_app_notify
        )
        checks = _facts(by_fanout, jobs_fanout)
        await session.rollback()  # nothing is delivered: the two writes are compared, not sent
    assert (result.recipients, result.already_notified, result.messages) == (5, 0, len(by_fanout))
    assert result.in_app == len(in_app_fanout) and result.queued == len(jobs_fanout)
    if kind == FANOUT.name:
        assert ("+221770000101", "sms") not in checks["channels"]  # Awa turned SMS off
        assert result.in_app == 4  # the guest has no account
        assert checks["kenji_waits"]  # quiet hours in Tokyo
        # Jean gave no time zone: his Cameroonian number's (Africa/Douala, UTC+1) dates the 09:00 UTC due time.
        assert checks["english"] == ["Your contribution of F\u202fCFA10,000 is due on 12/24/26, 10:00\u202fAM."]
    else:
        assert checks["statuses"].count("held") == 4  # e-mail waits behind each SMS


def _facts(rows: list[Notification], jobs: dict[str, Job]) -> dict[str, Any]:
    now = _naive(datetime.now(UTC))
    kenji = [jobs[str(row.id)] for row in rows if row.recipient == "kenji@example.jp" and str(row.id) in jobs]
    return {
        "channels": {(row.recipient, row.channel) for row in rows},
        "kenji_waits": bool(kenji) and all(job.run_after > now for job in kenji),
        "english": [row.body for row in rows if row.recipient == "jean@example.cm"],
        "statuses": sorted(row.status for row in rows),
    }


@contextmanager
def counted_inserts(sessionmaker: async_sessionmaker[AsyncSession]) -> Iterator[list[str]]:
    engine = sessionmaker.kw["bind"].sync_engine
    statements: list[str] = []

    def remember(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            statements.append(statement.split("(", 1)[0])

    event.listen(engine, "before_cursor_execute", remember)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", remember)


async def test_thousands_of_recipients_in_a_few_inserts(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    crowd = [Recipient(uuid.uuid4(), email=f"membre{i}@example.sn", phone=f"+2217755{i:05d}") for i in range(3_000)]
    with counted_inserts(sessionmaker) as inserts:
        async with sessionmaker() as session:
            started = time.perf_counter()
            result = await fan_out(
                session, kind=FANOUT.name, recipients=crowd, context=CONTEXT, object_id="crowd", chunk_size=1_000
            )
            await session.flush()
            elapsed = time.perf_counter() - started
            stored = await session.scalar(
                select(func.count()).select_from(Notification).where(Notification.dedupe_key.like("%:crowd:%"))
            )
            await session.rollback()  # measured, not delivered
    assert (result.messages, result.queued, result.in_app, stored) == (6_000, 6_000, 3_000, 6_000)
    # Three chunks × (outbox, in-app, jobs): a handful of statements, not 12,000. (SQLAlchemy may split a
    # multi-row INSERT by its driver's parameter limit, so "a handful" is bounded, not exact.)
    assert len(inserts) <= 3 * 3 * 8, inserts
    print(f"\nfan-out of 3,000 recipients × 3 channels: {elapsed:.2f} s, {len(inserts)} INSERT statements")


async def test_a_second_fan_out_adds_only_newcomers_and_the_jobs_deliver(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    object_id = f"cycle-{uuid.uuid4().hex[:8]}"
    members = [Recipient(uuid.uuid4(), email=f"membre{i}@example.sn", phone=f"+2217756{i:05d}") for i in range(20)]
    async with unit_of_work(sessionmaker) as session:
        first = await fan_out(session, kind=FANOUT.name, recipients=members, context=CONTEXT, object_id=object_id)
    assert (first.messages, first.in_app) == (40, 20)
    newcomers = [Recipient(uuid.uuid4(), email=f"nouveau{i}@example.sn") for i in range(3)]
    async with unit_of_work(sessionmaker) as session:
        again = await fan_out(
            session,
            kind=FANOUT.name,
            recipients=[*members, *newcomers, members[0]],
            context=CONTEXT,
            object_id=object_id,
        )
    assert (again.already_notified, again.messages, again.in_app) == (21, 3, 3)

    # The in-process job runner (no broker in these tests) delivers them through the console backend.
    async def all_sent() -> bool:
        async with sessionmaker() as session:
            left = await session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.dedupe_key.like(f"%:{object_id}:%"), Notification.status != "sent")
            )
        return left == 0

    await until(all_sent, "every fanned-out message sent", within=60)


async def test_bad_input_writes_nothing(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    object_id = f"bad-{uuid.uuid4().hex[:8]}"
    cases: list[tuple[str, list[Recipient], dict[str, Any], str]] = [
        ("test.nobody", people(), CONTEXT, "kind"),
        (FANOUT.name, people(), {"amount": 1}, "context"),  # the template needs `due`
        (
            FANOUT.name,
            [*people(), Recipient(None, email="x@example.sn", timezone="Mars/Olympus")],
            CONTEXT,
            "recipients[5].timezone",
        ),
    ]
    cases.append((FANOUT.name, [*people(), Recipient(None, email="pas-une-adresse")], CONTEXT, "recipient.email"))
    for kind, recipients, context, field in cases:
        async with sessionmaker() as session:
            with pytest.raises(AppError) as refused:
                await fan_out(session, kind=kind, recipients=recipients, context=context, object_id=object_id)
            assert refused.value.status == 422
            assert refused.value.field == field, (refused.value.field, refused.value.code)
            assert (
                await session.scalar(
                    select(func.count())
                    .select_from(Notification)
                    .where(Notification.dedupe_key.like(f"%:{object_id}:%"))
                )
                == 0
            )
