"""Settlement events: how a business module learns, exactly once, that one of its payments settled.

The outbox row (``payment_settlement_events``) is written by :func:`record_settlement_event` in the transaction
that changed the payment (``settlement.record_transition``) or recorded a refund, with one
``payments.deliver_settlement`` job row per subscriber of the payment's purpose: no event without its change,
none lost by a crash, and no job at all when nobody listens. That job inserts the ``(event, subscriber)`` delivery
row and runs the subscriber in the job runner's one transaction, so the subscriber's writes, the delivery mark and
the job's "done" commit together — or roll back together and the job is retried with backoff, without holding up
the other subscribers.

Subscribers are registered at import time (``@on_settled``) by modules that every process imports through
``load_job_modules`` (the API, ``cauri worker``, ``cauri scheduler``), so the process that records an event knows
the same subscribers as the one that delivers it.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import new_id, utcnow
from cauri.core.jobs import enqueue
from cauri.payments.models import Payment, SettlementDelivery, SettlementEventRecord
from cauri.payments.states import Status
from cauri.payments.views import charged_fee

log = structlog.get_logger(__name__)

DELIVER_JOB = "payments.deliver_settlement"
EVERY_PURPOSE = "*"
PURPOSE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_DEDUPE_KEY_MAX = 200


@dataclass(frozen=True)
class SettlementEvent:
    """What a subscriber receives. ``refund_id``/``refund_amount`` are set only for a refund's event."""

    id: uuid.UUID
    payment_id: uuid.UUID
    organization_id: uuid.UUID
    kind: str  # "collection" or "payout"
    purpose: str | None
    owner_id: str | None
    status: str
    previous_status: str | None
    amount: int
    currency: str
    fee: int | None
    provider: str
    occurred_at: datetime
    refund_id: uuid.UUID | None = None
    refund_amount: int | None = None

    @classmethod
    def of(cls, row: SettlementEventRecord) -> SettlementEvent:
        return cls(
            id=row.id,
            payment_id=row.payment_id,
            organization_id=row.organization_id,
            kind=row.kind,
            purpose=row.purpose,
            owner_id=row.owner_id,
            status=row.status,
            previous_status=row.previous_status,
            amount=row.amount,
            currency=row.currency,
            fee=row.fee,
            provider=row.provider,
            occurred_at=row.occurred_at,
            refund_id=row.refund_id,
            refund_amount=row.refund_amount,
        )


Subscriber = Callable[[AsyncSession, SettlementEvent], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    name: str
    handler: Subscriber
    purposes: frozenset[str]

    def wants(self, purpose: str | None) -> bool:
        return EVERY_PURPOSE in self.purposes or (purpose is not None and purpose in self.purposes)


_subscriptions: dict[str, Subscription] = {}


def subscriber_name(handler: Subscriber) -> str:
    """Stable across processes and restarts: the delivery rows are keyed by it."""
    return f"{handler.__module__}.{getattr(handler, '__qualname__', repr(handler))}"


def on_settled(purpose: str) -> Callable[[Subscriber], Subscriber]:
    """Register ``handler`` for the settlement events of payments of ``purpose`` (``"*"``: every payment).

    Register at import time of a module every worker imports (a module's ``jobs.py``): the worker that
    delivers must know the subscriber. Stacking the decorator subscribes one handler to several purposes.
    """
    if purpose != EVERY_PURPOSE and not PURPOSE_PATTERN.match(purpose):
        raise ValueError(f"a purpose is '<module>.<what>' in lower case, or '*': {purpose!r}")

    def register(handler: Subscriber) -> Subscriber:
        name = subscriber_name(handler)
        existing = _subscriptions.get(name)
        purposes = (existing.purposes if existing else frozenset()) | {purpose}
        _subscriptions[name] = Subscription(name=name, handler=handler, purposes=purposes)
        return handler

    return register


def subscriptions_for(purpose: str | None) -> list[Subscription]:
    return [s for s in _subscriptions.values() if s.wants(purpose)]


async def record_settlement_event(
    session: AsyncSession,
    *,
    payment: Payment,
    previous_status: Status | None,
    status: Status,
    refund_id: uuid.UUID | None = None,
    refund_amount: int | None = None,
) -> uuid.UUID:
    """Write the event and its delivery jobs in the caller's transaction (never commits); return the event id.

    Called by ``settlement.record_transition`` for every settled status except ``refunded``, and by the refunds
    code once per refund (with ``refund_id`` and ``refund_amount``).
    """
    event_id = new_id()
    session.add(
        SettlementEventRecord(
            id=event_id,
            payment_id=payment.id,
            organization_id=payment.organization_id,
            kind=payment.kind,
            purpose=payment.purpose,
            owner_id=payment.owner_id,
            status=status.value,
            previous_status=previous_status.value if previous_status else None,
            amount=payment.amount,
            currency=payment.currency,
            fee=charged_fee(payment),  # record_transition has already set the new status
            provider=payment.provider,
            refund_id=refund_id,
            refund_amount=refund_amount,
            occurred_at=utcnow(),
        )
    )
    await dispatch(session, event_id, purpose=payment.purpose)
    return event_id


def delivery_dedupe_key(event_id: uuid.UUID, name: str) -> str:
    key = f"settlement:{event_id}:{name}"
    if len(key) <= _DEDUPE_KEY_MAX:
        return key
    return f"settlement:{event_id}:{hashlib.sha256(name.encode()).hexdigest()}"


async def dispatch(session: AsyncSession, event_id: uuid.UUID, *, purpose: str | None) -> int:
    """One delivery job per subscriber of ``purpose``; a second dispatch of the event adds nothing. Their count."""
    subscriptions = subscriptions_for(purpose)
    for subscription in subscriptions:
        await enqueue(
            session,
            DELIVER_JOB,
            {"event_id": str(event_id), "subscriber": subscription.name},
            dedupe_key=delivery_dedupe_key(event_id, subscription.name),
        )
    return len(subscriptions)


async def _mark_delivered(session: AsyncSession, event_id: uuid.UUID, name: str) -> bool:
    """Insert the delivery row; False when it exists. A concurrent runner waits on the unique key, then sees it."""
    builder = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        builder(SettlementDelivery)
        .values(id=new_id(), event_id=event_id, subscriber=name, delivered_at=utcnow())
        .on_conflict_do_nothing(index_elements=["event_id", "subscriber"])
        .returning(SettlementDelivery.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def deliver(session: AsyncSession, event_id: uuid.UUID, name: str) -> bool:
    """Run subscriber ``name`` on the event in ``session`` (the job runner's transaction); False if already done.

    Raises what the subscriber raises (the runner rolls everything back and retries), and ``LookupError`` when
    this process does not know the subscriber (a worker without the module: another attempt may know it).
    """
    subscription = _subscriptions.get(name)
    if subscription is None:
        raise LookupError(f"no settlement subscriber {name!r} in this process")
    row = await session.get(SettlementEventRecord, event_id)
    if row is None:
        return False
    # Marked first: the unique key serialises two runners of the same delivery before any effect is written.
    if not await _mark_delivered(session, event_id, name):
        return False
    await subscription.handler(session, SettlementEvent.of(row))
    return True


async def delivered_to(session: AsyncSession, event_id: uuid.UUID) -> list[str]:
    """The subscribers that received the event (for operators and tests)."""
    rows = await session.execute(select(SettlementDelivery.subscriber).where(SettlementDelivery.event_id == event_id))
    return sorted(rows.scalars().all())
