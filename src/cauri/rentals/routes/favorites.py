"""Favourites: a member's saved listings."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router
from cauri.rentals import properties
from cauri.rentals.routes.common import MemberMarketplace, Paging, property_reads
from cauri.rentals.schemas import PropertyPage, PropertyRead

router: APIRouter = api_router()


@router.post("/properties/{property_id}/favorite", summary="Add to my favourites")
async def add_favorite(
    property_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> PropertyRead:
    prop = await properties.add_favorite(
        session, organization_id=organization_id, property_id=property_id, principal=principal
    )
    return (await property_reads(session, [prop]))[0]


@router.delete(
    "/properties/{property_id}/favorite", status_code=status.HTTP_204_NO_CONTENT, summary="Remove from my favourites"
)
async def remove_favorite(
    property_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> Response:
    await properties.remove_favorite(
        session, organization_id=organization_id, property_id=property_id, principal=principal
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/favorites", summary="My favourites")
async def list_favorites(
    session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace, paging: Paging
) -> PropertyPage:
    rows, cursor = await properties.favorites(
        session, organization_id=organization_id, principal=principal, params=paging
    )
    return PropertyPage(items=await property_reads(session, rows), next_cursor=cursor)
