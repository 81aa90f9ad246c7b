"""LokaHome's ``/api/v1/properties`` (seed 004, section 6.3), in the seed's shapes: lists are bare arrays paged
by ``page``/``per_page``, ``nearby`` is sorted by distance with ``distance_km``, images carry an ``image_url``.
Thin adapters over :mod:`cauri.rentals` for the operator organisation this surface serves."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import File, Query, Request, Response, UploadFile, status
from pydantic import BaseModel, Field

from cauri.core.db import utcnow
from cauri.core.deps import OptionalPrincipal, StorageDep
from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router, writes_on_read
from cauri.rentals import bookings, people, properties, search
from cauri.rentals.errors import too_many_images
from cauri.rentals.images import MAX_IMAGE_BYTES, MAX_IMAGES_PER_UPLOAD, process_upload
from cauri.rentals.models import Property
from cauri.rentals.params import Filter
from cauri.rentals.schemas import PropertyCreate, PropertyRead, PropertyUpdate
from cauri.surfaces.registry import operator_id

router = api_router(prefix="/api/v1/properties")
public_router = api_router(prefix="/api/v1/properties")

Page = Annotated[int, Query(ge=1, le=10_000, description="Page number, from 1")]
PerPage = Annotated[int, Query(ge=1, le=100, description="Results per page")]


class SeedImage(BaseModel):
    id: uuid.UUID
    image_url: str
    thumbnails: dict[str, str]
    is_primary: bool
    order_index: int


class SeedProperty(PropertyRead):
    images: list[SeedImage] = Field(default_factory=list)  # type: ignore[assignment]


class SeedAvailability(BaseModel):
    property_id: uuid.UUID
    available_from: date | None
    available_to: date | None
    minimum_stay: int | None
    booked: list[dict[str, date | str]]


class Uploaded(BaseModel):
    uploaded: list[str]


def _seed(read: PropertyRead, prefix: str) -> SeedProperty:
    images = [
        SeedImage(
            id=i.id,
            image_url=prefix + i.urls["large"],
            thumbnails={k: prefix + v for k, v in i.urls.items()},
            is_primary=i.is_primary,
            order_index=i.order_index,
        )
        for i in read.images
    ]
    return SeedProperty(**{**read.model_dump(), "images": images})


def _prefix(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def _seeds(
    session: SessionDep, request: Request, rows: list[Property], distances: list[float] | None = None
) -> list[SeedProperty]:
    images = await properties.images_of(session, [p.id for p in rows])
    verified = await people.verified_among(session, {(p.organization_id, p.owner_id) for p in rows})
    prefix = _prefix(request)
    return [
        _seed(
            properties.property_read(
                p,
                images[p.id],
                None if distances is None else round(distances[n], 2),
                owner_verified=(p.organization_id, p.owner_id) in verified,
            ),
            prefix,
        )
        for n, p in enumerate(rows)
    ]


@public_router.get("", summary="Lister les propriétés")
async def list_properties(
    request: Request, session: SessionDep, flt: Filter, page: Page = 1, per_page: PerPage = 20
) -> list[SeedProperty]:
    rows, _ = await search.search(
        session,
        organization_id=operator_id(request),
        flt=flt,
        limit=per_page,
        cursor=None,
        offset=(page - 1) * per_page,
    )
    return await _seeds(session, request, rows)


@public_router.get("/search", summary="Recherche avancée")
async def search_properties(
    request: Request, session: SessionDep, flt: Filter, page: Page = 1, per_page: PerPage = 20
) -> list[SeedProperty]:
    return await list_properties(request, session, flt, page, per_page)


@public_router.get("/nearby", summary="Recherche géographique, triée par distance")
async def nearby(
    request: Request, session: SessionDep, flt: Filter, page: Page = 1, per_page: PerPage = 50
) -> list[SeedProperty]:
    found, _ = await search.nearby(
        session, organization_id=operator_id(request), flt=flt, limit=per_page, offset=(page - 1) * per_page
    )
    return await _seeds(session, request, [p for p, _ in found], [d for _, d in found])


@public_router.get("/{property_id}", summary="Détails d'une propriété")
@writes_on_read
async def get_property(
    property_id: uuid.UUID, request: Request, session: SessionDep, principal: OptionalPrincipal
) -> SeedProperty:
    prop = await properties.get_property(
        session, organization_id=operator_id(request), property_id=property_id, principal=principal
    )
    if principal is None or principal.person_id != prop.owner_id:
        await properties.record_view(session, prop.id)
        await session.refresh(prop)
    return (await _seeds(session, request, [prop]))[0]


@public_router.get("/{property_id}/availability", summary="Disponibilité")
async def availability(
    property_id: uuid.UUID, request: Request, session: SessionDep, principal: OptionalPrincipal
) -> SeedAvailability:
    prop = await properties.get_property(
        session, organization_id=operator_id(request), property_id=property_id, principal=principal
    )
    busy = await bookings.busy_ranges(session, property_id=prop.id, since=utcnow().date())
    return SeedAvailability(
        property_id=prop.id,
        available_from=prop.available_from,
        available_to=prop.available_to,
        minimum_stay=prop.minimum_stay,
        booked=[{"start_date": b.start_date, "end_date": b.end_date, "status": b.status} for b in busy],
    )


@router.post("", status_code=status.HTTP_201_CREATED, summary="Créer annonce")
async def create_property(
    body: PropertyCreate, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> SeedProperty:
    prop = await properties.create_property(
        session, organization_id=operator_id(request), principal=principal, body=body
    )
    return (await _seeds(session, request, [prop]))[0]


@router.put("/{property_id}", summary="Modifier")
async def update_property(
    property_id: uuid.UUID, body: PropertyUpdate, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> SeedProperty:
    prop = await properties.update_property(
        session, organization_id=operator_id(request), property_id=property_id, principal=principal, body=body
    )
    return (await _seeds(session, request, [prop]))[0]


@router.delete("/{property_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Supprimer")
async def delete_property(
    property_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    await properties.delete_property(
        session, organization_id=operator_id(request), property_id=property_id, principal=principal
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{property_id}/images", summary="Upload images (10 au plus)")
async def upload_images(
    *,
    property_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    storage: StorageDep,
    files: Annotated[list[UploadFile], File()],
) -> Uploaded:
    organization_id = operator_id(request)
    await properties.managed_property(
        session, organization_id=organization_id, property_id=property_id, principal=principal
    )
    if len(files) > MAX_IMAGES_PER_UPLOAD:
        raise too_many_images(MAX_IMAGES_PER_UPLOAD)
    processed = await process_upload([await f.read(MAX_IMAGE_BYTES + 1) for f in files])
    added = await properties.add_images(
        session,
        organization_id=organization_id,
        property_id=property_id,
        principal=principal,
        storage=storage,
        processed=processed,
    )
    prefix = _prefix(request)
    return Uploaded(uploaded=[prefix + properties.image_read(i).urls["large"] for i in added])


@router.post("/{property_id}/favorite", summary="Ajouter aux favoris")
async def favorite(
    property_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, bool | datetime]:
    await properties.add_favorite(
        session, organization_id=operator_id(request), property_id=property_id, principal=principal
    )
    return {"favorite": True, "at": utcnow()}
