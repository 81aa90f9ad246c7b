"""What the marketplace tells its people, through ``notifications.notify`` (in-app and e-mail, in each person's
language), in the transaction of the change: a new request to the landlord; accepted, rejected, lapsed, expired
or cancelled to the tenant (and a lapse or expiry to the landlord too); a lease's rent due soon, or late, to its
tenant; a service job's steps (a new quote, the quote accepted, paid, done, confirmed, cancelled) to the other
side."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from cauri.identity.models import User
from cauri.notifications.kinds import NotificationKind, register_kind
from cauri.notifications.notify import Recipient, notify
from cauri.rentals.models import Booking, IdentityVerification, Lease, Property, RentCall, ServiceRequest

TEMPLATES = Path(__file__).parent / "templates"
_SAMPLE = {
    "title": "Appartement meublé à Fidjrossè",
    "start_date": date(2030, 3, 1),
    "end_date": date(2030, 3, 4),
    "nights": 3,
    "amount": 75_000,
    "currency": "XOF",
    "answer_by": datetime(2030, 2, 2, 10, 0),
    "pay_by": datetime(2030, 2, 3, 10, 0),
    "status": "confirmed",
}
REQUESTED = register_kind(
    NotificationKind("rental.booking_requested", channels=("in_app", "email"), templates=TEMPLATES, sample=_SAMPLE)
)
RENT_CALL = register_kind(
    NotificationKind(
        "rental.rent_call",
        channels=("in_app", "email"),
        templates=TEMPLATES,
        sample={
            "title": "Villa à Cocody",
            "period": "03/2031",
            "due_date": date(2031, 3, 5),
            "balance": 150_000,
            "late_fee": 5_000,
            "currency": "XOF",
            "reason": "due",
        },
    )
)
SERVICE_JOB = register_kind(
    NotificationKind(
        "rental.service_job",
        channels=("in_app", "email"),
        templates=TEMPLATES,
        sample={
            "title": "Fuite sous l'évier",
            "event": "quoted",
            "amount": 25_000,
            "currency": "XOF",
            "city": "Cotonou",
            "urgency": "urgent",
        },
    )
)
STATUS = register_kind(
    NotificationKind("rental.booking_status", channels=("in_app", "email"), templates=TEMPLATES, sample=_SAMPLE)
)
IDENTITY = register_kind(
    NotificationKind(
        "rental.identity_verification",
        channels=("in_app", "email"),
        templates=TEMPLATES,
        sample={"name": "Kossi Adjovi", "status": "rejected", "reason": "Document illisible"},
    )
)
MODERATED = register_kind(
    NotificationKind(
        "rental.listing_moderated",
        channels=("in_app", "email"),
        templates=TEMPLATES,
        sample={"title": "Villa à Cocody", "action": "suspended", "reason": "Photos trompeuses"},
    )
)


async def _recipient(session: AsyncSession, user_id: uuid.UUID) -> Recipient | None:
    user = await session.get(User, user_id)
    if user is None:
        return None
    return Recipient(user.id, email=user.email, phone=user.phone, language=user.language or "fr")


async def _context(session: AsyncSession, booking: Booking) -> dict[str, object]:
    prop = await session.get(Property, booking.property_id)
    return {
        "title": prop.title if prop is not None else "",
        "start_date": booking.start_date,
        "end_date": booking.end_date,
        "nights": booking.nights,
        "amount": booking.total_amount,
        "currency": booking.currency,
        "answer_by": booking.answer_by,
        "pay_by": booking.pay_by,
        "status": booking.status,
    }


async def booking_requested(session: AsyncSession, booking: Booking) -> None:
    recipient = await _recipient(session, booking.landlord_id)
    if recipient is not None:
        await notify(
            session,
            kind=REQUESTED.name,
            recipient=recipient,
            context=await _context(session, booking),
            object_id=str(booking.id),
            organization_id=booking.organization_id,
        )


async def booking_status(session: AsyncSession, booking: Booking, *, landlord_too: bool = False) -> None:
    """The booking's new status, to its tenant (and its landlord); once per booking and status."""
    context = await _context(session, booking)
    people = [booking.tenant_id, booking.landlord_id] if landlord_too else [booking.tenant_id]
    for person in people:
        recipient = await _recipient(session, person)
        if recipient is not None:
            await notify(
                session,
                kind=STATUS.name,
                recipient=recipient,
                context=context,
                object_id=f"{booking.id}:{booking.status}",
                organization_id=booking.organization_id,
            )


async def rent_call(session: AsyncSession, lease: Lease, call: RentCall, *, reason: str) -> None:
    """A month's rent is due soon (``due``) or late (``late``): told to the tenant, once per call and reason."""
    recipient = await _recipient(session, lease.tenant_id)
    if recipient is None:
        return
    prop = await session.get(Property, lease.property_id)
    await notify(
        session,
        kind=RENT_CALL.name,
        recipient=recipient,
        context={
            "title": prop.title if prop is not None else "",
            "period": call.period.strftime("%m/%Y"),
            "due_date": call.due_date,
            "balance": call.balance,
            "late_fee": call.late_fee,
            "currency": call.currency,
            "reason": reason,
        },
        object_id=f"{call.id}:{reason}",
        organization_id=lease.organization_id,
    )


async def identity_decided(session: AsyncSession, verification: IdentityVerification) -> None:
    """An admin approved or rejected a person's identity verification: told to that person, once per request."""
    user = await session.get(User, verification.user_id)
    recipient = await _recipient(session, verification.user_id)
    if user is None or recipient is None:
        return
    await notify(
        session,
        kind=IDENTITY.name,
        recipient=recipient,
        context={"name": user.full_name, "status": verification.status, "reason": verification.reason or ""},
        object_id=f"{verification.id}:{verification.status}",
        organization_id=verification.organization_id,
    )


async def listing_moderated(session: AsyncSession, prop: Property, *, action: str, reason: str, at: datetime) -> None:
    """A listing was suspended or reinstated by moderation: told to its landlord with the reason."""
    recipient = await _recipient(session, prop.owner_id)
    if recipient is not None:
        await notify(
            session,
            kind=MODERATED.name,
            recipient=recipient,
            context={"title": prop.title, "action": action, "reason": reason},
            object_id=f"{prop.id}:{action}:{at.isoformat()}",
            organization_id=prop.organization_id,
        )


async def service_job(
    session: AsyncSession, job: ServiceRequest, *, event: str, to: uuid.UUID, amount: int, currency: str, key: str
) -> None:
    """A step of a service job (``posted`` to covering providers, ``quoted``, ``accepted``, ``paid``, ``done``,
    ``completed``, ``cancelled``), told to ``to``; once per ``key``."""
    recipient = await _recipient(session, to)
    if recipient is None:
        return
    await notify(
        session,
        kind=SERVICE_JOB.name,
        recipient=recipient,
        context={
            "title": job.title,
            "event": event,
            "amount": amount,
            "currency": currency,
            "city": job.city,
            "urgency": job.urgency,
        },
        object_id=f"{job.id}:{event}:{key}",
        organization_id=job.organization_id,
    )
