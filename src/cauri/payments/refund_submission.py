"""Talking to the provider about one refund: sending it once, asking its status, following a payout back.

The same discipline as :mod:`.submission`: no transaction is open during a provider call. Each step reads a
snapshot, calls the provider, then locks the collection and the refund (in that order) and applies what was learnt
(:func:`refunds.apply_refund_outcome`). The refund's ``outbound_reference`` was saved before any call, so every
retry sends the same one and the provider tells a repeated refund from a new one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.base import PaymentConnector, ProviderPayment, RefundRequest
from cauri.core.config import Settings
from cauri.core.db import unit_of_work, utcnow
from cauri.core.jobs import enqueue
from cauri.kit.errors import ConnectorError, InvalidRequest, PaymentNotFound
from cauri.payments import providers
from cauri.payments.models import Payment, PaymentRefund
from cauri.payments.outcomes import UNKNOWN_AT_PROVIDER_GRACE
from cauri.payments.refund_schemas import RefundMethod, RefundStatus
from cauri.payments.refund_settlement import apply_refund_outcome
from cauri.payments.refunds import REFUND_SUBMIT_JOB, lock_refund
from cauri.payments.settlement import Outcome, lock_payment, next_poll_delay
from cauri.payments.states import OPEN_STATUSES, Cause, Status
from cauri.payments.submission import RetryLater, outcome_of_error

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RefundSnapshot:
    """What a provider call about a refund needs, read before the call."""

    id: uuid.UUID
    payment_id: uuid.UUID
    organization_id: uuid.UUID
    provider: str
    method: RefundMethod
    request: RefundRequest
    provider_reference: str | None
    payout_id: uuid.UUID | None
    submit_attempts: int
    age: timedelta

    @classmethod
    def of(cls, refund: PaymentRefund, payment: Payment) -> RefundSnapshot:
        return cls(
            id=refund.id,
            payment_id=payment.id,
            organization_id=refund.organization_id,
            provider=refund.provider,
            method=RefundMethod(refund.method),
            request=RefundRequest(
                reference=refund.outbound_reference,
                provider_reference=payment.provider_reference or payment.outbound_reference,
                amount=refund.amount,
                currency=refund.currency,
                reason=refund.reason,
                collection_reference=payment.outbound_reference,
                payer_phone=payment.phone,
            ),
            provider_reference=refund.provider_reference,
            payout_id=refund.payout_id,
            submit_attempts=refund.submit_attempts,
            age=utcnow() - refund.created_at,
        )


async def _read(sessionmaker: async_sessionmaker[AsyncSession], refund_id: uuid.UUID) -> RefundSnapshot | None:
    async with sessionmaker() as session:
        refund = await session.get(PaymentRefund, refund_id)
        if refund is None or refund.status != RefundStatus.PENDING:
            return None
        payment = await session.get(Payment, refund.payment_id)
        return None if payment is None else RefundSnapshot.of(refund, payment)


async def _connector(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, snapshot: RefundSnapshot
) -> PaymentConnector:
    async with sessionmaker() as session:
        return await providers.connector_for(
            session, organization_id=snapshot.organization_id, provider=snapshot.provider, settings=settings
        )


async def _ask_status(connector: PaymentConnector, snapshot: RefundSnapshot) -> ProviderPayment:
    if snapshot.method is RefundMethod.REVERSAL:
        return await connector.reversal_status(snapshot.request)
    return await connector.refund_status(snapshot.request, snapshot.provider_reference)


async def _send(connector: PaymentConnector, snapshot: RefundSnapshot) -> Outcome | RetryLater:
    """Send the refund (or find out that an earlier attempt already did) and say what happened."""
    try:
        if snapshot.submit_attempts > 1:
            # An earlier attempt may have reached the provider before this process lost track of it.
            try:
                return Outcome.of_provider(await _ask_status(connector, snapshot), found_by="status_query")
            except PaymentNotFound:
                pass  # it never arrived: send it now, under the same reference
        if snapshot.method is RefundMethod.REVERSAL:
            return Outcome.of_provider(await connector.reverse_payout(snapshot.request))
        return Outcome.of_provider(await connector.refund(snapshot.request))
    except InvalidRequest as exc:
        # The provider's word for what it refused (refund_refused, partial_refund_unsupported…) is the reason.
        reason = exc.reason.value if exc.reason else exc.code
        return Outcome(Status.FAILED, provider_status=exc.provider_code, reason=reason, detail={"code": exc.code})
    except ConnectorError as exc:
        return outcome_of_error(exc, attempts=snapshot.submit_attempts)


async def _apply(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    snapshot: RefundSnapshot,
    outcome: Outcome | None,
    *,
    cause: Cause,
) -> bool:
    async with unit_of_work(sessionmaker) as session:
        payment = await lock_payment(session, snapshot.payment_id)
        refund = await lock_refund(session, snapshot.id)
        if payment is None or refund is None:
            return False
        changed = False
        if outcome is not None:
            changed = await apply_refund_outcome(session, payment, refund, outcome, cause=cause, settings=settings)
        if not changed and refund.status == RefundStatus.PENDING and cause is Cause.POLL:
            refund.poll_attempts += 1
            refund.next_poll_at = utcnow() + next_poll_delay(settings, refund.poll_attempts)
        return changed


async def submit(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, refund_id: uuid.UUID) -> None:
    """The ``payments.refund_submit`` job: send a pending refund to its provider, once, and record the answer."""
    async with unit_of_work(sessionmaker) as session:
        refund = await lock_refund(session, refund_id)
        if (
            refund is None
            or refund.status != RefundStatus.PENDING
            or refund.method == RefundMethod.PAYOUT
            or refund.submitted_at is not None
        ):
            return  # already sent (the poller follows it) or already settled: nothing left to do
        refund.submit_attempts += 1  # committed before the call: a crash during it is visible to the next try
    snapshot = await _read(sessionmaker, refund_id)
    if snapshot is None:
        return
    connector = await _connector(sessionmaker, settings, snapshot)
    async with connector:
        result = await _send(connector, snapshot)
    if isinstance(result, RetryLater):
        log.info("refund_submit_retry", refund_id=str(refund_id), error=result.error)
        async with unit_of_work(sessionmaker) as session:
            await enqueue(session, REFUND_SUBMIT_JOB, {"refund_id": str(refund_id)}, run_after=utcnow() + result.delay)
        return
    await _apply(sessionmaker, settings, snapshot, result, cause=Cause.SUBMIT)


async def _payout_outcome(sessionmaker: async_sessionmaker[AsyncSession], payout_id: uuid.UUID | None) -> Outcome:
    """A refund made as a payout back to the payer ends as its payout ends."""
    async with sessionmaker() as session:
        payout = await session.get(Payment, payout_id) if payout_id else None
    if payout is None:
        return Outcome(Status.FAILED, reason="provider_error")
    status = Status(payout.status)
    if status in OPEN_STATUSES:
        return Outcome(Status.PENDING, provider_status=payout.provider_status)
    if status is Status.SUCCEEDED:
        return Outcome(Status.SUCCEEDED, provider_status=payout.provider_status)
    return Outcome(Status.FAILED, provider_status=payout.provider_status, reason=payout.failure_reason or status.value)


async def _status_outcome(connector: PaymentConnector, snapshot: RefundSnapshot) -> Outcome | None:
    try:
        return Outcome.of_provider(await _ask_status(connector, snapshot))
    except PaymentNotFound:
        if snapshot.age > UNKNOWN_AT_PROVIDER_GRACE:
            return Outcome(Status.FAILED, provider_status="not_found", reason="provider_error")
    except ConnectorError as exc:
        log.info("refund_status_unavailable", refund_id=str(snapshot.id), error=exc.code)
    return None


async def refresh(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, refund_id: uuid.UUID, *, cause: Cause
) -> bool:
    """Find out where a pending refund stands (the provider's status, or its payout's) and apply it."""
    snapshot = await _read(sessionmaker, refund_id)
    if snapshot is None:
        return False
    if snapshot.method is RefundMethod.PAYOUT:
        outcome: Outcome | None = await _payout_outcome(sessionmaker, snapshot.payout_id)
    else:
        connector = await _connector(sessionmaker, settings, snapshot)
        async with connector:
            outcome = await _status_outcome(connector, snapshot)
    return await _apply(sessionmaker, settings, snapshot, outcome, cause=cause)


async def claim_due(session: AsyncSession, *, limit: int, lease: timedelta) -> list[uuid.UUID]:
    """Ids of pending refunds whose status query is due, leased so that concurrent workers skip them."""
    now = utcnow()
    rows = await session.execute(
        select(PaymentRefund)
        .where(PaymentRefund.status == RefundStatus.PENDING.value, PaymentRefund.next_poll_at <= now)
        .order_by(PaymentRefund.next_poll_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    refunds = list(rows.scalars().all())
    for refund in refunds:
        refund.next_poll_at = now + lease
    return [r.id for r in refunds]
