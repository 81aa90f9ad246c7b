"""A session's cash board validated at once (one ledger batch, maker ≠ checker kept per record) and a session's
close telling every late member set-wise, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.notifications.models import InAppNotification
from tests.tontines.support import ok, pot, record_cash
from tests.tontines.test_tontines_money import group, open_first_session, transfers_into


async def late_notices(sessionmaker: async_sessionmaker[AsyncSession], session_id: str) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(InAppNotification)
            .where(InAppNotification.kind == "tontine.late", InAppNotification.object_id == session_id)
        )
        return int(count or 0)


async def test_a_session_board_is_validated_in_one_batch_but_never_one_s_own_records(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tontine, people, ids = await group(
        client, 5, rules={"max_members": 5, "penalty_kind": "fixed", "penalty_amount": 500}
    )
    president, treasurer, *others = people
    tid = tontine["id"]
    row = await open_first_session(client, treasurer, tid)
    for actor in others:
        ok(await record_cash(client, treasurer, tid, session_id=row["id"], member_id=ids[actor.user_id]), 201)
    own = ok(await record_cash(client, president, tid, session_id=row["id"], member_id=ids[president.user_id]), 201)

    board = f"/api/v1/tontines/{tid}/sessions/{row['id']}/cash/validate"
    validated = ok(await client.post(board, headers=president.headers))
    assert sorted(c["member_id"] for c in validated) == sorted(ids[a.user_id] for a in others)
    assert {c["status"] for c in validated} == {"validated"}
    assert await pot(sessionmaker, tontine["pot_account_id"]) == 30_000
    assert ok(await client.post(board, headers=president.headers)) == []  # nothing left that they may check
    # The président's own record waits for the trésorier.
    [theirs] = ok(await client.post(board, headers=treasurer.headers))
    assert theirs["id"] == own["id"]
    assert await pot(sessionmaker, tontine["pot_account_id"]) == 40_000
    assert await transfers_into(sessionmaker, tontine["pot_account_id"]) == 4

    ok(await client.post(f"/api/v1/tontines/{tid}/sessions/{row['id']}/close", headers=treasurer.headers))
    stats = ok(await client.get(f"/api/v1/tontines/{tid}/sessions/{row['id']}/stats", headers=president.headers))
    assert (stats["late_members"], stats["penalties"]) == (1, 500)  # the trésorier, who never paid
    assert await late_notices(sessionmaker, row["id"]) == 1
