"""LokaHome's services routes (seed 004, section 6.6): the catalogue, providers, service requests, quotes and a
provider's reviews, in the seed's shapes (bare arrays paged by ``page``/``per_page``, ``PUT`` to accept). Thin
adapters over :mod:`cauri.rentals.services` for the operator organisation this surface serves."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select

from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router
from cauri.rentals import reviews, services
from cauri.rentals.access import person_of
from cauri.rentals.models import (
    Review,
    ServiceCategory,
    ServiceProvider,
    ServiceQuote,
    ServiceRequest,
)
from cauri.rentals.schemas import City, LongText, Title, UrgencyName
from cauri.surfaces.registry import operator_id

router = api_router(prefix="/api/v1")
public_router = api_router(prefix="/api/v1")

Page = Annotated[int, Query(ge=1, le=10_000)]
PerPage = Annotated[int, Query(ge=1, le=100)]


class SeedService(BaseModel):
    id: uuid.UUID
    name: str
    name_en: str
    description: str | None = None
    category: str  # the catalogue code, what the native API and providers' ``services`` name
    icon_url: str | None = None
    is_active: bool


class SeedProvider(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    company_name: str | None
    bio: str | None
    services: list[str]  # catalogue codes
    service_areas: list[str]
    hourly_rate: int | None  # minor units of ``currency``
    currency: str
    is_verified: bool
    rating: float | None
    total_jobs: int
    created_at: datetime
    updated_at: datetime


class SeedRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service_id: uuid.UUID
    property_id: uuid.UUID | None = None
    title: Title
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=10_000)]
    urgency: UrgencyName = "normal"
    preferred_date: date | None = None
    city: City | None = None  # not in the seed's table: Cauri matches providers by city (default: the listing's)


class SeedRequest(BaseModel):
    id: uuid.UUID
    service_id: uuid.UUID
    requester_id: uuid.UUID
    property_id: uuid.UUID | None
    title: str
    description: str
    urgency: str
    status: str
    preferred_date: date | None
    city: str
    amount: int
    currency: str | None
    created_at: datetime
    updated_at: datetime


class SeedQuoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service_request_id: uuid.UUID
    amount: Annotated[int, Field(gt=0, le=10**13, description="Integer minor units of the currency")]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "XOF"
    description: LongText | None = None


class SeedQuote(BaseModel):
    id: uuid.UUID
    service_request_id: uuid.UUID
    provider_id: uuid.UUID  # the provider's user id
    amount: int
    currency: str
    description: str | None
    status: str
    created_at: datetime
    updated_at: datetime


class SeedReview(BaseModel):
    id: uuid.UUID
    reviewer_id: uuid.UUID
    provider_id: uuid.UUID  # the provider profile's id
    service_request_id: uuid.UUID | None
    rating: int
    comment: str | None
    created_at: datetime


def _service(c: ServiceCategory) -> SeedService:
    return SeedService(id=c.id, name=c.name_fr, name_en=c.name_en, category=c.code, is_active=c.is_active)


def _provider(p: ServiceProvider) -> SeedProvider:
    return SeedProvider(
        id=p.id,
        user_id=p.user_id,
        company_name=p.company_name,
        bio=p.bio,
        services=p.services,
        service_areas=p.areas,
        hourly_rate=p.hourly_rate,
        currency=p.currency,
        is_verified=p.is_verified,
        rating=p.rating,
        total_jobs=p.total_jobs,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


async def _catalogue_ids(session: SessionDep) -> dict[str, uuid.UUID]:
    """Catalogue code → id: the seed names services by id, Cauri's rows by code."""
    rows = await session.execute(select(ServiceCategory.code, ServiceCategory.id))
    return {row.code: row.id for row in rows}


def _request(r: ServiceRequest, ids: dict[str, uuid.UUID]) -> SeedRequest:
    return SeedRequest(
        id=r.id,
        service_id=ids[r.service_code],
        requester_id=r.requester_id,
        property_id=r.property_id,
        title=r.title,
        description=r.description,
        urgency=r.urgency,
        status=r.status,
        preferred_date=r.wanted_date,
        city=r.city,
        amount=r.amount,
        currency=r.currency,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def _quote(q: ServiceQuote) -> SeedQuote:
    return SeedQuote(
        id=q.id,
        service_request_id=q.request_id,
        provider_id=q.provider_id,
        amount=q.amount,
        currency=q.currency,
        description=q.message,
        status=q.status,
        created_at=q.created_at,
        updated_at=q.updated_at,
    )


def _review(r: Review, provider: ServiceProvider) -> SeedReview:
    return SeedReview(
        id=r.id,
        reviewer_id=r.author_id,
        provider_id=provider.id,
        service_request_id=r.service_request_id,
        rating=r.rating,
        comment=r.comment,
        created_at=r.created_at,
    )


@public_router.get("/services", summary="Liste services disponibles")
async def list_services(session: SessionDep) -> list[SeedService]:
    return [_service(c) for c in await services.catalogue(session)]


@public_router.get("/service-providers", summary="Liste prestataires")
async def list_providers(
    request: Request,
    session: SessionDep,
    *,
    service: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    city: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    page: Page = 1,
    per_page: PerPage = 20,
) -> list[SeedProvider]:
    statement = services.providers_statement(operator_id(request), service=service, city=city, verified=None)
    rows = await session.execute(
        statement.order_by(ServiceProvider.created_at.desc(), ServiceProvider.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return [_provider(p) for p in rows.scalars()]


@public_router.get("/service-providers/{provider_id}", summary="Profil prestataire")
async def get_provider(provider_id: uuid.UUID, request: Request, session: SessionDep) -> SeedProvider:
    return _provider(
        await services.get_provider(session, organization_id=operator_id(request), provider_id=provider_id)
    )


@public_router.get("/reviews/provider/{provider_id}", summary="Avis d'un prestataire")
async def provider_reviews(provider_id: uuid.UUID, request: Request, session: SessionDep) -> list[SeedReview]:
    organization_id = operator_id(request)
    provider = await services.get_provider(session, organization_id=organization_id, provider_id=provider_id)
    found = await reviews.provider_reviews(session, organization_id=organization_id, provider_id=provider.user_id)
    return [_review(r, provider) for r in found]


@router.post("/service-requests", status_code=status.HTTP_201_CREATED, summary="Créer demande")
async def create_request(
    body: SeedRequestCreate, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> SeedRequest:
    category = await services.category(session, body.service_id)
    created = await services.create_request(
        session,
        organization_id=operator_id(request),
        principal=principal,
        service=category.code,
        property_id=body.property_id,
        title=body.title,
        description=body.description,
        urgency=body.urgency,
        city=body.city,
        wanted_date=body.preferred_date,
    )
    return _request(created, await _catalogue_ids(session))


@router.get("/service-requests/my-requests", summary="Mes demandes")
async def my_requests(
    request: Request, session: SessionDep, principal: CurrentPrincipal, page: Page = 1, per_page: PerPage = 20
) -> list[SeedRequest]:
    rows = await session.execute(
        select(ServiceRequest)
        .where(
            ServiceRequest.organization_id == operator_id(request),
            ServiceRequest.requester_id == person_of(principal),
        )
        .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    ids = await _catalogue_ids(session)
    return [_request(r, ids) for r in rows.scalars()]


@router.get("/service-requests/{request_id}", summary="Détails")
async def get_request(
    request_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> SeedRequest:
    found = await services.get_request(
        session, organization_id=operator_id(request), principal=principal, request_id=request_id
    )
    return _request(found, await _catalogue_ids(session))


@router.post("/service-quotes", status_code=status.HTTP_201_CREATED, summary="Envoyer devis")
async def send_quote(
    body: SeedQuoteCreate, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> SeedQuote:
    quote = await services.submit_quote(
        session,
        organization_id=operator_id(request),
        principal=principal,
        request_id=body.service_request_id,
        amount=body.amount,
        currency=body.currency,
        message=body.description,
        valid_until=None,
    )
    return _quote(quote)


@router.put("/service-quotes/{quote_id}/accept", summary="Accepter devis")
async def accept_quote(
    quote_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> SeedQuote:
    organization_id = operator_id(request)
    job = await services.accept_quote(session, organization_id=organization_id, principal=principal, quote_id=quote_id)
    quotes = await services.quotes_of(session, organization_id=organization_id, principal=principal, request_id=job.id)
    return next(_quote(q) for q in quotes if q.id == quote_id)
