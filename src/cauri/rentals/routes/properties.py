"""Listings: public search, ``nearby`` and reading; landlords' own listings and their photos."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, Response, UploadFile, status

from cauri.core.db import utcnow
from cauri.core.deps import OptionalPrincipal, StorageDep
from cauri.core.errors import field_error
from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router, writes_on_read
from cauri.rentals import bookings, properties, search
from cauri.rentals.errors import too_many_images
from cauri.rentals.images import MAX_IMAGE_BYTES, MAX_IMAGES_PER_UPLOAD, process_upload
from cauri.rentals.params import Filter
from cauri.rentals.routes.common import Marketplace, MemberMarketplace, Paging, property_reads
from cauri.rentals.schemas import (
    Availability,
    BusyRange,
    ImageOrder,
    ImageRead,
    PropertyCreate,
    PropertyPage,
    PropertyRead,
    PropertyStatusName,
    PropertyUpdate,
)

router: APIRouter = api_router()
public_router: APIRouter = api_router()


@public_router.get("/properties", summary="Search published listings")
async def search_properties(
    session: SessionDep, organization_id: Marketplace, flt: Filter, paging: Paging
) -> PropertyPage:
    rows, cursor = await search.search(
        session, organization_id=organization_id, flt=flt, limit=paging.limit, cursor=paging.cursor
    )
    return PropertyPage(items=await property_reads(session, rows), next_cursor=cursor)


@public_router.get("/properties/nearby", summary="Published listings around a point, nearest first")
async def nearby_properties(
    session: SessionDep,
    organization_id: Marketplace,
    flt: Filter,
    paging: Paging,
) -> PropertyPage:
    found, cursor = await search.nearby(
        session, organization_id=organization_id, flt=flt, limit=paging.limit, cursor=paging.cursor
    )
    items = await property_reads(session, [p for p, _ in found], [d for _, d in found])
    return PropertyPage(items=items, next_cursor=cursor)


@router.get("/properties/mine", summary="My listings, whatever their status")
async def my_properties(
    session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace, paging: Paging
) -> PropertyPage:
    rows, cursor = await properties.my_properties(
        session, organization_id=organization_id, principal=principal, params=paging
    )
    return PropertyPage(items=await property_reads(session, rows), next_cursor=cursor)


@public_router.get("/properties/{property_id}", summary="A listing (counts a view)")
@writes_on_read
async def get_property(
    property_id: uuid.UUID, session: SessionDep, organization_id: Marketplace, principal: OptionalPrincipal
) -> PropertyRead:
    prop = await properties.get_property(
        session, organization_id=organization_id, property_id=property_id, principal=principal
    )
    if principal is None or principal.person_id != prop.owner_id:
        await properties.record_view(session, prop.id)
        await session.refresh(prop)
    return (await property_reads(session, [prop]))[0]


@public_router.get("/properties/{property_id}/availability", summary="A listing's calendar: the nights taken")
async def availability(
    *,
    property_id: uuid.UUID,
    session: SessionDep,
    organization_id: Marketplace,
    principal: OptionalPrincipal,
    since: date | None = None,
    until: date | None = None,
) -> Availability:
    prop = await properties.get_property(
        session, organization_id=organization_id, property_id=property_id, principal=principal
    )
    start = since or utcnow().date()
    if until is not None and until <= start:
        raise field_error("until", "dates_reversed", "« until » doit suivre « since ».", "'until' must follow 'since'.")
    busy = await bookings.busy_ranges(session, property_id=prop.id, since=start, until=until)
    return Availability(
        property_id=prop.id,
        available_from=prop.available_from,
        available_to=prop.available_to,
        minimum_stay=prop.minimum_stay,
        busy=[BusyRange(start_date=b.start_date, end_date=b.end_date, status=b.status) for b in busy],
    )


@public_router.get(
    "/images/{image_id}/{size}",
    summary="A published listing's photo",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def image(
    image_id: uuid.UUID, size: Literal["thumb", "medium", "large"], session: SessionDep, storage: StorageDep
) -> Response:
    key = await properties.image_key(session, image_id=image_id, size=size)
    data = await storage.get(key)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=86400"})


@router.post("/properties", status_code=status.HTTP_201_CREATED, summary="List a property")
async def create_property(
    body: PropertyCreate, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> PropertyRead:
    prop = await properties.create_property(session, organization_id=organization_id, principal=principal, body=body)
    return (await property_reads(session, [prop]))[0]


async def _update(
    session: SessionDep,
    organization_id: uuid.UUID,
    property_id: uuid.UUID,
    principal: CurrentPrincipal,
    body: PropertyUpdate,
) -> PropertyRead:
    prop = await properties.update_property(
        session, organization_id=organization_id, property_id=property_id, principal=principal, body=body
    )
    return (await property_reads(session, [prop]))[0]


@router.patch("/properties/{property_id}", summary="Change a listing (its status publishes or withdraws it)")
async def update_property(
    property_id: uuid.UUID,
    body: PropertyUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> PropertyRead:
    return await _update(session, organization_id, property_id, principal, body)


@router.post("/properties/{property_id}/status", summary="Publish, withdraw or mark rented")
async def set_status(
    property_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
    value: Annotated[PropertyStatusName, Query(alias="status")],
) -> PropertyRead:
    return await _update(session, organization_id, property_id, principal, PropertyUpdate(status=value))


@router.delete("/properties/{property_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a listing")
async def delete_property(
    property_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> Response:
    await properties.delete_property(
        session, organization_id=organization_id, property_id=property_id, principal=principal
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/properties/{property_id}/images",
    status_code=status.HTTP_201_CREATED,
    summary=f"Add up to {MAX_IMAGES_PER_UPLOAD} photos (JPEG, PNG, WebP; {MAX_IMAGE_BYTES // 1_000_000} MB each)",
)
async def upload_images(
    *,
    property_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
    storage: StorageDep,
    files: Annotated[list[UploadFile], File(description="The photos")],
) -> list[ImageRead]:
    # Ownership first: a stranger's upload is refused before its bytes are decoded.
    await properties.managed_property(
        session, organization_id=organization_id, property_id=property_id, principal=principal
    )
    if len(files) > MAX_IMAGES_PER_UPLOAD:
        raise too_many_images(MAX_IMAGES_PER_UPLOAD)
    contents = [await f.read(MAX_IMAGE_BYTES + 1) for f in files]
    processed = await process_upload(contents)
    added = await properties.add_images(
        session,
        organization_id=organization_id,
        property_id=property_id,
        principal=principal,
        storage=storage,
        processed=processed,
    )
    return [properties.image_read(i) for i in added]


@router.put("/properties/{property_id}/images/order", summary="Order the photos and choose the primary one")
async def order_images(
    property_id: uuid.UUID,
    body: ImageOrder,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> list[ImageRead]:
    images = await properties.arrange_images(
        session,
        organization_id=organization_id,
        property_id=property_id,
        principal=principal,
        order=body.order,
        primary_id=body.primary_id,
    )
    return [properties.image_read(i) for i in images]


@router.delete(
    "/properties/{property_id}/images/{image_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a photo"
)
async def delete_image(
    property_id: uuid.UUID,
    image_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> Response:
    await properties.delete_image(
        session, organization_id=organization_id, property_id=property_id, image_id=image_id, principal=principal
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
