"""The services marketplace: the catalogue, provider profiles, service requests, quotes and the job's money.

* **Catalogue** (``rental_service_categories``): plumbing, electricity, cleaning, moving… seeded by migration 0021.
* **Providers** (role ``provider``) keep one profile per marketplace: services offered, cities covered, hourly
  rate, the operator's verification flag, the rating of their published reviews. What they cover is also kept as
  (service, city) rows (``ProviderCoverage``) so search and matching are plain indexed joins on both databases.
* **Requests**: any member (a tenant or landlord usually; a provider too, for their own needs) asks for a service
  in a city, about one of the listings they see or not, with an urgency and a wanted date. Providers covering that
  service in that city see it while it is open and quote once (quoting again revises a pending quote).
* **Accepting** one quote assigns the job and rejects the others in one transaction; two concurrent accepts on
  one request: exactly one wins (row lock on PostgreSQL, the single writer on SQLite, and a status-guarded UPDATE
  on both).
* **Money**, exactly like bookings (:mod:`cauri.rentals.money`): the requester pays the accepted price by
  ``payments.collect`` (purpose ``rental.service``) into the job's escrow (``rental_escrow`` / request id); the
  settlement event marks the job ``paid``; the provider marks it ``done``; the requester confirms (or it confirms
  itself ``AUTO_CONFIRM`` later, ``rentals.confirm_services``), and the price leaves escrow as linked transfers
  ``escrow → rental_provider`` + ``escrow → platform_fees``; providers are paid out from their account by mobile
  money like landlords. Cancelling before payment is free; after payment the collection is refunded in full.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Select, and_, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.core.errors import field_error
from cauri.core.jobs import enqueue
from cauri.core.money import currency_exponent
from cauri.core.pagination import PageParams, paginate
from cauri.core.principal import Principal
from cauri.ledger import service as ledger
from cauri.payments import public as payments
from cauri.payments.public import PaymentView, PhoneCounterparty, SettlementEvent
from cauri.rentals import money, notices
from cauri.rentals.access import ADMIN_ROLES, LANDLORD, PROVIDER, TENANT, is_admin, person_of
from cauri.rentals.errors import (
    NotAllowed,
    ProviderNotFound,
    QuoteNotFound,
    QuoteNotPending,
    ServiceRequestNotFound,
    WrongServiceRequestState,
    own_request,
)
from cauri.rentals.models import (
    ProviderCoverage,
    QuoteStatus,
    ServiceCategory,
    ServiceProvider,
    ServiceQuote,
    ServiceRequest,
    ServiceRequestStatus,
)
from cauri.rentals.properties import get_property

SERVICE: Final = "rental.service"  # the payment purpose of a job's price
PROVIDER_ACCOUNT: Final = "rental_provider"  # what the marketplace owes a provider, per provider and currency
AUTO_CONFIRM: Final = timedelta(days=3)  # a job marked done confirms itself after this
CONFIRM_JOB: Final = "rentals.confirm_services"
ANNOUNCE_JOB: Final = "rentals.announce_service_request"
# A new request is told to at most this many covering providers (verified first, then the longest-standing): a
# popular service in a big city must not turn one request into thousands of notifications.
MAX_ANNOUNCED: Final = 100
COMMISSION_BPS: Final = 1000  # the platform's share of a job, basis points
URGENCIES: Final = ("low", "normal", "high", "urgent")
_OPEN: Final = ServiceRequestStatus.OPEN.value


def city_key(city: str) -> str:
    """How cities are compared: spaces collapsed, case folded ("  cotonou " matches "Cotonou")."""
    return " ".join(city.split()).casefold()


def require_provider(principal: Principal) -> uuid.UUID:
    if PROVIDER not in principal.roles and not is_admin(principal):
        raise NotAllowed("Seul un prestataire peut faire cela.", "Only a service provider can do this.")
    return person_of(principal)


def require_member(principal: Principal) -> uuid.UUID:
    if not principal.roles & {TENANT, LANDLORD, PROVIDER, *ADMIN_ROLES} and not principal.is_platform_admin:
        raise NotAllowed()
    return person_of(principal)


# --- The catalogue and provider profiles ---------------------------------------------------------------------


async def catalogue(session: AsyncSession) -> list[ServiceCategory]:
    rows = await session.execute(
        select(ServiceCategory).where(ServiceCategory.is_active.is_(True)).order_by(ServiceCategory.sort_order)
    )
    return list(rows.scalars())


async def _checked_services(session: AsyncSession, codes: list[str], field: str) -> list[str]:
    known = {c.code for c in await catalogue(session)}
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise field_error(
            field,
            "unknown_service",
            f"Service inconnu : {unknown[0]}. Voir /rentals/services.",
            f"Unknown service: {unknown[0]}. See /rentals/services.",
        )
    return list(dict.fromkeys(codes))


async def save_profile(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    company_name: str | None,
    bio: str | None,
    services: list[str],
    areas: list[str],
    hourly_rate: int | None,
    currency: str,
) -> ServiceProvider:
    """Create or replace the caller's provider profile, and what they cover."""
    user_id = require_provider(principal)
    currency_exponent(currency)  # a currency the platform handles, or 422 naming it
    codes = await _checked_services(session, services, "services")
    cities = list(dict.fromkeys(" ".join(a.split()) for a in areas if a.strip()))
    if not cities:
        raise field_error("areas", "missing", "Indiquez au moins une ville.", "Give at least one city.")
    profile = (
        await session.execute(
            select(ServiceProvider)
            .where(ServiceProvider.organization_id == organization_id, ServiceProvider.user_id == user_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if profile is None:
        profile = ServiceProvider(organization_id=organization_id, user_id=user_id)
        session.add(profile)
    profile.company_name = company_name
    profile.bio = bio
    profile.services = codes
    profile.areas = cities
    profile.hourly_rate = hourly_rate
    profile.currency = currency
    profile.updated_at = utcnow()
    await session.flush()
    await session.execute(delete(ProviderCoverage).where(ProviderCoverage.provider_id == profile.id))
    keys = dict.fromkeys(city_key(c) for c in cities)
    session.add_all(
        ProviderCoverage(provider_id=profile.id, service_code=code, city_key=key) for code in codes for key in keys
    )
    await session.flush()
    return profile


async def profile_of(session: AsyncSession, organization_id: uuid.UUID, user_id: uuid.UUID) -> ServiceProvider | None:
    return (
        await session.execute(
            select(ServiceProvider).where(
                ServiceProvider.organization_id == organization_id, ServiceProvider.user_id == user_id
            )
        )
    ).scalar_one_or_none()


async def my_profile(session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal) -> ServiceProvider:
    profile = await profile_of(session, organization_id, require_provider(principal))
    if profile is None:
        raise ProviderNotFound()
    return profile


async def get_provider(session: AsyncSession, *, organization_id: uuid.UUID, provider_id: uuid.UUID) -> ServiceProvider:
    profile = await session.get(ServiceProvider, provider_id)
    if profile is None or profile.organization_id != organization_id:
        raise ProviderNotFound()
    return profile


def providers_statement(
    organization_id: uuid.UUID, *, service: str | None, city: str | None, verified: bool | None
) -> Select[ServiceProvider]:
    """Providers offering ``service`` in ``city`` (either may be omitted), unordered."""
    statement = select(ServiceProvider).where(ServiceProvider.organization_id == organization_id)
    if service is not None or city is not None:
        coverage = select(ProviderCoverage.id).where(ProviderCoverage.provider_id == ServiceProvider.id)
        if service is not None:
            coverage = coverage.where(ProviderCoverage.service_code == service)
        if city is not None:
            coverage = coverage.where(ProviderCoverage.city_key == city_key(city))
        statement = statement.where(exists(coverage))
    if verified is not None:
        statement = statement.where(ServiceProvider.is_verified.is_(verified))
    return statement


async def search_providers(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    service: str | None,
    city: str | None,
    verified: bool | None,
    params: PageParams,
) -> tuple[list[ServiceProvider], str | None]:
    """Public search, newest first, keyset paged."""
    statement = providers_statement(organization_id, service=service, city=city, verified=verified)
    return await paginate(session, statement, params, created_at=ServiceProvider.created_at, row_id=ServiceProvider.id)


async def category(session: AsyncSession, category_id: uuid.UUID, field: str = "service_id") -> ServiceCategory:
    """A catalogue entry by id (the seed's clients name services by id), or 422 naming ``field``."""
    found = await session.get(ServiceCategory, category_id)
    if found is None or not found.is_active:
        raise field_error(field, "unknown_service", "Service inconnu.", "Unknown service.")
    return found


async def set_verified(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, provider_id: uuid.UUID, verified: bool
) -> ServiceProvider:
    """The operator vouches for a provider (checked their identity and trade)."""
    if not is_admin(principal):
        raise NotAllowed("Seul l'opérateur vérifie un prestataire.", "Only the operator verifies a provider.")
    profile = await get_provider(session, organization_id=organization_id, provider_id=provider_id)
    if profile.user_id == principal.person_id:  # a checker is never the maker
        raise NotAllowed("Vous ne pouvez pas vous vérifier vous-même.", "You cannot verify yourself.")
    profile.is_verified = verified
    profile.updated_at = utcnow()
    return profile


# --- Requests -----------------------------------------------------------------------------------------------------


async def create_request(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    service: str,
    property_id: uuid.UUID | None,
    title: str,
    description: str,
    urgency: str,
    city: str | None,
    wanted_date: date | None,
    now: datetime | None = None,
) -> ServiceRequest:
    requester = require_member(principal)
    [code] = await _checked_services(session, [service], "service")
    if property_id is not None:
        prop = await get_property(
            session, organization_id=organization_id, property_id=property_id, principal=principal
        )
        city = city or prop.city
    if city is None or not city.strip():
        raise field_error("city", "missing", "Indiquez la ville.", "Give the city.")
    today = (now or utcnow()).date()
    if wanted_date is not None and wanted_date < today:
        raise field_error("wanted_date", "in_past", "La date souhaitée est passée.", "The wanted date is in the past.")
    request = ServiceRequest(
        organization_id=organization_id,
        requester_id=requester,
        service_code=code,
        property_id=property_id,
        title=title,
        description=description,
        urgency=urgency,
        city=" ".join(city.split()),
        city_key=city_key(city),
        wanted_date=wanted_date,
        status=_OPEN,
        commission_bps=COMMISSION_BPS,
        amount=0,
        paid_amount=0,
        released=False,
        payment_details={},
    )
    session.add(request)
    await session.flush()
    # Told to the covering providers by a job after the commit, not in the requester's transaction.
    await enqueue(session, ANNOUNCE_JOB, {"request_id": str(request.id)}, dedupe_key=f"{ANNOUNCE_JOB}.{request.id}")
    return request


async def announce_request(session: AsyncSession, request_id: uuid.UUID) -> int:
    """Tell the providers covering a still-open request about it (once each); answers how many were told."""
    request = await session.get(ServiceRequest, request_id)
    if request is None or request.status != _OPEN:
        return 0
    providers = await session.scalars(
        select(ServiceProvider.user_id)
        .join(ProviderCoverage, ProviderCoverage.provider_id == ServiceProvider.id)
        .where(
            ServiceProvider.organization_id == request.organization_id,
            ServiceProvider.user_id != request.requester_id,
            ProviderCoverage.service_code == request.service_code,
            ProviderCoverage.city_key == request.city_key,
        )
        .order_by(ServiceProvider.is_verified.desc(), ServiceProvider.created_at, ServiceProvider.id)
        .limit(MAX_ANNOUNCED)
    )
    told = 0
    for user_id in providers:
        await notices.service_job(session, request, event="posted", to=user_id, amount=0, currency="XOF", key="")
        told += 1
    return told


def _covered_by(user_id: uuid.UUID) -> Any:
    """Requests whose service and city a provider (person) covers."""
    return exists(
        select(ProviderCoverage.id)
        .join(ServiceProvider, ServiceProvider.id == ProviderCoverage.provider_id)
        .where(
            ServiceProvider.user_id == user_id,
            ServiceProvider.organization_id == ServiceRequest.organization_id,
            ProviderCoverage.service_code == ServiceRequest.service_code,
            ProviderCoverage.city_key == ServiceRequest.city_key,
        )
    )


async def _may_see(session: AsyncSession, request: ServiceRequest, principal: Principal) -> bool:
    person = principal.person_id
    if is_admin(principal) or person in (request.requester_id, request.provider_id):
        return True
    if person is None or PROVIDER not in principal.roles:
        return False
    quoted = await session.scalar(
        select(ServiceQuote.id).where(ServiceQuote.request_id == request.id, ServiceQuote.provider_id == person)
    )
    if quoted is not None:
        return True
    if request.status != _OPEN:
        return False
    covered = await session.scalar(
        select(ServiceRequest.id).where(ServiceRequest.id == request.id, _covered_by(person))
    )
    return covered is not None


async def get_request(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    request_id: uuid.UUID,
    for_update: bool = False,
) -> ServiceRequest:
    """A request its requester, its provider, a matching or quoting provider, or the operator may see (else 404)."""
    statement = select(ServiceRequest).where(
        ServiceRequest.id == request_id, ServiceRequest.organization_id == organization_id
    )
    if for_update:
        statement = statement.with_for_update()
    request = (await session.execute(statement)).scalar_one_or_none()
    if request is None or not await _may_see(session, request, principal):
        raise ServiceRequestNotFound()
    return request


async def my_requests(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, params: PageParams
) -> tuple[list[ServiceRequest], str | None]:
    statement = select(ServiceRequest).where(
        ServiceRequest.organization_id == organization_id, ServiceRequest.requester_id == person_of(principal)
    )
    return await paginate(session, statement, params, created_at=ServiceRequest.created_at, row_id=ServiceRequest.id)


async def open_requests_for_me(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, params: PageParams
) -> tuple[list[ServiceRequest], str | None]:
    """Open requests of the services and cities the calling provider covers (not their own)."""
    me = require_provider(principal)
    statement = select(ServiceRequest).where(
        ServiceRequest.organization_id == organization_id,
        ServiceRequest.status == _OPEN,
        ServiceRequest.requester_id != me,
        _covered_by(me),
    )
    return await paginate(session, statement, params, created_at=ServiceRequest.created_at, row_id=ServiceRequest.id)


async def my_jobs(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, params: PageParams
) -> tuple[list[ServiceRequest], str | None]:
    """The jobs whose quote the calling provider won."""
    statement = select(ServiceRequest).where(
        ServiceRequest.organization_id == organization_id, ServiceRequest.provider_id == require_provider(principal)
    )
    return await paginate(session, statement, params, created_at=ServiceRequest.created_at, row_id=ServiceRequest.id)


# --- Quotes -------------------------------------------------------------------------------------------------------


async def submit_quote(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    request_id: uuid.UUID,
    amount: int,
    currency: str,
    message: str | None,
    valid_until: datetime | None,
    now: datetime | None = None,
) -> ServiceQuote:
    """A provider covering the request's service and city quotes once; quoting again revises a pending quote."""
    provider = require_provider(principal)
    request = await get_request(
        session, organization_id=organization_id, principal=principal, request_id=request_id, for_update=True
    )
    if request.requester_id == provider:
        raise own_request()
    if request.status != _OPEN:
        raise WrongServiceRequestState(request.status, "chiffrer", "quote on")
    currency_exponent(currency)  # the price is collected in it: a currency the platform handles, or 422
    now = now or utcnow()
    if valid_until is not None and valid_until <= now:
        raise field_error(
            "valid_until", "in_past", "La validité du devis est déjà passée.", "The quote's validity is already over."
        )
    quote = (
        await session.execute(
            select(ServiceQuote).where(ServiceQuote.request_id == request.id, ServiceQuote.provider_id == provider)
        )
    ).scalar_one_or_none()
    if quote is None:
        quote = ServiceQuote(
            organization_id=organization_id,
            request_id=request.id,
            provider_id=provider,
            status=QuoteStatus.PENDING.value,
        )
        session.add(quote)
    elif quote.status != QuoteStatus.PENDING:
        raise QuoteNotPending(quote.status)
    quote.amount = amount
    quote.currency = currency
    quote.message = message
    quote.valid_until = valid_until
    quote.updated_at = now
    await session.flush()
    await notices.service_job(
        session,
        request,
        event="quoted",
        to=request.requester_id,
        amount=amount,
        currency=currency,
        key=f"{quote.id}:{amount}:{currency}",
    )
    return quote


async def quotes_of(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, request_id: uuid.UUID
) -> list[ServiceQuote]:
    """All the quotes for the requester (and the operator); a provider sees only their own."""
    request = await get_request(session, organization_id=organization_id, principal=principal, request_id=request_id)
    statement = select(ServiceQuote).where(ServiceQuote.request_id == request.id)
    if principal.person_id != request.requester_id and not is_admin(principal):
        statement = statement.where(ServiceQuote.provider_id == principal.person_id)
    rows = await session.execute(statement.order_by(ServiceQuote.created_at, ServiceQuote.id))
    return list(rows.scalars())


async def accept_quote(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    quote_id: uuid.UUID,
    now: datetime | None = None,
) -> ServiceRequest:
    """The requester accepts one quote: the job is assigned and every other quote rejected, all in this
    transaction. Accepting the accepted quote again answers the job as it is (a retry is harmless)."""
    quote = (
        await session.execute(
            select(ServiceQuote).where(ServiceQuote.id == quote_id, ServiceQuote.organization_id == organization_id)
        )
    ).scalar_one_or_none()
    if quote is None:
        raise QuoteNotFound()
    request = await get_request(
        session, organization_id=organization_id, principal=principal, request_id=quote.request_id, for_update=True
    )
    if principal.person_id != request.requester_id:
        if principal.person_id == quote.provider_id:
            raise NotAllowed("Seul le demandeur accepte un devis.", "Only the requester accepts a quote.")
        raise QuoteNotFound()  # another provider does not learn the quote exists
    await session.refresh(quote)  # read again under the request's lock: a concurrent accept may have changed it
    if quote.status == QuoteStatus.ACCEPTED and request.accepted_quote_id == quote.id:
        return request
    if quote.status != QuoteStatus.PENDING:
        raise QuoteNotPending(quote.status)
    now = now or utcnow()
    if quote.valid_until is not None and quote.valid_until <= now:
        raise QuoteNotPending("expired")
    if request.status != _OPEN:
        raise WrongServiceRequestState(request.status, "accepter un devis pour", "accept a quote for")
    # Danger: two accepts racing. PostgreSQL's row lock above serialises them and SQLite's single writer does too;
    # the status guard in this UPDATE is the last word on both: only one transaction moves the request off "open".
    moved = await session.execute(
        update(ServiceRequest)
        .where(ServiceRequest.id == request.id, ServiceRequest.status == _OPEN)
        .values(
            status=ServiceRequestStatus.ASSIGNED.value,
            accepted_quote_id=quote.id,
            provider_id=quote.provider_id,
            currency=quote.currency,
            amount=quote.amount,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if int(moved.rowcount or 0) != 1:  # type: ignore[attr-defined]
        raise WrongServiceRequestState(request.status, "accepter un devis pour", "accept a quote for")
    await session.execute(
        update(ServiceQuote)
        .where(
            ServiceQuote.request_id == request.id,
            ServiceQuote.id != quote.id,
            ServiceQuote.status == QuoteStatus.PENDING.value,
        )
        .values(status=QuoteStatus.REJECTED.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    quote.status = QuoteStatus.ACCEPTED.value
    quote.updated_at = now
    await session.flush()
    await session.refresh(request)
    await notices.service_job(
        session, request, event="accepted", to=quote.provider_id, amount=quote.amount, currency=quote.currency, key=""
    )
    return request


# --- The job's money ----------------------------------------------------------------------------------------------


async def pay_request(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    request_id: uuid.UUID,
    phone: str,
) -> PaymentView:
    """Ask the requester's phone for the accepted price, into the job's escrow. Asking again while a payment is
    under way (or after it succeeded) answers that payment: a job is never charged twice."""
    request = await get_request(
        session, organization_id=organization_id, principal=principal, request_id=request_id, for_update=True
    )
    if principal.person_id != request.requester_id:
        raise NotAllowed("Seul le demandeur paie le service.", "Only the requester pays for the service.")
    details = dict(request.payment_details or {})
    previous = details.get("payment_id")
    last = None
    if previous is not None:
        last = await payments.get(session, organization_id=organization_id, payment_id=uuid.UUID(previous))
        if last.status in ("created", "pending", "succeeded"):
            return last
    if request.status != ServiceRequestStatus.ASSIGNED or request.currency is None:
        raise WrongServiceRequestState(request.status, "payer", "pay")
    attempt = int(details.get("attempts", 0)) + (1 if last is not None else 0)
    escrow = await money.escrow_of(session, organization_id, request.currency, request.id)
    view = await payments.collect(
        session,
        organization_id=organization_id,
        amount=request.amount - request.paid_amount,
        currency=request.currency,
        counterparty=PhoneCounterparty(phone=phone),
        purpose=SERVICE,
        owner_id=str(request.id),
        account_id=escrow.id,
        idempotency_key=f"{SERVICE}:{request.id}:{attempt}",
        description=f"LokaHome service {request.id}",
    )
    details.update({"attempts": attempt, "payment_id": str(view.id), "phone": view.phone})
    request.payment_details = details
    request.updated_at = utcnow()
    return view


async def _cover_fee(session: AsyncSession, request: ServiceRequest) -> None:
    payment_id = (request.payment_details or {}).get("payment_id")
    if payment_id is not None and request.currency is not None:
        await money.cover_payment_fee(
            session,
            organization_id=request.organization_id,
            currency=request.currency,
            escrow_owner=request.id,
            payment_id=uuid.UUID(payment_id),
            metadata={"service_request_id": str(request.id)},
        )


async def record_settlement(session: AsyncSession, event: SettlementEvent) -> None:
    """A job's collection settled: the job is paid (once per event); paid after it was cancelled, it goes back."""
    if event.owner_id is None or event.kind != "collection" or event.refund_id is not None:
        return
    if event.status != "succeeded":
        return
    request = await session.get(ServiceRequest, uuid.UUID(event.owner_id), with_for_update=True)
    if request is None or request.organization_id != event.organization_id:
        return
    details = dict(request.payment_details or {})
    seen = set(details.get("settled_events", []))
    if str(event.id) in seen:
        return
    seen.add(str(event.id))
    details["settled_events"] = sorted(seen)
    request.payment_details = details
    request.paid_amount += event.amount
    request.updated_at = utcnow()
    await _cover_fee(session, request)
    if request.status == ServiceRequestStatus.CANCELLED:
        await payments.refund(
            session,
            organization_id=request.organization_id,
            payment_id=event.payment_id,
            amount=None,
            reason="service request cancelled",
            idempotency_key=f"rental-service-late:{event.payment_id}",
        )
        return
    if request.status == ServiceRequestStatus.ASSIGNED and request.paid_amount >= request.amount:
        request.status = ServiceRequestStatus.PAID.value
        if request.provider_id is not None:
            await notices.service_job(
                session,
                request,
                event="paid",
                to=request.provider_id,
                amount=event.amount,
                currency=event.currency,
                key="",
            )


async def mark_done(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    request_id: uuid.UUID,
    now: datetime | None = None,
) -> ServiceRequest:
    request = await get_request(
        session, organization_id=organization_id, principal=principal, request_id=request_id, for_update=True
    )
    if principal.person_id != request.provider_id:
        raise NotAllowed(
            "Seul le prestataire retenu termine le travail.", "Only the chosen provider completes the job."
        )
    if request.status != ServiceRequestStatus.PAID:
        raise WrongServiceRequestState(request.status, "terminer", "complete")
    now = now or utcnow()
    request.status = ServiceRequestStatus.DONE.value
    request.done_at = now
    request.confirm_by = now + AUTO_CONFIRM
    request.updated_at = now
    await notices.service_job(
        session,
        request,
        event="done",
        to=request.requester_id,
        amount=request.amount,
        currency=request.currency or "XOF",
        key="",
    )
    return request


async def confirm_completion(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    request_id: uuid.UUID,
    now: datetime | None = None,
) -> ServiceRequest:
    """The requester confirms the work: the provider is paid from escrow, minus the platform's commission."""
    request = await get_request(
        session, organization_id=organization_id, principal=principal, request_id=request_id, for_update=True
    )
    if principal.person_id != request.requester_id:
        raise NotAllowed("Seul le demandeur confirme le travail.", "Only the requester confirms the job.")
    if request.status != ServiceRequestStatus.DONE:
        raise WrongServiceRequestState(request.status, "confirmer", "confirm")
    await _complete(session, request, now or utcnow())
    return request


async def dispute_job(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    request_id: uuid.UUID,
    reason: str,
    now: datetime | None = None,
) -> ServiceRequest:
    """The requester contests work marked done (before it confirmed itself): the money stays in escrow until the
    operator decides."""
    request = await get_request(
        session, organization_id=organization_id, principal=principal, request_id=request_id, for_update=True
    )
    if principal.person_id != request.requester_id:
        raise NotAllowed("Seul le demandeur conteste le travail.", "Only the requester disputes the job.")
    if request.status != ServiceRequestStatus.DONE:
        raise WrongServiceRequestState(request.status, "contester", "dispute")
    now = now or utcnow()
    request.status = ServiceRequestStatus.DISPUTED.value
    request.dispute_reason = reason
    request.updated_at = now
    if request.provider_id is not None:
        await notices.service_job(
            session,
            request,
            event="disputed",
            to=request.provider_id,
            amount=request.paid_amount,
            currency=request.currency or "XOF",
            key="",
        )
    return request


async def resolve_dispute(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    request_id: uuid.UUID,
    refund: int,
    reason: str,
    now: datetime | None = None,
) -> ServiceRequest:
    """The operator settles a dispute: ``refund`` goes back to the requester through ``payments.refund``, the rest
    is released to the provider (commission taken) and the job completes; a full refund cancels it."""
    if not is_admin(principal):
        raise NotAllowed("Seul l'opérateur tranche un litige.", "Only the operator settles a dispute.")
    request = await get_request(
        session, organization_id=organization_id, principal=principal, request_id=request_id, for_update=True
    )
    if principal.person_id in (request.requester_id, request.provider_id):  # a checker is never a party
        raise NotAllowed("Une partie au litige ne peut pas le trancher.", "A party to the dispute cannot settle it.")
    if request.status != ServiceRequestStatus.DISPUTED:
        raise WrongServiceRequestState(request.status, "trancher le litige d'", "settle the dispute of")
    if refund > request.paid_amount:
        raise field_error(
            "refund",
            "above_paid",
            f"Au plus {request.paid_amount} {request.currency} ont été payés.",
            f"At most {request.paid_amount} {request.currency} was paid.",
        )
    now = now or utcnow()
    details = dict(request.payment_details or {})
    payment_id = details.get("payment_id")
    if refund > 0 and payment_id is not None:
        await _cover_fee(session, request)  # the refund leaves the escrow: it must hold all that was paid
        made = await payments.refund(
            session,
            organization_id=organization_id,
            payment_id=uuid.UUID(payment_id),
            amount=refund,
            reason=f"service dispute: {reason[:200]}",
            idempotency_key=f"rental-service-dispute:{request.id}",
        )
        details.update({"refund_id": str(made.id), "refunded": refund})
        request.payment_details = details
    request.refunded_amount = refund
    request.dispute_reason = f"{request.dispute_reason or ''}\n— {reason}".strip()
    if refund >= request.paid_amount:
        request.status = ServiceRequestStatus.CANCELLED.value
        request.cancellation_reason = reason
        request.updated_at = now
        for person in (request.requester_id, request.provider_id):
            if person is not None:
                await notices.service_job(
                    session,
                    request,
                    event="cancelled",
                    to=person,
                    amount=refund,
                    currency=request.currency or "XOF",
                    key="",
                )
        return request
    # What was not refunded is the provider's: released like a confirmed job, on the amount kept.
    request.paid_amount -= refund
    await _complete(session, request, now)
    return request


async def provider_account(
    session: AsyncSession, organization_id: uuid.UUID, provider_id: uuid.UUID, currency: str
) -> ledger.Account:
    return await ledger.get_or_create_account(
        session,
        organization_id=organization_id,
        currency=currency,
        code=PROVIDER_ACCOUNT,
        owner_ref=str(provider_id),
        debits_must_not_exceed_credits=True,
    )


async def _complete(session: AsyncSession, request: ServiceRequest, now: datetime) -> None:
    if request.provider_id is None or request.currency is None:
        raise WrongServiceRequestState(request.status, "confirmer", "confirm")
    if not request.released and request.paid_amount > 0:
        await _cover_fee(session, request)
        payee = await provider_account(session, request.organization_id, request.provider_id, request.currency)
        commission = await money.release_escrow(
            session,
            organization_id=request.organization_id,
            currency=request.currency,
            escrow_owner=request.id,
            payee=payee,
            amount=request.paid_amount,
            commission_bps=request.commission_bps,
            codes=("rental_service", "rental_service_commission"),
            ids=("service", "provider"),
            metadata={"service_request_id": str(request.id)},
        )
        request.released = True
        request.payment_details = {**(request.payment_details or {}), "commission": commission}
        await notices.service_job(
            session,
            request,
            event="completed",
            to=request.provider_id,
            amount=request.paid_amount - commission,
            currency=request.currency,
            key="",
        )
    request.status = ServiceRequestStatus.COMPLETED.value
    request.completed_at = now
    request.updated_at = now
    profile = await profile_of(session, request.organization_id, request.provider_id)
    if profile is not None:
        profile.total_jobs += 1


async def confirm_due(session: AsyncSession, *, now: datetime) -> int:
    """Jobs marked done and not confirmed nor disputed by their ``confirm_by`` confirm themselves."""
    rows = await session.execute(
        select(ServiceRequest)
        .where(ServiceRequest.status == ServiceRequestStatus.DONE.value, ServiceRequest.confirm_by <= now)
        .with_for_update()
    )
    due = list(rows.scalars())
    for request in due:
        await _complete(session, request, now)
    return len(due)


async def cancel_request(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    request_id: uuid.UUID,
    reason: str | None,
    now: datetime | None = None,
) -> ServiceRequest:
    """The requester (or the chosen provider, or the operator) cancels before the work is done: free before the
    payment, the collection refunded in full after it. A payment still under way is refunded when it settles."""
    request = await get_request(
        session, organization_id=organization_id, principal=principal, request_id=request_id, for_update=True
    )
    if principal.person_id not in (request.requester_id, request.provider_id) and not is_admin(principal):
        raise NotAllowed(
            "Seul le demandeur ou le prestataire retenu annule.", "Only the requester or the chosen provider cancels."
        )
    cancellable = (_OPEN, ServiceRequestStatus.ASSIGNED.value, ServiceRequestStatus.PAID.value)
    if request.status not in cancellable:
        raise WrongServiceRequestState(request.status, "annuler", "cancel")
    now = now or utcnow()
    details = dict(request.payment_details or {})
    payment_id = details.get("payment_id")
    if request.paid_amount > 0 and payment_id is not None:
        await _cover_fee(session, request)  # the refund leaves the escrow: it must hold all that was paid
        refund = await payments.refund(
            session,
            organization_id=organization_id,
            payment_id=uuid.UUID(payment_id),
            amount=request.paid_amount,
            reason=f"service request cancelled: {(reason or '')[:200]}",
            idempotency_key=f"rental-service-cancel:{request.id}",
        )
        details.update({"refund_id": str(refund.id), "refunded": request.paid_amount})
    await session.execute(
        update(ServiceQuote)
        .where(and_(ServiceQuote.request_id == request.id, ServiceQuote.status == QuoteStatus.PENDING.value))
        .values(status=QuoteStatus.REJECTED.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    request.status = ServiceRequestStatus.CANCELLED.value
    request.cancellation_reason = reason
    request.payment_details = details
    request.updated_at = now
    for person in {request.requester_id, request.provider_id} - {principal.person_id, None}:
        if person is not None:
            await notices.service_job(
                session,
                request,
                event="cancelled",
                to=person,
                amount=request.amount,
                currency=request.currency or "XOF",
                key="",
            )
    return request


async def provider_balance(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, currency: str
) -> tuple[ledger.Account, int]:
    account = await provider_account(session, organization_id, require_provider(principal), currency)
    return account, (await ledger.balance(session, account.id)).available


async def pay_out_provider(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    currency: str,
    amount: int | None,
    phone: str | None,
    idempotency_key: str,
) -> PaymentView:
    """Pay the provider what the marketplace owes them, by mobile money, exactly like a landlord."""
    account, available = await provider_balance(
        session, organization_id=organization_id, principal=principal, currency=currency
    )
    return await money.pay_out_account(
        session,
        organization_id=organization_id,
        principal=principal,
        account=account,
        available=available,
        amount=amount,
        phone=phone,
        idempotency_key=idempotency_key,
    )
