"""Auctions (enchères), swaps of turns and protection against default, over HTTP on SQLite and PostgreSQL: the
discount shared or kept by rule through ledger transfers, a bid above the pot or from a late member refused, a
swap done only when the other member accepts it, a withheld deposit and a guarantor before the pot is paid."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.support.identity import Actor
from tests.tontines.support import ok, pot, problem, record_cash
from tests.tontines.test_tontines_money import group, open_first_session


async def manual_order(client: httpx.AsyncClient, president: Actor, tid: str, order: list[str]) -> list[Any]:
    passages: list[Any] = ok(
        await client.post(
            f"/api/v1/tontines/{tid}/passages/generate",
            json={"method": "manual", "order": order},
            headers=president.headers,
        )
    )
    return passages


async def turns(client: httpx.AsyncClient, actor: Actor, tid: str) -> list[str]:
    return [p["member_id"] for p in ok(await client.get(f"/api/v1/tontines/{tid}/passages", headers=actor.headers))]


async def test_an_auction_gives_the_pot_minus_the_discount_shared_among_the_others(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tontine, people, ids = await group(
        client,
        4,
        sessionmaker,
        start_date=(date.today() - timedelta(days=3)).isoformat(),
        rules={
            "max_members": 5,
            "auction": True,
            "auction_discount": "share",
            "protection": "deposit",
            "deposit_percent": 10,
        },
    )
    president, treasurer, second, late = people
    tid = tontine["id"]
    order = [ids[a.user_id] for a in (president, treasurer, late, second)]
    await manual_order(client, president, tid, order)
    row = await open_first_session(client, treasurer, tid)
    for actor in (president, second):
        ok(await record_cash(client, treasurer, tid, session_id=row["id"], member_id=ids[actor.user_id]), 201)
    ok(await record_cash(client, president, tid, session_id=row["id"], member_id=ids[treasurer.user_id]), 201)
    board = f"/api/v1/tontines/{tid}/sessions/{row['id']}/cash/validate"
    ok(await client.post(board, headers=president.headers))
    ok(await client.post(board, headers=treasurer.headers))
    ok(await client.post(f"/api/v1/tontines/{tid}/sessions/{row['id']}/close", headers=treasurer.headers))
    assert await pot(sessionmaker, tontine["pot_account_id"]) == 30_000

    bids = f"/api/v1/tontines/{tid}/auctions/bids"
    refusals = [
        (await client.post(bids, json={"discount": 1_000}, headers=late.headers), (422, "member_id", "member_late")),
        (
            await client.post(bids, json={"discount": 30_001}, headers=second.headers),
            (422, "discount", "bid_above_pot"),
        ),
    ]
    for response, expected in refusals:
        assert problem(response) == expected, response.text
    french = await client.post(bids, json={"discount": 30_001}, headers=second.headers)
    english = await client.post(bids, json={"discount": 30_001}, headers={**second.headers, "Accept-Language": "en"})
    assert "dépasse le pot" in french.text and "more than the pot" in english.text
    assert ok(await client.get(bids, headers=late.headers)) == []  # nothing written

    ok(await client.post(bids, json={"discount": 3_000}, headers=second.headers), 201)
    ok(await client.post(bids, json={"discount": 2_000}, headers=treasurer.headers), 201)
    lower = await client.post(bids, json={"discount": 2_500}, headers=second.headers)
    assert problem(lower) == (422, "discount", "bid_not_higher")
    refused = await client.post(f"/api/v1/tontines/{tid}/auctions/close", headers=second.headers)
    assert problem(refused) == (403, None, "tontine_manager_required")

    awarded = ok(await client.post(f"/api/v1/tontines/{tid}/auctions/close", headers=treasurer.headers))
    assert (awarded["member_id"], awarded["discount"], awarded["position"]) == (ids[second.user_id], 3_000, 1)
    # The winner took the first turn; the président, who held it, takes the winner's (the last).
    assert await turns(client, late, tid) == [ids[a.user_id] for a in (second, treasurer, late, president)]
    # The discount left the pot, shared 1 000 each among the three others: every member sees it.
    assert await pot(sessionmaker, tontine["pot_account_id"]) == 27_000
    moves = ok(await client.get(f"/api/v1/tontines/{tid}/movements", headers=late.headers))["items"]
    shares = sorted((m["member_id"], m["amount"]) for m in moves if m["kind"] == "tontine.auction_share")
    assert shares == sorted((ids[a.user_id], -1_000) for a in (president, treasurer, late))
    again = await client.post(f"/api/v1/tontines/{tid}/auctions/close", headers=treasurer.headers)
    assert problem(again) == (409, "passage_id", "tontine_wrong_state")

    # The payout withholds the deposit (10 %) and pays the winner the pot minus the discount minus the deposit.
    paying = ok(
        await client.post(
            f"/api/v1/tontines/{tid}/passages/{awarded['id']}/payout",
            params={"provider": "sandbox"},
            headers=president.headers,
        ),
        202,
    )
    assert (paying["amount"], paying["deposit_withheld"]) == (24_300, 2_700)
    # Having taken the pot, the winner cannot bid for the next turn.
    taken = await client.post(bids, json={"discount": 100}, headers=second.headers)
    assert problem(taken) == (422, "member_id", "already_received")


async def test_interest_rule_keeps_the_discount_in_the_tontine_s_interest_account(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tontine, people, ids = await group(
        client, 3, rules={"max_members": 5, "auction": True, "auction_discount": "interest"}
    )
    president, treasurer, member = people
    tid = tontine["id"]
    await manual_order(client, president, tid, [ids[a.user_id] for a in people])
    row = await open_first_session(client, treasurer, tid)
    for actor in (president, member):
        ok(await record_cash(client, treasurer, tid, session_id=row["id"], member_id=ids[actor.user_id]), 201)
    ok(await client.post(f"/api/v1/tontines/{tid}/sessions/{row['id']}/cash/validate", headers=president.headers))
    bid = await client.post(f"/api/v1/tontines/{tid}/auctions/bids", json={"discount": 1_500}, headers=member.headers)
    ok(bid, 201)
    ok(await client.post(f"/api/v1/tontines/{tid}/auctions/close", headers=president.headers))
    assert await pot(sessionmaker, tontine["pot_account_id"]) == 18_500
    moves = ok(await client.get(f"/api/v1/tontines/{tid}/movements", headers=member.headers))["items"]
    assert (moves[0]["kind"], moves[0]["amount"]) == ("tontine.auction_interest", -1_500)


async def test_a_swap_is_made_only_when_the_other_member_accepts_and_a_guarantor_before_the_pot(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tontine, people, ids = await group(client, 3, sessionmaker, rules={"max_members": 5, "protection": "guarantor"})
    president, treasurer, member = people
    tid = tontine["id"]
    passages = await manual_order(client, president, tid, [ids[a.user_id] for a in people])

    swaps = f"/api/v1/tontines/{tid}/swaps"
    proposed = ok(await client.post(swaps, json={"member_id": ids[treasurer.user_id]}, headers=member.headers), 201)
    accept = f"{swaps}/{proposed['id']}/accept"
    for outsider in (president, member):  # not the other member: neither a manager nor the proposer accepts for them
        assert problem(await client.post(accept, headers=outsider.headers)) == (
            403,
            "swap_id",
            "swap_not_accepted_by_other_member",
        )
    assert await turns(client, member, tid) == [ids[a.user_id] for a in people]  # nothing changed
    done = ok(await client.post(accept, headers=treasurer.headers))
    assert done["status"] == "accepted"
    assert await turns(client, member, tid) == [ids[a.user_id] for a in (president, member, treasurer)]
    twice = await client.post(accept, headers=treasurer.headers)
    assert problem(twice) == (409, "swap_id", "tontine_wrong_state")
    other = ok(await client.post(swaps, json={"member_id": ids[president.user_id]}, headers=member.headers), 201)
    refused = ok(await client.post(f"{swaps}/{other['id']}/refuse", headers=president.headers))
    assert refused["status"] == "refused"
    assert problem(await client.post(f"{swaps}/{other['id']}/accept", headers=president.headers))[0] == 409

    first = passages[0]
    payout = f"/api/v1/tontines/{tid}/passages/{first['id']}/payout"
    assert problem(await client.post(payout, headers=president.headers)) == (422, "passage_id", "guarantor_required")
    ask = f"/api/v1/tontines/{tid}/passages/{first['id']}/guarantor"
    ok(await client.post(ask, json={"member_id": ids[treasurer.user_id]}, headers=president.headers))
    assert problem(await client.post(f"{ask}/accept", headers=member.headers))[0] == 403
    given = ok(await client.post(f"{ask}/accept", headers=treasurer.headers))
    assert given["guarantor_member_id"] == ids[treasurer.user_id] and given["guarantor_accepted_at"]
    # Past the guarantee, the payout's own checks: the pot is empty here.
    assert problem(await client.post(payout, headers=president.headers)) == (422, "passage_id", "pot_empty")
    assert uuid.UUID(given["id"]) == uuid.UUID(first["id"])
