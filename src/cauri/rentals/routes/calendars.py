"""iCal: a listing's exported feed (public, by its unguessable token) and the landlord's imported calendars."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from cauri.core.db import utcnow
from cauri.core.deps import settings_of
from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router
from cauri.rentals import calendars
from cauri.rentals.routes.common import MemberMarketplace
from cauri.rentals.schemas import CalendarExport, CalendarImportCreate, CalendarImportRead, CalendarSettings

router: APIRouter = api_router()
public_router: APIRouter = api_router()


def import_read(imported: object) -> CalendarImportRead:
    return CalendarImportRead.model_validate(imported, from_attributes=True)


@public_router.get(
    "/calendars/{token}.ics",
    summary="A listing's held nights as an iCalendar feed (the URL's token is the key)",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
async def calendar_feed(token: str, request: Request, session: SessionDep) -> Response:
    text = await calendars.export_feed(session, settings=settings_of(request), token=token, now=utcnow())
    return Response(
        text,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300", "Content-Disposition": 'inline; filename="calendar.ics"'},
    )


@router.get("/properties/{property_id}/calendar", summary="My listing's calendar sync: its feed and imports")
async def calendar_settings(
    property_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> CalendarSettings:
    prop = await calendars.readable_listing(
        session, organization_id=organization_id, property_id=property_id, principal=principal
    )
    feed = await calendars.feed_of(session, prop.id)
    return CalendarSettings(
        property_id=prop.id,
        export_enabled=feed is not None,
        export_created_at=feed.created_at if feed is not None else None,
        imports=[import_read(i) for i in await calendars.imports_of(session, prop.id)],
    )


@router.post(
    "/properties/{property_id}/calendar/export",
    status_code=status.HTTP_201_CREATED,
    summary="A new feed URL for my listing (shown once; the previous one stops working)",
)
async def rotate_export(
    property_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> CalendarExport:
    settings = settings_of(request)
    feed, token = await calendars.rotate_feed(
        session, organization_id=organization_id, property_id=property_id, principal=principal, settings=settings
    )
    base = settings.public_base_url.rstrip("/") or str(request.base_url).rstrip("/")
    return CalendarExport(url=f"{base}{calendars.feed_path(token)}", created_at=feed.created_at)


@router.post(
    "/properties/{property_id}/calendar/imports",
    status_code=status.HTTP_201_CREATED,
    summary="Import an external calendar (Airbnb, Booking…): its events block my listing's nights",
)
async def add_import(
    property_id: uuid.UUID,
    body: CalendarImportCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> CalendarImportRead:
    imported = await calendars.add_import(
        session,
        organization_id=organization_id,
        property_id=property_id,
        principal=principal,
        url=body.url,
        name=body.name,
    )
    return import_read(imported)


@router.post(
    "/calendar/imports/{import_id}/sync", status_code=status.HTTP_202_ACCEPTED, summary="Sync an imported calendar now"
)
async def sync_import(
    import_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> CalendarImportRead:
    imported = await calendars.managed_import(
        session, organization_id=organization_id, import_id=import_id, principal=principal
    )
    await calendars.request_sync(session, imported)
    return import_read(imported)


@router.delete(
    "/calendar/imports/{import_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Stop importing a calendar (its blocked nights are free again)",
)
async def remove_import(
    import_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> Response:
    await calendars.remove_import(session, organization_id=organization_id, import_id=import_id, principal=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
