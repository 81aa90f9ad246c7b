"""Reviews: double-blind reviews of completed stays, and a listing's published ones."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from cauri.core.deps import OptionalPrincipal
from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router
from cauri.rentals import properties, reviews
from cauri.rentals.routes.common import Marketplace, MemberMarketplace
from cauri.rentals.schemas import PropertyReviews, ReviewCreate, ReviewRead

router: APIRouter = api_router()
public_router: APIRouter = api_router()


@router.post("/reviews", status_code=status.HTTP_201_CREATED, summary="Review a completed stay (double-blind)")
async def write_review(
    body: ReviewCreate, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> ReviewRead:
    review = await reviews.write_review(
        session,
        organization_id=organization_id,
        principal=principal,
        booking_id=body.booking_id,
        rating=body.rating,
        comment=body.comment,
    )
    return ReviewRead.model_validate(review, from_attributes=True)


@router.get("/bookings/{booking_id}/reviews", summary="My review of a stay, and the other side's once revealed")
async def booking_reviews(
    booking_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> list[ReviewRead]:
    found = await reviews.reviews_of_booking(
        session, organization_id=organization_id, principal=principal, booking_id=booking_id
    )
    return [ReviewRead.model_validate(r, from_attributes=True) for r in found]


@public_router.get("/properties/{property_id}/reviews", summary="A listing's published reviews and rating")
async def property_reviews(
    property_id: uuid.UUID, session: SessionDep, organization_id: Marketplace, principal: OptionalPrincipal
) -> PropertyReviews:
    prop = await properties.get_property(
        session, organization_id=organization_id, property_id=property_id, principal=principal
    )
    rating, count = await reviews.rating_of(session, prop.id)
    items = await reviews.published_reviews(session, property_id=prop.id)
    return PropertyReviews(
        property_id=prop.id,
        rating=rating,
        count=count,
        items=[ReviewRead.model_validate(r, from_attributes=True) for r in items],
    )
