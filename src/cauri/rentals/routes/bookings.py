"""Bookings: requests, the landlord's answers, cancellation, check-in and check-out."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router
from cauri.rentals import bookings, money
from cauri.rentals.routes.common import MemberMarketplace, Paging, booking_read
from cauri.rentals.schemas import BookingAnswer, BookingCreate, BookingPage, BookingRead

router: APIRouter = api_router()


@router.post("/bookings", status_code=status.HTTP_201_CREATED, summary="Request a booking (holds the nights)")
async def request_booking(
    body: BookingCreate, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> BookingRead:
    booking = await bookings.request_booking(
        session,
        organization_id=organization_id,
        principal=principal,
        property_id=body.property_id,
        start_date=body.start_date,
        end_date=body.end_date,
        message=body.message,
    )
    return booking_read(booking)


@router.get("/bookings/mine", summary="My bookings (as a tenant)")
async def my_bookings(
    session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace, paging: Paging
) -> BookingPage:
    rows, cursor = await bookings.my_bookings(
        session, organization_id=organization_id, principal=principal, params=paging
    )
    return BookingPage(items=[booking_read(b) for b in rows], next_cursor=cursor)


@router.get("/bookings/my-properties", summary="Bookings of my properties (as a landlord)")
async def my_properties_bookings(
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
    paging: Paging,
    status_: Annotated[
        Literal["pending", "confirmed", "rejected", "cancelled", "lapsed", "expired", "completed", "blocked"] | None,
        Query(alias="status"),
    ] = None,
) -> BookingPage:
    rows, cursor = await bookings.my_properties_bookings(
        session, organization_id=organization_id, principal=principal, params=paging, status=status_
    )
    return BookingPage(items=[booking_read(b) for b in rows], next_cursor=cursor)


@router.get("/bookings/{booking_id}", summary="A booking (its tenant, its landlord or the operator)")
async def get_booking(
    booking_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> BookingRead:
    booking = await bookings.get_booking(
        session, organization_id=organization_id, booking_id=booking_id, principal=principal
    )
    return booking_read(booking)


@router.post("/bookings/{booking_id}/accept", summary="Accept a request (landlord)")
async def accept(
    booking_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> BookingRead:
    booking = await bookings.accept_booking(
        session, organization_id=organization_id, booking_id=booking_id, principal=principal
    )
    return booking_read(booking)


@router.post("/bookings/{booking_id}/reject", summary="Reject a request (landlord)")
async def reject(
    booking_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
    body: BookingAnswer | None = None,
) -> BookingRead:
    booking = await bookings.reject_booking(
        session,
        organization_id=organization_id,
        booking_id=booking_id,
        principal=principal,
        reason=body.reason if body else None,
    )
    return booking_read(booking)


@router.post("/bookings/{booking_id}/cancel", summary="Cancel a booking (tenant or landlord)")
async def cancel(
    booking_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
    body: BookingAnswer | None = None,
) -> BookingRead:
    booking = await money.cancel_and_refund(
        session,
        organization_id=organization_id,
        booking_id=booking_id,
        principal=principal,
        reason=body.reason if body else None,
    )
    return booking_read(booking)


@router.post("/bookings/{booking_id}/check-in", summary="Record the tenant's arrival (landlord)")
async def check_in(
    booking_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> BookingRead:
    booking = await money.check_in_and_release(
        session, organization_id=organization_id, booking_id=booking_id, principal=principal
    )
    return booking_read(booking)


@router.post("/bookings/{booking_id}/check-out", summary="Record the tenant's departure (landlord)")
async def check_out(
    booking_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> BookingRead:
    booking = await bookings.check_out(
        session, organization_id=organization_id, booking_id=booking_id, principal=principal
    )
    return booking_read(booking)
