"""Talking to the provider about one payment: sending it, asking its status, ending it when it never settles.

The discipline (docs/payments.md, "Crash safety"): no database transaction is open during a provider call.
Each step is *read a snapshot* → *call the provider* → *lock the payment and apply what was learnt*
(:func:`cauri.payments.settlement.apply_outcome`). The reference we send (``outbound_reference``) was saved with
the payment before any call, so every retry, by any process, sends the same one, and the provider (or a status
query by that reference) tells a repeated send from a new one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.base import CollectRequest, PaymentConnector, PayoutRequest, ProviderPayment
from cauri.core.config import Settings
from cauri.core.db import unit_of_work, utcnow
from cauri.core.jobs import enqueue
from cauri.kit.errors import ConnectorError, PaymentNotFound
from cauri.payments import providers, redirects
from cauri.payments.models import Payment
from cauri.payments.outcomes import (
    UNKNOWN,
    CallOutcome,
    Verdict,
    of_send_error,
    of_status_error,
    submit_retry_delay,
)
from cauri.payments.settlement import Outcome, apply_outcome, lock_payment, next_poll_delay, record_transition
from cauri.payments.states import OPEN_STATUSES, Cause, PaymentKind, Status

log = structlog.get_logger(__name__)

SUBMIT_JOB = "payments.submit"


@dataclass(frozen=True)
class Snapshot:
    """What a provider call needs, read before the call so no transaction stays open during it."""

    id: uuid.UUID
    organization_id: uuid.UUID
    kind: PaymentKind
    status: Status
    provider: str
    outbound_reference: str
    provider_reference: str | None
    amount: int
    currency: str
    phone: str
    description: str
    metadata: dict[str, str]
    payee_name: str | None
    submit_attempts: int
    created_at_age: timedelta

    @classmethod
    def of(cls, payment: Payment) -> Snapshot:
        extra = dict(payment.extra or {})
        return cls(
            id=payment.id,
            organization_id=payment.organization_id,
            kind=PaymentKind(payment.kind),
            status=Status(payment.status),
            provider=payment.provider,
            outbound_reference=payment.outbound_reference,
            provider_reference=payment.provider_reference,
            amount=payment.amount,
            currency=payment.currency,
            phone=payment.phone,
            description=payment.description or "",
            metadata={"cauri_reference": payment.reference},
            payee_name=str(extra.get("payee_name")) if extra.get("payee_name") else None,
            submit_attempts=payment.submit_attempts,
            created_at_age=utcnow() - payment.created_at,
        )


async def open_connector(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, snapshot: Snapshot
) -> PaymentConnector:
    async with sessionmaker() as session:
        return await providers.connector_for(
            session, organization_id=snapshot.organization_id, provider=snapshot.provider, settings=settings
        )


async def query_status(connector: PaymentConnector, snapshot: Snapshot) -> ProviderPayment:
    if snapshot.kind is PaymentKind.COLLECTION:
        return await connector.collect_status(snapshot.outbound_reference, snapshot.provider_reference)
    return await connector.payout_status(snapshot.outbound_reference, snapshot.provider_reference)


def can_query(connector: PaymentConnector, snapshot: Snapshot) -> bool:
    return bool(snapshot.provider_reference) or connector.status_by_reference


async def _send(connector: PaymentConnector, snapshot: Snapshot, settings: Settings) -> ProviderPayment:
    callback = providers.callback_url(settings, snapshot.provider, snapshot.organization_id)
    if snapshot.kind is PaymentKind.COLLECTION:
        return await connector.collect(
            CollectRequest(
                reference=snapshot.outbound_reference,
                amount=snapshot.amount,
                currency=snapshot.currency,
                payer_phone=snapshot.phone,
                description=snapshot.description,
                callback_url=callback,
                metadata=snapshot.metadata,
            )
        )
    return await connector.payout(
        PayoutRequest(
            reference=snapshot.outbound_reference,
            amount=snapshot.amount,
            currency=snapshot.currency,
            payee_phone=snapshot.phone,
            description=snapshot.description,
            callback_url=callback,
            payee_name=snapshot.payee_name,
            metadata=snapshot.metadata,
        )
    )


@dataclass(frozen=True)
class RetryLater:
    delay: timedelta
    error: str


def _of_error(outcome: CallOutcome, attempts: int) -> Outcome | RetryLater:
    """A payment's record of what the shared table (:mod:`cauri.payments.outcomes`) made of a send's error."""
    if outcome.verdict is Verdict.RETRY:
        return RetryLater(submit_retry_delay(outcome, attempts), outcome.error or "")
    if outcome.verdict is Verdict.FAILED:
        detail = {"code": outcome.error}
        return Outcome(Status.FAILED, provider_status=outcome.provider_status, reason=outcome.reason, detail=detail)
    return Outcome(Status.PENDING, provider_status=UNKNOWN, detail={"error": outcome.error})


def outcome_of_error(exc: ConnectorError, *, attempts: int) -> Outcome | RetryLater:
    """What a provider's refusal of a create call (a payment, a refund) means: declined, invalid or unsupported:
    failed; rate-limited or down before sending: send again later; a timeout after sending, or an answer we could
    not read: the provider may have it, so pending, ask later (the shared table, :mod:`cauri.payments.outcomes`)."""
    return _of_error(of_send_error(exc), attempts)


async def _submit_call(connector: PaymentConnector, snapshot: Snapshot, settings: Settings) -> Outcome | RetryLater:
    """Send the payment (or find out that an earlier attempt already did) and say what happened."""
    try:
        if snapshot.submit_attempts > 1 and not connector.idempotent_creates:
            # An earlier attempt may have reached the provider before this process lost track of it.
            if not connector.status_by_reference:
                return Outcome(Status.PENDING, provider_status=UNKNOWN, detail={"resent": False})
            try:
                return Outcome.of_provider(await query_status(connector, snapshot), found_by="status_query")
            except PaymentNotFound:
                pass  # it never arrived: send it now, under the same reference
        return Outcome.of_provider(await _send(connector, snapshot, settings))
    except ConnectorError as exc:
        return outcome_of_error(exc, attempts=snapshot.submit_attempts)


async def submit(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, payment_id: uuid.UUID) -> None:
    """The ``payments.submit`` job: send a ``created`` payment to its provider, once, and record the answer."""
    async with unit_of_work(sessionmaker) as session:
        payment = await lock_payment(session, payment_id)
        if payment is None or payment.status != Status.CREATED:
            return  # already sent, or settled by a callback that overtook us: nothing left to do
        payment.submit_attempts += 1  # committed before the call: a crash during it is visible to the next try
        snapshot = Snapshot.of(payment)
    connector = await open_connector(sessionmaker, settings, snapshot)
    async with connector:
        result = await _submit_call(connector, snapshot, settings)
    async with unit_of_work(sessionmaker) as session:
        payment = await lock_payment(session, payment_id)
        if payment is None:
            return
        if isinstance(result, RetryLater):
            if payment.status == Status.CREATED and utcnow() + result.delay < payment.expires_at:
                log.info("payment_submit_retry", payment_id=str(payment_id), error=result.error)
                await enqueue(session, SUBMIT_JOB, {"payment_id": str(payment_id)}, run_after=utcnow() + result.delay)
            return  # past its expiry the expiry job ends it
        redirects.remember(payment, result)
        await apply_outcome(session, payment, result, cause=Cause.SUBMIT, settings=settings)


async def refresh(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    payment_id: uuid.UUID,
    *,
    cause: Cause,
) -> bool:
    """Ask the provider for the status of an open payment and apply it; True when the payment changed."""
    async with sessionmaker() as session:
        payment = await session.get(Payment, payment_id)
        if payment is None or Status(payment.status) not in OPEN_STATUSES:
            return False
        snapshot = Snapshot.of(payment)
    connector = await open_connector(sessionmaker, settings, snapshot)
    outcome: Outcome | None = None
    async with connector:
        if can_query(connector, snapshot):
            try:
                outcome = Outcome.of_provider(await query_status(connector, snapshot))
            except ConnectorError as exc:
                # Only a payment we know was sent (pending) can be believed lost when the provider does not know it.
                sent_for = snapshot.created_at_age if snapshot.status is Status.PENDING else None
                learnt = of_status_error(exc, sent_for=sent_for)
                if learnt.verdict is Verdict.FAILED:
                    outcome = Outcome(
                        Status.FAILED,
                        provider_status=learnt.provider_status,
                        reason=learnt.reason,
                        detail={"unknown_at_provider": True},
                    )
                else:
                    log.info("payment_status_unavailable", payment_id=str(payment_id), error=exc.code)
    async with unit_of_work(sessionmaker) as session:
        payment = await lock_payment(session, payment_id)
        if payment is None:
            return False
        if payment.outbound_reference != snapshot.outbound_reference:
            # Re-keyed while we asked (an operator's correction): the answer is about a reference it no longer has.
            return False
        changed = False
        if outcome is not None:
            redirects.remember(payment, outcome)  # the create call's answer may have been lost (a timeout)
            changed = await apply_outcome(session, payment, outcome, cause=cause, settings=settings)
        if not changed and payment.status == Status.PENDING and cause is Cause.POLL:
            payment.poll_attempts += 1
            payment.next_poll_at = utcnow() + next_poll_delay(settings, payment.poll_attempts)
        return changed


async def expire(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, payment_id: uuid.UUID) -> bool:
    """End a payment past its expiry: the provider's final word if it has one, else ``expired``."""
    if await refresh(sessionmaker, settings, payment_id, cause=Cause.EXPIRY):
        async with sessionmaker() as session:
            payment = await session.get(Payment, payment_id)
            if payment is not None and Status(payment.status) not in OPEN_STATUSES:
                return True
    async with unit_of_work(sessionmaker) as session:
        payment = await lock_payment(session, payment_id)
        if payment is None or Status(payment.status) not in OPEN_STATUSES or payment.expires_at > utcnow():
            return False
        await apply_outcome(
            session,
            payment,
            Outcome(Status.EXPIRED, provider_status=payment.provider_status, reason="expired"),
            cause=Cause.EXPIRY,
            settings=settings,
        )
        return True


async def claim_due(
    session: AsyncSession, *, statuses: tuple[Status, ...], due_column: str, limit: int, lease: timedelta
) -> list[uuid.UUID]:
    """Ids of open payments whose poll (or expiry) is due, leased so that concurrent workers skip them."""
    column = getattr(Payment, due_column)
    now = utcnow()
    rows = await session.execute(
        select(Payment)
        .where(Payment.status.in_([s.value for s in statuses]), column <= now)
        .order_by(column)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    payments = list(rows.scalars().all())
    for payment in payments:
        if due_column == "next_poll_at":
            payment.next_poll_at = now + lease
    return [p.id for p in payments]


async def record_created(session: AsyncSession, payment: Payment) -> None:
    """The first line of a payment's history (the create request)."""
    await record_transition(session, payment, Status.CREATED, cause=Cause.API)
