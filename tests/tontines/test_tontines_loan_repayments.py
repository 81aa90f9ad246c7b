"""Loan installments repaid by mobile money over HTTP, on SQLite and PostgreSQL: the borrower asks their phone to pay
the next installment through ``payments.collect``; only the settlement event posts it, exactly as a cash repayment
(principal back to the loan fund, interest into it); a late installment carries the tontine's penalty rule,
computed at repayment time; one repayment in flight at a time, a cash record refused meanwhile."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import utcnow
from cauri.tontines.models import TontineLoanInstallment
from tests.payments.support import eventually
from tests.tontines.support import ok, problem
from tests.tontines.test_tontines_money import group, open_first_session
from tests.tontines.test_tontines_statement_pdf import read_pdf

RULES = {
    "max_members": 5,
    "share_price": 1_000,
    "loan_interest_kind": "flat",
    "loan_interest_bp": 500,
    "penalty_kind": "per_day",
    "penalty_amount": 50,
    "penalty_cap": 300,
    "grace_days": 2,
}


async def test_an_installment_repaid_by_mobile_money_with_its_late_penalty(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tontine, (president, treasurer, borrower), ids = await group(
        client, 3, sessionmaker, type="cumulative", rules=RULES
    )
    tid = tontine["id"]
    row = await open_first_session(client, treasurer, tid)
    body = {"session_id": row["id"], "member_id": ids[president.user_id], "shares": 5}
    ok(await client.post(f"/api/v1/tontines/{tid}/shares", json=body, headers=treasurer.headers), 201)
    loans = f"/api/v1/tontines/{tid}/loans"
    asked = ok(await client.post(loans, json={"amount": 4_000, "installments": 2}, headers=borrower.headers), 201)
    loan = f"{loans}/{asked['id']}"
    ok(await client.post(f"{loan}/decision", json={"approve": True}, headers=treasurer.headers))
    mobile = f"{loan}/repayments/mobile-money"

    # The first installment is ten days past due: 8 days past the 2 of grace × 50, capped at 300.
    async with sessionmaker() as session:
        await session.execute(
            update(TontineLoanInstallment)
            .where(TontineLoanInstallment.loan_id == uuid.UUID(asked["id"]), TontineLoanInstallment.number == 1)
            .values(due_date=utcnow().date() - timedelta(days=10))
        )
        await session.commit()

    on_behalf = await client.post(mobile, json={"provider": "sandbox"}, headers=president.headers)
    assert on_behalf.status_code == 202, on_behalf.text  # a manager may ask on the borrower's behalf…
    in_flight = await client.post(mobile, json={"provider": "sandbox"}, headers=borrower.headers)
    assert problem(in_flight) == (422, "loan_id", "repayment_in_flight")  # …but one repayment at a time
    english = await client.post(f"{loan}/repayments", headers={**treasurer.headers, "Accept-Language": "en"})
    assert problem(english) == (422, "loan_id", "repayment_in_flight")
    assert "in progress" in english.text
    first = ok(await client.get(loan, headers=borrower.headers))["schedule"][0]
    assert (first["penalty"], first["method"], first["paid_at"]) == (300, "mobile_money", None)

    async def paid() -> bool:
        return bool(ok(await client.get(loan, headers=borrower.headers))["schedule"][0]["paid_at"])

    await eventually(paid, what="the repayment's settlement")
    moves = ok(await client.get(f"/api/v1/tontines/{tid}/movements?fund=loan_fund", headers=borrower.headers))
    newest = {(m["kind"], m["amount"]) for m in moves["items"][:3]}
    assert newest == {("tontine.loan_repayment", 2_000), ("tontine.loan_interest", 200), ("tontine.loan_penalty", 300)}
    assert ok(await client.get(f"/api/v1/tontines/{tid}/savings", headers=borrower.headers))["loan_fund"] == 3_500

    statement = await client.get(
        f"/api/v1/tontines/{tid}/members/{ids[borrower.user_id]}/statement.pdf", headers=borrower.headers
    )
    assert "Prêt en cours, reste à rembourser : 2 200 XAF" in read_pdf(statement.content)[0]

    # The second, on time, in cash: no penalty; the loan is repaid. Nothing is left to repay.
    ok(await client.post(f"{loan}/repayments", headers=treasurer.headers), 201)
    done = ok(await client.get(loan, headers=borrower.headers))
    assert done["status"] == "repaid" and [(i["penalty"], i["method"]) for i in done["schedule"]] == [
        (300, "mobile_money"),
        (0, "cash"),
    ]
    assert ok(await client.get(f"/api/v1/tontines/{tid}/savings", headers=borrower.headers))["loan_fund"] == 5_700
    after = await client.post(mobile, json={"provider": "sandbox"}, headers=borrower.headers)
    assert problem(after) == (409, "loan_id", "tontine_wrong_state")
