"""What tontines tell their members, through ``notifications.notify`` in each member's language: a reminder when a
session opens (``tontine.due_soon``), a late notice at close (``tontine.late``), the payout of the pot
(``tontine.payout_sent``), a request to join to the président and the trésorier (``tontine.member_request``) and
the decision to the applicant (``tontine.member_decision``). Each is sent once per (kind, session, passage or
application, member).

A session's notices go to many members at once: ``notifications.fanout.fan_out`` (one query for the users,
templates rendered once per language, multi-row inserts), grouped by what the message says (the late notice
names each member's missing amount and penalty, which are the same for most of them)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.identity.models import User
from cauri.notifications.fanout import fan_out
from cauri.notifications.kinds import NotificationKind, register_kind
from cauri.notifications.notify import Recipient, notify
from cauri.tontines.models import Tontine, TontineDue, TontineMember, TontinePassage, TontineSession

TEMPLATES = Path(__file__).parent / "templates"
_SAMPLE: dict[str, Any] = {
    "tontine": "Tontine des commerçantes de Sandaga",
    "number": 4,
    "amount": 10_000,
    "currency": "XOF",
    "due_date": "2026-12-14",
    "missing": 10_000,
    "penalty": 1_000,
    "applicant": "Awa Diop",
    "approved": False,
    "reason": "Groupe complet pour ce cycle",
}

DUE_SOON = register_kind(
    NotificationKind("tontine.due_soon", channels=("in_app", "sms"), templates=TEMPLATES, sample=_SAMPLE)
)
LATE = register_kind(NotificationKind("tontine.late", channels=("in_app", "sms"), templates=TEMPLATES, sample=_SAMPLE))
PAYOUT_SENT = register_kind(
    NotificationKind(
        "tontine.payout_sent", channels=("in_app", "sms"), mandatory=True, templates=TEMPLATES, sample=_SAMPLE
    )
)

MEMBER_REQUEST = register_kind(
    NotificationKind("tontine.member_request", channels=("in_app", "sms"), templates=TEMPLATES, sample=_SAMPLE)
)
MEMBER_DECISION = register_kind(
    NotificationKind("tontine.member_decision", channels=("in_app", "sms"), templates=TEMPLATES, sample=_SAMPLE)
)


async def recipient(session: AsyncSession, tontine: Tontine, member: TontineMember) -> Recipient:
    user = await session.scalar(select(User).where(User.id == member.user_id))
    if user is None:
        return Recipient(member.user_id, phone=member.phone, timezone=tontine.timezone)
    return Recipient(user.id, email=user.email, phone=user.phone, language=user.language, timezone=tontine.timezone)


async def due_soon(session: AsyncSession, tontine: Tontine, row: TontineSession, member: TontineMember) -> None:
    await notify(
        session,
        kind=DUE_SOON.name,
        recipient=await recipient(session, tontine, member),
        context={
            "tontine": tontine.name,
            "number": row.number,
            "amount": tontine.contribution_amount,
            "currency": tontine.currency,
            "due_date": row.due_date.isoformat(),
        },
        object_id=row.id,
        organization_id=tontine.organization_id,
    )


async def late(
    session: AsyncSession, tontine: Tontine, row: TontineSession, member: TontineMember, due: TontineDue
) -> None:
    await notify(
        session,
        kind=LATE.name,
        recipient=await recipient(session, tontine, member),
        context={
            "tontine": tontine.name,
            "number": row.number,
            "missing": due.expected - due.received,
            "penalty": due.penalty,
            "currency": tontine.currency,
        },
        object_id=row.id,
        organization_id=tontine.organization_id,
    )


async def payout_sent(session: AsyncSession, tontine: Tontine, passage: TontinePassage, member: TontineMember) -> None:
    await notify(
        session,
        kind=PAYOUT_SENT.name,
        recipient=await recipient(session, tontine, member),
        context={"tontine": tontine.name, "amount": passage.amount or 0, "currency": tontine.currency},
        object_id=passage.id,
        organization_id=tontine.organization_id,
    )


def application_id(member: TontineMember) -> uuid.UUID:
    """One application: the member row is reused when someone asks again after leaving or a refusal, ``joined_at``
    is new each time (the notifications' once-per-object rule must not swallow the second request)."""
    return uuid.uuid5(member.id, f"cauri.tontines.application.{member.joined_at.isoformat()}")


async def member_request(
    session: AsyncSession, tontine: Tontine, applicant: TontineMember, managers: Sequence[TontineMember]
) -> None:
    """``tontine.member_request`` to the président and the trésorier, each in their own language."""
    for manager in managers:
        await notify(
            session,
            kind=MEMBER_REQUEST.name,
            recipient=await recipient(session, tontine, manager),
            context={"tontine": tontine.name, "applicant": applicant.display_name},
            object_id=application_id(applicant),
            organization_id=tontine.organization_id,
        )


async def member_decision(
    session: AsyncSession, tontine: Tontine, applicant: TontineMember, *, approved: bool, reason: str | None
) -> None:
    """``tontine.member_decision`` to the applicant: accepted, or refused with the président's reason."""
    await notify(
        session,
        kind=MEMBER_DECISION.name,
        recipient=await recipient(session, tontine, applicant),
        context={"tontine": tontine.name, "approved": approved, "reason": reason or ""},
        object_id=application_id(applicant),
        organization_id=tontine.organization_id,
    )


@dataclass(frozen=True, slots=True)
class Person:
    """A member as notices address them: read with plain columns, many at once (no ORM objects)."""

    user_id: uuid.UUID
    email: str | None
    phone: str | None
    language: str


def _recipient(kind: NotificationKind, tontine: Tontine, person: Person) -> Recipient:
    # Only the addresses the kind's channels use: an address it would never write to is not checked either.
    email = person.email if "email" in kind.channels else None
    phone = person.phone if "sms" in kind.channels else None
    return Recipient(person.user_id, email=email, phone=phone, language=person.language, timezone=tontine.timezone)


async def people(session: AsyncSession, members: Sequence[TontineMember]) -> list[Person]:
    """Every member's addresses and language, read in a few queries (chunks well under the drivers' limits)."""
    ids = [member.user_id for member in members]
    found: dict[uuid.UUID, Person] = {}
    for start in range(0, len(ids), 5_000):
        rows = await session.execute(
            select(User.id, User.email, User.phone, User.language).where(User.id.in_(ids[start : start + 5_000]))
        )
        found.update({row.id: Person(row.id, row.email, row.phone, row.language) for row in rows})
    return [found.get(m.user_id) or Person(m.user_id, None, m.phone, "fr") for m in members]


async def due_soon_all(
    session: AsyncSession, tontine: Tontine, row: TontineSession, members: Sequence[TontineMember]
) -> None:
    """``tontine.due_soon`` to every member of an opening session, set-wise."""
    if not members:
        return
    await fan_out(
        session,
        kind=DUE_SOON.name,
        recipients=[_recipient(DUE_SOON, tontine, person) for person in await people(session, members)],
        context={
            "tontine": tontine.name,
            "number": row.number,
            "amount": tontine.contribution_amount,
            "currency": tontine.currency,
            "due_date": row.due_date.isoformat(),
        },
        object_id=row.id,
        organization_id=tontine.organization_id,
    )


async def late_all(
    session: AsyncSession, tontine: Tontine, row: TontineSession, late: Sequence[tuple[Person, int, int]]
) -> None:
    """``tontine.late`` to every late member of a closing session, ``(person, missing, penalty)``: one fan-out per
    distinct (missing, penalty), since the message names them (most late members share one)."""
    groups: dict[tuple[int, int], list[Recipient]] = {}
    for person, missing, penalty in late:
        groups.setdefault((missing, penalty), []).append(_recipient(LATE, tontine, person))
    for (missing, penalty), recipients in groups.items():
        await fan_out(
            session,
            kind=LATE.name,
            recipients=recipients,
            context={
                "tontine": tontine.name,
                "number": row.number,
                "missing": missing,
                "penalty": penalty,
                "currency": tontine.currency,
            },
            object_id=row.id,
            organization_id=tontine.organization_id,
        )
