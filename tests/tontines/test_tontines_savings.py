"""Cumulative (ASCA/VSLA) money over HTTP, on SQLite and PostgreSQL: shares (1 to 5 a meeting) into the loan fund
and the social fund, a loan within the fund approved by another committee member with its declining-interest
schedule, repaid into the fund, a late member refused a loan, and the share-out in proportion to shares (the
social fund untouched)."""

from __future__ import annotations

import uuid
from datetime import date

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.tontines.auctions import split
from cauri.tontines.savings import schedule, share_out_amounts
from tests.support.identity import Actor
from tests.tontines.support import ok, problem
from tests.tontines.test_tontines_money import group, open_first_session


def test_schedules_and_share_out_are_integer_and_exact() -> None:
    days = [date(2026, 1, d) for d in (1, 2, 3)]
    flat = schedule(10_000, 3, 500, "flat", days)
    assert [(r.principal, r.interest) for r in flat] == [(3_333, 500), (3_333, 500), (3_334, 500)]
    declining = schedule(10_000, 3, 500, "declining", days)
    assert [(r.principal, r.interest) for r in declining] == [(3_333, 500), (3_333, 333), (3_334, 166)]
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    amounts = share_out_amounts(8_300, {first: 2, second: 5, third: 1})
    assert list(amounts.values()) == [2_075, 5_187, 1_037] and 8_300 - sum(amounts.values()) == 1


@settings(max_examples=60, deadline=None)
@given(
    principal=st.integers(1, 10**9),
    count=st.integers(1, 24),
    rate=st.integers(0, 10_000),
    fund=st.integers(0, 10**9),
    shares=st.lists(st.integers(1, 5 * 52), min_size=1, max_size=40),
)
def test_money_is_never_made_nor_lost_by_rounding(
    principal: int, count: int, rate: int, fund: int, shares: list[int]
) -> None:
    days = [date(2026, 1, 1)] * count
    flat, declining = (
        schedule(principal, count, rate, "flat", days),
        schedule(principal, count, rate, "declining", days),
    )
    assert sum(r.principal for r in flat) == sum(r.principal for r in declining) == principal
    assert sum(r.interest for r in declining) <= sum(r.interest for r in flat)
    members = [uuid.uuid4() for _ in shares]
    amounts = share_out_amounts(fund, dict(zip(members, shares, strict=True)))
    assert 0 <= fund - sum(amounts.values()) < len(members)  # the rounding leaves less than one unit a member
    parts = split(fund, members)
    assert sum(parts.values()) == fund and max(parts.values()) - min(parts.values()) <= 1


async def test_shares_loans_and_the_share_out(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tontine, people, ids = await group(
        client,
        4,
        type="cumulative",
        rules={
            "max_members": 5,
            "share_price": 1_000,
            "social_fund_amount": 200,
            "loan_interest_kind": "declining",
            "loan_interest_bp": 500,
        },
    )
    president, treasurer, borrower, late = people
    tid = tontine["id"]
    row = await open_first_session(client, treasurer, tid)
    shares = f"/api/v1/tontines/{tid}/shares"

    def buying(actor: Actor, count: int) -> dict[str, object]:
        return {"session_id": row["id"], "member_id": ids[actor.user_id], "shares": count}

    for actor, count in ((president, 2), (treasurer, 5), (borrower, 1)):
        ok(await client.post(shares, json=buying(actor, count), headers=treasurer.headers), 201)
    too_many = await client.post(shares, json=buying(late, 6), headers=treasurer.headers)
    assert problem(too_many) == (422, "shares", "shares_out_of_range")
    twice = await client.post(shares, json=buying(president, 1), headers=treasurer.headers)
    assert problem(twice) == (422, "member_id", "shares_already_bought")
    savings = ok(await client.get(f"/api/v1/tontines/{tid}/savings", headers=late.headers))
    assert (savings["loan_fund"], savings["social_fund"]) == (8_000, 600)

    loans = f"/api/v1/tontines/{tid}/loans"
    beyond = await client.post(loans, json={"amount": 9_000, "installments": 2}, headers=borrower.headers)
    assert problem(beyond) == (422, "amount", "loan_above_fund")
    english = await client.post(
        loans, json={"amount": 9_000, "installments": 2}, headers={**borrower.headers, "Accept-Language": "en"}
    )
    assert "The loan fund holds only 8000" in english.text
    asked = ok(await client.post(loans, json={"amount": 4_000, "installments": 2}, headers=borrower.headers), 201)
    assert [(i["principal"], i["interest"]) for i in asked["schedule"]] == [(2_000, 200), (2_000, 100)]
    decision = f"{loans}/{asked['id']}/decision"
    assert problem(await client.post(decision, json={"approve": True}, headers=borrower.headers))[0] == 403
    approved = ok(await client.post(decision, json={"approve": True}, headers=treasurer.headers))
    assert (approved["status"], approved["decided_by"]) == ("active", str(treasurer.user_id))
    assert ok(await client.get(f"/api/v1/tontines/{tid}/savings", headers=late.headers))["loan_fund"] == 4_000

    # A committee member's own loan is decided by another one; a refusal says why.
    own = ok(await client.post(loans, json={"amount": 1_000, "installments": 1}, headers=treasurer.headers), 201)
    mine = await client.post(f"{loans}/{own['id']}/decision", json={"approve": True}, headers=treasurer.headers)
    assert problem(mine) == (403, "loan_id", "maker_checker_violation")
    no_reason = await client.post(f"{loans}/{own['id']}/decision", json={"approve": False}, headers=president.headers)
    assert problem(no_reason) == (422, "reason", "reason_required")
    ok(
        await client.post(
            f"{loans}/{own['id']}/decision", json={"approve": False, "reason": "Fonds bas"}, headers=president.headers
        )
    )

    # Late members cannot borrow.
    ok(await client.post(f"/api/v1/tontines/{tid}/sessions/{row['id']}/close", headers=treasurer.headers))
    refused = await client.post(loans, json={"amount": 500, "installments": 1}, headers=late.headers)
    assert problem(refused) == (422, "member_id", "member_late")

    early = await client.post(f"/api/v1/tontines/{tid}/share-out", headers=president.headers)
    assert problem(early) == (409, "cycle", "tontine_wrong_state")
    for _ in range(2):
        ok(await client.post(f"{loans}/{asked['id']}/repayments", headers=treasurer.headers), 201)
    repaid = ok(await client.get(f"{loans}/{asked['id']}", headers=late.headers))
    assert repaid["status"] == "repaid" and all(i["paid_at"] for i in repaid["schedule"])
    savings = ok(await client.get(f"/api/v1/tontines/{tid}/savings", headers=late.headers))
    assert (savings["loan_fund"], savings["loans_out"], savings["social_fund"]) == (8_300, 0, 600)

    shared = ok(await client.post(f"/api/v1/tontines/{tid}/share-out", headers=president.headers))
    assert shared["formula"].startswith("payout(member) = floor(fund × shares(member) / total_shares)")
    by_member = {line["member_id"]: (line["shares"], line["amount"]) for line in shared["lines"]}
    assert by_member == {
        ids[president.user_id]: (2, 2_075),
        ids[treasurer.user_id]: (5, 5_187),
        ids[borrower.user_id]: (1, 1_037),
    }
    assert (shared["fund"], shared["total_shares"], shared["remainder"]) == (8_300, 8, 1)
    after = ok(await client.get(f"/api/v1/tontines/{tid}/savings", headers=late.headers))
    assert (after["loan_fund"], after["social_fund"]) == (1, 600)  # the social fund is never shared out
    again = await client.post(f"/api/v1/tontines/{tid}/share-out", headers=president.headers)
    assert problem(again) == (422, "cycle", "nothing_to_share")  # what rounding left stays for the next cycle
