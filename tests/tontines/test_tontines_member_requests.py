"""Requests to join a tontine that asks for approval, over HTTP on SQLite and PostgreSQL: the président and the
trésorier are told through the notifications service, each in their own language; the applicant is told the
decision (accepted, or refused with the président's reason, who only may decide); asking again after a refusal
tells the managers again."""

from __future__ import annotations

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.identity.models import User
from tests.tontines.support import create, join, members_by_user, ok, operator, problem, set_phone, unique_phone
from tests.tontines.test_tontines_notices import messages

REQUEST, DECISION = "tontine.member_request", "tontine.member_decision"


async def test_requests_to_join_are_notified_and_so_is_the_decision(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    org = await operator(client, 4, names=["Awa Diop", "Fatou Sall", "Moussa Ba", "Ibrahima Ndiaye"])
    president, treasurer, first, second = org.members
    for actor in org.members:
        await set_phone(sessionmaker, actor, unique_phone())
    async with sessionmaker() as session:
        for actor in (treasurer, second):
            await session.execute(update(User).where(User.id == actor.user_id).values(language="en"))
        await session.commit()
    tontine = await create(client, president, name="Tontine de Pikine", rules={"max_members": 6})
    tid = tontine["id"]
    await join(client, treasurer, tontine["join_code"])
    ids = await members_by_user(client, president, tid)
    handover = {"role": "tresorier", "member_id": ids[treasurer.user_id]}
    ok(await client.post(f"/api/v1/tontines/{tid}/handover", json=handover, headers=president.headers))
    rules = {**tontine["rules"], "approval_required": True}
    ok(await client.put(f"/api/v1/tontines/{tid}", json={"rules": rules}, headers=president.headers))

    assert (await join(client, first, tontine["join_code"]))["status"] == "pending"
    titles, sms = await messages(sessionmaker, president.user_id, REQUEST)
    assert titles == ["Demande d’adhésion : Tontine de Pikine"]
    assert len(sms) == 1 and "Moussa Ba demande à rejoindre « Tontine de Pikine »" in sms[0]
    titles, sms = await messages(sessionmaker, treasurer.user_id, REQUEST)
    assert titles == ["Membership request: Tontine de Pikine"]
    assert len(sms) == 1 and 'Moussa Ba asks to join "Tontine de Pikine"' in sms[0]
    assert await messages(sessionmaker, first.user_id, REQUEST) == ([], [])  # nobody else

    ids = await members_by_user(client, president, tid)
    approve = f"/api/v1/tontines/{tid}/members/{ids[first.user_id]}/approve"
    assert problem(await client.post(approve, headers=treasurer.headers))[0] == 403
    ok(await client.post(approve, headers=president.headers))
    titles, sms = await messages(sessionmaker, first.user_id, DECISION)
    assert titles == ["Bienvenue dans Tontine de Pikine"] and "est acceptée" in sms[0]

    # A refusal: a reason is required, the applicant reads it in their language; asking again notifies again.
    await join(client, second, tontine["join_code"])
    ids = await members_by_user(client, president, tid)
    reject = f"/api/v1/tontines/{tid}/members/{ids[second.user_id]}/reject"
    blank = await client.post(reject, json={"reason": " "}, headers={**president.headers, "Accept-Language": "en"})
    assert problem(blank) == (422, "reason", "reason_required") and "Say why" in blank.text
    missing = await client.post(reject, json={}, headers=president.headers)
    assert problem(missing)[0] == 422 and "reason" in str(problem(missing)[1])
    refused = ok(await client.post(reject, json={"reason": "Groupe complet"}, headers=president.headers))
    assert refused["status"] == "left"
    titles, sms = await messages(sessionmaker, second.user_id, DECISION)
    assert titles == ["Request refused: Tontine de Pikine"] and "Reason: Groupe complet" in sms[0]
    assert problem(await client.post(reject, json={"reason": "x"}, headers=president.headers))[0] == 409
    await join(client, second, tontine["join_code"])
    _, sms = await messages(sessionmaker, president.user_id, REQUEST)
    assert sum("Ibrahima Ndiaye demande" in body for body in sms) == 2 and len(sms) == 3
