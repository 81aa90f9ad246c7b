"""The services marketplace: the catalogue and provider search (public), provider profiles, service requests,
quotes, paying the accepted quote, completing the job, cancelling, and providers' payouts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, status

from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router, writes_on_read
from cauri.rentals import reviews, services
from cauri.rentals.models import ServiceProvider, ServiceQuote, ServiceRequest
from cauri.rentals.routes.common import Marketplace, MemberMarketplace, Paging, payment_read
from cauri.rentals.schemas import (
    BalanceRead,
    BookingAnswer,
    BookingPayment,
    DisputeResolution,
    JobDispute,
    JobReviewCreate,
    LandlordPayout,
    PaymentRead,
    ProviderPage,
    ProviderProfileWrite,
    ProviderRead,
    ProviderReviews,
    ProviderVerification,
    QuoteCreate,
    QuoteRead,
    ReviewRead,
    ServiceCategoryRead,
    ServiceRequestCreate,
    ServiceRequestPage,
    ServiceRequestRead,
)

router: APIRouter = api_router()
public_router: APIRouter = api_router()

CityQuery = Annotated[str | None, Query(min_length=1, max_length=100)]
ServiceQuery = Annotated[str | None, Query(min_length=1, max_length=50)]


def provider_read(profile: ServiceProvider) -> ProviderRead:
    return ProviderRead.model_validate(profile, from_attributes=True)


def request_read(request: ServiceRequest) -> ServiceRequestRead:
    return ServiceRequestRead.model_validate(request, from_attributes=True)


def quote_read(quote: ServiceQuote) -> QuoteRead:
    return QuoteRead.model_validate(quote, from_attributes=True)


@public_router.get("/services", summary="The services catalogue")
async def catalogue(session: SessionDep) -> list[ServiceCategoryRead]:
    return [ServiceCategoryRead.model_validate(c, from_attributes=True) for c in await services.catalogue(session)]


@public_router.get("/providers", summary="Providers offering a service in a city")
async def search_providers(
    session: SessionDep,
    organization_id: Marketplace,
    paging: Paging,
    *,
    service: ServiceQuery = None,
    city: CityQuery = None,
    verified: bool | None = None,
) -> ProviderPage:
    rows, cursor = await services.search_providers(
        session, organization_id=organization_id, service=service, city=city, verified=verified, params=paging
    )
    return ProviderPage(items=[provider_read(p) for p in rows], next_cursor=cursor)


@router.get("/providers/me", summary="My provider profile")
async def my_profile(
    session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> ProviderRead:
    return provider_read(await services.my_profile(session, organization_id=organization_id, principal=principal))


@router.put("/providers/me", summary="Create or replace my provider profile (provider)")
async def save_profile(
    body: ProviderProfileWrite, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> ProviderRead:
    profile = await services.save_profile(
        session,
        organization_id=organization_id,
        principal=principal,
        company_name=body.company_name,
        bio=body.bio,
        services=body.services,
        areas=body.areas,
        hourly_rate=body.hourly_rate,
        currency=body.currency,
    )
    return provider_read(profile)


@router.get("/providers/me/balance", summary="What the marketplace owes me (provider)")
@writes_on_read  # the provider's account is made on first use
async def provider_balance(
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
    currency: Annotated[str, Query(pattern=r"^[A-Z]{3}$")] = "XOF",
) -> BalanceRead:
    account, available = await services.provider_balance(
        session, organization_id=organization_id, principal=principal, currency=currency
    )
    return BalanceRead(account_id=account.id, currency=currency, available=available)


@router.post("/providers/me/payouts", status_code=status.HTTP_201_CREATED, summary="Pay me out (provider)")
async def provider_payout(
    body: LandlordPayout,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> PaymentRead:
    view = await services.pay_out_provider(
        session,
        organization_id=organization_id,
        principal=principal,
        currency=body.currency,
        amount=body.amount,
        phone=body.phone,
        idempotency_key=idempotency_key or uuid.uuid4().hex,
    )
    return payment_read(view)


@public_router.get("/providers/{provider_id}", summary="A provider's public profile")
async def get_provider(provider_id: uuid.UUID, session: SessionDep, organization_id: Marketplace) -> ProviderRead:
    return provider_read(await services.get_provider(session, organization_id=organization_id, provider_id=provider_id))


@public_router.get("/providers/{provider_id}/reviews", summary="A provider's published reviews and rating")
async def provider_reviews(
    provider_id: uuid.UUID, session: SessionDep, organization_id: Marketplace
) -> ProviderReviews:
    profile = await services.get_provider(session, organization_id=organization_id, provider_id=provider_id)
    items = await reviews.provider_reviews(session, organization_id=organization_id, provider_id=profile.user_id)
    return ProviderReviews(
        provider_id=profile.id,
        rating=profile.rating,
        count=profile.reviews_count,
        items=[ReviewRead.model_validate(r, from_attributes=True) for r in items],
    )


@router.post("/providers/{provider_id}/verification", summary="Verify a provider (operator)")
async def verify_provider(
    provider_id: uuid.UUID,
    body: ProviderVerification,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> ProviderRead:
    profile = await services.set_verified(
        session, organization_id=organization_id, principal=principal, provider_id=provider_id, verified=body.verified
    )
    return provider_read(profile)


@router.post("/service-requests", status_code=status.HTTP_201_CREATED, summary="Ask for a service")
async def create_request(
    body: ServiceRequestCreate, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> ServiceRequestRead:
    request = await services.create_request(
        session,
        organization_id=organization_id,
        principal=principal,
        service=body.service,
        property_id=body.property_id,
        title=body.title,
        description=body.description,
        urgency=body.urgency,
        city=body.city,
        wanted_date=body.wanted_date,
    )
    return request_read(request)


@router.get("/service-requests/mine", summary="My service requests (as the requester)")
async def my_requests(
    session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace, paging: Paging
) -> ServiceRequestPage:
    rows, cursor = await services.my_requests(
        session, organization_id=organization_id, principal=principal, params=paging
    )
    return ServiceRequestPage(items=[request_read(r) for r in rows], next_cursor=cursor)


@router.get("/service-requests/open", summary="Open requests of the services and cities I cover (provider)")
async def open_requests(
    session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace, paging: Paging
) -> ServiceRequestPage:
    rows, cursor = await services.open_requests_for_me(
        session, organization_id=organization_id, principal=principal, params=paging
    )
    return ServiceRequestPage(items=[request_read(r) for r in rows], next_cursor=cursor)


@router.get("/service-requests/my-jobs", summary="The jobs I won (provider)")
async def my_jobs(
    session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace, paging: Paging
) -> ServiceRequestPage:
    rows, cursor = await services.my_jobs(session, organization_id=organization_id, principal=principal, params=paging)
    return ServiceRequestPage(items=[request_read(r) for r in rows], next_cursor=cursor)


@router.get("/service-requests/{request_id}", summary="A service request")
async def get_request(
    request_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> ServiceRequestRead:
    return request_read(
        await services.get_request(session, organization_id=organization_id, principal=principal, request_id=request_id)
    )


@router.post("/service-requests/{request_id}/quotes", status_code=status.HTTP_201_CREATED, summary="Quote (provider)")
async def submit_quote(
    request_id: uuid.UUID,
    body: QuoteCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> QuoteRead:
    quote = await services.submit_quote(
        session,
        organization_id=organization_id,
        principal=principal,
        request_id=request_id,
        amount=body.amount,
        currency=body.currency,
        message=body.message,
        valid_until=body.valid_until,
    )
    return quote_read(quote)


@router.get("/service-requests/{request_id}/quotes", summary="A request's quotes (a provider sees their own)")
async def request_quotes(
    request_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> list[QuoteRead]:
    found = await services.quotes_of(
        session, organization_id=organization_id, principal=principal, request_id=request_id
    )
    return [quote_read(q) for q in found]


@router.post("/service-quotes/{quote_id}/accept", summary="Accept a quote; the others are rejected (requester)")
async def accept_quote(
    quote_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> ServiceRequestRead:
    request = await services.accept_quote(
        session, organization_id=organization_id, principal=principal, quote_id=quote_id
    )
    return request_read(request)


@router.post("/service-requests/{request_id}/pay", summary="Pay the accepted quote by mobile money (requester)")
async def pay_service_request(
    request_id: uuid.UUID,
    body: BookingPayment,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> PaymentRead:
    view = await services.pay_request(
        session, organization_id=organization_id, principal=principal, request_id=request_id, phone=body.phone
    )
    return payment_read(view)


@router.post("/service-requests/{request_id}/done", summary="The work is done (chosen provider)")
async def mark_done(
    request_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> ServiceRequestRead:
    request = await services.mark_done(
        session, organization_id=organization_id, principal=principal, request_id=request_id
    )
    return request_read(request)


@router.post("/service-requests/{request_id}/confirm", summary="Confirm the work; the provider is paid (requester)")
async def confirm(
    request_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> ServiceRequestRead:
    request = await services.confirm_completion(
        session, organization_id=organization_id, principal=principal, request_id=request_id
    )
    return request_read(request)


@router.post("/service-requests/{request_id}/cancel", summary="Cancel; refunded if already paid")
async def cancel_service_request(
    request_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
    body: BookingAnswer | None = None,
) -> ServiceRequestRead:
    request = await services.cancel_request(
        session,
        organization_id=organization_id,
        principal=principal,
        request_id=request_id,
        reason=body.reason if body else None,
    )
    return request_read(request)


@router.post(
    "/service-requests/{request_id}/reviews",
    status_code=status.HTTP_201_CREATED,
    summary="Review a completed job (double-blind)",
)
async def review_job(
    request_id: uuid.UUID,
    body: JobReviewCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> ReviewRead:
    review = await reviews.write_job_review(
        session,
        organization_id=organization_id,
        principal=principal,
        request_id=request_id,
        rating=body.rating,
        comment=body.comment,
    )
    return ReviewRead.model_validate(review, from_attributes=True)


@router.get("/service-requests/{request_id}/reviews", summary="My review of a job, and the other side's once revealed")
async def job_reviews(
    request_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> list[ReviewRead]:
    found = await reviews.reviews_of_job(
        session, organization_id=organization_id, principal=principal, request_id=request_id
    )
    return [ReviewRead.model_validate(r, from_attributes=True) for r in found]


@router.post("/service-requests/{request_id}/dispute", summary="Contest the work marked done (requester)")
async def dispute(
    request_id: uuid.UUID,
    body: JobDispute,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> ServiceRequestRead:
    request = await services.dispute_job(
        session, organization_id=organization_id, principal=principal, request_id=request_id, reason=body.reason
    )
    return request_read(request)


@router.post("/service-requests/{request_id}/resolve", summary="Settle a dispute: refund part, pay the rest (operator)")
async def resolve(
    request_id: uuid.UUID,
    body: DisputeResolution,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> ServiceRequestRead:
    request = await services.resolve_dispute(
        session,
        organization_id=organization_id,
        principal=principal,
        request_id=request_id,
        refund=body.refund,
        reason=body.reason,
    )
    return request_read(request)
