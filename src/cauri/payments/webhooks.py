"""Outbound webhooks: each organisation's endpoints, the events they receive, and delivery with retries.

An event is written as one ``webhook_deliveries`` row per subscribed endpoint **in the transaction that changed
the payment**, with its delivery job: no event without its change, no change without its event. Delivery
happens outside any transaction (the row is leased first so two workers never send it at once), is signed
``Cauri-Signature: t=…,v1=…`` (see :mod:`cauri.payments.signing`), and is retried with capped exponential
backoff (or the receiver's ``Retry-After``) until :data:`RETRY_WINDOW` after the event, then marked failed.
Every attempt is logged; a delivery can be replayed (same event id, so receivers deduplicate).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings
from cauri.core.db import unit_of_work, utcnow
from cauri.core.errors import Conflict
from cauri.core.jobs import enqueue
from cauri.core.outbound import refused_target
from cauri.core.pagination import PageParams, paginate
from cauri.core.security import Encryptor
from cauri.payments.errors import DeliveryNotFound, EndpointNotFound
from cauri.payments.models import Payment, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from cauri.payments.schemas import WebhookEndpointCreate
from cauri.payments.signing import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, new_secret, signature_header

log = structlog.get_logger(__name__)

DELIVER_JOB = "payments.deliver_webhook"
RETRY_WINDOW = timedelta(days=3)
# Delay before attempt n+1 (seconds); the last value repeats until the window closes.
BACKOFF_SCHEDULE: tuple[int, ...] = (10, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200)
MAX_RETRY_AFTER = 3600
LEASE = timedelta(seconds=60)
USER_AGENT = "Cauri-Webhooks/1"


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


async def emit_payment_event(session: AsyncSession, payment: Payment, *, settings: Settings) -> int:
    """Queue ``<kind>.<status>`` for every subscribed endpoint of the payment's organisation; how many."""
    from cauri.payments.views import payment_read  # views -> schemas only; imported late to keep this module light

    event_type = event_type_of(payment)
    endpoints = [
        e
        for e in (
            await session.execute(
                select(WebhookEndpoint).where(
                    WebhookEndpoint.organization_id == payment.organization_id, WebhookEndpoint.is_active.is_(True)
                )
            )
        ).scalars()
        if _subscribed(e, event_type)
    ]
    if not endpoints:
        return 0
    now = utcnow()
    event_id = uuid.uuid4()
    payload = json.dumps(
        {
            "id": str(event_id),
            "type": event_type,
            "created_at": now.isoformat(),
            "organization_id": str(payment.organization_id),
            "data": payment_read(payment).model_dump(mode="json"),
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    for endpoint in endpoints:
        delivery = WebhookDelivery(
            organization_id=payment.organization_id,
            endpoint_id=endpoint.id,
            event_id=event_id,
            event_type=event_type,
            payment_id=payment.id,
            payload=payload,
            state="pending",
            attempts=0,
            next_attempt_at=now,
            give_up_at=now + RETRY_WINDOW,
            created_at=now,
        )
        session.add(delivery)
        await session.flush()
        await enqueue(session, DELIVER_JOB, {"delivery_id": str(delivery.id)})
    return len(endpoints)


async def replay(session: AsyncSession, *, organization_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery:
    """Send a delivery again (same event id and body) as a new delivery with its own attempts and window."""
    original = await get_delivery(session, organization_id=organization_id, delivery_id=delivery_id)
    endpoint = await session.get(WebhookEndpoint, original.endpoint_id)
    if endpoint is None or not endpoint.is_active:
        raise Conflict(
            "Ce point de réception est désactivé.", "This endpoint is disabled.", code="webhook_endpoint_disabled"
        )
    now = utcnow()
    copy = WebhookDelivery(
        organization_id=organization_id,
        endpoint_id=original.endpoint_id,
        event_id=original.event_id,
        event_type=original.event_type,
        payment_id=original.payment_id,
        payload=original.payload,
        state="pending",
        attempts=0,
        next_attempt_at=now,
        give_up_at=now + RETRY_WINDOW,
        replay_of_id=original.id,
        created_at=now,
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


@dataclass(frozen=True)
class _Send:
    delivery_id: uuid.UUID
    url: str
    secret: str
    payload: str
    event_id: uuid.UUID
    event_type: str


@dataclass(frozen=True)
class _Result:
    status_code: int | None
    error: str | None
    duration_ms: int
    excerpt: str | None
    retry_after: float | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def retry_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    """Delay before the next attempt after ``attempts`` failed ones: the receiver's wish, else the schedule."""
    if retry_after is not None:
        return timedelta(seconds=min(max(retry_after, 1.0), MAX_RETRY_AFTER))
    base = BACKOFF_SCHEDULE[min(attempts, len(BACKOFF_SCHEDULE)) - 1]
    return timedelta(seconds=base * random.uniform(0.9, 1.1))  # noqa: S311 - jitter, not cryptography


async def _lease(
    sessionmaker: async_sessionmaker[AsyncSession], delivery_id: uuid.UUID, settings: Settings
) -> _Send | None:
    async with unit_of_work(sessionmaker) as session:
        delivery = (
            await session.execute(
                select(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
        now = utcnow()
        if delivery is None or delivery.state != "pending":
            return None
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
            return None  # not due yet, or leased by another worker right now
        endpoint = await session.get(WebhookEndpoint, delivery.endpoint_id)
        if endpoint is None or not endpoint.is_active:
            delivery.state = "failed"
            delivery.last_error = "endpoint disabled"
            delivery.next_attempt_at = None
            return None
        delivery.next_attempt_at = now + LEASE
        return _Send(
            delivery_id=delivery.id,
            url=endpoint.url,
            secret=encryptor(settings).decrypt(endpoint.secret_encrypted),
            payload=delivery.payload,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
        )


async def _post(send: _Send, settings: Settings) -> _Result:
    started = time.perf_counter()
    refused = await refused_target(send.url, settings)
    if refused is not None:
        return _Result(None, refused, 0, None, None)
    body = send.payload.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature_header(send.secret, body),
        EVENT_ID_HEADER: str(send.event_id),
        EVENT_TYPE_HEADER: send.event_type,
    }
    try:
        async with httpx.AsyncClient(timeout=settings.payments_webhook_timeout_seconds, follow_redirects=False) as http:
            response = await http.post(send.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        elapsed = int((time.perf_counter() - started) * 1000)
        return _Result(None, f"{type(exc).__name__}: {exc}"[:500], elapsed, None, None)
    elapsed = int((time.perf_counter() - started) * 1000)
    retry_after: float | None = None
    if response.status_code in (429, 503):
        value = response.headers.get("Retry-After", "")
        retry_after = float(value) if value.isdigit() else None
    error = None if response.is_success else f"HTTP {response.status_code}"
    return _Result(response.status_code, error, elapsed, response.text[:500] or None, retry_after)


async def deliver(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, delivery_id: uuid.UUID
) -> str | None:
    """One attempt of one delivery, if it is due; returns its state afterwards (None: nothing to do)."""
    send = await _lease(sessionmaker, delivery_id, settings)
    if send is None:
        return None
    result = await _post(send, settings)
    async with unit_of_work(sessionmaker) as session:
        delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True, populate_existing=True)
        if delivery is None:
            return None
        now = utcnow()
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                attempted_at=now,
                status_code=result.status_code,
                error=result.error,
                duration_ms=result.duration_ms,
                response_excerpt=result.excerpt,
            )
        )
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error
        if result.delivered:
            delivery.state = "delivered"
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            return delivery.state
        following = now + retry_delay(delivery.attempts, result.retry_after)
        if following > delivery.give_up_at:
            delivery.state = "failed"
            delivery.next_attempt_at = None
            log.warning("webhook_delivery_abandoned", delivery_id=str(delivery.id), attempts=delivery.attempts)
            return delivery.state
        delivery.next_attempt_at = following
        await enqueue(session, DELIVER_JOB, {"delivery_id": str(delivery.id)}, run_after=following)
        return delivery.state


async def overdue_deliveries(session: AsyncSession, *, now: datetime, limit: int = 200) -> list[uuid.UUID]:
    """Pending deliveries whose attempt is overdue (their job was lost): the sweeper rings for them again."""
    rows = await session.execute(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now - LEASE)
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    return list(rows.scalars().all())
