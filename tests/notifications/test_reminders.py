"""Reminders on SQLite and PostgreSQL: scheduled on the job scheduler and sent once however many workers run them,
cancelled, refused in the past; sent by hand over HTTP by whom the target allows, audited for the organisation."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import unit_of_work, utcnow
from cauri.core.errors import ValidationFailed
from cauri.core.jobs import Job, JobContext
from cauri.core.jobs.runner import JobRunner
from cauri.notifications.models import InAppNotification, Notification, Reminder, ReminderStatus
from cauri.notifications.reminders import (
    REMIND_JOB,
    cancel_reminders,
    run_reminder,
    schedule_reminder,
)
from tests.notifications.notify_support import new_due, person
from tests.support.identity import Actor, add_member, create_org_with_user


async def messages_about(maker: async_sessionmaker[AsyncSession], prefix: str) -> list[Notification]:
    async with maker() as session:
        rows = await session.scalars(select(Notification).where(Notification.dedupe_key.like(f"test.due:{prefix}%")))
        return list(rows)


async def reminder_row(maker: async_sessionmaker[AsyncSession], reminder_id: uuid.UUID) -> Reminder:
    async with maker() as session:
        row = await session.get(Reminder, reminder_id)
        assert row is not None
        return row


async def until_sent(maker: async_sessionmaker[AsyncSession], reminder_id: uuid.UUID, within: float = 20) -> Reminder:
    deadline = time.monotonic() + within
    while (row := await reminder_row(maker, reminder_id)).status != ReminderStatus.SENT.value:
        assert time.monotonic() < deadline, f"reminder still {row.status}"
        await asyncio.sleep(0.05)
    return row


async def test_a_scheduled_reminder_runs_at_its_time_on_the_scheduler(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    members = (person(), person())
    object_id = new_due(*members)
    remind_at = utcnow() + timedelta(milliseconds=600)
    async with unit_of_work(sessionmaker) as session:
        reminder = await schedule_reminder(session, target="test_due", object_id=object_id, remind_at=remind_at)
        # Scheduling the same (target, object, time) again is the same reminder.
        again = await schedule_reminder(session, target="test_due", object_id=object_id, remind_at=remind_at)
        assert again.id == reminder.id
    sent = await until_sent(sessionmaker, reminder.id)
    assert sent.notified == 2 and sent.sent_at is not None
    assert sent.sent_at >= remind_at.replace(tzinfo=sent.sent_at.tzinfo)  # not before its time
    emails = await messages_about(sessionmaker, f"reminder:{reminder.id}")
    assert sorted(m.recipient for m in emails) == sorted(str(m.email) for m in members)
    assert all(m.channel == "email" and "Cotisation due" in m.body and object_id in m.body for m in emails)


async def test_a_reminder_runs_once_however_many_workers_run_it(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    members = (person(), person(), person())
    object_id = new_due(*members)
    async with unit_of_work(sessionmaker) as session:
        reminder = await schedule_reminder(
            session, target="test_due", object_id=object_id, remind_at=utcnow() + timedelta(hours=1)
        )

    async def worker() -> None:
        # What a worker does with a claimed job: the handler in the job's transaction, committed with it.
        async with unit_of_work(sessionmaker) as session:
            context = JobContext(session, sessionmaker, app.state.settings, uuid.uuid4(), REMIND_JOB, 1)
            await run_reminder(context, {"reminder_id": str(reminder.id)})

    await asyncio.gather(*(worker() for _ in range(3)), return_exceptions=True)
    await worker()  # and a late duplicate doorbell
    assert (await reminder_row(sessionmaker, reminder.id)).notified == 3
    emails = await messages_about(sessionmaker, f"reminder:{reminder.id}")
    assert len(emails) == 3 and len({m.recipient for m in emails}) == 3


async def test_a_cancelled_reminder_tells_nobody(app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    object_id = new_due(person())
    async with unit_of_work(sessionmaker) as session:
        reminder = await schedule_reminder(
            session, target="test_due", object_id=object_id, remind_at=utcnow() + timedelta(hours=2)
        )
    async with unit_of_work(sessionmaker) as session:
        assert await cancel_reminders(session, target="test_due", object_id=object_id) == 1
    async with unit_of_work(sessionmaker) as session:
        context = JobContext(session, sessionmaker, app.state.settings, uuid.uuid4(), REMIND_JOB, 1)
        await run_reminder(context, {"reminder_id": str(reminder.id)})
    assert (await reminder_row(sessionmaker, reminder.id)).status == ReminderStatus.CANCELLED.value
    assert await messages_about(sessionmaker, f"reminder:{reminder.id}") == []


@pytest.mark.parametrize(
    ("target", "delay", "field"),
    [("test_due", timedelta(minutes=-1), "remind_at"), ("nothing_like_it", timedelta(hours=1), "target")],
)
async def test_a_reminder_in_the_past_or_of_an_unknown_target_is_refused_naming_the_field(
    sessionmaker: async_sessionmaker[AsyncSession], target: str, delay: timedelta, field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        async with unit_of_work(sessionmaker) as session:
            await schedule_reminder(session, target=target, object_id="x", remind_at=utcnow() + delay)
    assert [error.field for error in refused.value.errors] == [field]


async def test_a_treasurer_reminds_by_hand_and_the_organisation_reads_the_audit(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    treasurer = await add_member(client, owner, role="member")
    late = await add_member(client, owner, role="member")
    paid_up = person()
    object_id = new_due(person(late), paid_up, managers=(treasurer.user_id,))
    url = "/api/v1/notifications/send-reminder"
    sent = await client.post(
        url,
        json={"target": "test_due", "object_id": object_id, "note": "Demain 18 h", "user_ids": [str(late.user_id)]},
        headers=treasurer.headers,
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["recipients"] == [str(late.user_id)] and sent.json()["kind"] == "test.due"
    # The member finds it in the app, with the treasurer's words; nobody else was told.
    inbox = await client.get("/api/v1/notifications", headers=late.headers)
    [item] = inbox.json()["items"]
    assert item["kind"] == "test.due" and "Demain 18 h" in item["body"]
    emails = await messages_about(sessionmaker, f"manual:{sent.json()['id']}")
    assert [m.user_id for m in emails] == [late.user_id]
    # The audit: who, what, to whom, when — for those who read the organisation's audit only.
    audit = await client.get("/api/v1/notifications/manual-sends", headers=owner.headers)
    assert audit.status_code == 200, audit.text
    [entry] = audit.json()["items"]
    assert entry["actor_user_id"] == str(treasurer.user_id) and entry["recipients"] == [str(late.user_id)]
    assert entry["object_id"] == object_id and entry["note"] == "Demain 18 h" and entry["created_at"]
    assert (await client.get("/api/v1/notifications/manual-sends", headers=treasurer.headers)).status_code == 403
    assert (await client.get("/api/v1/notifications/manual-sends")).status_code == 401


async def test_manual_reminders_refused_with_a_problem_naming_the_field(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    treasurer = await add_member(client, owner, role="member")
    object_id = new_due(person(), managers=(treasurer.user_id,))
    url = "/api/v1/notifications/send-reminder"

    async def post(body: dict[str, object], actor: Actor = treasurer) -> httpx.Response:
        return await client.post(url, json=body, headers=actor.headers)

    not_theirs = await post({"target": "test_due", "object_id": object_id}, owner)
    assert (not_theirs.status_code, not_theirs.json()["code"]) == (403, "not_treasurer")
    unknown = await post({"target": "test_due", "object_id": "nope"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "due_not_found")
    for body, status, field_name in [
        ({"target": "nothing_like_it", "object_id": object_id}, 422, "target"),
        ({"target": "test_due", "object_id": object_id, "user_ids": [str(uuid.uuid4())]}, 422, "user_ids[0]"),
        ({"target": "test_due", "object_id": object_id, "remind_at": "2020-01-01T08:00:00Z"}, 422, "remind_at"),
        ({"target": "test_due", "object_id": object_id, "remind_at": "2099-01-01T08:00:00"}, 422, "remind_at"),
    ]:
        refused = await post(body)
        assert refused.status_code == status, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert [error["field"] for error in refused.json()["errors"]] == [field_name], refused.text
    async with sessionmaker() as session:
        assert (
            await session.scalar(
                select(func.count())
                .select_from(InAppNotification)
                .where(
                    InAppNotification.object_id.like("manual:%"),
                    InAppNotification.kind == "test.due",
                    InAppNotification.body.contains(object_id),
                )
            )
            == 0
        )
    # Later: scheduled, audited, sent at its time.
    later = utcnow() + timedelta(milliseconds=500)
    scheduled = await post({"target": "test_due", "object_id": object_id, "remind_at": later.isoformat()})
    assert scheduled.status_code == 201, scheduled.text
    reminder = await until_sent(sessionmaker, uuid.UUID(scheduled.json()["reminder_id"]))
    assert reminder.notified == 1


async def test_workers_racing_for_a_due_reminder_s_job_run_it_once(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    members = (person(), person())
    object_id = new_due(*members)
    async with unit_of_work(sessionmaker) as session:
        reminder = await schedule_reminder(
            session, target="test_due", object_id=object_id, remind_at=utcnow() + timedelta(hours=3)
        )
    async with unit_of_work(sessionmaker) as session:
        job = await session.scalar(
            select(Job).where(Job.kind == REMIND_JOB, Job.payload["reminder_id"].as_string() == str(reminder.id))
        )
        assert job is not None
        job.run_after = utcnow()  # due now: the workers' doorbells all ring for it
        job_id = job.id
    runners = [JobRunner(app.state.settings, sessionmaker) for _ in range(3)]
    ran = await asyncio.gather(*(runner.run(job_id) for runner in runners), return_exceptions=True)
    assert ran.count(True) == 1, ran  # one claimed it; the others found nothing to do
    assert await runners[0].run(job_id) is False  # a late doorbell
    assert (await reminder_row(sessionmaker, reminder.id)).notified == 2
    assert len(await messages_about(sessionmaker, f"reminder:{reminder.id}")) == 2
