"""Applying what a provider says to a payment: the transition, the ledger and the organisation's webhooks, at once.

Every path that learns something from a provider (the create call's answer, a callback, a poll, the expiry job,
an operator's refresh) ends here, inside one transaction that holds the payment's row lock
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serialises writers). So the first path to see a final status
moves the payment and posts the ledger; every later one finds the payment final and changes nothing. Transfer ids
are derived from the payment id, so even a replayed posting could never move money twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.connectors.base import PaymentStatus, ProviderPayment
from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.ledger import service as ledger
from cauri.ledger.errors import InsufficientFunds, LedgerError
from cauri.payments import events, webhooks
from cauri.payments.attention import LATE_SUCCESS_NOT_APPLIED, record_attention
from cauri.payments.models import Payment, PaymentTransition
from cauri.payments.states import Cause, PaymentKind, Status, check_transition, is_final

log = structlog.get_logger(__name__)

FEES_ACCOUNT_CODE = "provider_fees"
# Statuses announced to subscribers by the transition itself. A refund is announced by the refunds code, once per
# refund (with its id and amount), so ``refunded`` is not here: it would be announced twice.
EVENT_STATUSES: frozenset[Status] = frozenset(
    {Status.SUCCEEDED, Status.FAILED, Status.EXPIRED, Status.CANCELLED, Status.REVERSED}
)
_STATUS_OF: dict[PaymentStatus, Status] = {
    PaymentStatus.PENDING: Status.PENDING,
    PaymentStatus.SUCCEEDED: Status.SUCCEEDED,
    PaymentStatus.FAILED: Status.FAILED,
    PaymentStatus.EXPIRED: Status.EXPIRED,
    PaymentStatus.CANCELLED: Status.CANCELLED,
}


@dataclass(frozen=True)
class Outcome:
    """What we learnt about a payment, from whichever source."""

    status: Status
    provider_status: str | None = None
    provider_reference: str | None = None
    reason: str | None = None
    fee: int | None = None
    amount: int | None = None
    currency: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    # What the create call's answer gives a redirect provider's payment (stored by payments/redirects.py).
    payment_url: str | None = None
    payment_url_expires_at: datetime | None = None
    callback_token: str | None = field(default=None, repr=False)  # a secret: never logged

    @classmethod
    def of_provider(cls, payment: ProviderPayment, **detail: Any) -> Outcome:
        return cls(
            payment_url=payment.payment_url,
            payment_url_expires_at=payment.payment_url_expires_at,
            callback_token=payment.callback_token,
            status=_STATUS_OF[payment.status],
            provider_status=payment.provider_status or payment.status.value,
            provider_reference=payment.provider_reference or None,
            reason=payment.failure.value if payment.failure else None,
            fee=payment.fee,
            amount=payment.amount,
            currency=payment.currency,
            detail=detail,
        )


def status_of(status: PaymentStatus) -> Status:
    return _STATUS_OF[status]


def transfer_id(payment_id: uuid.UUID, step: str) -> uuid.UUID:
    """The ledger transfer id of one step of a payment: the same on every retry, by any process."""
    return uuid.uuid5(payment_id, f"cauri.payments.{step}")


async def lock_payment(session: AsyncSession, payment_id: uuid.UUID) -> Payment | None:
    statement = (
        select(Payment).where(Payment.id == payment_id).with_for_update().execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def record_transition(
    session: AsyncSession,
    payment: Payment,
    target: Status,
    *,
    cause: Cause,
    provider_status: str | None = None,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    current = Status(payment.status) if payment.status else None
    if current is not None:
        check_transition(current, target)
    now = utcnow()
    session.add(
        PaymentTransition(
            payment_id=payment.id,
            from_status=current.value if current else None,
            to_status=target.value,
            cause=cause.value,
            provider_status=provider_status,
            reason=reason,
            detail=detail or None,
            created_at=now,
        )
    )
    payment.status = target.value
    payment.updated_at = now
    if is_final(target):
        payment.completed_at = payment.completed_at or now
        payment.next_poll_at = None
        if target is not Status.SUCCEEDED and reason:
            payment.failure_reason = reason[:40]
    if target in EVENT_STATUSES:
        # The outbox row commits with the transition, or neither does: no lost and no phantom event.
        await events.record_settlement_event(session, payment=payment, previous_status=current, status=target)


async def reserve_payout(session: AsyncSession, payment: Payment) -> None:
    """The hold on the debited account while the payout is under way (InsufficientFunds: nothing written)."""
    clearing = await ledger.clearing_account(session, payment.organization_id, payment.provider, payment.currency)
    await ledger.create_transfers(
        session,
        [
            ledger.TransferSpec(
                id=transfer_id(payment.id, "payout.reserve"),
                debit_account_id=payment.account_id,
                credit_account_id=clearing.id,
                amount=payment.amount,
                code="payout",
                pending=True,
                metadata=_ledger_metadata(payment),
            )
        ],
    )


def _ledger_metadata(payment: Payment) -> dict[str, Any]:
    return {"payment_id": str(payment.id), "reference": payment.reference, "provider": payment.provider}


async def _fees_account(session: AsyncSession, payment: Payment) -> ledger.Account:
    return await ledger.get_or_create_account(
        session,
        organization_id=payment.organization_id,
        currency=payment.currency,
        code=FEES_ACCOUNT_CODE,
        owner_ref=payment.provider,
    )


async def _charge_fee(session: AsyncSession, payment: Payment, fee: int) -> dict[str, Any]:
    """The provider's fee, borne by the payment's account (exactly once: the transfer id is the payment's)."""
    fees = await _fees_account(session, payment)
    spec = ledger.TransferSpec(
        id=transfer_id(payment.id, f"{payment.kind}.fee"),
        debit_account_id=payment.account_id,
        credit_account_id=fees.id,
        amount=fee,
        code="provider_fee",
        metadata=_ledger_metadata(payment),
    )
    try:
        await ledger.create_transfers(session, [spec])
    except InsufficientFunds:
        # The payment itself happened and is posted; a fee the wallet cannot cover is recorded, not lost.
        log.warning("provider_fee_not_charged", payment_id=str(payment.id), fee=fee)
        return {"fee_charged": 0, "fee_uncharged": fee}
    return {"fee_charged": fee}


async def _post_collection(session: AsyncSession, payment: Payment) -> dict[str, Any]:
    clearing = await ledger.clearing_account(session, payment.organization_id, payment.provider, payment.currency)
    await ledger.create_transfers(
        session,
        [
            ledger.TransferSpec(
                id=transfer_id(payment.id, "collection.credit"),
                debit_account_id=clearing.id,
                credit_account_id=payment.account_id,
                amount=payment.amount,
                code="collection",
                metadata=_ledger_metadata(payment),
            )
        ],
    )
    detail: dict[str, Any] = {"ledger": "credited"}
    if payment.fee:
        detail.update(await _charge_fee(session, payment, payment.fee))
    return detail


async def _post_payout(session: AsyncSession, payment: Payment) -> dict[str, Any]:
    await ledger.post_pending(
        session,
        id=transfer_id(payment.id, "payout.post"),
        pending_id=transfer_id(payment.id, "payout.reserve"),
        metadata=_ledger_metadata(payment),
    )
    detail: dict[str, Any] = {"ledger": "posted"}
    if payment.fee:
        detail.update(await _charge_fee(session, payment, payment.fee))
    return detail


async def _void_payout(session: AsyncSession, payment: Payment) -> dict[str, Any]:
    await ledger.void_pending(
        session,
        id=transfer_id(payment.id, "payout.void"),
        pending_id=transfer_id(payment.id, "payout.reserve"),
        metadata=_ledger_metadata(payment),
    )
    return {"ledger": "reservation_voided"}


async def _ledger_effects(session: AsyncSession, payment: Payment, target: Status) -> dict[str, Any]:
    if payment.kind == PaymentKind.COLLECTION:
        if target is Status.SUCCEEDED:
            return await _post_collection(session, payment)
        return {}
    if target is Status.SUCCEEDED:
        return await _post_payout(session, payment)
    if target in (Status.FAILED, Status.EXPIRED, Status.CANCELLED):
        return await _void_payout(session, payment)
    return {}


async def _post_late_payout(session: AsyncSession, payment: Payment) -> dict[str, Any]:
    """A payout we gave up on (its reservation voided) that the provider paid after all: debit it now, once."""
    clearing = await ledger.clearing_account(session, payment.organization_id, payment.provider, payment.currency)
    spec = ledger.TransferSpec(
        id=transfer_id(payment.id, "payout.late"),
        debit_account_id=payment.account_id,
        credit_account_id=clearing.id,
        amount=payment.amount,
        code="payout",
        metadata=_ledger_metadata(payment),
    )
    await ledger.create_transfers(session, [spec])
    detail: dict[str, Any] = {"ledger": "posted_late"}
    if payment.fee:
        detail.update(await _charge_fee(session, payment, payment.fee))
    return detail


async def _apply_late_success(
    session: AsyncSession, payment: Payment, outcome: Outcome, *, cause: Cause, settings: Settings
) -> bool:
    """A success reported after our expiry: the money did move at the provider. Booked now when it still can be
    (``expired → succeeded``); otherwise the payment stays expired and is listed for a person (nothing half-written:
    the ledger writes all of a posting or none of it)."""
    if (outcome.amount is not None and outcome.amount != payment.amount) or (
        outcome.currency is not None and outcome.currency != payment.currency
    ):
        log.error("late_success_amount_mismatch", payment_id=str(payment.id), theirs=outcome.amount)
        return False  # as for any success: another amount waits for reconciliation
    if outcome.fee is not None:
        payment.fee = outcome.fee
    try:
        if payment.kind == PaymentKind.COLLECTION:
            detail = await _post_collection(session, payment)
        else:
            detail = await _post_late_payout(session, payment)
    except LedgerError as exc:
        listed = await record_attention(
            session,
            payment,
            kind=LATE_SUCCESS_NOT_APPLIED,
            reason=exc.code,
            provider_status=outcome.provider_status,
            detail={"cause": cause.value, **outcome.detail},
        )
        log.error("late_success_not_applied", payment_id=str(payment.id), reason=exc.code, listed=listed)
        return False
    payment.failure_reason = None
    if outcome.provider_status:
        payment.provider_status = outcome.provider_status[:64]
    await record_transition(
        session,
        payment,
        Status.SUCCEEDED,
        cause=cause,
        provider_status=outcome.provider_status,
        detail={**outcome.detail, **detail, "late": True},
    )
    await webhooks.emit_payment_event(session, payment, settings=settings)
    return True


def next_poll_delay(settings: Settings, attempts: int) -> timedelta:
    seconds = min(settings.payments_poll_initial_seconds * (2 ** min(attempts, 20)), settings.payments_poll_max_seconds)
    return timedelta(seconds=seconds)


async def apply_outcome(
    session: AsyncSession, payment: Payment, outcome: Outcome, *, cause: Cause, settings: Settings
) -> bool:
    """Move ``payment`` (locked by the caller) as ``outcome`` says; False when nothing changed.

    Never goes backwards: a final payment ignores every later word (late, duplicated or reordered callbacks), but
    for one: a success after our expiry, which the money really made (:func:`_apply_late_success`).
    A success for another amount or currency than ours is not applied: it waits for a person (reconciliation).
    """
    if outcome.provider_reference and not payment.provider_reference:
        payment.provider_reference = outcome.provider_reference[:128]
    current = Status(payment.status)
    target = outcome.status
    if current is Status.EXPIRED and target is Status.SUCCEEDED:
        return await _apply_late_success(session, payment, outcome, cause=cause, settings=settings)
    if is_final(current):
        if current is Status.SUCCEEDED and payment.fee is None and outcome.fee:
            # The fee arrived after the success (a callback overtook the create call's answer): charge it now.
            payment.fee = outcome.fee
            await _charge_fee(session, payment, outcome.fee)
        if target is not current:
            log.warning(
                "payment_final_ignores_update",
                payment_id=str(payment.id),
                status=current.value,
                reported=target.value,
                cause=cause.value,
            )
        return False
    if outcome.fee is not None:
        payment.fee = outcome.fee
    if outcome.provider_status:
        payment.provider_status = outcome.provider_status[:64]
    if target is current:
        return False
    if target is Status.SUCCEEDED and (
        (outcome.amount is not None and outcome.amount != payment.amount)
        or (outcome.currency is not None and outcome.currency != payment.currency)
    ):
        log.error(
            "payment_amount_mismatch",
            payment_id=str(payment.id),
            ours=payment.amount,
            theirs=outcome.amount,
            currency=outcome.currency,
        )
        return False
    detail = dict(outcome.detail)
    if is_final(target):
        detail.update(await _ledger_effects(session, payment, target))
    await record_transition(
        session,
        payment,
        target,
        cause=cause,
        provider_status=outcome.provider_status,
        reason=outcome.reason,
        detail=detail,
    )
    if target is Status.PENDING:
        payment.submitted_at = payment.submitted_at or utcnow()
        payment.next_poll_at = utcnow() + next_poll_delay(settings, payment.poll_attempts)
    await webhooks.emit_payment_event(session, payment, settings=settings)
    return True
