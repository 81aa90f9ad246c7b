"""The end of a batch is told to the organisation's operators through ``notifications.notify``: each person whose
role may approve batches gets it by e-mail, in their language, once per run however often the end is replayed."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import unit_of_work
from cauri.disbursements.models import BulkBatch
from cauri.disbursements.notices import notify_operators_of_end
from cauri.kit.outcomes import Outcome, magic_phone
from cauri.notifications.models import Notification
from tests.disbursements.support import act, fund, standard_file, team, upload, wait_state


async def end_notices(sessionmaker: async_sessionmaker[AsyncSession], organization_id: uuid.UUID) -> list[Notification]:
    async with sessionmaker() as session:
        found = await session.scalars(
            select(Notification).where(
                Notification.organization_id == organization_id, Notification.kind == "bulk.completed"
            )
        )
        return list(found)


async def test_operators_are_told_when_a_batch_ends_once_per_run(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client)
    await fund(sessionmaker, people.organization_id, 5_000_000)
    lines = [(magic_phone(Outcome.SUCCESS, "CM"), 1000 + index) for index in range(3)]
    created = await upload(client, people.maker, standard_file(lines))
    await act(client, people.maker, created["id"], "submit")
    assert (await wait_state(client, people.maker, created["id"]))["state"] == "COMPLETED"

    # Written in the transaction that ended the batch: there as soon as the state is.
    notices = await end_notices(sessionmaker, people.organization_id)
    operators = {people.owner.email, people.maker.email, people.checker.email}
    assert {notice.recipient for notice in notices} == operators  # the supervisor only reads: not told
    assert {notice.channel for notice in notices} == {"email"}  # these accounts have no phone
    notice = next(notice for notice in notices if notice.recipient == people.maker.email)
    assert notice.subject == f"Cauri – Lot « {created['file_name']} » terminé"
    assert "Payés : 3 ligne(s), 3\u202f003\xa0F\u202fCFA." in notice.body

    async with unit_of_work(sessionmaker) as session:
        batch = await session.get(BulkBatch, uuid.UUID(created["id"]))
        assert batch is not None
        await notify_operators_of_end(session, batch)  # a replayed end of the same run
    assert len(await end_notices(sessionmaker, people.organization_id)) == len(notices)
