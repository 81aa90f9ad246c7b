"""A leaver's settlement paid from the pot through payments (rule ``leaver_refund: payout``), on SQLite and
PostgreSQL against the sandbox provider: only by the président, once, settled by the payment's event."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.payments.support import eventually
from tests.tontines.support import ok, pot, problem, record_cash
from tests.tontines.test_tontines_money import group, open_first_session


async def test_a_leaver_s_settlement_is_paid_out_by_rule(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tontine, (president, treasurer, member), ids = await group(
        client, 3, sessionmaker, rules={"max_members": 5, "leaver_refund": "payout"}
    )
    tid, mid = tontine["id"], ids[member.user_id]
    row = await open_first_session(client, treasurer, tid)
    ok(await record_cash(client, treasurer, tid, session_id=row["id"], member_id=mid), 201)
    ok(await client.post(f"/api/v1/tontines/{tid}/sessions/{row['id']}/cash/validate", headers=president.headers))
    settled = ok(await client.post(f"/api/v1/tontines/{tid}/leave", headers=member.headers))
    assert (settled["paid"], settled["received"], settled["balance"]) == (10_000, 0, 10_000)

    pay = f"/api/v1/tontines/{tid}/members/{mid}/settlement/payout"
    refused = await client.post(pay, params={"provider": "sandbox"}, headers=treasurer.headers)
    assert problem(refused) == (403, None, "tontine_president_required")
    nobody = await client.post(
        f"/api/v1/tontines/{tid}/members/{ids[treasurer.user_id]}/settlement/payout", headers=president.headers
    )
    assert problem(nobody) == (422, "member_id", "nothing_to_settle")
    paying = ok(await client.post(pay, params={"provider": "sandbox"}, headers=president.headers), 202)
    assert (paying["settlement_amount"], paying["settlement_status"]) == (10_000, "paying")
    twice = await client.post(pay, params={"provider": "sandbox"}, headers=president.headers)
    assert problem(twice) == (409, "member_id", "tontine_wrong_state")

    async def paid() -> bool:
        listed = ok(await client.get(f"/api/v1/tontines/{tid}/members", headers=president.headers))
        return any(m["id"] == mid and m["settlement_status"] == "paid" for m in listed)

    await eventually(paid, what="the settlement's payout")
    assert await pot(sessionmaker, tontine["pot_account_id"]) <= 0  # the pot paid the 10 000 (and the fee, if any)


async def test_without_the_rule_a_leaver_is_settled_by_hand(client: httpx.AsyncClient) -> None:
    tontine, (president, _treasurer, member), ids = await group(client, 3)
    ok(await client.post(f"/api/v1/tontines/{tontine['id']}/leave", headers=member.headers))
    refused = await client.post(
        f"/api/v1/tontines/{tontine['id']}/members/{ids[member.user_id]}/settlement/payout", headers=president.headers
    )
    assert problem(refused) == (409, "leaver_refund", "tontine_wrong_state")
