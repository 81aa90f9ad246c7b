"""Read models of the tontines API, built from rows (shared by the native routes and the Kobiri surface)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.ledger import service as ledger
from cauri.tontines.models import (
    Tontine,
    TontineContribution,
    TontineDue,
    TontineMember,
    TontinePassage,
    TontineSession,
)
from cauri.tontines.schemas import ContributionRead, DueRead, MemberRead, PassageRead, SessionRead, TontineRead
from cauri.tontines.service import Access, member_count, rules_of
from cauri.tontines.sessions import is_late


def join_link(settings: Settings | None, tontine: Tontine) -> str:
    base = settings.public_base_url.rstrip("/") if settings is not None else ""
    return f"{base}/api/v1/tontines/join/{tontine.join_code}"


async def tontine_read(session: AsyncSession, seen: Access, settings: Settings | None) -> TontineRead:
    tontine = seen.tontine
    pot = await ledger.balance(session, tontine.pot_account_id)
    shown = seen.is_manager
    return TontineRead(
        id=tontine.id,
        name=tontine.name,
        description=tontine.description,
        type=tontine.type,
        frequency=tontine.frequency,
        start_date=tontine.start_date,
        contribution_amount=tontine.contribution_amount,
        currency=tontine.currency,
        rules=rules_of(tontine),
        join_code=tontine.join_code if shown else None,
        join_link=join_link(settings, tontine) if shown else None,
        cycle=tontine.cycle,
        active=tontine.active,
        pot_account_id=tontine.pot_account_id,
        pot_balance=pot.posted,
        my_role=seen.role,
        members=await member_count(session, tontine.id),
        created_at=tontine.created_at,
    )


def member_read(member: TontineMember) -> MemberRead:
    return MemberRead(
        id=member.id,
        user_id=member.user_id,
        display_name=member.display_name,
        role=member.role,
        status=member.status,
        joined_at=member.joined_at,
        left_at=member.left_at,
        settlement_amount=member.settlement_amount,
        settlement_status=member.settlement_status,
    )


def session_read(row: TontineSession) -> SessionRead:
    return SessionRead(
        id=row.id,
        tontine_id=row.tontine_id,
        number=row.number,
        cycle=row.cycle,
        due_date=row.due_date,
        status=row.status,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
    )


def due_read(tontine: Tontine, row: TontineSession, due: TontineDue, member: TontineMember, on: date) -> DueRead:
    return DueRead(
        member_id=member.id,
        display_name=member.display_name,
        expected=due.expected,
        received=due.received,
        in_flight=due.in_flight,
        late=is_late(tontine, row, due, on),
        penalty=due.penalty,
        penalty_paid=due.penalty_paid,
        penalty_waived=due.penalty_waived_by is not None,
        penalty_waiver_reason=due.penalty_waiver_reason,
    )


def contribution_read(row: TontineContribution) -> ContributionRead:
    return ContributionRead(
        id=row.id,
        tontine_id=row.tontine_id,
        session_id=row.session_id,
        member_id=row.member_id,
        purpose=row.purpose,
        method=row.method,
        amount=row.amount,
        currency=row.currency,
        status=row.status,
        recorded_by=row.recorded_by,
        checked_by=row.checked_by,
        checked_at=row.checked_at,
        rejection_reason=row.rejection_reason,
        has_proof=row.proof_key is not None,
        payment_id=row.payment_id,
        created_at=row.created_at,
    )


def passage_read(row: TontinePassage, member: TontineMember) -> PassageRead:
    return PassageRead(
        id=row.id,
        tontine_id=row.tontine_id,
        cycle=row.cycle,
        position=row.position,
        member_id=row.member_id,
        display_name=member.display_name,
        scheduled_date=row.scheduled_date,
        status=row.status,
        amount=row.amount,
        payment_id=row.payment_id,
        paid_at=row.paid_at,
        confirmed_at=row.confirmed_at,
        discount=row.discount,
        deposit_withheld=row.deposit_withheld,
        guarantor_member_id=row.guarantor_member_id,
        guarantor_accepted_at=row.guarantor_accepted_at,
        auction_closes_at=row.auction_closes_at,
    )
