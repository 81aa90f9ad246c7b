"""Cumulative (ASCA/VSLA) money of a ``cumulative`` or ``mixte`` tontine.

* **Shares**: at each meeting (session) a member buys 1 to 5 shares at ``share_price`` (recorded by a manager, cash
  handed over at the meeting): ``tontine_member_cash(member) → tontine_loan_fund(tontine)``, code
  ``tontine.shares``; and the social fund's part, ``social_fund_amount``, ``→ tontine_social_fund(tontine)``, code
  ``tontine.social_fund``. The social fund is never shared out.
* **Loans** from the loan fund: a member in good standing asks (at most what the fund holds now, one loan at a
  time); the schedule is computed at once (``schedule``); a manager other than the borrower and the asker
  approves it (maker-checker) or rejects it with a reason. Approval hands the principal over:
  ``loan_fund → tontine_member_loan(member)``, code ``tontine.loan_out`` (the loan account holds what is out).
  Each installment repaid — in cash, recorded by a manager, or by mobile money, asked by the borrower through
  ``payments.collect`` into their cash account and posted by the settlement event — the principal
  ``member_loan → loan_fund`` (code ``tontine.loan_repayment``), the interest ``member_cash → loan_fund`` (code
  ``tontine.loan_interest``) and, when it is late (past its due date plus the grace period), the tontine's penalty
  rule computed at repayment time (``member_cash → loan_fund``, code ``tontine.loan_penalty``).
* **Interest** per installment, ``loan_interest_bp`` basis points: ``flat`` on the principal every time, or
  ``declining`` on what remains owed before the installment; the principal in equal parts, the remainder on the
  last one. Integer arithmetic, rounded down.
* **Share-out** at the end of the cycle (président, no loan still out): the loan fund, shares plus interest
  earned, is shared in proportion to shares: ``payout(member) = floor(fund × shares(member) / total shares)``; the
  rounding remainder stays in the fund for the next cycle. ``fund → tontine_member_cash(member)``, code
  ``tontine.share_out`` (handed out in cash at the meeting).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.ledger import service as ledger
from cauri.payments import public as payments
from cauri.payments.public import PhoneCounterparty, SettlementEvent
from cauri.tontines import calendar
from cauri.tontines.contributions import member_cash_account
from cauri.tontines.errors import LoanMakerChecker, LoanNotFound, invalid, wrong_state
from cauri.tontines.models import (
    LoanStatus,
    MemberStatus,
    Method,
    SessionStatus,
    Tontine,
    TontineLoan,
    TontineLoanInstallment,
    TontineSharePurchase,
    TontineType,
)
from cauri.tontines.service import Access, get_member
from cauri.tontines.sessions import get_session, penalty_of, today
from cauri.tontines.standing import require_good_standing

LOAN_FUND_CODE = "tontine_loan_fund"
SOCIAL_FUND_CODE = "tontine_social_fund"
MEMBER_LOAN_CODE = "tontine_member_loan"
REPAYMENT_PURPOSE = "tontine.loan_repayment"
MAX_SHARES = 5
FORMULA = "payout(member) = floor(fund × shares(member) / total_shares); the remainder stays in the fund"


@dataclass(frozen=True)
class Installment:
    number: int
    due_date: date
    principal: int
    interest: int


def schedule(principal: int, count: int, rate_bp: int, kind: str, first_due: list[date]) -> list[Installment]:
    """Equal principal parts (remainder on the last), interest per installment flat or declining, rounded down."""
    part, remainder = divmod(principal, count)
    rows, owed = [], principal
    for index in range(count):
        paid = part + (remainder if index == count - 1 else 0)
        base = principal if kind == "flat" else owed
        rows.append(Installment(index + 1, first_due[index], paid, base * rate_bp // 10_000))
        owed -= paid
    return rows


def share_out_amounts(fund: int, shares: dict[uuid.UUID, int]) -> dict[uuid.UUID, int]:
    total = sum(shares.values())
    return {member: fund * count // total for member, count in shares.items()} if total else {}


async def _account(session: AsyncSession, tontine: Tontine, code: str, owner: uuid.UUID) -> ledger.Account:
    return await ledger.get_or_create_account(
        session,
        organization_id=tontine.organization_id,
        currency=tontine.currency,
        code=code,
        owner_ref=str(owner),
        debits_must_not_exceed_credits=True,
    )


async def loan_fund(session: AsyncSession, tontine: Tontine) -> ledger.Account:
    return await _account(session, tontine, LOAN_FUND_CODE, tontine.id)


async def social_fund(session: AsyncSession, tontine: Tontine) -> ledger.Account:
    return await _account(session, tontine, SOCIAL_FUND_CODE, tontine.id)


async def existing_fund(session: AsyncSession, tontine: Tontine, code: str) -> ledger.Account | None:
    """The tontine's fund account (``LOAN_FUND_CODE`` or ``SOCIAL_FUND_CODE``) if it exists: a lookup that never
    writes, for reads (a GET's transaction is read-only; the fund is created by its first purchase)."""
    return await ledger.find_account(
        session,
        organization_id=tontine.organization_id,
        currency=tontine.currency,
        code=code,
        owner_ref=str(tontine.id),
    )


async def available_in(session: AsyncSession, tontine: Tontine, code: str) -> int:
    """What a fund holds available (posted minus what payouts in flight reserve); 0 when it was never used."""
    account = await existing_fund(session, tontine, code)
    return (await ledger.balance(session, account.id)).available if account is not None else 0


async def member_loan_account(session: AsyncSession, tontine: Tontine, member_id: uuid.UUID) -> ledger.Account:
    return await _account(session, tontine, MEMBER_LOAN_CODE, member_id)


def require_cumulative(tontine: Tontine) -> None:
    if tontine.type not in (TontineType.CUMULATIVE, TontineType.MIXTE) or tontine.share_price <= 0:
        raise wrong_state(
            "Cette tontine n'est pas cumulative (type cumulative ou mixte, avec un prix de part)",
            "This tontine is not cumulative (type cumulative or mixte, with a share price)",
            tontine.type,
            field="type",
        )


async def buy_shares(
    session: AsyncSession, seen: Access, *, session_id: uuid.UUID, member_id: uuid.UUID, shares: int
) -> TontineSharePurchase:
    recorder = seen.require_manager()
    tontine = seen.tontine
    require_cumulative(tontine)
    if not 1 <= shares <= MAX_SHARES:
        raise invalid(
            "shares",
            "shares_out_of_range",
            f"De 1 à {MAX_SHARES} parts par membre et par séance.",
            f"From 1 to {MAX_SHARES} shares per member and meeting.",
        )
    row = await get_session(session, tontine, session_id, lock=True)
    if row.status != SessionStatus.OPEN:
        raise wrong_state(
            "Les parts s'achètent pendant une séance ouverte",
            "Shares are bought at an open session",
            row.status,
            field="session_id",
        )
    member = await get_member(session, tontine, member_id)
    if member.status != MemberStatus.ACTIVE:
        raise invalid("member_id", "member_not_active", "Ce membre n'est pas actif.", "This member is not active.")
    already = await session.scalar(
        select(TontineSharePurchase.id).where(
            TontineSharePurchase.session_id == row.id, TontineSharePurchase.member_id == member.id
        )
    )
    if already is not None:
        raise invalid(
            "member_id",
            "shares_already_bought",
            "Ce membre a déjà acheté ses parts à cette séance.",
            "This member already bought their shares at this meeting.",
        )
    purchase = TontineSharePurchase(
        id=uuid.uuid4(),
        tontine_id=tontine.id,
        organization_id=tontine.organization_id,
        cycle=tontine.cycle,
        session_id=row.id,
        member_id=member.id,
        shares=shares,
        amount=shares * tontine.share_price,
        social_amount=tontine.social_fund_amount,
        recorded_by=recorder.user_id,
        created_at=utcnow(),
    )
    session.add(purchase)
    cash = await member_cash_account(session, tontine, member.id)
    meta = {"member_id": str(member.id), "purchase_id": str(purchase.id)}
    specs = [
        ledger.TransferSpec(
            id=uuid.uuid5(purchase.id, "cauri.tontines.shares"),
            debit_account_id=cash.id,
            credit_account_id=(await loan_fund(session, tontine)).id,
            amount=purchase.amount,
            code="tontine.shares",
            metadata=meta,
        )
    ]
    if purchase.social_amount > 0:
        specs.append(
            ledger.TransferSpec(
                id=uuid.uuid5(purchase.id, "cauri.tontines.social"),
                debit_account_id=cash.id,
                credit_account_id=(await social_fund(session, tontine)).id,
                amount=purchase.social_amount,
                code="tontine.social_fund",
                metadata=meta,
            )
        )
    await ledger.create_transfers(session, specs)
    await session.flush()
    return purchase


async def _fund_available(session: AsyncSession, tontine: Tontine) -> int:
    return await available_in(session, tontine, LOAN_FUND_CODE)


def _above_fund(fund: int) -> Exception:
    return invalid(
        "amount",
        "loan_above_fund",
        f"Le fonds de prêt ne contient que {fund}.",
        f"The loan fund holds only {fund}.",
    )


async def request_loan(
    session: AsyncSession, seen: Access, *, amount: int, installments: int, member_id: uuid.UUID | None
) -> TontineLoan:
    """A member asks for a loan (a manager may ask on a member's behalf); the committee approves it."""
    tontine = seen.tontine
    require_cumulative(tontine)
    asker = seen.require_active_member()
    member = asker if member_id is None else await get_member(session, tontine, member_id)
    if member.id != asker.id:
        seen.require_manager()
    if member.status != MemberStatus.ACTIVE:
        raise invalid("member_id", "member_not_active", "Ce membre n'est pas actif.", "This member is not active.")
    await require_good_standing(session, tontine.id, member.id)
    if amount <= 0:
        raise invalid("amount", "amount_not_positive", "Le montant doit être positif.", "The amount must be positive.")
    fund = await _fund_available(session, tontine)
    if amount > fund:
        raise _above_fund(fund)
    open_loan = await session.scalar(
        select(TontineLoan.id).where(
            TontineLoan.tontine_id == tontine.id,
            TontineLoan.member_id == member.id,
            TontineLoan.status.in_([LoanStatus.REQUESTED, LoanStatus.ACTIVE]),
        )
    )
    if open_loan is not None:
        raise invalid(
            "member_id",
            "loan_in_progress",
            "Ce membre a déjà un prêt en cours ou demandé.",
            "This member already has a loan asked for or running.",
        )
    loan = TontineLoan(
        id=uuid.uuid4(),
        tontine_id=tontine.id,
        organization_id=tontine.organization_id,
        cycle=tontine.cycle,
        member_id=member.id,
        principal=amount,
        installments=installments,
        interest_kind=tontine.loan_interest_kind,
        interest_bp=tontine.loan_interest_bp,
        status=LoanStatus.REQUESTED,
        requested_by=asker.user_id,
        created_at=utcnow(),
    )
    session.add(loan)
    await session.flush()
    due_dates = calendar.dates(utcnow().date(), tontine.frequency, installments + 1)[1:]
    for row in schedule(amount, installments, loan.interest_bp, loan.interest_kind, due_dates):
        session.add(
            TontineLoanInstallment(
                id=uuid.uuid4(),
                loan_id=loan.id,
                number=row.number,
                due_date=row.due_date,
                principal=row.principal,
                interest=row.interest,
            )
        )
    await session.flush()
    return loan


async def _lock_loan(session: AsyncSession, tontine: Tontine, loan_id: uuid.UUID) -> TontineLoan:
    found = await session.scalar(
        select(TontineLoan)
        .where(TontineLoan.id == loan_id, TontineLoan.tontine_id == tontine.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if found is None:
        raise LoanNotFound(field="loan_id")
    return found


async def decide_loan(
    session: AsyncSession, seen: Access, loan_id: uuid.UUID, *, approve: bool, reason: str | None
) -> TontineLoan:
    """The committee's checker: a manager who is neither the borrower nor the asker."""
    checker = seen.require_manager()
    tontine = seen.tontine
    loan = await _lock_loan(session, tontine, loan_id)
    if loan.status != LoanStatus.REQUESTED:
        raise wrong_state(
            "Ce prêt n'attend pas de décision", "This loan awaits no decision", loan.status, field="loan_id"
        )
    borrower = await get_member(session, tontine, loan.member_id)
    if checker.user_id in (loan.requested_by, borrower.user_id):
        raise LoanMakerChecker()
    loan.decided_by, loan.decided_at = checker.user_id, utcnow()
    if not approve:
        if not reason or not reason.strip():
            raise invalid("reason", "reason_required", "Dites pourquoi vous refusez.", "Say why you refuse it.")
        loan.status, loan.rejection_reason = LoanStatus.REJECTED, reason.strip()
        await session.flush()
        return loan
    fund = await loan_fund(session, tontine)
    available = (await ledger.balance(session, fund.id)).available
    if loan.principal > available:
        raise _above_fund(available)
    account = await member_loan_account(session, tontine, loan.member_id)
    await ledger.create_transfers(
        session,
        [
            ledger.TransferSpec(
                id=uuid.uuid5(loan.id, "cauri.tontines.loan-out"),
                debit_account_id=fund.id,
                credit_account_id=account.id,
                amount=loan.principal,
                code="tontine.loan_out",
                metadata={"member_id": str(loan.member_id), "loan_id": str(loan.id)},
            )
        ],
    )
    loan.status = LoanStatus.ACTIVE
    await session.flush()
    return loan


async def installments_of(session: AsyncSession, loan_id: uuid.UUID) -> list[TontineLoanInstallment]:
    found = await session.scalars(
        select(TontineLoanInstallment)
        .where(TontineLoanInstallment.loan_id == loan_id)
        .order_by(TontineLoanInstallment.number)
    )
    return list(found)


def installment_penalty(tontine: Tontine, due: TontineLoanInstallment, on: date) -> int:
    """The tontine's penalty rule applied to a loan installment repaid on ``on``: nothing until its due date plus
    the grace period, then fixed or per day past the grace, capped (``sessions.penalty_of``, as for a due)."""
    if on <= due.due_date + timedelta(days=tontine.grace_days):
        return 0
    return penalty_of(tontine, expected=1, received=0, paid_at=None, due_date=due.due_date, on=on)


def _repayment_in_flight() -> Exception:
    return invalid(
        "loan_id",
        "repayment_in_flight",
        "Un remboursement par mobile money de cette échéance est en cours : attendez son issue.",
        "A mobile-money repayment of this installment is in progress: wait for its outcome.",
    )


async def _next_installment(session: AsyncSession, loan: TontineLoan) -> TontineLoanInstallment:
    """The loan's first unpaid installment, locked (a cash repayment, a mobile one and its callback race on it)."""
    due = await session.scalar(
        select(TontineLoanInstallment)
        .where(TontineLoanInstallment.loan_id == loan.id, TontineLoanInstallment.paid_at.is_(None))
        .order_by(TontineLoanInstallment.number)
        .limit(1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert due is not None  # an active loan has an unpaid installment (the last one paid makes it repaid)
    return due


async def _post_installment(
    session: AsyncSession, tontine: Tontine, loan: TontineLoan, due: TontineLoanInstallment, *, method: str
) -> None:
    """The installment repaid, whatever brought the money: the principal back to the fund, the interest and the late
    penalty (``due.penalty``, fixed by the caller) into it from the member's cash account. Transfer ids derive from
    the installment: a cash repayment racing a mobile one's settlement cannot post twice."""
    fund = await loan_fund(session, tontine)
    cash = await member_cash_account(session, tontine, loan.member_id)
    meta = {"member_id": str(loan.member_id), "loan_id": str(loan.id), "installment": due.number}
    specs = [
        ledger.TransferSpec(
            id=uuid.uuid5(due.id, "cauri.tontines.loan-principal"),
            debit_account_id=(await member_loan_account(session, tontine, loan.member_id)).id,
            credit_account_id=fund.id,
            amount=due.principal,
            code="tontine.loan_repayment",
            metadata=meta,
        )
    ]
    for amount, code, name in (
        (due.interest, "tontine.loan_interest", "cauri.tontines.loan-interest"),
        (due.penalty, "tontine.loan_penalty", "cauri.tontines.loan-penalty"),
    ):
        if amount > 0:
            specs.append(
                ledger.TransferSpec(
                    id=uuid.uuid5(due.id, name),
                    debit_account_id=cash.id,
                    credit_account_id=fund.id,
                    amount=amount,
                    code=code,
                    metadata=meta,
                )
            )
    await ledger.create_transfers(session, specs)
    due.paid_at, due.method = utcnow(), method
    last = await session.scalar(
        select(func.max(TontineLoanInstallment.number)).where(TontineLoanInstallment.loan_id == loan.id)
    )
    if due.number == last:
        loan.status = LoanStatus.REPAID
    await session.flush()


async def repay(session: AsyncSession, seen: Access, loan_id: uuid.UUID) -> TontineLoanInstallment:
    """A manager records the next installment repaid in cash (principal back to the fund, interest and the late
    penalty, computed now, into it)."""
    seen.require_manager()
    tontine = seen.tontine
    loan = await _lock_loan(session, tontine, loan_id)
    if loan.status != LoanStatus.ACTIVE:
        raise wrong_state("Ce prêt n'est pas en cours", "This loan is not running", loan.status, field="loan_id")
    due = await _next_installment(session, loan)
    if due.payment_id is not None:
        raise _repayment_in_flight()
    due.penalty = installment_penalty(tontine, due, today())
    await _post_installment(session, tontine, loan, due, method=Method.CASH)
    return due


async def initiate_repayment(
    session: AsyncSession,
    seen: Access,
    loan_id: uuid.UUID,
    *,
    phone: str | None,
    provider: str | None,
    settings: Settings | None,
) -> TontineLoanInstallment:
    """The borrower (or a manager for them) asks their phone to pay the next installment: principal, interest and
    the late penalty, fixed now. The money lands in the member's cash account (``provider_clearing →
    tontine_member_cash``, by payments on success); the settlement event then posts the installment exactly as a
    cash repayment (:func:`repayment_settled`)."""
    caller = seen.require_active_member()
    tontine = seen.tontine
    loan = await _lock_loan(session, tontine, loan_id)
    if loan.member_id != caller.id:
        seen.require_manager()
    if loan.status != LoanStatus.ACTIVE:
        raise wrong_state("Ce prêt n'est pas en cours", "This loan is not running", loan.status, field="loan_id")
    due = await _next_installment(session, loan)
    if due.payment_id is not None:
        raise _repayment_in_flight()
    borrower = await get_member(session, tontine, loan.member_id)
    number = phone or borrower.phone
    if not number:
        raise invalid("phone", "phone_required", "Indiquez le numéro de mobile money.", "Give the mobile-money number.")
    due.penalty = installment_penalty(tontine, due, today())
    view = await payments.collect(
        session,
        organization_id=tontine.organization_id,
        amount=due.principal + due.interest + due.penalty,
        currency=tontine.currency,
        counterparty=PhoneCounterparty(number, name=borrower.display_name),
        purpose=REPAYMENT_PURPOSE,
        owner_id=str(due.id),
        # A failed attempt may be followed by another one: one key per attempt.
        idempotency_key=f"tontine-loan-repayment-{due.id}-{uuid.uuid4().hex[:8]}",
        account_id=(await member_cash_account(session, tontine, loan.member_id)).id,
        provider=provider,
        description=f"{tontine.name} pret {due.number}/{loan.installments}"[:140],
        settings=settings,
    )
    due.payment_id, due.method = view.id, Method.MOBILE_MONEY
    await session.flush()
    return due


async def repayment_settled(session: AsyncSession, event: SettlementEvent) -> None:
    """The repayment's collection settled: on success the installment is posted as a cash one would be; on failure
    it is open again (its penalty recomputed at the next attempt). A second delivery changes nothing."""
    if event.refund_id is not None or event.owner_id is None:
        return
    loan_id = await session.scalar(
        select(TontineLoanInstallment.loan_id).where(TontineLoanInstallment.id == uuid.UUID(event.owner_id))
    )
    if loan_id is None:
        return
    # The loan first, then the installment: the order a cash repayment takes its locks in (no deadlock between them).
    loan = await session.scalar(
        select(TontineLoan)
        .where(TontineLoan.id == loan_id, TontineLoan.organization_id == event.organization_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    due = await session.scalar(
        select(TontineLoanInstallment)
        .where(TontineLoanInstallment.id == uuid.UUID(event.owner_id))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if loan is None or due is None or due.payment_id != event.payment_id or due.paid_at is not None:
        return
    tontine = await session.get(Tontine, loan.tontine_id)
    if tontine is None:
        return
    if event.status == "succeeded":
        await _post_installment(session, tontine, loan, due, method=Method.MOBILE_MONEY)
    elif event.status in ("failed", "expired", "cancelled"):
        due.payment_id, due.method, due.penalty = None, None, 0
        await session.flush()


async def shares_by_member(session: AsyncSession, tontine: Tontine) -> dict[uuid.UUID, int]:
    rows = await session.execute(
        select(TontineSharePurchase.member_id, func.sum(TontineSharePurchase.shares))
        .where(TontineSharePurchase.tontine_id == tontine.id, TontineSharePurchase.cycle == tontine.cycle)
        .group_by(TontineSharePurchase.member_id)
    )
    return {member_id: int(count) for member_id, count in rows.all()}


@dataclass(frozen=True)
class ShareOut:
    fund: int
    total_shares: int
    formula: str
    lines: dict[uuid.UUID, tuple[int, int]]  # member → (shares, payout)
    remainder: int


async def preview_share_out(session: AsyncSession, seen: Access) -> ShareOut:
    tontine = seen.tontine
    require_cumulative(tontine)
    fund = await _fund_available(session, tontine)
    shares = await shares_by_member(session, tontine)
    amounts = share_out_amounts(fund, shares)
    lines = {member: (shares[member], amounts[member]) for member in shares}
    return ShareOut(fund, sum(shares.values()), FORMULA, lines, fund - sum(amounts.values()))


async def share_out(session: AsyncSession, seen: Access) -> ShareOut:
    """End of cycle (président): the loan fund shared in proportion to shares; the social fund is not touched."""
    seen.require_president()
    tontine = seen.tontine
    require_cumulative(tontine)
    locked = await session.scalar(
        select(Tontine).where(Tontine.id == tontine.id).with_for_update().execution_options(populate_existing=True)
    )
    assert locked is not None
    running = await session.scalar(
        select(func.count())
        .select_from(TontineLoan)
        .where(
            TontineLoan.tontine_id == tontine.id,
            TontineLoan.status.in_([LoanStatus.REQUESTED, LoanStatus.ACTIVE]),
        )
    )
    if running:
        raise wrong_state(
            f"{running} prêt(s) encore en cours ou demandés",
            f"{running} loan(s) still running or asked for",
            "loans_outstanding",
            field="cycle",
        )
    plan = await preview_share_out(session, seen)
    fund = await loan_fund(session, tontine)
    specs = []
    for member_id, (_shares, amount) in plan.lines.items():
        if amount <= 0:
            continue
        specs.append(
            ledger.TransferSpec(
                id=uuid.uuid5(tontine.id, f"cauri.tontines.share-out.{tontine.cycle}.{member_id}"),
                debit_account_id=fund.id,
                credit_account_id=(await member_cash_account(session, tontine, member_id)).id,
                amount=amount,
                code="tontine.share_out",
                metadata={"member_id": str(member_id), "cycle": tontine.cycle},
            )
        )
    if not specs:
        raise invalid("cycle", "nothing_to_share", "Rien à partager.", "Nothing to share out.")
    if await ledger.get_transfer(session, specs[0].id) is not None:
        raise wrong_state(
            "Le partage de ce cycle est déjà fait", "This cycle's share-out is done", "shared", field="cycle"
        )
    await ledger.create_transfers(session, specs)
    return plan
