"""Administration of the marketplace (its owners and admins): moderation of listings and reviews with their
trail, the identity verification queue, and the platform's statistics."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, StringConstraints

from cauri.core.deps import StorageDep
from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router
from cauri.identity.audit import AuditEvent
from cauri.rentals import admin, people
from cauri.rentals.models import Review
from cauri.rentals.routes.common import MemberMarketplace, Paging, property_reads
from cauri.rentals.routes.people import VerificationRead, verification_read
from cauri.rentals.schemas import PropertyPage, PropertyRead, PropertyStatusName, ReviewRead

router: APIRouter = api_router(prefix="/admin")

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=1000)]


class ModerationReason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "reject"]
    reason: Reason | None = None  # required to reject: the member reads it


class ModeratedReview(ReviewRead):
    hidden_at: datetime | None
    hidden_reason: str | None
    hidden_by: uuid.UUID | None


class ReviewPage(BaseModel):
    items: list[ModeratedReview]
    next_cursor: str | None = None


class VerificationPage(BaseModel):
    items: list[VerificationRead]
    next_cursor: str | None = None


class TrailEvent(BaseModel):
    action: str
    actor_user_id: uuid.UUID | None
    changes: dict[str, Any] | None
    created_at: datetime


class ListingCount(BaseModel):
    status: str
    city: str
    count: int


class MonthLine(BaseModel):
    month: str  # YYYY-MM (UTC), the month the booking was requested
    currency: str
    bookings: int  # requests, whatever became of them (imported calendar blocks excluded)
    confirmed: int  # confirmed or completed
    gmv: int  # rent paid by tenants, minor units (deposits are held, not sold)


class PayoutLine(BaseModel):
    currency: str
    released: int  # rent released to landlords' accounts
    paid_out: int  # paid out to their mobile money
    in_flight: int  # payouts started, not yet confirmed


class FeesLine(BaseModel):
    currency: str
    earned: int  # commissions credited to platform_fees
    net: int  # after the providers' fees the marketplace bore


class StatsRead(BaseModel):
    listings: list[ListingCount]
    listings_by_status: dict[str, int]
    bookings_by_month: list[MonthLine]
    payouts: list[PayoutLine]
    fees: list[FeesLine]
    users_by_role: dict[str, int]
    verified_users: int


def review_read(review: Review) -> ModeratedReview:
    return ModeratedReview.model_validate(review, from_attributes=True)


def trail_read(events: list[AuditEvent]) -> list[TrailEvent]:
    return [TrailEvent.model_validate(e, from_attributes=True) for e in events]


@router.get("/listings", summary="The moderation queue: every listing, whatever its status")
async def listing_queue(
    *,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
    paging: Paging,
    status: PropertyStatusName | None = None,
    suspended: bool | None = None,
) -> PropertyPage:
    rows, cursor = await admin.listing_queue(
        session, organization_id=organization_id, principal=principal, status=status, suspended=suspended, params=paging
    )
    return PropertyPage(items=await property_reads(session, rows), next_cursor=cursor)


@router.post("/listings/{property_id}/suspend", summary="Suspend a listing (it leaves search); the landlord sees why")
async def suspend_listing(
    property_id: uuid.UUID,
    body: ModerationReason,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> PropertyRead:
    prop = await admin.suspend_listing(
        session, organization_id=organization_id, principal=principal, property_id=property_id, reason=body.reason
    )
    return (await property_reads(session, [prop]))[0]


@router.post("/listings/{property_id}/reinstate", summary="Reinstate a suspended listing (its former status)")
async def reinstate_listing(
    property_id: uuid.UUID,
    body: ModerationReason,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> PropertyRead:
    prop = await admin.reinstate_listing(
        session, organization_id=organization_id, principal=principal, property_id=property_id, reason=body.reason
    )
    return (await property_reads(session, [prop]))[0]


@router.get("/listings/{property_id}/trail", summary="A listing's moderation trail")
async def listing_trail(
    property_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> list[TrailEvent]:
    events = await admin.moderation_trail(
        session,
        organization_id=organization_id,
        principal=principal,
        target_type=admin.LISTING_TARGET,
        target_id=property_id,
    )
    return trail_read(events)


@router.get("/reviews", summary="Every review, hidden or not, newest first")
async def review_queue(
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
    paging: Paging,
    hidden: bool | None = None,
) -> ReviewPage:
    rows, cursor = await admin.review_queue(
        session, organization_id=organization_id, principal=principal, hidden=hidden, params=paging
    )
    return ReviewPage(items=[review_read(r) for r in rows], next_cursor=cursor)


@router.post("/reviews/{review_id}/hide", summary="Hide a review (it counts nowhere) with a reason")
async def hide_review(
    review_id: uuid.UUID,
    body: ModerationReason,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> ModeratedReview:
    review = await admin.hide_review(
        session, organization_id=organization_id, principal=principal, review_id=review_id, reason=body.reason
    )
    return review_read(review)


@router.post("/reviews/{review_id}/restore", summary="Show a hidden review again")
async def restore_review(
    review_id: uuid.UUID,
    body: ModerationReason,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> ModeratedReview:
    review = await admin.restore_review(
        session, organization_id=organization_id, principal=principal, review_id=review_id, reason=body.reason
    )
    return review_read(review)


@router.get("/reviews/{review_id}/trail", summary="A review's moderation trail")
async def review_trail(
    review_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> list[TrailEvent]:
    events = await admin.moderation_trail(
        session,
        organization_id=organization_id,
        principal=principal,
        target_type=admin.REVIEW_TARGET,
        target_id=review_id,
    )
    return trail_read(events)


@router.get("/verifications", summary="The identity verification queue (pending first by default)")
async def verification_queue(
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
    paging: Paging,
    status: Annotated[Literal["pending", "approved", "rejected"] | None, Query()] = "pending",
) -> VerificationPage:
    rows, cursor = await people.verification_queue(
        session, organization_id=organization_id, principal=principal, status=status, params=paging
    )
    return VerificationPage(items=[verification_read(v) for v in rows], next_cursor=cursor)


@router.get(
    "/verifications/{verification_id}/document",
    summary="A request's identity document (admins only, never cached)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}}}},
)
async def verification_document(
    verification_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
    storage: StorageDep,
) -> Response:
    key, media_type = await people.verification_document(
        session, organization_id=organization_id, principal=principal, verification_id=verification_id
    )
    return Response(
        await storage.get(key),
        media_type=media_type,
        headers={"Cache-Control": "no-store", "Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff"},
    )


@router.post("/verifications/{verification_id}/decision", summary="Approve or reject (with a reason) a request")
async def decide_verification(
    verification_id: uuid.UUID,
    body: Decision,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> VerificationRead:
    found = await people.decide_verification(
        session,
        organization_id=organization_id,
        principal=principal,
        verification_id=verification_id,
        approve=body.decision == "approve",
        reason=body.reason,
    )
    return verification_read(found)


@router.get("/stats", summary="Platform statistics: listings, bookings and GMV by month, payouts, fees, users")
async def stats(session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace) -> StatsRead:
    found = await admin.platform_stats(session, organization_id=organization_id, principal=principal)
    return StatsRead.model_validate(found, from_attributes=True)
