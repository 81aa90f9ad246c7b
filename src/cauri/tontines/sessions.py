"""Sessions of a tontine: planned from its calendar, opened, closed (penalties computed at close), what each member
owes and paid (``tontine_dues``), statistics, and the président's waiver of a penalty (its reason is shown to every
member)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.identity.models import User
from cauri.tontines import calendar, notices, reminders
from cauri.tontines.errors import SessionNotFound, invalid, wrong_state
from cauri.tontines.models import (
    MemberStatus,
    PenaltyKind,
    SessionStatus,
    Tontine,
    TontineDue,
    TontineMember,
    TontineSession,
)
from cauri.tontines.service import Access, active_members, get_member


def today() -> date:
    return utcnow().date()


async def plan_sessions(session: AsyncSession, seen: Access, count: int) -> list[TontineSession]:
    """The next ``count`` sessions from the calendar, each with what every active member owes."""
    seen.require_manager()
    tontine = seen.tontine
    if not tontine.active:
        raise wrong_state("Cette tontine est désactivée", "This tontine is deactivated", "inactive")
    last = await session.scalar(select(func.max(TontineSession.number)).where(TontineSession.tontine_id == tontine.id))
    first = int(last or 0) + 1
    due_dates = calendar.dates(tontine.start_date, tontine.frequency, first + count - 1)[first - 1 :]
    planned = []
    members = await active_members(session, tontine.id)
    for offset, due_date in enumerate(due_dates):
        row = TontineSession(
            id=uuid.uuid4(),
            tontine_id=tontine.id,
            organization_id=tontine.organization_id,
            number=first + offset,
            cycle=tontine.cycle,
            due_date=due_date,
            status=SessionStatus.PLANNED,
        )
        session.add(row)
        planned.append(row)
    await session.flush()
    for row in planned:
        await _ensure_dues(session, tontine, row, members)
        await reminders.schedule_due_reminder(session, tontine, row)
    return planned


async def _ensure_dues(
    session: AsyncSession, tontine: Tontine, row: TontineSession, members: list[TontineMember]
) -> None:
    """A due for every active member who has none yet (someone who joined after the session was planned)."""
    have = set(await session.scalars(select(TontineDue.member_id).where(TontineDue.session_id == row.id)))
    for member in members:
        if member.id not in have:
            session.add(
                TontineDue(
                    id=uuid.uuid4(),
                    session_id=row.id,
                    member_id=member.id,
                    tontine_id=tontine.id,
                    expected=tontine.contribution_amount,
                    received=0,
                    in_flight=0,
                    penalty=0,
                    penalty_paid=0,
                )
            )
    await session.flush()


async def get_session(
    session: AsyncSession, tontine: Tontine, session_id: uuid.UUID, *, lock: bool = False
) -> TontineSession:
    query = select(TontineSession).where(TontineSession.id == session_id, TontineSession.tontine_id == tontine.id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    found = await session.scalar(query)
    if found is None:
        raise SessionNotFound(field="session_id")
    return found


async def tontine_of_session(session: AsyncSession, organization_id: uuid.UUID, session_id: uuid.UUID) -> uuid.UUID:
    """The tontine a session belongs to (the caller's access to that tontine is checked next)."""
    found = await session.scalar(
        select(TontineSession.tontine_id).where(
            TontineSession.id == session_id, TontineSession.organization_id == organization_id
        )
    )
    if found is None:
        raise SessionNotFound(field="session_id")
    return found


async def list_sessions(session: AsyncSession, seen: Access) -> list[TontineSession]:
    found = await session.scalars(
        select(TontineSession).where(TontineSession.tontine_id == seen.tontine.id).order_by(TontineSession.number)
    )
    return list(found)


async def open_session(session: AsyncSession, seen: Access, session_id: uuid.UUID) -> TontineSession:
    seen.require_manager()
    row = await get_session(session, seen.tontine, session_id, lock=True)
    if row.status != SessionStatus.PLANNED:
        raise wrong_state(
            "Seule une séance planifiée peut être ouverte",
            "Only a planned session can be opened",
            row.status,
            field="session_id",
        )
    row.status, row.opened_at = SessionStatus.OPEN, utcnow()
    members = await active_members(session, seen.tontine.id)
    await _ensure_dues(session, seen.tontine, row, members)
    await notices.due_soon_all(session, seen.tontine, row, members)
    return row


def penalty_for(tontine: Tontine, due: TontineDue, due_date: date, on: date) -> int:
    """The penalty of a due late at ``on``: fixed, or per day past the grace period, capped; 0 when on time."""
    return penalty_of(
        tontine, expected=due.expected, received=due.received, paid_at=due.paid_at, due_date=due_date, on=on
    )


def penalty_of(
    tontine: Tontine, *, expected: int, received: int, paid_at: datetime | None, due_date: date, on: date
) -> int:
    paid_late = paid_at is not None and paid_at.date() > due_date + timedelta(days=tontine.grace_days)
    unpaid = received < expected
    if tontine.penalty_kind == PenaltyKind.NONE or not (unpaid or paid_late):
        return 0
    reference = on if unpaid or paid_at is None else paid_at.date()
    days_late = max(1, (reference - due_date).days - tontine.grace_days)
    amount = tontine.penalty_amount if tontine.penalty_kind == PenaltyKind.FIXED else tontine.penalty_amount * days_late
    return min(amount, tontine.penalty_cap) if tontine.penalty_cap is not None else amount


async def close_session(session: AsyncSession, seen: Access, session_id: uuid.UUID) -> TontineSession:
    """Close: every late due gets its penalty, and its member a late notice. Closing twice is a 409."""
    closer = seen.require_manager()
    row = await get_session(session, seen.tontine, session_id, lock=True)
    if row.status != SessionStatus.OPEN:
        raise wrong_state(
            "Seule une séance ouverte peut être fermée",
            "Only an open session can be closed",
            row.status,
            field="session_id",
        )
    row.status, row.closed_at, row.closed_by = SessionStatus.CLOSED, utcnow(), closer.user_id
    await reminders.cancel_due_reminders(session, row)
    on = today()
    # Set-wise, in plain columns (no ORM object per member): one locking read of the dues with their members'
    # addresses, one UPDATE per distinct penalty, one fan-out per distinct late notice. A 10,000-member session is a
    # handful of statements, not 10,000 round trips.
    dues = await session.execute(
        select(
            TontineDue.id,
            TontineDue.expected,
            TontineDue.received,
            TontineDue.paid_at,
            TontineDue.penalty,
            TontineMember.user_id,
            TontineMember.status,
            TontineMember.phone.label("member_phone"),
            User.email,
            User.phone,
            User.language,
        )
        .join(TontineMember, TontineMember.id == TontineDue.member_id)
        .outerjoin(User, User.id == TontineMember.user_id)
        .where(TontineDue.session_id == row.id)
        .with_for_update(of=TontineDue)
    )
    penalties: dict[int, list[uuid.UUID]] = {}
    late: list[tuple[notices.Person, int, int]] = []
    for due in dues.all():
        penalty = penalty_of(
            seen.tontine,
            expected=due.expected,
            received=due.received,
            paid_at=due.paid_at,
            due_date=row.due_date,
            on=on,
        )
        if penalty != due.penalty:
            penalties.setdefault(penalty, []).append(due.id)
        if due.received < due.expected and due.status == MemberStatus.ACTIVE:
            person = notices.Person(due.user_id, due.email, due.phone or due.member_phone, due.language or "fr")
            late.append((person, due.expected - due.received, penalty))
    for penalty, ids in penalties.items():
        for start in range(0, len(ids), 5_000):
            await session.execute(
                update(TontineDue).where(TontineDue.id.in_(ids[start : start + 5_000])).values(penalty=penalty)
            )
    await notices.late_all(session, seen.tontine, row, late)
    await session.flush()
    return row


async def dues_of(session: AsyncSession, row: TontineSession) -> list[tuple[TontineDue, TontineMember]]:
    found = await session.execute(
        select(TontineDue, TontineMember)
        .join(TontineMember, TontineMember.id == TontineDue.member_id)
        .where(TontineDue.session_id == row.id)
        .order_by(TontineMember.display_name, TontineMember.id)
    )
    return [(first, second) for first, second in found.all()]


def is_late(tontine: Tontine, row: TontineSession, due: TontineDue, on: date) -> bool:
    deadline = row.due_date + timedelta(days=tontine.grace_days)
    if due.received < due.expected:
        return row.status == SessionStatus.CLOSED or on > deadline
    return due.paid_at is not None and due.paid_at.date() > deadline


async def waive_penalty(
    session: AsyncSession, seen: Access, session_id: uuid.UUID, member_id: uuid.UUID, reason: str
) -> TontineDue:
    president = seen.require_president()
    row = await get_session(session, seen.tontine, session_id)
    member = await get_member(session, seen.tontine, member_id)
    due = await session.scalar(
        select(TontineDue)
        .where(TontineDue.session_id == row.id, TontineDue.member_id == member.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if due is None or due.penalty - due.penalty_paid <= 0:
        raise invalid("member_id", "no_penalty", "Ce membre n'a pas de pénalité à remettre.", "No penalty to waive.")
    if due.penalty_waived_by is not None:
        raise wrong_state(
            "Cette pénalité est déjà remise", "This penalty is already waived", "waived", field="member_id"
        )
    due.penalty_waived_by = president.user_id
    due.penalty_waiver_reason = reason.strip()
    await session.flush()
    return due


async def stats(session: AsyncSession, seen: Access, row: TontineSession) -> dict[str, int | float | uuid.UUID]:
    """Collected, missing, late, penalties and rate of one session."""
    on = today()
    dues = [due for due, _member in await dues_of(session, row)]
    expected = sum(d.expected for d in dues)
    collected = sum(d.received for d in dues)
    waived = [d for d in dues if d.penalty_waived_by is not None]
    return {
        "session_id": row.id,
        "expected": expected,
        "collected": collected,
        "missing": max(0, expected - collected),
        "in_flight": sum(d.in_flight for d in dues),
        "members": len(dues),
        "paid_members": sum(1 for d in dues if d.received >= d.expected),
        "late_members": sum(1 for d in dues if is_late(seen.tontine, row, d, on)),
        "penalties": sum(d.penalty for d in dues if d.penalty_waived_by is None),
        "penalties_waived": sum(d.penalty for d in waived),
        "rate": round(collected / expected, 4) if expected else 0.0,
    }
