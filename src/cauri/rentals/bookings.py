"""Bookings: request, accept, reject, cancel, check in and out; mine, my properties', a listing's calendar.

**No double booking, ever.** A booking *holds* its nights ``[start_date, end_date)`` while it is ``pending`` or
``confirmed`` (and a block imported from another calendar while ``blocked``, :mod:`cauri.rentals.calendars`); two
holding bookings of one listing never overlap. The database decides:

* PostgreSQL: the exclusion constraint ``rental_bookings_no_overlap`` (migration 0016; 0019 for ``blocked``).
  Concurrent requests for overlapping nights queue on it; the first to commit wins and the others fail with
  SQLSTATE 23P01, answered here as ``rental_dates_unavailable`` (409).
* SQLite: a write transaction begins with ``BEGIN IMMEDIATE`` (``core.db``), so the check for an overlapping
  holding booking and the insert run under the single writer lock: nobody can insert between them.

Timers (``jobs.py``): a pending request the landlord does not answer by ``answer_by`` lapses; a confirmed booking
not paid by ``pay_by`` expires. Both free the nights.
"""

from __future__ import annotations

import math
import uuid
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.core.errors import field_error
from cauri.core.jobs import enqueue
from cauri.core.pagination import PageParams, paginate
from cauri.core.principal import Principal
from cauri.rentals import notices
from cauri.rentals.access import is_admin, person_of, require_tenant
from cauri.rentals.errors import (
    BookingNotFound,
    DatesTaken,
    NotAllowed,
    PropertyNotBookable,
    WrongBookingState,
    dates_reversed,
)
from cauri.rentals.models import HOLDING_STATUSES, Booking, BookingStatus, Property, PropertyStatus, RentalType
from cauri.rentals.properties import get_property

ANSWER_WINDOW: Final = timedelta(hours=24)  # a landlord answers a request within a day, or it lapses
PAY_WINDOW: Final = timedelta(hours=24)  # an accepted booking is paid within a day, or it expires
MAX_NIGHTS: Final = 3 * 365
TIMER_JOB: Final = "rentals.booking_timer"


def price_of(prop: Property, nights: int) -> int:
    """The rent of ``nights``: per night for a short stay, per started month (30 nights) for a long one."""
    if prop.rental_type == RentalType.LONG_TERM:
        return prop.price * math.ceil(nights / 30)
    return prop.price * nights


def _overlapping(property_id: uuid.UUID, start: date, end: date) -> Select[Any]:
    return select(Booking.id).where(
        Booking.property_id == property_id,
        Booking.status.in_(HOLDING_STATUSES),
        Booking.start_date < end,
        Booking.end_date > start,
    )


def _check_dates(prop: Property, start: date, end: date, today: date) -> int:
    if end <= start:
        raise dates_reversed("end_date")
    if start < today:
        raise field_error("start_date", "in_past", "La date d'arrivée est passée.", "The arrival date is in the past.")
    nights = (end - start).days
    if nights > MAX_NIGHTS:
        raise field_error("end_date", "too_long", f"Au plus {MAX_NIGHTS} nuits.", f"At most {MAX_NIGHTS} nights.")
    if prop.available_from is not None and start < prop.available_from:
        raise field_error(
            "start_date",
            "outside_availability",
            f"Le logement est disponible à partir du {prop.available_from.isoformat()}.",
            f"The property is available from {prop.available_from.isoformat()}.",
        )
    if prop.available_to is not None and end > prop.available_to:
        raise field_error(
            "end_date",
            "outside_availability",
            f"Le logement est disponible jusqu'au {prop.available_to.isoformat()}.",
            f"The property is available until {prop.available_to.isoformat()}.",
        )
    if prop.minimum_stay is not None and nights < prop.minimum_stay:
        raise field_error(
            "end_date",
            "minimum_stay",
            f"Séjour minimum : {prop.minimum_stay} nuits.",
            f"Minimum stay: {prop.minimum_stay} nights.",
        )
    return nights


async def request_booking(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    property_id: uuid.UUID,
    start_date: date,
    end_date: date,
    message: str | None = None,
    now: datetime | None = None,
) -> Booking:
    tenant_id = require_tenant(principal)
    now = now or utcnow()
    if end_date <= start_date:
        raise dates_reversed("end_date")
    prop = await get_property(session, organization_id=organization_id, property_id=property_id, principal=principal)
    if prop.status != PropertyStatus.PUBLISHED:
        raise PropertyNotBookable()
    if prop.owner_id == tenant_id:
        raise NotAllowed("Vous ne pouvez pas réserver votre propre logement.", "You cannot book your own property.")
    nights = _check_dates(prop, start_date, end_date, now.date())
    # The friendly answer in the common case; the database's guard (see the module) in the racing one.
    if (await session.execute(_overlapping(prop.id, start_date, end_date).limit(1))).first() is not None:
        raise DatesTaken()
    booking = Booking(
        organization_id=organization_id,
        property_id=prop.id,
        tenant_id=tenant_id,
        landlord_id=prop.owner_id,
        start_date=start_date,
        end_date=end_date,
        nights=nights,
        currency=prop.currency,
        total_amount=price_of(prop, nights),
        deposit_amount=prop.deposit_amount,
        rent_paid=0,
        deposit_paid=0,
        status=BookingStatus.PENDING.value,
        message=message,
        answer_by=now + ANSWER_WINDOW,
        deposit_state="none",
        deposit_deduction=0,
        rent_released=False,
        payment_details={},
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(booking)
    except IntegrityError as exc:
        if _is_overlap(exc):
            raise DatesTaken() from None
        raise
    await notices.booking_requested(session, booking)
    await enqueue(
        session,
        TIMER_JOB,
        {"booking_id": str(booking.id)},
        run_after=booking.answer_by,
        dedupe_key=f"rentals.lapse.{booking.id}",
    )
    return booking


def _is_overlap(exc: IntegrityError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return sqlstate == "23P01" or "rental_bookings_no_overlap" in str(exc.orig)


is_overlap = _is_overlap  # for other writers of holding rows (imported calendar blocks)


async def nights_taken(session: AsyncSession, *, property_id: uuid.UUID, start: date, end: date) -> bool:
    """Whether a holding booking (or block) of the listing takes any night of ``[start, end)``."""
    return (await session.execute(_overlapping(property_id, start, end).limit(1))).first() is not None


def can_see(principal: Principal, booking: Booking) -> bool:
    person = principal.person_id
    return is_admin(principal) or person in (booking.tenant_id, booking.landlord_id)


async def get_booking(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    booking_id: uuid.UUID,
    principal: Principal,
    for_update: bool = False,
) -> Booking:
    statement = select(Booking).where(Booking.id == booking_id, Booking.organization_id == organization_id)
    if for_update:
        statement = statement.with_for_update()
    booking = (await session.execute(statement)).scalar_one_or_none()
    if booking is None or not can_see(principal, booking):
        raise BookingNotFound()
    return booking


def _landlord_only(principal: Principal, booking: Booking) -> None:
    if principal.person_id != booking.landlord_id and not is_admin(principal):
        raise NotAllowed(
            "Seul le propriétaire du logement répond à une demande.", "Only the landlord answers a request."
        )


async def accept_booking(
    session: AsyncSession, *, organization_id: uuid.UUID, booking_id: uuid.UUID, principal: Principal
) -> Booking:
    booking = await get_booking(
        session, organization_id=organization_id, booking_id=booking_id, principal=principal, for_update=True
    )
    _landlord_only(principal, booking)
    if booking.status != BookingStatus.PENDING:
        raise WrongBookingState(booking.status, "accepter", "accept")
    now = utcnow()
    booking.status = BookingStatus.CONFIRMED.value
    booking.confirmed_at = now
    booking.pay_by = now + PAY_WINDOW
    booking.updated_at = now
    await enqueue(
        session,
        TIMER_JOB,
        {"booking_id": str(booking.id)},
        run_after=booking.pay_by,
        dedupe_key=f"rentals.expire.{booking.id}",
    )
    await notices.booking_status(session, booking)
    return booking


async def reject_booking(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    booking_id: uuid.UUID,
    principal: Principal,
    reason: str | None,
) -> Booking:
    booking = await get_booking(
        session, organization_id=organization_id, booking_id=booking_id, principal=principal, for_update=True
    )
    _landlord_only(principal, booking)
    if booking.status != BookingStatus.PENDING:
        raise WrongBookingState(booking.status, "refuser", "reject")
    booking.status = BookingStatus.REJECTED.value
    booking.cancellation_reason = reason
    booking.updated_at = utcnow()
    await notices.booking_status(session, booking, landlord_too=booking.status == BookingStatus.CANCELLED)
    return booking


async def cancel_booking(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    booking_id: uuid.UUID,
    principal: Principal,
    reason: str | None,
) -> Booking:
    """The tenant or the landlord cancels a booking before the stay begins; the nights are freed."""
    booking = await get_booking(
        session, organization_id=organization_id, booking_id=booking_id, principal=principal, for_update=True
    )
    if booking.status not in HOLDING_STATUSES:
        raise WrongBookingState(booking.status, "annuler", "cancel")
    if booking.checked_in_at is not None:
        raise WrongBookingState("checked_in", "annuler", "cancel")
    booking.status = BookingStatus.CANCELLED.value
    booking.cancellation_reason = reason
    booking.updated_at = utcnow()
    await notices.booking_status(session, booking, landlord_too=booking.status == BookingStatus.CANCELLED)
    return booking


async def check_in(
    session: AsyncSession, *, organization_id: uuid.UUID, booking_id: uuid.UUID, principal: Principal
) -> Booking:
    booking = await get_booking(
        session, organization_id=organization_id, booking_id=booking_id, principal=principal, for_update=True
    )
    _landlord_only(principal, booking)
    if booking.status != BookingStatus.CONFIRMED or booking.checked_in_at is not None:
        raise WrongBookingState(booking.status, "enregistrer l'arrivée pour", "check in")
    booking.checked_in_at = utcnow()
    booking.updated_at = booking.checked_in_at
    return booking


async def check_out(
    session: AsyncSession, *, organization_id: uuid.UUID, booking_id: uuid.UUID, principal: Principal
) -> Booking:
    booking = await get_booking(
        session, organization_id=organization_id, booking_id=booking_id, principal=principal, for_update=True
    )
    _landlord_only(principal, booking)
    if booking.checked_in_at is None or booking.checked_out_at is not None:
        raise WrongBookingState(booking.status, "enregistrer le départ pour", "check out")
    booking.checked_out_at = utcnow()
    booking.status = BookingStatus.COMPLETED.value
    booking.updated_at = booking.checked_out_at
    return booking


async def my_bookings(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, params: PageParams
) -> tuple[list[Booking], str | None]:
    statement = select(Booking).where(
        Booking.organization_id == organization_id, Booking.tenant_id == person_of(principal)
    )
    return await paginate(session, statement, params, created_at=Booking.created_at, row_id=Booking.id)


async def my_properties_bookings(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    params: PageParams,
    status: str | None = None,
) -> tuple[list[Booking], str | None]:
    statement = select(Booking).where(
        Booking.organization_id == organization_id, Booking.landlord_id == person_of(principal)
    )
    if status is not None:
        statement = statement.where(Booking.status == status)
    return await paginate(session, statement, params, created_at=Booking.created_at, row_id=Booking.id)


async def busy_ranges(
    session: AsyncSession, *, property_id: uuid.UUID, since: date, until: date | None = None
) -> list[Booking]:
    statement = (
        select(Booking)
        .where(Booking.property_id == property_id, Booking.status.in_(HOLDING_STATUSES), Booking.end_date > since)
        .order_by(Booking.start_date)
    )
    if until is not None:
        statement = statement.where(Booking.start_date < until)
    return list((await session.execute(statement)).scalars())


async def apply_timers(session: AsyncSession, *, now: datetime, booking_id: uuid.UUID | None = None) -> int:
    """Lapse unanswered requests and expire unpaid bookings whose time is up, telling both sides; safe to run any
    number of times (a booking already ended is left alone, a notice is sent once per booking and status)."""
    scope = [Booking.id == booking_id] if booking_id is not None else []
    due = (
        select(Booking)
        .where(
            *scope,
            or_(
                (Booking.status == BookingStatus.PENDING.value) & (Booking.answer_by <= now),
                (Booking.status == BookingStatus.CONFIRMED.value)
                & (Booking.pay_by <= now)
                & or_(Booking.rent_paid < Booking.total_amount, Booking.deposit_paid < Booking.deposit_amount),
            ),
        )
        .order_by(Booking.id)
        .limit(500)
        .with_for_update(skip_locked=True)
    )
    ended = 0
    for booking in (await session.execute(due)).scalars():
        lapsing = booking.status == BookingStatus.PENDING
        booking.status = (BookingStatus.LAPSED if lapsing else BookingStatus.EXPIRED).value
        booking.updated_at = now
        await notices.booking_status(session, booking, landlord_too=True)
        ended += 1
    await session.flush()
    return ended
