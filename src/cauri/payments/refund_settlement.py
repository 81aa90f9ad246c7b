"""Applying what a provider says about a refund (or a reversal): its status, the ledger, the payment's status.

Called with the payment and the refund locked (in that order), by the submit job and the poller
(:mod:`.refund_submission`). A refund that succeeds posts its hold and moves the collection to
``partially_refunded`` or ``refunded``; one that fails releases the hold; a reversal that succeeds credits the money
back and moves the payout to ``reversed``. Each succeeded refund records a settlement event of its own.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.ledger import service as ledger
from cauri.payments import events, webhooks
from cauri.payments.models import Payment, PaymentRefund
from cauri.payments.refund_schemas import RefundMethod, RefundStatus
from cauri.payments.refunds import refund_ledger_metadata, sum_of_refunds
from cauri.payments.settlement import Outcome, next_poll_delay, record_transition, transfer_id
from cauri.payments.states import Cause, Status


async def _post(session: AsyncSession, payment: Payment, refund: PaymentRefund) -> None:
    await ledger.post_pending(
        session,
        id=transfer_id(refund.id, "refund.post"),
        pending_id=transfer_id(refund.id, "refund.reserve"),
        metadata=refund_ledger_metadata(payment, refund),
    )


async def _void(session: AsyncSession, payment: Payment, refund: PaymentRefund) -> None:
    await ledger.void_pending(
        session,
        id=transfer_id(refund.id, "refund.void"),
        pending_id=transfer_id(refund.id, "refund.reserve"),
        metadata=refund_ledger_metadata(payment, refund),
    )


async def _reversed(
    session: AsyncSession, payment: Payment, refund: PaymentRefund, *, cause: Cause, settings: Settings
) -> None:
    """The payee gave the payout back: the money returns to the account it left; the payout reads ``reversed``
    (its settlement event is written by the transition itself)."""
    clearing = await ledger.clearing_account(session, payment.organization_id, payment.provider, payment.currency)
    spec = ledger.TransferSpec(
        id=transfer_id(refund.id, "reversal.credit"),
        debit_account_id=clearing.id,
        credit_account_id=payment.account_id,
        amount=refund.amount,
        code="reversal",
        metadata=refund_ledger_metadata(payment, refund),
    )
    await ledger.create_transfers(session, [spec])
    await record_transition(
        session,
        payment,
        Status.REVERSED,
        cause=cause,
        provider_status=refund.provider_status,
        detail={"refund_id": str(refund.id), "reversed": refund.amount},
    )
    await webhooks.emit_payment_event(session, payment, settings=settings)


async def _move_payment(
    session: AsyncSession, payment: Payment, refund: PaymentRefund, *, cause: Cause, settings: Settings
) -> None:
    """``partially_refunded`` after a first partial refund, ``refunded`` once everything went back."""
    await session.flush()
    refunded = await sum_of_refunds(session, payment.id, (RefundStatus.SUCCEEDED.value,))
    previous = Status(payment.status)
    target = Status.REFUNDED if refunded >= payment.amount else Status.PARTIALLY_REFUNDED
    if target is not previous:
        await record_transition(
            session,
            payment,
            target,
            cause=cause,
            provider_status=refund.provider_status,
            detail={"refund_id": str(refund.id), "refund_amount": refund.amount, "refunded": refunded},
        )
        await webhooks.emit_payment_event(session, payment, settings=settings)
    # One settlement event per succeeded refund, in this transaction (record_transition announces no refund status).
    await events.record_settlement_event(
        session,
        payment=payment,
        previous_status=previous,
        status=Status(payment.status),
        refund_id=refund.id,
        refund_amount=refund.amount,
    )


async def apply_refund_outcome(
    session: AsyncSession,
    payment: Payment,
    refund: PaymentRefund,
    outcome: Outcome,
    *,
    cause: Cause,
    settings: Settings,
) -> bool:
    """Move ``refund`` (its payment and itself locked by the caller) as ``outcome`` says; False when nothing changed.

    A final refund ignores every later word. Any status other than a success or a failure (pending, unknown) keeps
    it pending and schedules the next status query.
    """
    if refund.status != RefundStatus.PENDING:
        return False
    now = utcnow()
    if outcome.provider_reference and not refund.provider_reference:
        refund.provider_reference = outcome.provider_reference[:128]
    if outcome.provider_status:
        refund.provider_status = outcome.provider_status[:64]
    refund.updated_at = now
    if outcome.status in (Status.CREATED, Status.PENDING):
        refund.submitted_at = refund.submitted_at or now
        refund.next_poll_at = now + next_poll_delay(settings, refund.poll_attempts)
        return False
    refund.next_poll_at = None
    refund.completed_at = now
    if outcome.status is Status.SUCCEEDED:
        refund.status = RefundStatus.SUCCEEDED.value
        if refund.method == RefundMethod.REVERSAL:
            await _reversed(session, payment, refund, cause=cause, settings=settings)
            return True
        if refund.method == RefundMethod.REFUND:
            await _post(session, payment, refund)
        await _move_payment(session, payment, refund, cause=cause, settings=settings)
        return True
    if refund.method == RefundMethod.REFUND:
        await _void(session, payment, refund)
    refund.status = RefundStatus.FAILED.value
    refund.failure_reason = (outcome.reason or "provider_error")[:40]
    return True
