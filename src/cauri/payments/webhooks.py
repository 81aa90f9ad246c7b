"""Outbound webhooks: each organisation's endpoints, the events they receive, and delivery with retries.

An event is written as one ``webhook_deliveries`` row per subscribed endpoint **in the transaction that changed
the payment**, with its delivery job: no event without its change, no change without its event. Delivery
happens outside any transaction (the row is leased first so two workers never send it at once), is signed
``Cauri-Signature: t=…,v1=…`` and retried with capped exponential backoff (or the receiver's ``Retry-After``)
until the retry window closes, then marked failed: the shared delivery of :mod:`cauri.core.outbound`. Every
attempt is logged; a delivery can be replayed (same event id, so receivers deduplicate).

Any module may announce its own events to the organisation's endpoints with :func:`emit_event` (bulk batches
do: ``bulk.completed``…); payment events go through :func:`emit_payment_event`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core import outbound
from cauri.core.config import Settings
from cauri.core.db import unit_of_work, utcnow
from cauri.core.errors import Conflict
from cauri.core.jobs import enqueue
from cauri.core.pagination import PageParams, paginate
from cauri.core.security import Encryptor
from cauri.core.signing import new_secret
from cauri.payments.errors import DeliveryNotFound, EndpointNotFound
from cauri.payments.models import Payment, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from cauri.payments.schemas import WebhookEndpointCreate

log = structlog.get_logger(__name__)

DELIVER_JOB = "payments.deliver_webhook"


def encryptor(settings: Settings) -> Encryptor:
    return Encryptor(settings.encryption_key_list)


# -- endpoints ---------------------------------------------------------------------------------------------------


async def create_endpoint(
    session: AsyncSession, *, organization_id: uuid.UUID, body: WebhookEndpointCreate, settings: Settings
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (returned once, stored encrypted)."""
    secret = new_secret()
    endpoint = WebhookEndpoint(
        organization_id=organization_id,
        url=body.url,
        description=body.description,
        event_types=list(body.event_types),
        secret_encrypted=encryptor(settings).encrypt(secret),
        is_active=True,
    )
    session.add(endpoint)
    await session.flush()
    return endpoint, secret


async def get_endpoint(session: AsyncSession, *, organization_id: uuid.UUID, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = (
        await session.execute(
            select(WebhookEndpoint).where(
                WebhookEndpoint.id == endpoint_id, WebhookEndpoint.organization_id == organization_id
            )
        )
    ).scalar_one_or_none()
    if endpoint is None:
        raise EndpointNotFound()
    return endpoint


async def list_endpoints(
    session: AsyncSession, *, organization_id: uuid.UUID, params: PageParams
) -> tuple[list[WebhookEndpoint], str | None]:
    """A page of the organisation's endpoints, newest first."""
    statement = select(WebhookEndpoint).where(WebhookEndpoint.organization_id == organization_id)
    return await paginate(session, statement, params, created_at=WebhookEndpoint.created_at, row_id=WebhookEndpoint.id)


async def rotate_secret(session: AsyncSession, endpoint: WebhookEndpoint, *, settings: Settings) -> str:
    secret = new_secret()
    endpoint.secret_encrypted = encryptor(settings).encrypt(secret)
    endpoint.updated_at = utcnow()
    return secret


# -- events ------------------------------------------------------------------------------------------------------


def event_type_of(payment: Payment) -> str:
    return f"{payment.kind}.{payment.status}"


def _subscribed(endpoint: WebhookEndpoint, event_type: str) -> bool:
    return not endpoint.event_types or event_type in endpoint.event_types


async def emit_event(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_type: str,
    data: dict[str, Any],
    payment_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
    created_at: datetime | None = None,
) -> int:
    """Queue an event for every active endpoint of the organisation subscribed to ``event_type``, in the
    caller's transaction (the one that made the change); how many deliveries were queued. A module that sends
    the same event elsewhere too passes its ``event_id`` and ``created_at``, so that every copy is identical."""
    endpoints = [
        e
        for e in (
            await session.execute(
                select(WebhookEndpoint).where(
                    WebhookEndpoint.organization_id == organization_id, WebhookEndpoint.is_active.is_(True)
                )
            )
        ).scalars()
        if _subscribed(e, event_type)
    ]
    if not endpoints:
        return 0
    now = utcnow()
    event_id = event_id or uuid.uuid4()
    payload = outbound.event_body(
        event_id=str(event_id),
        event_type=event_type,
        organization_id=str(organization_id),
        data=data,
        created_at=created_at or now,
    )
    for endpoint in endpoints:
        delivery = WebhookDelivery(
            organization_id=organization_id,
            endpoint_id=endpoint.id,
            event_id=event_id,
            event_type=event_type,
            payment_id=payment_id,
            payload=payload,
            **outbound.new_delivery(now),
        )
        session.add(delivery)
        await session.flush()
        await enqueue(session, DELIVER_JOB, {"delivery_id": str(delivery.id)})
    return len(endpoints)


async def emit_payment_event(session: AsyncSession, payment: Payment, *, settings: Settings) -> int:
    """Queue ``<kind>.<status>`` for every subscribed endpoint of the payment's organisation; how many."""
    from cauri.payments.views import payment_read  # views -> schemas only; imported late to keep this module light

    return await emit_event(
        session,
        organization_id=payment.organization_id,
        event_type=event_type_of(payment),
        data=payment_read(payment).model_dump(mode="json"),
        payment_id=payment.id,
    )


async def replay(session: AsyncSession, *, organization_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery:
    """Send a delivery again (same event id and body) as a new delivery with its own attempts and window."""
    original = await get_delivery(session, organization_id=organization_id, delivery_id=delivery_id)
    endpoint = await session.get(WebhookEndpoint, original.endpoint_id)
    if endpoint is None or not endpoint.is_active:
        raise Conflict(
            "Ce point de réception est désactivé.", "This endpoint is disabled.", code="webhook_endpoint_disabled"
        )
    copy = WebhookDelivery(
        organization_id=organization_id,
        endpoint_id=original.endpoint_id,
        event_id=original.event_id,
        event_type=original.event_type,
        payment_id=original.payment_id,
        payload=original.payload,
        replay_of_id=original.id,
        **outbound.new_delivery(utcnow()),
    )
    session.add(copy)
    await session.flush()
    await enqueue(session, DELIVER_JOB, {"delivery_id": str(copy.id)})
    return copy


async def get_delivery(session: AsyncSession, *, organization_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery:
    delivery = (
        await session.execute(
            select(WebhookDelivery).where(
                WebhookDelivery.id == delivery_id, WebhookDelivery.organization_id == organization_id
            )
        )
    ).scalar_one_or_none()
    if delivery is None:
        raise DeliveryNotFound()
    return delivery


async def attempts_of(session: AsyncSession, delivery_id: uuid.UUID) -> list[WebhookAttempt]:
    rows = await session.execute(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
    )
    return list(rows.scalars().all())


# -- delivery ----------------------------------------------------------------------------------------------------


async def _lease(
    sessionmaker: async_sessionmaker[AsyncSession], delivery_id: uuid.UUID, settings: Settings
) -> outbound.Message | None:
    async with unit_of_work(sessionmaker) as session:
        delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True, populate_existing=True)
        if delivery is None or not outbound.take_lease(delivery, utcnow()):
            return None  # done, not due yet, or leased by another worker right now
        endpoint = await session.get(WebhookEndpoint, delivery.endpoint_id)
        if endpoint is None or not endpoint.is_active:
            outbound.give_up(delivery, "endpoint disabled")
            return None
        return outbound.Message(
            url=endpoint.url,
            secret=encryptor(settings).decrypt(endpoint.secret_encrypted),
            payload=delivery.payload,
            event_id=str(delivery.event_id),
            event_type=delivery.event_type,
        )


async def deliver(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, delivery_id: uuid.UUID
) -> str | None:
    """One attempt of one delivery, if it is due; returns its state afterwards (None: nothing to do)."""
    message = await _lease(sessionmaker, delivery_id, settings)
    if message is None:
        return None
    attempt = await outbound.post_signed(
        message, settings=settings, timeout_seconds=settings.payments_webhook_timeout_seconds
    )
    async with unit_of_work(sessionmaker) as session:
        delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True, populate_existing=True)
        if delivery is None:
            return None
        now = utcnow()
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                attempted_at=now,
                status_code=attempt.status_code,
                error=attempt.error,
                duration_ms=attempt.duration_ms,
                response_excerpt=attempt.excerpt,
            )
        )
        delivery.last_attempt_at = now
        following = outbound.record_attempt(delivery, attempt, now)
        if following is not None:
            await enqueue(session, DELIVER_JOB, {"delivery_id": str(delivery.id)}, run_after=following)
        elif delivery.state == outbound.FAILED:
            log.warning("webhook_delivery_abandoned", delivery_id=str(delivery.id), attempts=delivery.attempts)
        return delivery.state


async def overdue_deliveries(session: AsyncSession, *, now: datetime, limit: int = 200) -> list[uuid.UUID]:
    """Pending deliveries whose attempt is overdue (their job was lost): the sweeper rings for them again."""
    rows = await session.execute(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now - outbound.LEASE)
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    return list(rows.scalars().all())
