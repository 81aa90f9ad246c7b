"""LokaHome's ``/api/v1/bookings`` (seed 004, section 6.4): request, details, cancel, mine, my properties', accept,
reject — ``PUT`` where the seed says so, bare arrays paged by ``page``/``per_page``. Thin adapters over
:mod:`cauri.rentals` for the operator organisation this surface serves."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request, status
from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy import select

from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router
from cauri.rentals import bookings, money
from cauri.rentals.access import person_of
from cauri.rentals.models import Booking
from cauri.rentals.schemas import BookingCreate, BookingRead
from cauri.surfaces.registry import operator_id

router = api_router(prefix="/api/v1/bookings")

Page = Annotated[int, Query(ge=1, le=10_000)]
PerPage = Annotated[int, Query(ge=1, le=100)]


class Cancellation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cancellation_reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


def _read(booking: Booking) -> BookingRead:
    return BookingRead.model_validate(booking, from_attributes=True)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Créer réservation")
async def create_booking(
    body: BookingCreate, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> BookingRead:
    booking = await bookings.request_booking(
        session,
        organization_id=operator_id(request),
        principal=principal,
        property_id=body.property_id,
        start_date=body.start_date,
        end_date=body.end_date,
        message=body.message,
    )
    return _read(booking)


async def _page(
    session: SessionDep, request: Request, principal: CurrentPrincipal, *, column: str, page: int, per_page: int
) -> list[BookingRead]:
    rows = await session.execute(
        select(Booking)
        .where(Booking.organization_id == operator_id(request), getattr(Booking, column) == person_of(principal))
        .order_by(Booking.created_at.desc(), Booking.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return [_read(b) for b in rows.scalars()]


@router.get("/my-bookings", summary="Mes réservations (locataire)")
async def my_bookings(
    request: Request, session: SessionDep, principal: CurrentPrincipal, page: Page = 1, per_page: PerPage = 20
) -> list[BookingRead]:
    return await _page(session, request, principal, column="tenant_id", page=page, per_page=per_page)


@router.get("/my-properties", summary="Réservations de mes biens (propriétaire)")
async def my_properties(
    request: Request, session: SessionDep, principal: CurrentPrincipal, page: Page = 1, per_page: PerPage = 20
) -> list[BookingRead]:
    return await _page(session, request, principal, column="landlord_id", page=page, per_page=per_page)


@router.get("/{booking_id}", summary="Détails")
async def get_booking(
    booking_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> BookingRead:
    return _read(
        await bookings.get_booking(
            session, organization_id=operator_id(request), booking_id=booking_id, principal=principal
        )
    )


@router.put("/{booking_id}/cancel", summary="Annuler")
async def cancel(
    booking_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    body: Cancellation | None = None,
) -> BookingRead:
    booking = await money.cancel_and_refund(
        session,
        organization_id=operator_id(request),
        booking_id=booking_id,
        principal=principal,
        reason=body.cancellation_reason if body else None,
    )
    return _read(booking)


@router.put("/{booking_id}/accept", summary="Accepter (propriétaire)")
async def accept(
    booking_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> BookingRead:
    return _read(
        await bookings.accept_booking(
            session, organization_id=operator_id(request), booking_id=booking_id, principal=principal
        )
    )


@router.put("/{booking_id}/reject", summary="Refuser (propriétaire)")
async def reject(
    booking_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    body: Cancellation | None = None,
) -> BookingRead:
    return _read(
        await bookings.reject_booking(
            session,
            organization_id=operator_id(request),
            booking_id=booking_id,
            principal=principal,
            reason=body.cancellation_reason if body else None,
        )
    )
