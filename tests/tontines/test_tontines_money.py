"""Money of a tontine over HTTP, on SQLite and PostgreSQL, against the sandbox provider over loopback: cash recorded
with its proof and validated by another manager (the ledger's member cash → pot), mobile money credited to the pot
only by the payment's settlement, penalties at close and their waiver, corrections as reversing entries, the
payout order and the pot paid to the beneficiary whose turn it is."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.ledger.models import LedgerTransfer
from cauri.tontines.models import TontineContribution
from cauri.tontines.passages import draw
from tests.payments.support import eventually, phone
from tests.support.identity import Actor
from tests.tontines.support import (
    create,
    join,
    members_by_user,
    ok,
    operator,
    pot,
    problem,
    record_cash,
    set_phone,
    unique_phone,
)


async def contribution_rows(sessionmaker: async_sessionmaker[AsyncSession], tontine_id: str) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(TontineContribution)
            .where(TontineContribution.tontine_id == uuid.UUID(tontine_id))
        )
        return int(count or 0)


async def transfers_into(sessionmaker: async_sessionmaker[AsyncSession], account_id: str) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(LedgerTransfer)
            .where(LedgerTransfer.credit_account_id == uuid.UUID(account_id))
        )
        return int(count or 0)


async def group(
    client: httpx.AsyncClient,
    count: int,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    **changes: Any,
) -> tuple[dict[str, Any], list[Actor], dict[uuid.UUID, str]]:
    """A tontine whose first member is président and second trésorier, every other one a member (each with a
    mobile-money number of their own when ``sessionmaker`` is given)."""
    org = await operator(client, count)
    if sessionmaker is not None:
        for actor in org.members:
            await set_phone(sessionmaker, actor, unique_phone())
    president, treasurer, *_ = org.members
    tontine = await create(client, president, **changes)
    for actor in org.members[1:]:
        await join(client, actor, tontine["join_code"])
    ids = await members_by_user(client, president, tontine["id"])
    ok(
        await client.post(
            f"/api/v1/tontines/{tontine['id']}/handover",
            json={"role": "tresorier", "member_id": ids[treasurer.user_id]},
            headers=president.headers,
        )
    )
    return tontine, org.members, ids


async def open_first_session(client: httpx.AsyncClient, manager: Actor, tontine_id: str) -> dict[str, Any]:
    planned = ok(
        await client.post(f"/api/v1/tontines/{tontine_id}/sessions", json={"count": 3}, headers=manager.headers), 201
    )
    assert [s["number"] for s in planned] == [1, 2, 3]
    opened: dict[str, Any] = ok(
        await client.post(f"/api/v1/tontines/{tontine_id}/sessions/{planned[0]['id']}/open", headers=manager.headers)
    )
    return opened


async def test_cash_is_recorded_with_its_proof_and_validated_by_another_manager(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tontine, (president, treasurer, member), ids = await group(client, 3)
    tid = tontine["id"]
    row = await open_first_session(client, treasurer, tid)
    who = {"session_id": row["id"], "member_id": ids[member.user_id]}

    refusals = [
        (await record_cash(client, treasurer, tid, **who, proof=None), (422, "proof", "proof_required")),
        (await record_cash(client, treasurer, tid, **who, amount=5_000), (422, "amount", "partial_not_allowed")),
        (await record_cash(client, treasurer, tid, **who, amount=20_000), (422, "amount", "amount_above_due")),
        (await record_cash(client, treasurer, tid, **who, currency="XOF"), (422, "currency", "currency_mismatch")),
        (await record_cash(client, treasurer, tid, **who, proof=b"not a photo"), (415, "proof", "unsupported_file")),
        (await record_cash(client, member, tid, **who), (403, None, "tontine_manager_required")),
    ]
    for response, expected in refusals:
        assert problem(response) == expected, response.text
    assert await contribution_rows(sessionmaker, tid) == 0  # nothing written by any refusal

    recorded = ok(await record_cash(client, treasurer, tid, **who), 201)
    assert (recorded["status"], recorded["has_proof"]) == ("pending_validation", True)
    proof = await client.get(f"/api/v1/tontines/{tid}/contributions/{recorded['id']}/proof", headers=member.headers)
    assert proof.content.startswith(b"\x89PNG")
    second = await record_cash(client, treasurer, tid, **who)
    assert problem(second) == (422, "member_id", "contribution_in_flight")

    path = f"/api/v1/tontines/{tid}/contributions/{recorded['id']}/validate"
    own = await client.post(path, json={"approve": True}, headers=treasurer.headers)
    assert problem(own) == (403, "contribution_id", "maker_checker_violation")
    assert await pot(sessionmaker, tontine["pot_account_id"]) == 0
    validated = ok(await client.post(path, json={"approve": True}, headers=president.headers))
    assert (validated["status"], validated["checked_by"]) == ("validated", str(president.user_id))
    assert await pot(sessionmaker, tontine["pot_account_id"]) == 10_000
    twice = await client.post(path, json={"approve": True}, headers=president.headers)
    assert problem(twice)[0] == 409
    assert await transfers_into(sessionmaker, tontine["pot_account_id"]) == 1

    # Every member sees the movement; the session shows expected versus received.
    moves = ok(await client.get(f"/api/v1/tontines/{tid}/movements", headers=member.headers))["items"]
    assert [(m["kind"], m["amount"], m["balance_after"]) for m in moves] == [("tontine.contribution", 10_000, 10_000)]
    stats = ok(await client.get(f"/api/v1/tontines/{tid}/sessions/{row['id']}/stats", headers=member.headers))
    assert (stats["expected"], stats["collected"], stats["missing"], stats["paid_members"]) == (
        30_000,
        10_000,
        20_000,
        1,
    )

    # A correction is a reversing entry: the pot goes back, both lines stay visible.
    corrected = ok(
        await client.post(
            f"/api/v1/tontines/{tid}/contributions/{recorded['id']}/corrections",
            json={"reason": "Billet de 10 000 faux"},
            headers=president.headers,
        ),
        201,
    )
    assert corrected["status"] == "reversed"
    assert await pot(sessionmaker, tontine["pot_account_id"]) == 0
    moves = ok(await client.get(f"/api/v1/tontines/{tid}/movements", headers=member.headers))["items"]
    assert [(m["kind"], m["amount"]) for m in moves] == [
        ("tontine.correction", -10_000),
        ("tontine.contribution", 10_000),
    ]
    statement = await client.get(
        f"/api/v1/tontines/{tid}/members/{ids[member.user_id]}/statement.csv", headers=member.headers
    )
    assert statement.status_code == 200 and "1;" in statement.text
    other = await client.get(
        f"/api/v1/tontines/{tid}/members/{ids[president.user_id]}/statement.csv", headers=member.headers
    )
    assert other.status_code == 403


async def test_mobile_money_credits_the_pot_only_when_the_payment_settles(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tontine, (_president, treasurer, member), ids = await group(client, 3)
    tid = tontine["id"]
    row = await open_first_session(client, treasurer, tid)
    pay = {"session_id": row["id"], "amount": 10_000, "currency": "XAF", "phone": phone(), "provider": "sandbox"}
    started = ok(
        await client.post(f"/api/v1/tontines/{tid}/contributions/mobile-money", json=pay, headers=member.headers), 202
    )
    assert (started["status"], started["member_id"]) == ("initiated", ids[member.user_id])
    # The same member from a second phone, while the first request is in flight: refused, nothing written.
    again = await client.post(
        f"/api/v1/tontines/{tid}/contributions/mobile-money", json={**pay, "phone": phone()}, headers=member.headers
    )
    # (in flight, or already settled by the sandbox's quick callback: either way nothing is owed any more)
    assert problem(again)[0] == 422 and problem(again)[2] in {"contribution_in_flight", "nothing_due"}
    # And a treasurer's cash record for the same due is refused while the mobile money is in flight.
    cash = await record_cash(client, treasurer, tid, session_id=row["id"], member_id=ids[member.user_id])
    assert problem(cash)[0] == 422 and problem(cash)[2] in {"contribution_in_flight", "nothing_due"}
    assert await contribution_rows(sessionmaker, tid) == 1

    async def settled() -> bool:
        found = ok(await client.get(f"/api/v1/tontines/{tid}/contributions/{started['id']}", headers=member.headers))
        return bool(found["status"] == "validated")

    await eventually(settled, what="the contribution's settlement")
    detail = ok(await client.get(f"/api/v1/tontines/{tid}/sessions/{row['id']}", headers=member.headers))
    mine = next(d for d in detail["dues"] if d["member_id"] == ids[member.user_id])
    assert (mine["received"], mine["in_flight"]) == (10_000, 0)
    moves = ok(await client.get(f"/api/v1/tontines/{tid}/movements", headers=member.headers))["items"]
    credited = sum(m["amount"] for m in moves)
    assert credited == await pot(sessionmaker, tontine["pot_account_id"])
    assert 10_000 in [m["amount"] for m in moves]  # the collection itself; the provider's fee is its own line
    wrong = await client.post(
        f"/api/v1/tontines/{tid}/contributions/mobile-money", json={**pay, "currency": "XOF"}, headers=member.headers
    )
    assert problem(wrong) == (422, "currency", "currency_mismatch")


async def test_penalties_at_close_are_waived_only_by_the_president_with_a_visible_reason(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    start = date.today() - timedelta(days=10)
    tontine, (president, treasurer, member), ids = await group(
        client,
        3,
        start_date=start.isoformat(),
        rules={
            "max_members": 5,
            "penalty_kind": "per_day",
            "penalty_amount": 500,
            "penalty_cap": 3_000,
            "grace_days": 2,
        },
    )
    tid = tontine["id"]
    row = await open_first_session(client, treasurer, tid)
    paid = ok(await record_cash(client, treasurer, tid, session_id=row["id"], member_id=ids[president.user_id]), 201)
    ok(
        await client.post(
            f"/api/v1/tontines/{tid}/contributions/{paid['id']}/validate",
            json={"approve": True},
            headers=president.headers,
        )
    )
    ok(await client.post(f"/api/v1/tontines/{tid}/sessions/{row['id']}/close", headers=treasurer.headers))
    twice = await client.post(f"/api/v1/tontines/{tid}/sessions/{row['id']}/close", headers=treasurer.headers)
    assert problem(twice) == (409, "session_id", "tontine_wrong_state")
    stats = ok(await client.get(f"/api/v1/tontines/{tid}/sessions/{row['id']}/stats", headers=member.headers))
    # 10 days late, 2 of grace: 8 × 500 = 4 000, capped at 3 000, for the two who did not pay and for the président,
    # who paid today: late too.
    assert (stats["late_members"], stats["penalties"], stats["rate"]) == (3, 9_000, round(1 / 3, 4))
    waiver = {"member_id": ids[member.user_id], "reason": "Hospitalisée cette semaine"}
    refused = await client.post(
        f"/api/v1/tontines/{tid}/sessions/{row['id']}/waivers", json=waiver, headers=treasurer.headers
    )
    assert problem(refused) == (403, None, "tontine_president_required")
    ok(
        await client.post(
            f"/api/v1/tontines/{tid}/sessions/{row['id']}/waivers", json=waiver, headers=president.headers
        )
    )
    detail = ok(await client.get(f"/api/v1/tontines/{tid}/sessions/{row['id']}", headers=member.headers))
    mine = next(d for d in detail["dues"] if d["member_id"] == ids[member.user_id])
    assert (mine["penalty"], mine["penalty_waived"], mine["penalty_waiver_reason"]) == (3_000, True, waiver["reason"])
    # The treasurer's own penalty is paid like a contribution, in cash, checked by the président.
    fine = ok(
        await record_cash(
            client,
            president,
            tid,
            session_id=row["id"],
            member_id=ids[treasurer.user_id],
            amount=3_000,
            purpose="penalty",
        ),
        201,
    )
    ok(
        await client.post(
            f"/api/v1/tontines/{tid}/contributions/{fine['id']}/validate",
            json={"approve": True},
            headers=treasurer.headers,
        )
    )
    moves = ok(await client.get(f"/api/v1/tontines/{tid}/movements", headers=member.headers))["items"]
    assert sorted((m["kind"], m["amount"]) for m in moves) == [
        ("tontine.contribution", 10_000),
        ("tontine.penalty", 3_000),
    ]


async def test_the_pot_goes_to_the_member_whose_turn_it_is(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    org = await operator(client, 3, names=["Coumba", "Aminata", "Binta"])
    for actor in org.members:
        await set_phone(sessionmaker, actor, unique_phone())
    president, *others = org.members
    tontine = await create(client, president)
    tid = tontine["id"]
    for actor in others:
        await join(client, actor, tontine["join_code"])
    ids = await members_by_user(client, president, tid)
    names = {ids[a.user_id]: n for a, n in zip(org.members, ["Coumba", "Aminata", "Binta"], strict=True)}

    alphabetical = ok(
        await client.post(
            f"/api/v1/tontines/{tid}/passages/generate", json={"method": "alphabetical"}, headers=president.headers
        )
    )
    assert [p["display_name"] for p in alphabetical] == ["Aminata", "Binta", "Coumba"]
    drawn = ok(
        await client.post(
            f"/api/v1/tontines/{tid}/passages/generate",
            json={"method": "random", "seed": "dakar-2026"},
            headers=president.headers,
        )
    )
    check = ok(await client.get(f"/api/v1/tontines/{tid}/passages/draw", headers=others[0].headers))
    # Any member re-checks the draw from the seed and the sorted members.
    assert check["seed"] == "dakar-2026"
    assert [str(i) for i in draw([uuid.UUID(i) for i in check["members_sorted_by_id"]], check["seed"])] == [
        p["member_id"] for p in drawn
    ]
    assert {p["member_id"] for p in drawn} == set(names)

    row = await open_first_session(client, president, tid)
    for mid in names:
        started = ok(
            await client.post(
                f"/api/v1/tontines/{tid}/contributions/mobile-money",
                json={
                    "session_id": row["id"],
                    "member_id": mid,
                    "amount": 10_000,
                    "currency": "XAF",
                    "provider": "sandbox",
                },
                headers=president.headers,
            ),
            202,
        )
        assert started["status"] == "initiated"

    async def all_paid() -> bool:
        stats = ok(await client.get(f"/api/v1/tontines/{tid}/sessions/{row['id']}/stats", headers=president.headers))
        return bool(stats["collected"] == 30_000)

    await eventually(all_paid, what="three settled contributions")
    second = drawn[1]
    early = await client.post(f"/api/v1/tontines/{tid}/passages/{second['id']}/payout", headers=president.headers)
    assert problem(early) == (422, "passage_id", "not_their_turn")
    first = drawn[0]
    wrong = await client.post(
        f"/api/v1/tontines/{tid}/passages/{first['id']}/payout",
        params={"member_id": second["member_id"], "provider": "sandbox"},
        headers=president.headers,
    )
    assert problem(wrong) == (422, "member_id", "not_their_turn")
    before = await pot(sessionmaker, tontine["pot_account_id"])
    paying = ok(
        await client.post(
            f"/api/v1/tontines/{tid}/passages/{first['id']}/payout",
            params={"provider": "sandbox"},
            headers=president.headers,
        ),
        202,
    )
    assert (paying["status"], paying["amount"]) == ("paying", before)

    async def paid() -> bool:
        listed = ok(await client.get(f"/api/v1/tontines/{tid}/passages", headers=president.headers))
        return bool(listed[0]["status"] == "paid")

    await eventually(paid, what="the payout's settlement")
    beneficiary = next(a for a in org.members if ids[a.user_id] == first["member_id"])
    not_mine = next(a for a in org.members if ids[a.user_id] != first["member_id"])
    refused = await client.post(f"/api/v1/tontines/{tid}/passages/{first['id']}/confirm", headers=not_mine.headers)
    assert refused.status_code == 403
    confirmed = ok(
        await client.post(f"/api/v1/tontines/{tid}/passages/{first['id']}/confirm", headers=beneficiary.headers)
    )
    assert confirmed["status"] == "confirmed"
    settlement = ok(
        await client.get(f"/api/v1/tontines/{tid}/members/{first['member_id']}/settlement", headers=beneficiary.headers)
    )
    assert (settlement["paid"], settlement["received"]) == (10_000, before)


async def test_a_cycle_ends_when_every_turn_is_paid_and_the_next_starts(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tontine, (president, treasurer), ids = await group(client, 2, sessionmaker)
    tid = tontine["id"]
    order = ok(await client.post(f"/api/v1/tontines/{tid}/passages/generate", json={"method": "join_date"},
                                 headers=president.headers))  # fmt: skip
    planned = ok(
        await client.post(f"/api/v1/tontines/{tid}/sessions", json={"count": 2}, headers=treasurer.headers), 201
    )
    for number, row in enumerate(planned):
        ok(await client.post(f"/api/v1/tontines/{tid}/sessions/{row['id']}/open", headers=treasurer.headers))
        for actor in (president, treasurer):
            cash = ok(
                await record_cash(client, treasurer, tid, session_id=row["id"], member_id=ids[actor.user_id]), 201
            )
            ok(await client.post(f"/api/v1/tontines/{tid}/contributions/{cash['id']}/validate", json={"approve": True},
                                 headers=president.headers))  # fmt: skip
        early = await client.post(f"/api/v1/tontines/{tid}/cycles", headers=president.headers)
        assert problem(early) == (409, "cycle", "tontine_wrong_state")
        ok(await client.post(f"/api/v1/tontines/{tid}/sessions/{row['id']}/close", headers=treasurer.headers))
        turn = order[number]
        ok(await client.post(f"/api/v1/tontines/{tid}/passages/{turn['id']}/payout", params={"provider": "sandbox"},
                             headers=president.headers), 202)  # fmt: skip

        async def paid(turn_id: str = turn["id"]) -> bool:
            listed = ok(await client.get(f"/api/v1/tontines/{tid}/passages", headers=president.headers))
            return any(p["id"] == turn_id and p["status"] == "paid" for p in listed)

        await eventually(paid, what="the turn's payout")
    started = ok(await client.post(f"/api/v1/tontines/{tid}/cycles", headers=president.headers))
    assert started["cycle"] == 2
    again = ok(await client.post(f"/api/v1/tontines/{tid}/sessions", json={"count": 1}, headers=treasurer.headers), 201)
    assert (again[0]["number"], again[0]["cycle"]) == (3, 2)
