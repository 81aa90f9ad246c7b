"""The auction's deadline, over HTTP on SQLite and PostgreSQL: a manager sets it, the job scheduler closes and
awards the auction at that time exactly as a manager's close does (``auctions.award``), and running the job again
changes nothing; a deadline in the past, without a time zone or from a plain member is refused with nothing written."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import utcnow
from cauri.ledger.models import LedgerTransfer
from cauri.tontines.auctions import close_at_deadline
from tests.support.waiting import until
from tests.tontines.support import ok, pot, problem, record_cash
from tests.tontines.test_tontines_money import group, open_first_session
from tests.tontines.test_tontines_rotation import manual_order


async def interest_transfers(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(LedgerTransfer)
                .where(LedgerTransfer.code == "tontine.auction_interest")
            )
            or 0
        )


async def test_the_job_closes_the_auction_at_its_deadline_once(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tontine, people, ids = await group(
        client, 3, rules={"max_members": 5, "auction": True, "auction_discount": "interest"}
    )
    president, treasurer, member = people
    tid = tontine["id"]
    first, *_ = await manual_order(client, president, tid, [ids[a.user_id] for a in people])
    row = await open_first_session(client, treasurer, tid)
    for actor in (president, member):
        ok(await record_cash(client, treasurer, tid, session_id=row["id"], member_id=ids[actor.user_id]), 201)
    ok(await client.post(f"/api/v1/tontines/{tid}/sessions/{row['id']}/cash/validate", headers=president.headers))
    bid = {"discount": 1_500}
    ok(await client.post(f"/api/v1/tontines/{tid}/auctions/bids", json=bid, headers=member.headers), 201)

    deadline = f"/api/v1/tontines/{tid}/auctions/deadline"
    english = {**treasurer.headers, "Accept-Language": "en"}
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    refusals = [
        (await client.put(deadline, json={"closes_at": past}, headers=english), (422, "closes_at", "deadline_in_past")),
        (
            await client.put(deadline, json={"closes_at": "2099-01-01T10:00:00"}, headers=treasurer.headers),
            (422, "closes_at", "timezone_required"),
        ),
        (
            await client.put(deadline, json={"closes_at": "demain"}, headers=treasurer.headers),
            (422, "body.closes_at", "datetime_from_date_parsing"),
        ),
        (
            await client.put(deadline, json={"closes_at": "2099-01-01T10:00:00Z"}, headers=member.headers),
            (403, None, "tontine_manager_required"),
        ),
    ]
    for response, (status, field, rule) in refusals:
        got = problem(response)
        assert (got[0], got[2]) == (status, rule), response.text
        assert (got[1] or "").split(".")[-1] == (field or "").split(".")[-1], response.text
    assert "The deadline must be in the future" in refusals[0][0].text
    turn = ok(await client.get(f"/api/v1/tontines/{tid}/passages", headers=member.headers))[0]
    assert turn["auction_closes_at"] is None  # nothing written

    closes_at = utcnow() + timedelta(seconds=1)
    set_ = ok(await client.put(deadline, json={"closes_at": closes_at.isoformat()}, headers=treasurer.headers))
    assert (set_["id"], datetime.fromisoformat(set_["auction_closes_at"])) == (first["id"], closes_at)

    async def awarded() -> bool:
        passages = ok(await client.get(f"/api/v1/tontines/{tid}/passages", headers=member.headers))
        return bool(passages[0]["discount"] == 1_500)

    await until(awarded, "the deadline job awarded the auction", within=15)
    passages = ok(await client.get(f"/api/v1/tontines/{tid}/passages", headers=member.headers))
    assert passages[0]["member_id"] == ids[member.user_id]  # the winner took the current turn
    assert await pot(sessionmaker, tontine["pot_account_id"]) == 18_500
    assert await interest_transfers(sessionmaker) == 1

    # The job again (a redelivery), or after a manager's close: nothing more.
    async with sessionmaker() as session:
        assert await close_at_deadline(session, uuid.UUID(first["id"]), closes_at) is None
        await session.commit()
    assert await interest_transfers(sessionmaker) == 1 and await pot(sessionmaker, tontine["pot_account_id"]) == 18_500
    closed = await client.post(f"/api/v1/tontines/{tid}/auctions/close", headers=president.headers)
    assert problem(closed)[0] in (409, 422)
