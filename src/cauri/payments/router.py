"""HTTP routes of the payments module: collections, payouts, provider callbacks, outbound webhooks, reconciliation."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response, status
from sqlalchemy import Row, Select, select

from cauri.connectors.base import Capability
from cauri.connectors.registry import registry
from cauri.core.config import Settings
from cauri.core.deps import client_address as _ip
from cauri.core.deps import settings_of as _settings
from cauri.core.i18n import pick
from cauri.core.jobs import enqueue
from cauri.core.money import currency_exponent
from cauri.core.pagination import Page, PageParams, page_params, paginate
from cauri.core.phone import parse_phone
from cauri.core.principal import Principal
from cauri.core.routing import SessionDep, api_router
from cauri.identity.audit import record_audit
from cauri.identity.models import Organization
from cauri.identity.permissions import require_org
from cauri.payments import callbacks, providers, reconciliation, service, submission, webhooks
from cauri.payments.errors import PaymentNotFound
from cauri.payments.models import Payment, PaymentTransition, ReconciliationRun, WebhookDelivery
from cauri.payments.permissions import PaymentCreator, PaymentReader, WebhookManager
from cauri.payments.refund_routes import router as refund_router
from cauri.payments.schemas import (
    CollectionCreate,
    CollectionDetail,
    CollectionRead,
    PayoutCreate,
    PayoutDetail,
    PayoutRead,
    ProviderRoute,
    ReconciliationItemRead,
    ReconciliationReport,
    ReconciliationRequest,
    RouteOptionRead,
    WebhookAttemptRead,
    WebhookDeliveryDetail,
    WebhookDeliveryRead,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointRead,
)
from cauri.payments.states import Cause, PaymentKind, Status
from cauri.payments.views import collection_detail, collection_read, payout_detail, payout_read

router = api_router()
public_router = api_router(tags=["webhooks"])
router.include_router(refund_router)

Creator = PaymentCreator  # the module's aliases (payments/permissions.py), short names in this file
Reader = PaymentReader
Paging = Annotated[PageParams, Depends(page_params)]


async def _filters(  # async: no worker thread for a dependency without I/O (core.pagination.page_params)
    status_: Annotated[Status | None, Query(alias="status")] = None,
    reference: Annotated[str | None, Query(max_length=100)] = None,
    provider: Annotated[str | None, Query(max_length=40)] = None,
    created_from: Annotated[datetime | None, Query(description="Created at or after (ISO 8601)")] = None,
    created_to: Annotated[datetime | None, Query(description="Created before (ISO 8601)")] = None,
) -> service.PaymentFilters:
    return service.PaymentFilters(
        status=status_, reference=reference, provider=provider, created_from=created_from, created_to=created_to
    )


Filters = Annotated[service.PaymentFilters, Depends(_filters)]


async def _create(
    kind: PaymentKind,
    *,
    body: CollectionCreate | PayoutCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: Principal,
) -> Payment:
    payment = await service.create_payment(
        session,
        kind=kind,
        body=body,
        principal=principal,
        organization_id=require_org(principal),
        settings=_settings(request),
        ip=_ip(request),
    )
    response.headers["Location"] = f"/api/v1/{kind.value}s/{payment.id}"
    return payment


async def _list(
    kind: PaymentKind, *, session: SessionDep, principal: Principal, filters: service.PaymentFilters, params: PageParams
) -> tuple[list[Row[Any]], str | None]:
    return await service.list_payments(
        session, organization_id=require_org(principal), kind=kind, filters=filters, params=params
    )


async def _get(
    kind: PaymentKind, *, session: SessionDep, principal: Principal, payment_id: uuid.UUID
) -> tuple[Payment, list[PaymentTransition]]:
    payment = await service.get_payment(
        session, organization_id=require_org(principal), kind=kind, payment_id=payment_id
    )
    return payment, await service.transitions_of(session, payment.id)


async def _refresh(
    kind: PaymentKind, *, request: Request, session: SessionDep, principal: Principal, payment_id: uuid.UUID
) -> tuple[Payment, list[PaymentTransition]]:
    """Ask the provider now. The provider call runs with no transaction open; the request's one audits it."""
    organization_id = require_org(principal)
    sessionmaker = request.app.state.sessionmaker
    async with sessionmaker() as lookup:
        owned = (
            await lookup.execute(
                select(Payment.id).where(
                    Payment.id == payment_id, Payment.organization_id == organization_id, Payment.kind == kind.value
                )
            )
        ).scalar_one_or_none()
    if owned is None:
        raise PaymentNotFound()
    changed = await submission.refresh(sessionmaker, _settings(request), payment_id, cause=Cause.OPERATOR)
    await record_audit(
        session,
        action=f"payments.{kind.value}.refresh",
        organization_id=organization_id,
        actor=principal,
        target_type=kind.value,
        target_id=str(payment_id),
        changes={"changed": changed},
        ip=_ip(request),
    )
    return await _get(kind, session=session, principal=principal, payment_id=payment_id)


# -- collections ---------------------------------------------------------------------------------------------------


@router.post(
    "/collections",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["collections"],
    summary="Ask a payer for money (answered at once; the provider is called right after the commit)",
)
async def create_collection(
    body: CollectionCreate, request: Request, response: Response, session: SessionDep, principal: Creator
) -> CollectionRead:
    kind = PaymentKind.COLLECTION
    payment = await _create(kind, body=body, request=request, response=response, session=session, principal=principal)
    return collection_read(payment)


@router.get("/collections", tags=["collections"], summary="Collections, newest first")
async def list_collections(
    session: SessionDep, principal: Reader, filters: Filters, params: Paging
) -> Page[CollectionRead]:
    kind = PaymentKind.COLLECTION
    rows, cursor = await _list(kind, session=session, principal=principal, filters=filters, params=params)
    return Page[CollectionRead](items=[collection_read(row) for row in rows], next_cursor=cursor)


@router.get("/collections/{collection_id}", tags=["collections"], summary="A collection and its history")
async def get_collection(collection_id: uuid.UUID, session: SessionDep, principal: Reader) -> CollectionDetail:
    kind = PaymentKind.COLLECTION
    payment, steps = await _get(kind, session=session, principal=principal, payment_id=collection_id)
    return collection_detail(payment, steps)


@router.post(
    "/collections/{collection_id}/refresh", tags=["collections"], summary="Ask the provider for the status now"
)
async def refresh_collection(
    collection_id: uuid.UUID, request: Request, session: SessionDep, principal: Creator
) -> CollectionDetail:
    kind = PaymentKind.COLLECTION
    payment, steps = await _refresh(
        kind, request=request, session=session, principal=principal, payment_id=collection_id
    )
    return collection_detail(payment, steps)


# -- payouts -------------------------------------------------------------------------------------------------------


@router.post(
    "/payouts",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["payouts"],
    summary="Send money to a phone (funds reserved at once; the provider is called right after the commit)",
)
async def create_payout(
    body: PayoutCreate, request: Request, response: Response, session: SessionDep, principal: Creator
) -> PayoutRead:
    kind = PaymentKind.PAYOUT
    payment = await _create(kind, body=body, request=request, response=response, session=session, principal=principal)
    return payout_read(payment)


@router.get("/payouts", tags=["payouts"], summary="Payouts, newest first")
async def list_payouts(session: SessionDep, principal: Reader, filters: Filters, params: Paging) -> Page[PayoutRead]:
    kind = PaymentKind.PAYOUT
    rows, cursor = await _list(kind, session=session, principal=principal, filters=filters, params=params)
    return Page[PayoutRead](items=[payout_read(row) for row in rows], next_cursor=cursor)


@router.get("/payouts/{payout_id}", tags=["payouts"], summary="A payout and its history")
async def get_payout(payout_id: uuid.UUID, session: SessionDep, principal: Reader) -> PayoutDetail:
    kind = PaymentKind.PAYOUT
    payment, steps = await _get(kind, session=session, principal=principal, payment_id=payout_id)
    return payout_detail(payment, steps)


@router.post("/payouts/{payout_id}/refresh", tags=["payouts"], summary="Ask the provider for the status now")
async def refresh_payout(
    payout_id: uuid.UUID, request: Request, session: SessionDep, principal: Creator
) -> PayoutDetail:
    kind = PaymentKind.PAYOUT
    payment, steps = await _refresh(kind, request=request, session=session, principal=principal, payment_id=payout_id)
    return payout_detail(payment, steps)


# -- provider callbacks (public: authenticated by signature, or confirmed by a status query) -----------------------


async def _callback(provider: str, request: Request, session: SessionDep, org: uuid.UUID | None) -> Response:
    ack = await callbacks.receive(
        session,
        provider=provider,
        organization_id=org,
        headers=dict(request.headers),
        raw_body=await request.body(),
        settings=_settings(request),
    )
    return Response(content=ack.body, status_code=ack.status_code, media_type=ack.media_type)


OrgParam = Annotated[uuid.UUID | None, Query(description="The organisation whose credentials verify the callback")]


@router.get("/providers/route", tags=["providers"], summary="Which provider serves a number, for an amount")
async def route_provider(
    *,
    request: Request,
    session: SessionDep,
    principal: Reader,
    phone: Annotated[str, Query(min_length=3, max_length=40, description="The number, as people write it")],
    amount: Annotated[int, Query(gt=0, description="Minor units")],
    currency: Annotated[str, Query(min_length=3, max_length=3)],
    kind: Annotated[PaymentKind, Query(description="collection or payout")] = PaymentKind.PAYOUT,
) -> ProviderRoute:
    organization_id = require_org(principal)
    settings: Settings = request.app.state.settings
    organization = await session.get(Organization, organization_id)
    region = (organization.default_region if organization else None) or settings.default_region
    number = parse_phone(phone, region, field="phone")
    currency_exponent(currency)  # unknown currency: 422 naming "currency"
    chosen, options = await providers.route_payment(
        session,
        organization_id=organization_id,
        phone=number,
        amount=amount,
        currency=currency,
        capability=Capability.COLLECT if kind is PaymentKind.COLLECTION else Capability.PAYOUT,
        settings=settings,
    )
    if chosen is None:
        raise providers.no_provider_for(number, options)
    return ProviderRoute(
        phone=number.e164,
        country=number.region,
        operator=providers.operator_of(number.carrier),
        provider=chosen,
        options=[
            RouteOptionRead(
                provider=o.provider,
                eligible=o.eligible,
                reason=o.reason,
                message=pick(o.message_fr, o.message_en) if o.message_fr and o.message_en else None,
            )
            for o in options
        ],
    )


@public_router.post("/webhooks/{provider}", summary="Provider callbacks (signature verified over the raw body)")
async def receive_callback(provider: str, request: Request, session: SessionDep, org: OrgParam = None) -> Response:
    return await _callback(provider, request, session, org)


@public_router.put("/webhooks/{provider}", summary="Provider callbacks sent with PUT (MTN)")
async def receive_callback_put(provider: str, request: Request, session: SessionDep, org: OrgParam = None) -> Response:
    return await _callback(provider, request, session, org)


# -- outbound webhooks -----------------------------------------------------------------------------------------------


@router.post(
    "/webhook-endpoints",
    status_code=status.HTTP_201_CREATED,
    tags=["webhooks"],
    summary="Receive events at a URL (the signing secret is shown once)",
)
async def create_webhook_endpoint(
    body: WebhookEndpointCreate, request: Request, session: SessionDep, principal: WebhookManager
) -> WebhookEndpointCreated:
    organization_id = require_org(principal)
    endpoint, secret = await webhooks.create_endpoint(
        session, organization_id=organization_id, body=body, settings=_settings(request)
    )
    await record_audit(
        session,
        action="payments.webhook_endpoint.create",
        organization_id=organization_id,
        actor=principal,
        target_type="webhook_endpoint",
        target_id=str(endpoint.id),
        changes={"url": endpoint.url, "event_types": endpoint.event_types},
        ip=_ip(request),
    )
    return WebhookEndpointCreated.model_validate({**_endpoint_fields(endpoint), "secret": secret})


def _endpoint_fields(endpoint: object) -> dict[str, object]:
    return WebhookEndpointRead.model_validate(endpoint).model_dump()


@router.get("/webhook-endpoints", tags=["webhooks"], summary="The organisation's webhook endpoints, newest first")
async def list_webhook_endpoints(
    session: SessionDep, principal: WebhookManager, params: PageParams = Depends(page_params)
) -> Page[WebhookEndpointRead]:
    rows, cursor = await webhooks.list_endpoints(session, organization_id=require_org(principal), params=params)
    return Page[WebhookEndpointRead](
        items=[WebhookEndpointRead.model_validate(row) for row in rows], next_cursor=cursor
    )


@router.delete(
    "/webhook-endpoints/{endpoint_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["webhooks"],
    summary="Stop sending events to an endpoint (its delivery log is kept)",
)
async def disable_webhook_endpoint(
    endpoint_id: uuid.UUID, request: Request, session: SessionDep, principal: WebhookManager
) -> Response:
    organization_id = require_org(principal)
    endpoint = await webhooks.get_endpoint(session, organization_id=organization_id, endpoint_id=endpoint_id)
    endpoint.is_active = False
    await record_audit(
        session,
        action="payments.webhook_endpoint.disable",
        organization_id=organization_id,
        actor=principal,
        target_type="webhook_endpoint",
        target_id=str(endpoint.id),
        ip=_ip(request),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    tags=["webhooks"],
    summary="Replace an endpoint's signing secret (the new one is shown once)",
)
async def rotate_webhook_secret(
    endpoint_id: uuid.UUID, request: Request, session: SessionDep, principal: WebhookManager
) -> WebhookEndpointCreated:
    organization_id = require_org(principal)
    endpoint = await webhooks.get_endpoint(session, organization_id=organization_id, endpoint_id=endpoint_id)
    secret = await webhooks.rotate_secret(session, endpoint, settings=_settings(request))
    await record_audit(
        session,
        action="payments.webhook_endpoint.rotate_secret",
        organization_id=organization_id,
        actor=principal,
        target_type="webhook_endpoint",
        target_id=str(endpoint.id),
        ip=_ip(request),
    )
    return WebhookEndpointCreated.model_validate({**_endpoint_fields(endpoint), "secret": secret})


@dataclass(frozen=True)
class DeliveryFilters:
    state: str | None
    event_type: str | None
    endpoint_id: uuid.UUID | None
    payment_id: uuid.UUID | None


async def _delivery_filters(  # async: no worker thread (core.pagination.page_params)
    state: Annotated[str | None, Query(pattern="^(pending|delivered|failed)$")] = None,
    event_type: Annotated[str | None, Query(max_length=60)] = None,
    endpoint_id: uuid.UUID | None = None,
    payment_id: uuid.UUID | None = None,
) -> DeliveryFilters:
    return DeliveryFilters(state=state, event_type=event_type, endpoint_id=endpoint_id, payment_id=payment_id)


@router.get("/webhook-deliveries", tags=["webhooks"], summary="The delivery log, newest first")
async def list_webhook_deliveries(
    session: SessionDep,
    principal: WebhookManager,
    params: Paging,
    filters: Annotated[DeliveryFilters, Depends(_delivery_filters)],
) -> Page[WebhookDeliveryRead]:
    statement: Select[Any] = select(WebhookDelivery).where(WebhookDelivery.organization_id == require_org(principal))
    if filters.state is not None:
        statement = statement.where(WebhookDelivery.state == filters.state)
    if filters.event_type is not None:
        statement = statement.where(WebhookDelivery.event_type == filters.event_type)
    if filters.endpoint_id is not None:
        statement = statement.where(WebhookDelivery.endpoint_id == filters.endpoint_id)
    if filters.payment_id is not None:
        statement = statement.where(WebhookDelivery.payment_id == filters.payment_id)
    rows, cursor = await paginate(
        session, statement, params, created_at=WebhookDelivery.created_at, row_id=WebhookDelivery.id
    )
    return Page[WebhookDeliveryRead](
        items=[WebhookDeliveryRead.model_validate(row) for row in rows], next_cursor=cursor
    )


@router.get("/webhook-deliveries/{delivery_id}", tags=["webhooks"], summary="A delivery, its body and its attempts")
async def get_webhook_delivery(
    delivery_id: uuid.UUID, session: SessionDep, principal: WebhookManager
) -> WebhookDeliveryDetail:
    delivery = await webhooks.get_delivery(session, organization_id=require_org(principal), delivery_id=delivery_id)
    attempts = await webhooks.attempts_of(session, delivery.id)
    return WebhookDeliveryDetail.model_validate(
        {
            **WebhookDeliveryRead.model_validate(delivery).model_dump(),
            "payload": json.loads(delivery.payload),
            "attempt_log": [WebhookAttemptRead.model_validate(a) for a in attempts],
        }
    )


@router.post(
    "/webhook-deliveries/{delivery_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["webhooks"],
    summary="Send a delivery again (same event id and body)",
)
async def replay_webhook_delivery(
    delivery_id: uuid.UUID, request: Request, session: SessionDep, principal: WebhookManager
) -> WebhookDeliveryRead:
    organization_id = require_org(principal)
    copy = await webhooks.replay(session, organization_id=organization_id, delivery_id=delivery_id)
    await record_audit(
        session,
        action="payments.webhook_delivery.replay",
        organization_id=organization_id,
        actor=principal,
        target_type="webhook_delivery",
        target_id=str(delivery_id),
        changes={"replay_id": str(copy.id)},
        ip=_ip(request),
    )
    return WebhookDeliveryRead.model_validate(copy)


# -- reconciliation --------------------------------------------------------------------------------------------------


async def _report(session: SessionDep, run_id: uuid.UUID) -> ReconciliationReport:
    run = await session.get(ReconciliationRun, run_id)
    assert run is not None
    items = await reconciliation.items_of(session, run.id)
    return ReconciliationReport(
        id=run.id,
        date=run.day,
        provider=run.provider,
        state=run.state,
        checked=run.checked,
        mismatches=run.mismatches,
        error=run.error,
        started_at=run.started_at,
        finished_at=run.finished_at,
        items=[ReconciliationItemRead.model_validate(item) for item in items],
    )


@router.post(
    "/reconciliation",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["reconciliation"],
    summary="Compare a day of payments with the provider's records (runs in the background)",
)
async def start_reconciliation(
    body: ReconciliationRequest, request: Request, session: SessionDep, principal: Reader
) -> ReconciliationReport:
    organization_id = require_org(principal)
    registry.get(body.provider)  # unknown provider: 422 naming "provider"
    run = await reconciliation.start_run(
        session, organization_id=organization_id, provider=body.provider, day=body.date
    )
    await enqueue(session, reconciliation.RECONCILE_JOB, {"run_id": str(run.id)})
    await record_audit(
        session,
        action="payments.reconciliation.start",
        organization_id=organization_id,
        actor=principal,
        target_type="reconciliation_run",
        target_id=str(run.id),
        changes={"date": body.date.isoformat(), "provider": body.provider},
        ip=_ip(request),
    )
    return await _report(session, run.id)


@router.get("/reconciliation", tags=["reconciliation"], summary="The latest reconciliation of a day and provider")
async def get_reconciliation(
    session: SessionDep,
    principal: Reader,
    day: Annotated[date, Query(alias="date", description="YYYY-MM-DD (UTC)")],
    provider: Annotated[str, Query(min_length=1, max_length=40)],
) -> ReconciliationReport:
    run = await reconciliation.latest_run(session, organization_id=require_org(principal), provider=provider, day=day)
    return await _report(session, run.id)
