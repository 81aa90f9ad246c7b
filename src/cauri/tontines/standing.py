"""A member's standing: late (something still owed at a closed session, or an unpaid penalty nobody waived) or in
good standing. A late member cannot bid for a pot, borrow from the loan fund, or stand guarantor."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.tontines.errors import invalid
from cauri.tontines.models import SessionStatus, TontineDue, TontineSession


async def is_late(session: AsyncSession, tontine_id: uuid.UUID, member_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(TontineDue.id)
        .join(TontineSession, TontineSession.id == TontineDue.session_id)
        .where(
            TontineDue.tontine_id == tontine_id,
            TontineDue.member_id == member_id,
            TontineSession.status == SessionStatus.CLOSED,
            or_(
                TontineDue.received < TontineDue.expected,
                and_(TontineDue.penalty > TontineDue.penalty_paid, TontineDue.penalty_waived_by.is_(None)),
            ),
        )
        .limit(1)
    )
    return found is not None


async def require_good_standing(
    session: AsyncSession, tontine_id: uuid.UUID, member_id: uuid.UUID, *, field: str = "member_id"
) -> None:
    if await is_late(session, tontine_id, member_id):
        raise invalid(
            field,
            "member_late",
            "Ce membre est en retard de cotisation ou de pénalité : il ne peut ni enchérir, ni emprunter, ni se "
            "porter garant tant qu'il n'a pas régularisé.",
            "This member is late with a contribution or a penalty: they can neither bid, borrow nor stand "
            "guarantor until they catch up.",
        )
