"""Reminders of a session's due date, on notifications' reminder scheduler: the ``tontine_session`` target tells
the members who still owe (received and in flight below what is expected) with ``tontine.due_soon``, in their
language. A session planned for the future gets one reminder the day before its due date at 09:00 in the
tontine's time zone; closing the session cancels what has not run. The tontine's managers may also remind by hand
(``POST /api/v1/notifications/send-reminder``, Kobiri's too)."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.core.principal import Principal
from cauri.notifications.reminders import Reminded, ReminderPlan, cancel_reminders, register_target, schedule_reminder
from cauri.tontines import notices
from cauri.tontines.errors import SessionNotFound
from cauri.tontines.models import MemberStatus, SessionStatus, Tontine, TontineDue, TontineMember, TontineSession
from cauri.tontines.service import access

TARGET = "tontine_session"


def _id(object_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(object_id)
    except ValueError:
        return None


class SessionReminders:
    async def plan(
        self, session: AsyncSession, *, organization_id: uuid.UUID | None, object_id: str, note: str | None
    ) -> ReminderPlan:
        session_id = _id(object_id)
        row = await session.get(TontineSession, session_id) if session_id is not None else None
        if row is None or row.status == SessionStatus.CLOSED:
            return ReminderPlan(notices.DUE_SOON.name, ())
        tontine = await session.get(Tontine, row.tontine_id)
        assert tontine is not None
        owing = await session.execute(
            select(TontineDue, TontineMember)
            .join(TontineMember, TontineMember.id == TontineDue.member_id)
            .where(TontineDue.session_id == row.id, TontineMember.status == MemberStatus.ACTIVE)
            .where(TontineDue.received + TontineDue.in_flight < TontineDue.expected)
            .order_by(TontineMember.id)
        )
        people = []
        for due, member in owing.all():
            context = {
                "tontine": tontine.name,
                "number": row.number,
                "amount": due.expected - due.received - due.in_flight,
                "currency": tontine.currency,
                "due_date": row.due_date.isoformat(),
                "note": note or "",
            }
            people.append(Reminded(await notices.recipient(session, tontine, member), context))
        return ReminderPlan(notices.DUE_SOON.name, people)

    async def authorise(self, session: AsyncSession, *, principal: Principal, object_id: str) -> None:
        session_id = _id(object_id)
        row = await session.get(TontineSession, session_id) if session_id is not None else None
        if row is None or row.organization_id != principal.organization_id:
            raise SessionNotFound(field="object_id")
        seen = await access(
            session, principal=principal, organization_id=row.organization_id, tontine_id=row.tontine_id
        )
        seen.require_manager()


SESSION_REMINDERS = register_target(TARGET, SessionReminders())


async def schedule_due_reminder(session: AsyncSession, tontine: Tontine, row: TontineSession) -> None:
    """The day before the due date, 09:00 in the tontine's time zone, when that is still to come."""
    when = datetime.combine(row.due_date - timedelta(days=1), time(9), ZoneInfo(tontine.timezone))
    if when > utcnow() + timedelta(minutes=1):
        await schedule_reminder(
            session, target=TARGET, object_id=row.id, remind_at=when, organization_id=tontine.organization_id
        )


async def cancel_due_reminders(session: AsyncSession, row: TontineSession) -> None:
    await cancel_reminders(session, target=TARGET, object_id=row.id)
