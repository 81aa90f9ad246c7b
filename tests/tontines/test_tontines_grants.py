"""Grants from the social fund over HTTP, on SQLite and PostgreSQL: proposed by one manager and decided by another
(never the maker, never the beneficiary), paid in cash (a ledger transfer) or by mobile money (``payments.payout``
from the fund, settled by the payment's settlement event), refused with a field-named problem for bad input with
nothing written, every member seeing the fund's movements; two approvals racing for the same money: one wins, the
fund never goes below zero."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.payments.support import eventually
from tests.support.identity import Actor
from tests.tontines.support import ok, problem
from tests.tontines.test_tontines_money import group, open_first_session
from tests.tontines.test_tontines_statement_pdf import read_pdf

RULES = {"max_members": 6, "share_price": 1_000, "social_fund_amount": 2_000}


async def funded_group(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession] | None = None
) -> tuple[str, list[Actor], dict[Any, str]]:
    """A cumulative tontine of four whose social fund holds 8 000 (each member bought a share at the first meeting)."""
    tontine, people, ids = await group(client, 4, sessionmaker, type="cumulative", rules=RULES)
    tid = tontine["id"]
    row = await open_first_session(client, people[1], tid)
    for actor in people:
        body = {"session_id": row["id"], "member_id": ids[actor.user_id], "shares": 1}
        ok(await client.post(f"/api/v1/tontines/{tid}/shares", json=body, headers=people[1].headers), 201)
    return tid, people, ids


async def social_fund(client: httpx.AsyncClient, actor: Actor, tid: str) -> int:
    fund: int = ok(await client.get(f"/api/v1/tontines/{tid}/savings", headers=actor.headers))["social_fund"]
    return fund


async def test_grants_are_proposed_decided_by_another_manager_and_paid(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tid, (president, treasurer, member, other), ids = await funded_group(client, sessionmaker)
    grants = f"/api/v1/tontines/{tid}/grants"
    assert await social_fund(client, member, tid) == 8_000

    def asking(amount: int, reason: str = "Décès dans la famille", **more: Any) -> dict[str, Any]:
        return {"member_id": ids[member.user_id], "amount": amount, "reason": reason, **more}

    english = {**treasurer.headers, "Accept-Language": "en"}
    refusals = [
        (
            await client.post(grants, json=asking(1_000), headers=member.headers),
            (403, None, "tontine_manager_required"),
        ),
        (await client.post(grants, json=asking(9_000), headers=english), (422, "amount", "grant_above_fund")),
        (await client.post(grants, json=asking(0), headers=treasurer.headers), (422, "amount", "amount_not_positive")),
        (
            await client.post(grants, json=asking(1_000, " "), headers=treasurer.headers),
            (422, "reason", "reason_required"),
        ),
        (
            await client.post(grants, json=asking(1_000, method="cheque"), headers=treasurer.headers),
            (422, "method", "literal_error"),
        ),
    ]
    for response, expected in refusals:
        status, field, rule = problem(response)
        assert (status, (field or "").split(".")[-1] or None, rule) == expected, response.text
        assert response.headers["content-type"] == "application/problem+json"
    above = (await client.post(grants, json=asking(9_000), headers=english)).json()
    assert "The social fund holds only 8000" in str(above)
    french = (await client.post(grants, json=asking(9_000), headers=treasurer.headers)).json()
    assert "La caisse sociale ne contient que 8000" in str(french)
    assert ok(await client.get(grants, headers=member.headers)) == []  # nothing written

    # Cash: the treasurer proposes, cannot approve their own, the président approves: paid from the fund at once.
    keyed = {**treasurer.headers, "Idempotency-Key": "grant-funeral-1"}
    cash = ok(await client.post(grants, json=asking(3_000, method="cash"), headers=keyed), 201)
    replayed = ok(await client.post(grants, json=asking(3_000, method="cash"), headers=keyed), 201)
    assert replayed["id"] == cash["id"] and len(ok(await client.get(grants, headers=member.headers))) == 1
    assert (cash["status"], cash["method"]) == ("proposed", "cash")
    decide = f"{grants}/{cash['id']}/decision"
    own = await client.post(decide, json={"approve": True}, headers=treasurer.headers)
    assert problem(own) == (403, "grant_id", "maker_checker_violation")
    paid = ok(await client.post(decide, json={"approve": True}, headers=president.headers))
    assert (paid["status"], paid["decided_by"]) == ("paid", str(president.user_id))
    again = await client.post(decide, json={"approve": True}, headers=president.headers)
    assert problem(again)[0] == 409
    assert await social_fund(client, member, tid) == 5_000
    moves = ok(await client.get(f"/api/v1/tontines/{tid}/movements?fund=social_fund", headers=other.headers))["items"]
    assert [(m["kind"], m["amount"], m["balance_after"], m["reference"]) for m in moves[:1]] == [
        ("tontine.grant", -3_000, 5_000, cash["id"])
    ]

    # Two approvals racing for the same money (3 000 each, 5 000 left): one wins, the other is refused, never below 0.
    racing = [
        ok(
            await client.post(
                grants,
                json={"member_id": ids[who.user_id], "amount": 3_000, "reason": "Maladie", "method": "cash"},
                headers=treasurer.headers,
            ),
            201,
        )
        for who in (member, other)
    ]
    answers = await asyncio.gather(
        *(
            client.post(f"{grants}/{g['id']}/decision", json={"approve": True}, headers=president.headers)
            for g in racing
        )
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses[0] == 200 and statuses.count(200) == 1, [a.text for a in answers]
    loser = next(a for a in answers if a.status_code != 200)
    assert loser.status_code == 503 or problem(loser) == (422, "amount", "grant_above_fund"), loser.text
    assert await social_fund(client, member, tid) == 2_000
    listed = ok(await client.get(grants, headers=other.headers))
    assert sorted(g["status"] for g in listed if g["id"] in {r["id"] for r in racing}) == ["paid", "proposed"]

    # A grant to a manager: the other manager decides, never the beneficiary. Refusing needs a reason.
    to_treasurer = {"member_id": ids[treasurer.user_id], "amount": 500, "reason": "Naissance", "method": "cash"}
    proposed = ok(await client.post(grants, json=to_treasurer, headers=president.headers), 201)
    decide = f"{grants}/{proposed['id']}/decision"
    assert problem(await client.post(decide, json={"approve": True}, headers=treasurer.headers))[2] == (
        "maker_checker_violation"
    )
    assert problem(await client.post(decide, json={"approve": False}, headers=president.headers)) == (
        403,
        "grant_id",
        "maker_checker_violation",
    )

    # Mobile money: paid from the fund through payments, known paid only by the settlement event.
    mobile = ok(await client.post(grants, json=asking(1_500), headers=president.headers), 201)
    sent = ok(
        await client.post(
            f"{grants}/{mobile['id']}/decision",
            json={"approve": True, "provider": "sandbox"},
            headers=treasurer.headers,
        )
    )
    assert sent["status"] == "paying" and sent["payment_id"]
    assert await social_fund(client, member, tid) == 500  # reserved at once: no other grant can spend it

    async def settled() -> bool:
        listed = ok(await client.get(grants, headers=member.headers))
        return bool(next(g for g in listed if g["id"] == mobile["id"])["status"] == "paid")

    await eventually(settled, what="the grant's payout settled")
    moves = ok(await client.get(f"/api/v1/tontines/{tid}/movements?fund=social_fund", headers=member.headers))["items"]
    # The payout's line, then the provider's fee on it (taken from the fund, never below zero: docs/payments.md).
    paid_out = next(i for i, m in enumerate(moves) if m["amount"] == -1_500)
    assert moves[paid_out]["balance_after"] == 500
    fee = -sum(m["amount"] for m in moves[:paid_out])
    assert 0 <= fee <= 500 and moves[0]["balance_after"] == 500 - fee == await social_fund(client, member, tid)
    statement = await client.get(
        f"/api/v1/tontines/{tid}/members/{ids[member.user_id]}/statement.pdf", headers=member.headers
    )
    listed = ok(await client.get(grants, headers=member.headers))
    received = sum(g["amount"] for g in listed if g["member_id"] == ids[member.user_id] and g["status"] == "paid")
    assert received in (4_500, 7_500)  # 3 000 in cash, 1 500 by mobile money, and 3 000 if theirs won the race
    expected = f"Aides reçues de la caisse sociale : {received:,} XAF".replace(",", " ")
    assert expected in read_pdf(statement.content)[0]
