"""Routes of cumulative (ASCA/VSLA) money: shares, the loan book, the funds and the share-out (docs/tontines.md),
under ``/api/v1/tontines/{id}…``; included in ``router.router``."""

from __future__ import annotations

import uuid

from fastapi import status
from sqlalchemy import func, select

from cauri.core.deps import SettingsDep
from cauri.core.routing import SessionDep, api_router
from cauri.tontines import grants, savings
from cauri.tontines.deps import User, access_of
from cauri.tontines.errors import LoanNotFound
from cauri.tontines.models import LoanStatus, TontineGrant, TontineLoan, TontineLoanInstallment, TontineSharePurchase
from cauri.tontines.schemas import (
    GrantCreate,
    GrantDecision,
    GrantRead,
    InstallmentRead,
    LoanCreate,
    LoanDecision,
    LoanMobileRepayment,
    LoanRead,
    MemberShares,
    SavingsRead,
    ShareOutRead,
    SharePurchaseCreate,
    SharePurchaseRead,
)
from cauri.tontines.service import Access

router = api_router(tags=["tontines"])


def purchase_read(row: TontineSharePurchase) -> SharePurchaseRead:
    return SharePurchaseRead(
        id=row.id,
        session_id=row.session_id,
        member_id=row.member_id,
        cycle=row.cycle,
        shares=row.shares,
        amount=row.amount,
        social_amount=row.social_amount,
        created_at=row.created_at,
    )


async def loan_read(session: SessionDep, row: TontineLoan) -> LoanRead:
    rows = await savings.installments_of(session, row.id)
    return LoanRead(
        id=row.id,
        member_id=row.member_id,
        cycle=row.cycle,
        principal=row.principal,
        installments=row.installments,
        interest_kind=row.interest_kind,
        interest_bp=row.interest_bp,
        status=row.status,
        requested_by=row.requested_by,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        rejection_reason=row.rejection_reason,
        created_at=row.created_at,
        total_interest=sum(i.interest for i in rows),
        schedule=[
            InstallmentRead(
                number=i.number,
                due_date=i.due_date,
                principal=i.principal,
                interest=i.interest,
                penalty=i.penalty,
                method=i.method,
                payment_id=i.payment_id,
                paid_at=i.paid_at,
            )
            for i in rows
        ],
    )


def share_out_read(plan: savings.ShareOut) -> ShareOutRead:
    return ShareOutRead(
        fund=plan.fund,
        total_shares=plan.total_shares,
        formula=plan.formula,
        lines=[
            MemberShares(member_id=member, shares=shares, amount=amount)
            for member, (shares, amount) in sorted(plan.lines.items(), key=lambda item: str(item[0]))
        ],
        remainder=plan.remainder,
    )


async def _loan(session: SessionDep, seen: Access, loan_id: uuid.UUID) -> TontineLoan:
    found = await session.scalar(
        select(TontineLoan).where(TontineLoan.id == loan_id, TontineLoan.tontine_id == seen.tontine.id)
    )
    if found is None:
        raise LoanNotFound(field="loan_id")
    return found


@router.post(
    "/{tontine_id}/shares",
    status_code=status.HTTP_201_CREATED,
    summary="Record the shares (1 to 5) a member buys at an open meeting, with the social fund's part (managers)",
)
async def buy_shares(
    tontine_id: uuid.UUID, body: SharePurchaseCreate, session: SessionDep, principal: User
) -> SharePurchaseRead:
    seen = await access_of(session, principal, tontine_id)
    row = await savings.buy_shares(
        session, seen, session_id=body.session_id, member_id=body.member_id, shares=body.shares
    )
    return purchase_read(row)


@router.get("/{tontine_id}/savings", summary="The loan fund, the social fund, shares and the share-out's formula")
async def savings_of(tontine_id: uuid.UUID, session: SessionDep, principal: User) -> SavingsRead:
    seen = await access_of(session, principal, tontine_id)
    tontine = seen.tontine
    plan = await savings.preview_share_out(session, seen)
    outstanding = await session.scalar(
        select(func.coalesce(func.sum(TontineLoanInstallment.principal), 0))
        .join(TontineLoan, TontineLoan.id == TontineLoanInstallment.loan_id)
        .where(
            TontineLoan.tontine_id == tontine.id,
            TontineLoan.status == LoanStatus.ACTIVE,
            TontineLoanInstallment.paid_at.is_(None),
        )
    )
    return SavingsRead(
        currency=tontine.currency,
        share_price=tontine.share_price,
        loan_fund=await savings.available_in(session, tontine, savings.LOAN_FUND_CODE),
        loans_out=int(outstanding or 0),
        social_fund=await savings.available_in(session, tontine, savings.SOCIAL_FUND_CODE),
        share_out=share_out_read(plan),
    )


@router.post("/{tontine_id}/loans", status_code=status.HTTP_201_CREATED, summary="Ask for a loan from the fund")
async def request_loan(tontine_id: uuid.UUID, body: LoanCreate, session: SessionDep, principal: User) -> LoanRead:
    seen = await access_of(session, principal, tontine_id)
    row = await savings.request_loan(
        session, seen, amount=body.amount, installments=body.installments, member_id=body.member_id
    )
    return await loan_read(session, row)


@router.get("/{tontine_id}/loans", summary="The loan book (every member sees it)")
async def list_loans(tontine_id: uuid.UUID, session: SessionDep, principal: User) -> list[LoanRead]:
    seen = await access_of(session, principal, tontine_id)
    rows = await session.scalars(
        select(TontineLoan).where(TontineLoan.tontine_id == seen.tontine.id).order_by(TontineLoan.created_at)
    )
    return [await loan_read(session, row) for row in rows]


@router.get("/{tontine_id}/loans/{loan_id}", summary="A loan and its repayment schedule")
async def get_loan(tontine_id: uuid.UUID, loan_id: uuid.UUID, session: SessionDep, principal: User) -> LoanRead:
    seen = await access_of(session, principal, tontine_id)
    return await loan_read(session, await _loan(session, seen, loan_id))


@router.post(
    "/{tontine_id}/loans/{loan_id}/decision",
    summary="Approve (the principal is handed over) or reject a loan: a manager neither borrower nor asker",
)
async def decide_loan(
    tontine_id: uuid.UUID, loan_id: uuid.UUID, body: LoanDecision, session: SessionDep, principal: User
) -> LoanRead:
    seen = await access_of(session, principal, tontine_id)
    row = await savings.decide_loan(session, seen, loan_id, approve=body.approve, reason=body.reason)
    return await loan_read(session, row)


@router.post(
    "/{tontine_id}/loans/{loan_id}/repayments",
    status_code=status.HTTP_201_CREATED,
    summary="Record the next installment repaid in cash, with its late penalty (managers)",
)
async def repay_loan(tontine_id: uuid.UUID, loan_id: uuid.UUID, session: SessionDep, principal: User) -> LoanRead:
    seen = await access_of(session, principal, tontine_id)
    await savings.repay(session, seen, loan_id)
    return await loan_read(session, await _loan(session, seen, loan_id))


@router.post(
    "/{tontine_id}/loans/{loan_id}/repayments/mobile-money",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Repay the next installment by mobile money (the borrower, or a manager for them); paid on settlement",
)
async def repay_loan_by_mobile_money(  # noqa: PLR0917 - FastAPI parameters
    tontine_id: uuid.UUID,
    loan_id: uuid.UUID,
    body: LoanMobileRepayment,
    session: SessionDep,
    principal: User,
    settings: SettingsDep,
) -> LoanRead:
    seen = await access_of(session, principal, tontine_id)
    await savings.initiate_repayment(
        session, seen, loan_id, phone=body.phone, provider=body.provider, settings=settings
    )
    return await loan_read(session, await _loan(session, seen, loan_id))


@router.post("/{tontine_id}/share-out", summary="End-of-cycle share-out in proportion to shares (président)")
async def share_out(tontine_id: uuid.UUID, session: SessionDep, principal: User) -> ShareOutRead:
    seen = await access_of(session, principal, tontine_id)
    return share_out_read(await savings.share_out(session, seen))


# --- social-fund grants -------------------------------------------------------------------------------------------


def grant_read(row: TontineGrant, currency: str) -> GrantRead:
    return GrantRead(
        id=row.id,
        member_id=row.member_id,
        amount=row.amount,
        currency=currency,
        reason=row.reason,
        method=row.method,
        status=row.status,
        proposed_by=row.proposed_by,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        rejection_reason=row.rejection_reason,
        payment_id=row.payment_id,
        paid_at=row.paid_at,
        created_at=row.created_at,
    )


@router.post(
    "/{tontine_id}/grants",
    status_code=status.HTTP_201_CREATED,
    summary="Propose a grant from the social fund to a member (managers); another manager decides",
)
async def propose_grant(tontine_id: uuid.UUID, body: GrantCreate, session: SessionDep, principal: User) -> GrantRead:
    seen = await access_of(session, principal, tontine_id)
    row = await grants.propose(
        session, seen, member_id=body.member_id, amount=body.amount, reason=body.reason, method=body.method
    )
    return grant_read(row, seen.tontine.currency)


@router.get("/{tontine_id}/grants", summary="The social fund's grants, newest first (every member sees them)")
async def list_grants(tontine_id: uuid.UUID, session: SessionDep, principal: User) -> list[GrantRead]:
    seen = await access_of(session, principal, tontine_id)
    return [grant_read(row, seen.tontine.currency) for row in await grants.list_grants(session, seen)]


@router.post(
    "/{tontine_id}/grants/{grant_id}/decision",
    summary="Approve (paid in cash or sent by mobile money) or reject a grant: a manager, not maker nor beneficiary",
)
async def decide_grant(  # noqa: PLR0917 - FastAPI parameters
    tontine_id: uuid.UUID,
    grant_id: uuid.UUID,
    body: GrantDecision,
    session: SessionDep,
    principal: User,
    settings: SettingsDep,
) -> GrantRead:
    seen = await access_of(session, principal, tontine_id)
    row = await grants.decide(
        session,
        seen,
        grant_id,
        approve=body.approve,
        reason=body.reason,
        provider=body.provider,
        settings=settings,
    )
    return grant_read(row, seen.tontine.currency)
