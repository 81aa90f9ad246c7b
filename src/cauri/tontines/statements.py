"""What every member sees of the money: the pot's movements (straight from the ledger: contributions, penalties,
corrections, payouts, providers' fees), a member's statement (what they paid, received and owe; CSV and PDF), and
the settlement of a member who leaves mid-cycle."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core import pdf
from cauri.core.db import utcnow
from cauri.core.i18n import pick
from cauri.ledger import service as ledger
from cauri.tontines import savings
from cauri.tontines.errors import invalid
from cauri.tontines.models import (
    ContributionStatus,
    GrantStatus,
    LoanStatus,
    MemberStatus,
    PassageStatus,
    SessionStatus,
    TontineContribution,
    TontineDue,
    TontineGrant,
    TontineLoan,
    TontineLoanInstallment,
    TontineMember,
    TontinePassage,
    TontineRole,
    TontineSession,
)
from cauri.tontines.schemas import MovementRead, Settlement
from cauri.tontines.service import Access

_RECEIVED = (PassageStatus.PAID, PassageStatus.CONFIRMED)


async def movements(
    session: AsyncSession, seen: Access, *, limit: int, cursor: str | None, fund: str = "pot"
) -> tuple[list[MovementRead], str | None]:
    """The pot's ledger lines (or the social fund's, or the loan fund's), newest first, each signed (+ into it) with
    the balance after it."""
    if fund == "pot":
        account_id = seen.tontine.pot_account_id
    else:
        code = savings.SOCIAL_FUND_CODE if fund == "social_fund" else savings.LOAN_FUND_CODE
        account = await savings.existing_fund(session, seen.tontine, code)
        if account is None:  # never used: nothing moved
            return [], None
        account_id = account.id
    page = await ledger.statement(
        session, account_id, organization_id=seen.tontine.organization_id, limit=limit, cursor=cursor
    )
    items = []
    for line in page.lines:
        member = line.metadata.get("member_id")
        items.append(
            MovementRead(
                transfer_id=line.transfer_id,
                kind=line.code,
                amount=line.credit - line.debit,
                balance_after=line.balance,
                member_id=uuid.UUID(member) if isinstance(member, str) else None,
                reference=str(
                    line.metadata.get("contribution_id")
                    or line.metadata.get("grant_id")
                    or line.metadata.get("loan_id")
                    or line.metadata.get("payment_id")
                    or ""
                )
                or None,
                created_at=line.created_at,
            )
        )
    return items, page.next_cursor


@dataclass(frozen=True)
class StatementRow:
    session_number: int
    due_date: str
    expected: int
    paid: int
    penalty: int
    penalty_paid: int
    penalty_waived: bool
    owed: int


async def member_rows(session: AsyncSession, member: TontineMember) -> list[StatementRow]:
    found = await session.execute(
        select(TontineDue, TontineSession)
        .join(TontineSession, TontineSession.id == TontineDue.session_id)
        .where(TontineDue.member_id == member.id)
        .order_by(TontineSession.number)
    )
    rows = []
    for due, row in found.all():
        waived = due.penalty_waived_by is not None
        penalty_owed = 0 if waived else due.penalty - due.penalty_paid
        rows.append(
            StatementRow(
                session_number=row.number,
                due_date=row.due_date.isoformat(),
                expected=due.expected,
                paid=due.received,
                penalty=due.penalty,
                penalty_paid=due.penalty_paid,
                penalty_waived=waived,
                owed=max(0, due.expected - due.received) + max(0, penalty_owed),
            )
        )
    return rows


async def received_by(session: AsyncSession, member: TontineMember, cycle: int | None = None) -> int:
    query = select(func.coalesce(func.sum(TontinePassage.amount), 0)).where(
        TontinePassage.member_id == member.id, TontinePassage.status.in_(list(_RECEIVED))
    )
    if cycle is not None:
        query = query.where(TontinePassage.cycle == cycle)
    return int(await session.scalar(query) or 0)


async def passages_of(session: AsyncSession, member: TontineMember) -> list[TontinePassage]:
    found = await session.scalars(
        select(TontinePassage)
        .where(TontinePassage.member_id == member.id)
        .order_by(TontinePassage.cycle, TontinePassage.position)
    )
    return list(found)


async def statement_csv(session: AsyncSession, seen: Access, member: TontineMember) -> str:
    """One line per session (expected, paid, penalties, owed), then the payouts received; in the tontine's money."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["session", "due_date", "expected", "paid", "penalty", "penalty_paid", "penalty_waived", "owed"])
    for row in await member_rows(session, member):
        writer.writerow(
            [
                row.session_number,
                row.due_date,
                row.expected,
                row.paid,
                row.penalty,
                row.penalty_paid,
                "yes" if row.penalty_waived else "no",
                row.owed,
            ]
        )
    writer.writerow([])
    writer.writerow(["payout_cycle", "position", "status", "amount", "paid_at"])
    for passage in await passages_of(session, member):
        writer.writerow(
            [
                passage.cycle,
                passage.position,
                passage.status,
                passage.amount or 0,
                passage.paid_at.isoformat() if passage.paid_at else "",
            ]
        )
    del seen
    return out.getvalue()


async def loan_owed(session: AsyncSession, member: TontineMember) -> int:
    """What the member still owes on their running loan: principal and interest of the installments not repaid."""
    owed = await session.scalar(
        select(func.coalesce(func.sum(TontineLoanInstallment.principal + TontineLoanInstallment.interest), 0))
        .join(TontineLoan, TontineLoan.id == TontineLoanInstallment.loan_id)
        .where(
            TontineLoan.member_id == member.id,
            TontineLoan.status == LoanStatus.ACTIVE,
            TontineLoanInstallment.paid_at.is_(None),
        )
    )
    return int(owed or 0)


async def grants_received(session: AsyncSession, member: TontineMember) -> int:
    paid = await session.scalar(
        select(func.coalesce(func.sum(TontineGrant.amount), 0)).where(
            TontineGrant.member_id == member.id, TontineGrant.status == GrantStatus.PAID
        )
    )
    return int(paid or 0)


async def statement_pdf(session: AsyncSession, seen: Access, member: TontineMember) -> bytes:
    """The same statement as the CSV, as a PDF in the caller's language, with the member's totals: paid, penalties
    paid, received, still owed, and (cumulative tontines) what their running loan still owes and the grants they
    received from the social fund."""
    tontine = seen.tontine
    rows = await member_rows(session, member)
    passages = await passages_of(session, member)

    def amount(value: int) -> str:
        return pdf.money(value, tontine.currency)

    yes, no = pick("oui", "yes"), pick("non", "no")
    received = sum(p.amount or 0 for p in passages if p.status in _RECEIVED)
    blocks: list[pdf.Block] = [
        pdf.Text(pick("RELEVÉ DE COMPTE", "ACCOUNT STATEMENT") + f" - {tontine.name}", 16),
        pdf.Text(pick("Membre", "Member") + f" : {member.display_name}"),
        pdf.Text(pick("Édité le", "Issued on") + f" : {utcnow().date().isoformat()}", 9),
        pdf.Gap(),
        pdf.Text(pick("Total cotisé", "Total paid") + f" : {amount(sum(r.paid for r in rows))}"),
        pdf.Text(pick("Pénalités réglées", "Penalties paid") + f" : {amount(sum(r.penalty_paid for r in rows))}"),
        pdf.Text(pick("Total reçu (tours)", "Total received (turns)") + f" : {amount(received)}"),
        pdf.Text(pick("Reste dû", "Still owed") + f" : {amount(sum(r.owed for r in rows))}"),
    ]
    loan, grants = await loan_owed(session, member), await grants_received(session, member)
    if loan:
        blocks.append(
            pdf.Text(pick("Prêt en cours, reste à rembourser", "Running loan, still to repay") + f" : {amount(loan)}")
        )
    if grants:
        blocks.append(
            pdf.Text(pick("Aides reçues de la caisse sociale", "Grants from the social fund") + f" : {amount(grants)}")
        )
    blocks += [
        pdf.Gap(),
        pdf.Table(
            header=[
                pick("Séance", "Session"),
                pick("Échéance", "Due date"),
                pick("Attendu", "Expected"),
                pick("Payé", "Paid"),
                pick("Pénalité", "Penalty"),
                pick("Pén. payée", "Pen. paid"),
                pick("Dispensée", "Waived"),
                pick("Dû", "Owed"),
            ],
            rows=[
                [
                    str(r.session_number),
                    r.due_date,
                    amount(r.expected),
                    amount(r.paid),
                    amount(r.penalty),
                    amount(r.penalty_paid),
                    yes if r.penalty_waived else no,
                    amount(r.owed),
                ]
                for r in rows
            ],
            widths=[45, 65, 65, 65, 60, 60, 55, 65],
        ),
        pdf.Gap(),
        pdf.Table(
            header=[pick("Cycle", "Cycle"), pick("Tour", "Turn"), pick("État", "Status"), pick("Montant", "Amount")],
            rows=[[str(p.cycle), str(p.position), p.status, amount(p.amount or 0)] for p in passages],
            widths=[60, 60, 90, 100],
        ),
    ]
    return pdf.render(pick("Relevé", "Statement") + f" {tontine.name} - {member.display_name}", blocks)


async def settlement_of(session: AsyncSession, seen: Access, member: TontineMember) -> Settlement:
    paid = await session.scalar(
        select(func.coalesce(func.sum(TontineContribution.amount), 0))
        .join(TontineSession, TontineSession.id == TontineContribution.session_id)
        .where(
            TontineContribution.member_id == member.id,
            TontineContribution.purpose == "contribution",
            TontineContribution.status == ContributionStatus.VALIDATED,
            TontineSession.cycle == seen.tontine.cycle,
        )
    )
    received = await received_by(session, member, seen.tontine.cycle)
    return Settlement(member_id=member.id, paid=int(paid or 0), received=received, balance=int(paid or 0) - received)


async def leave(session: AsyncSession, seen: Access) -> Settlement:
    """The caller leaves: settled by what they paid this cycle against what they received; what they still owed at
    sessions not yet closed is cancelled. The président hands the role over first."""
    member = seen.require_active_member()
    if member.role == TontineRole.PRESIDENT:
        raise invalid(
            "member_id",
            "president_must_hand_over",
            "Le président transmet d'abord la présidence à un autre membre.",
            "The president first hands the presidency over to another member.",
        )
    in_flight = await session.scalar(
        select(TontineContribution.id).where(
            TontineContribution.member_id == member.id,
            TontineContribution.status.in_([ContributionStatus.INITIATED, ContributionStatus.PENDING_VALIDATION]),
        )
    )
    if in_flight is not None:
        raise invalid(
            "member_id",
            "contribution_in_flight",
            "Un de vos paiements est en cours : attendez son issue avant de quitter.",
            "One of your payments is in progress: wait for its outcome before leaving.",
        )
    settlement = await settlement_of(session, seen, member)
    open_dues = await session.scalars(
        select(TontineDue)
        .join(TontineSession, TontineSession.id == TontineDue.session_id)
        .where(TontineDue.member_id == member.id, TontineSession.status != SessionStatus.CLOSED)
    )
    for due in open_dues:
        due.expected = due.received
    member.status, member.left_at, member.settlement_amount = MemberStatus.LEFT, utcnow(), settlement.balance
    if member.role == TontineRole.TRESORIER:
        member.role = TontineRole.MEMBRE
    await session.flush()
    return settlement
