"""Races on one member's money, on PostgreSQL (real row locks, concurrent connections) and SQLite (serialised
writers): two validations of the same cash record, one member paying from two phones at once, a treasurer's cash
record racing a mobile-money payment and its callback. Each ends with one contribution and one ledger transfer."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.ledger.models import LedgerTransfer
from cauri.tontines.models import TontineContribution
from tests.payments.support import eventually, phone
from tests.tontines.support import ok, pot, record_cash
from tests.tontines.test_tontines_money import group, open_first_session


async def counts(sessionmaker: async_sessionmaker[AsyncSession], tontine: dict[str, str]) -> tuple[int, int, int]:
    """(contributions, validated contributions, ledger transfers into the pot)."""
    async with sessionmaker() as session:
        rows = (
            (
                await session.execute(
                    select(TontineContribution.status).where(TontineContribution.tontine_id == uuid.UUID(tontine["id"]))
                )
            )
            .scalars()
            .all()
        )
        transfers = await session.scalar(
            select(func.count())
            .select_from(LedgerTransfer)
            .where(
                LedgerTransfer.credit_account_id == uuid.UUID(tontine["pot_account_id"]),
                LedgerTransfer.code.in_(["tontine.contribution", "collection"]),
            )
        )
        return len(rows), sum(1 for s in rows if s == "validated"), int(transfers or 0)


async def test_two_validations_of_one_cash_record_make_one_transfer(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tontine, (president, treasurer, member), ids = await group(client, 3)
    tid = tontine["id"]
    row = await open_first_session(client, treasurer, tid)
    recorded = ok(await record_cash(client, treasurer, tid, session_id=row["id"], member_id=ids[member.user_id]), 201)
    path = f"/api/v1/tontines/{tid}/contributions/{recorded['id']}/validate"
    answers = await asyncio.gather(
        *(
            client.post(path, json={"approve": True}, headers={**president.headers, "Idempotency-Key": str(i)})
            for i in range(4)
        )
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses[0] == 200 and statuses.count(200) == 1, [a.text for a in answers]
    assert set(statuses[1:]) <= {409, 503}  # already validated, or the database asked for a retry
    assert await counts(sessionmaker, tontine) == (1, 1, 1)
    assert await pot(sessionmaker, tontine["pot_account_id"]) == 10_000


async def test_a_member_paying_from_two_phones_at_once_makes_one_contribution(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tontine, (_president, treasurer, member), _ids = await group(client, 3)
    tid = tontine["id"]
    row = await open_first_session(client, treasurer, tid)
    pay = {"session_id": row["id"], "amount": 10_000, "currency": "XAF", "phone": phone(), "provider": "sandbox"}
    answers = await asyncio.gather(
        *(
            client.post(f"/api/v1/tontines/{tid}/contributions/mobile-money", json=pay, headers=member.headers)
            for _ in range(3)
        )
    )
    assert sorted(a.status_code for a in answers)[0] == 202
    assert [a.status_code for a in answers].count(202) == 1, [a.text for a in answers]

    async def settled() -> bool:
        return (await counts(sessionmaker, tontine))[1] == 1

    await eventually(settled, what="the one contribution's settlement")
    assert await counts(sessionmaker, tontine) == (1, 1, 1)


async def test_a_cash_record_racing_a_mobile_payment_and_its_callback_makes_one_contribution(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tontine, (_president, treasurer, member), ids = await group(client, 3)
    tid = tontine["id"]
    row = await open_first_session(client, treasurer, tid)
    pay = {"session_id": row["id"], "amount": 10_000, "currency": "XAF", "phone": phone(), "provider": "sandbox"}
    mobile, cash = await asyncio.gather(
        client.post(f"/api/v1/tontines/{tid}/contributions/mobile-money", json=pay, headers=member.headers),
        record_cash(client, treasurer, tid, session_id=row["id"], member_id=ids[member.user_id]),
    )
    assert sorted([mobile.status_code, cash.status_code]) in ([201, 422], [202, 422]), (mobile.text, cash.text)
    if mobile.status_code == 202:
        # The callback now races further cash records: every one is refused, the pot is credited once.
        async def settled() -> bool:
            again = await record_cash(client, treasurer, tid, session_id=row["id"], member_id=ids[member.user_id])
            assert again.status_code == 422, again.text
            return (await counts(sessionmaker, tontine))[1] == 1

        await eventually(settled, what="the mobile payment's settlement")
    assert (await counts(sessionmaker, tontine))[0] == 1
