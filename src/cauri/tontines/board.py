"""Reads the console's tontine pages need beyond the API's: a member's next due, and a session's board (each
member's due with the cash records awaiting a checker). Built on the module's public functions (``sessions``,
``contributions``): no rule of its own, nothing written."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.pagination import PageParams
from cauri.tontines import contributions, sessions
from cauri.tontines.models import (
    ContributionStatus,
    MemberStatus,
    SessionStatus,
    TontineContribution,
    TontineDue,
    TontineMember,
    TontineSession,
)
from cauri.tontines.service import Access

BOARD_CONTRIBUTIONS = 200  # a session's payments shown on its board (a tontine rarely has more members)


@dataclass(frozen=True)
class NextDue:
    """What the caller owes next: the session, the amount still due (what is in flight counted as paid)."""

    session_id: uuid.UUID
    number: int
    due_date: date
    amount: int
    in_flight: int
    late: bool
    payable: bool  # an open (or closed, late) session: mobile money may be asked now


async def next_due(session: AsyncSession, seen: Access) -> NextDue | None:
    """The earliest session where the caller still owes their contribution; else the next planned one."""
    member = seen.member
    if member is None or member.status != MemberStatus.ACTIVE:
        return None
    on = sessions.today()
    planned: TontineSession | None = None
    for row in await sessions.list_sessions(session, seen):
        if row.status == SessionStatus.PLANNED:
            planned = planned or row
            continue
        for due, owner in await sessions.dues_of(session, row):
            if owner.id != member.id:
                continue
            remaining = contributions.owed(due, "contribution")
            if remaining > 0 or due.in_flight > 0:
                late = sessions.is_late(seen.tontine, row, due, on)
                return NextDue(row.id, row.number, row.due_date, max(remaining, 0), due.in_flight, late, True)
    if planned is None:
        return None
    amount = seen.tontine.contribution_amount
    return NextDue(planned.id, planned.number, planned.due_date, amount, 0, False, False)


@dataclass(frozen=True)
class BoardLine:
    """One member at one session: their due, whether they are late, and their payments of this session."""

    member: TontineMember
    due: TontineDue
    late: bool
    remaining: int
    payments: list[TontineContribution]

    @property
    def awaiting_check(self) -> list[TontineContribution]:
        return [p for p in self.payments if p.status == ContributionStatus.PENDING_VALIDATION]


async def session_board(session: AsyncSession, seen: Access, row: TontineSession) -> list[BoardLine]:
    """Every member's line of a session, by name."""
    on = sessions.today()
    found, _ = await contributions.list_contributions(
        session, seen, PageParams(limit=BOARD_CONTRIBUTIONS), session_id=row.id
    )
    by_member: dict[uuid.UUID, list[TontineContribution]] = {}
    for payment in found:
        by_member.setdefault(payment.member_id, []).append(payment)
    return [
        BoardLine(
            member=member,
            due=due,
            late=sessions.is_late(seen.tontine, row, due, on),
            remaining=max(contributions.owed(due, "contribution"), 0),
            payments=by_member.get(member.id, []),
        )
        for due, member in await sessions.dues_of(session, row)
    ]
