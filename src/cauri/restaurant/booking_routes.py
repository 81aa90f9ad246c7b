"""``/restaurant``: services and their capacity, the reservation book, booking channels and their webhooks."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import Depends, Request, Response, status
from fastapi.responses import JSONResponse

from cauri.core.db import utcnow
from cauri.core.deps import SettingsDep
from cauri.core.jobs import enqueue
from cauri.core.pagination import Page
from cauri.core.principal import Principal
from cauri.core.routing import SessionDep, api_router
from cauri.identity.permissions import Perm, require, require_org
from cauri.kit.errors import ConnectorError
from cauri.restaurant import bookings, errors, webhooks
from cauri.restaurant.booking_schemas import (
    ChannelRead,
    ChannelWrite,
    ReservationRead,
    ReservationStatusWrite,
    ReservationWrite,
    ServiceRead,
    ServiceWrite,
    SlotRead,
)
from cauri.restaurant.models import RestaurantConnection

router = api_router(tags=["restaurant"])  # included by router.py under /restaurant
public_router = api_router(tags=["restaurant"])

Manager = Annotated[Principal, Depends(require(Perm.ORG_MANAGE))]
Reader = Annotated[Principal, Depends(require(Perm.ORG_READ))]
CredentialsManager = Annotated[Principal, Depends(require(Perm.CONNECTORS_MANAGE))]


async def _push_later(session: SessionDep, organization_id: uuid.UUID, day: date) -> None:
    payload = {"organization_id": str(organization_id), "days": [day.isoformat()]}
    await enqueue(session, bookings.AVAILABILITY_JOB, payload)


@router.put("/services/{name}", summary="A service (lunch, dinner): its hours and how many covers it seats")
async def put_service(name: str, body: ServiceWrite, principal: Manager, session: SessionDep) -> ServiceRead:
    row = await bookings.put_service(
        session,
        organization_id=require_org(principal),
        name=name[:40],
        starts=body.starts,
        ends=body.ends,
        capacity=body.capacity,
        timezone=body.timezone,
    )
    return ServiceRead.of(row)


@router.get("/services", summary="The restaurant's services (one page)")
async def list_services(principal: Reader, session: SessionDep) -> Page[ServiceRead]:
    rows = await bookings.list_services(session, require_org(principal))
    return Page[ServiceRead](items=[ServiceRead.of(row) for row in rows])


@router.post(
    "/reservations",
    status_code=status.HTTP_201_CREATED,
    summary="Book a table directly (refused with 409 when the service is full)",
    responses={409: {}},
)
async def book(body: ReservationWrite, principal: Manager, session: SessionDep) -> ReservationRead:
    organization_id = require_org(principal)
    row = await bookings.book_direct(
        session,
        organization_id=organization_id,
        party_size=body.party_size,
        starts_at=body.starts_at,
        guest_name=body.guest_name,
        email=body.email,
        phone=body.phone,
        notes=body.notes,
        marketing_consent=body.marketing_consent,
    )
    await _push_later(session, organization_id, row.service_date)
    return ReservationRead.of(row)


@router.patch(
    "/reservations/{reservation_id}",
    summary="Change a reservation's status (a channel's is sent back to the channel)",
    responses={409: {}},
)
async def change_status(
    reservation_id: uuid.UUID, body: ReservationStatusWrite, principal: Manager, session: SessionDep
) -> ReservationRead:
    organization_id = require_org(principal)
    row = await bookings.set_status(
        session, organization_id=organization_id, reservation_id=reservation_id, status=body.status
    )
    await _push_later(session, organization_id, row.service_date)
    if row.channel in bookings.CHANNELS:  # the channel learns what the restaurant changed
        await enqueue(session, bookings.WRITE_BACK_JOB, {"reservation_id": str(row.id)})
    return ReservationRead.of(row)


@router.get("/reservations", summary="The book of one day (today by default), every channel")
async def day_book(principal: Reader, session: SessionDep, day: date | None = None) -> Page[ReservationRead]:
    rows = await bookings.day_book(session, require_org(principal), day or utcnow().date())
    return Page[ReservationRead](items=[ReservationRead.of(row) for row in rows])


@router.get("/availability", summary="Covers left per service on one day (what the channels are sent)")
async def availability(principal: Reader, session: SessionDep, day: date | None = None) -> Page[SlotRead]:
    slots = await bookings.availability(session, require_org(principal), [day or utcnow().date()])
    return Page[SlotRead](items=[SlotRead.of(slot) for slot in slots])


def _channel(settings: SettingsDep, row: RestaurantConnection) -> ChannelRead:
    return ChannelRead(
        name=row.provider,
        status=row.status,
        webhook_url=settings.public_base_url.rstrip("/") + bookings.webhook_path(row.id),
        last_success_at=row.last_success_at,
        last_error_code=row.last_error_code,
    )


@router.put("/channels/{name}", summary="Connect a booking channel (TheFork, OpenTable) with its partner keys")
async def put_channel(
    name: str, body: ChannelWrite, principal: CredentialsManager, session: SessionDep, settings: SettingsDep
) -> ChannelRead:
    row = await bookings.configure_channel(
        session,
        settings=settings,
        organization_id=require_org(principal),
        name=name,
        restaurant_id=body.restaurant_id,
        client_id=body.client_id,
        client_secret=body.client_secret,
        webhook_secret=body.webhook_secret,
        base_url=body.base_url,
        auth_url=body.auth_url,
    )
    return _channel(settings, row)


@router.post(
    "/channels/{name}/sync", status_code=status.HTTP_202_ACCEPTED, summary="Read the channel's reservation changes"
)
async def sync_channel(name: str, principal: CredentialsManager, session: SessionDep) -> dict[str, str]:
    rows = await bookings.channel_rows(session, require_org(principal))
    row = next((r for r in rows if r.provider == name), None)
    if row is None:
        raise errors.unknown_channel(name)
    job = await enqueue(session, bookings.CHANNEL_SYNC_JOB, {"connection_id": str(row.id)})
    return {"job_id": str(job)}


@public_router.post(
    "/webhooks/bookings/{connection_id}", summary="A booking channel's notification (authenticated, then queued)"
)
async def receive_booking_webhook(
    connection_id: uuid.UUID, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    body = await request.body()
    row = await session.get(RestaurantConnection, connection_id)
    if row is None or row.kind != bookings.RESERVATIONS:
        raise errors.unknown_channel(str(connection_id))
    url = settings.public_base_url.rstrip("/") + bookings.webhook_path(connection_id)
    if request.url.query:
        url = f"{url}?{request.url.query}"
    connector = bookings.channel_connector(settings, row)
    try:
        event = connector.parse_webhook(headers=dict(request.headers), body=body, url=url)
    except ConnectorError as exc:
        raise exc.to_app_error() from exc
    finally:
        await connector.aclose()
    merchant = type(event)(
        event_id=event.event_id, type=event.type, kind=event.kind, object_ids=event.object_ids, merchant_id=str(row.id)
    )
    fresh = await webhooks.receive(session, provider=row.provider, event=merchant, job=bookings.CHANNEL_WEBHOOK_JOB)
    return JSONResponse({"received": True, "duplicate": not fresh})
