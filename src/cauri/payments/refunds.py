"""Refunds of succeeded collections: full or partial, each its own row with its own status (no HTTP here).

:func:`refund` runs in the caller's transaction and never commits. Holding the collection's row lock
(:func:`settlement.lock_payment`), it checks what remains refundable (the collection's amount less every refund
pending or succeeded), so two refunds racing on one collection can never give back more than was collected. Then:

* the provider has a refund operation (``Capability.REFUND``): the money is held in the ledger at once (a pending
  transfer, the collection's account -> the provider's clearing account) and the ``payments.refund_submit`` job
  sends the refund after the commit (:mod:`.refund_submission`); its success posts the hold, its failure voids it;
* it has none but pays out: a payout back to the payer through the ordinary payout path
  (:func:`service.create_payment`), which reserves, posts or releases the same money; the refund follows it.

A refund that succeeds moves the collection to ``partially_refunded`` or, once everything is given back,
``refunded`` (:func:`refund_settlement.apply_refund_outcome`). :func:`reverse` undoes a succeeded payout at a
provider that can (``Capability.REVERSAL``).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.connectors.base import Capability, PaymentConnector
from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.core.errors import Conflict, field_error
from cauri.core.jobs import enqueue
from cauri.core.principal import Principal
from cauri.identity.audit import record_audit
from cauri.kit.errors import AuthError
from cauri.ledger import service as ledger
from cauri.ledger.errors import InsufficientFunds
from cauri.payments import providers
from cauri.payments.errors import PaymentNotFound, check_idempotency_key
from cauri.payments.models import IDEMPOTENCY_KEY_MAX, Payment, PaymentRefund
from cauri.payments.outcomes import failure_message
from cauri.payments.refund_schemas import RefundMethod, RefundStatus, RefundView
from cauri.payments.schemas import PayoutCreate
from cauri.payments.service import create_payment
from cauri.payments.settlement import lock_payment, next_poll_delay, transfer_id
from cauri.payments.states import REFUNDABLE_STATUSES, PaymentKind, Status

REFUND_SUBMIT_JOB = "payments.refund_submit"
REASON_MAX = 255
# Refunds that still hold money: what remains refundable excludes them.
_HOLDING = (RefundStatus.PENDING.value, RefundStatus.SUCCEEDED.value)


def refund_view(refund: PaymentRefund) -> RefundView:
    view = RefundView.model_validate(refund)
    view.failure_message = failure_message(refund.failure_reason)
    return view


async def lock_refund(session: AsyncSession, refund_id: uuid.UUID) -> PaymentRefund | None:
    """Lock the refund row; callers lock its payment first (:func:`lock_payment`), always in that order."""
    statement = (
        select(PaymentRefund)
        .where(PaymentRefund.id == refund_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def sum_of_refunds(session: AsyncSession, payment_id: uuid.UUID, statuses: tuple[str, ...]) -> int:
    total = await session.execute(
        select(func.coalesce(func.sum(PaymentRefund.amount), 0)).where(
            PaymentRefund.payment_id == payment_id, PaymentRefund.status.in_(statuses)
        )
    )
    return int(total.scalar_one())


async def refundable_amount(session: AsyncSession, payment: Payment) -> int:
    """What may still be refunded: the amount collected less every refund pending or succeeded."""
    return payment.amount - await sum_of_refunds(session, payment.id, _HOLDING)


def _not_refundable(payment: Payment) -> Conflict:
    if payment.kind != PaymentKind.COLLECTION:
        return Conflict(
            "Seul un encaissement peut être remboursé.",
            "Only a collection can be refunded.",
            code="not_a_collection",
        )
    return Conflict(
        f"Un encaissement « {payment.status} » ne peut pas être remboursé : il doit avoir réussi.",
        f"A '{payment.status}' collection cannot be refunded: it must have succeeded.",
        code="payment_not_refundable",
        extra={"status": payment.status},
    )


def _check_words(reason: str, idempotency_key: str) -> None:
    """What the HTTP schema checks, for callers that come through the modules' API."""
    if not 1 <= len(reason.strip()) <= REASON_MAX:
        raise field_error(
            "reason",
            "invalid_reason",
            f"Le motif du remboursement : 1 à {REASON_MAX} caractères.",
            f"The refund's reason: 1 to {REASON_MAX} characters.",
        )
    check_idempotency_key(idempotency_key, IDEMPOTENCY_KEY_MAX)


def _checked_amount(payment: Payment, amount: int | None, currency: str | None, remaining: int) -> int:
    """The amount to refund (None: all that remains), or a 422 naming the field at fault."""
    if currency is not None and currency.upper() != payment.currency:
        raise field_error(
            "currency",
            "currency_mismatch",
            f"L'encaissement est en {payment.currency}, pas en {currency.upper()}.",
            f"The collection is in {payment.currency}, not {currency.upper()}.",
        )
    if amount is not None and amount <= 0:
        raise field_error(
            "amount",
            "amount_not_positive",
            "Le montant doit être supérieur à zéro.",
            "The amount must be greater than zero.",
        )
    wanted = remaining if amount is None else amount
    if remaining <= 0:
        raise field_error(
            "amount",
            "nothing_to_refund",
            "Cet encaissement est déjà entièrement remboursé (ou en cours de remboursement).",
            "This collection is already refunded in full (or being refunded).",
        )
    if wanted > remaining:
        raise field_error(
            "amount",
            "refund_exceeds_remaining",
            f"Au plus {remaining} {payment.currency} peuvent encore être remboursés.",
            f"At most {remaining} {payment.currency} can still be refunded.",
        )
    return wanted


async def _connector(session: AsyncSession, payment: Payment, settings: Settings) -> PaymentConnector:
    """The payment's provider as configured for its organisation now (no call is made)."""
    try:
        return await providers.connector_for(
            session, organization_id=payment.organization_id, provider=payment.provider, settings=settings
        )
    except AuthError:
        raise Conflict(
            f"Le fournisseur « {payment.provider} » n'est plus configuré pour votre organisation.",
            f"Provider '{payment.provider}' is no longer configured for your organisation.",
            code="provider_not_configured",
        ) from None


async def _method(
    session: AsyncSession, payment: Payment, *, amount: int, remaining: int, settings: Settings
) -> RefundMethod:
    """How this provider gives money back: its refund operation, else a payout to the payer."""
    async with await _connector(session, payment, settings) as connector:
        if connector.supports(Capability.REFUND):
            if amount != remaining and not connector.partial_refunds:
                raise field_error(
                    "amount",
                    "partial_refund_unsupported",
                    f"« {payment.provider} » ne rembourse que la totalité restante ({remaining}).",
                    f"'{payment.provider}' only refunds everything that remains ({remaining}).",
                )
            return RefundMethod.REFUND
        if connector.supports(Capability.PAYOUT):
            return RefundMethod.PAYOUT
    raise Conflict(
        f"« {payment.provider} » ne permet ni remboursement ni envoi d'argent : remboursez le payeur autrement.",
        f"'{payment.provider}' offers neither refunds nor payouts: refund the payer another way.",
        code="refund_unsupported",
    )


def refund_ledger_metadata(payment: Payment, refund: PaymentRefund) -> dict[str, Any]:
    return {
        "payment_id": str(payment.id),
        "refund_id": str(refund.id),
        "reference": payment.reference,
        "provider": payment.provider,
    }


async def _hold(session: AsyncSession, payment: Payment, refund: PaymentRefund) -> None:
    """The money leaves the collection's account at once, pending: it cannot be spent while the refund runs."""
    clearing = await ledger.clearing_account(session, payment.organization_id, payment.provider, payment.currency)
    spec = ledger.TransferSpec(
        id=transfer_id(refund.id, "refund.reserve"),
        debit_account_id=payment.account_id,
        credit_account_id=clearing.id,
        amount=refund.amount,
        code="refund",
        pending=True,
        metadata=refund_ledger_metadata(payment, refund),
    )
    try:
        await ledger.create_transfers(session, [spec])
    except InsufficientFunds:
        raise field_error(
            "amount",
            "insufficient_funds",
            "Le solde du compte crédité par cet encaissement ne couvre pas ce remboursement.",
            "The balance of the account this collection credited does not cover this refund.",
        ) from None


async def _payout_back(
    session: AsyncSession, payment: Payment, refund: PaymentRefund, *, actor: Principal | None, settings: Settings
) -> Payment:
    body = PayoutCreate(
        amount=refund.amount,
        currency=payment.currency,
        phone=payment.phone,
        reference=f"refund-{refund.id.hex}",
        description=f"Refund {payment.reference}"[:160],
        account_id=payment.account_id,
        provider=payment.provider,
        metadata={"refund_id": str(refund.id), "collection_id": str(payment.id)},
    )
    return await create_payment(
        session,
        kind=PaymentKind.PAYOUT,
        body=body,
        principal=actor,
        organization_id=payment.organization_id,
        settings=settings,
    )


async def _locked(
    session: AsyncSession, organization_id: uuid.UUID, payment_id: uuid.UUID, reason: str, key: str
) -> Payment:
    _check_words(reason, key)
    payment = await lock_payment(session, payment_id)
    if payment is None or payment.organization_id != organization_id:
        raise PaymentNotFound()
    return payment


async def _known(
    session: AsyncSession, payment: Payment, key: str, *, amount: int | None, reason: str
) -> PaymentRefund | None:
    """The refund (or reversal) this idempotency key already made; a 409 when it asked for something else."""
    known = (
        await session.execute(
            select(PaymentRefund).where(PaymentRefund.payment_id == payment.id, PaymentRefund.idempotency_key == key)
        )
    ).scalar_one_or_none()
    if known is not None and ((amount is not None and amount != known.amount) or reason != known.reason):
        raise Conflict(
            "Cette clé d'idempotence a déjà servi à un autre remboursement de ce paiement.",
            "This idempotency key was already used for another refund of this payment.",
            code="idempotency_key_reused",
            extra={"refund_id": str(known.id)},
        )
    return known


async def _new_row(
    session: AsyncSession,
    payment: Payment,
    *,
    method: RefundMethod,
    amount: int,
    reason: str,
    key: str,
    actor: Principal | None,
) -> PaymentRefund:
    now = utcnow()
    row = PaymentRefund(
        id=uuid.uuid4(),
        organization_id=payment.organization_id,
        payment_id=payment.id,
        method=method.value,
        status=RefundStatus.PENDING.value,
        amount=amount,
        currency=payment.currency,
        reason=reason,
        idempotency_key=key,
        provider=payment.provider,
        outbound_reference=uuid.uuid4().hex,
        submit_attempts=0,
        poll_attempts=0,
        created_by_user_id=actor.user_id if actor else None,
        created_by_api_key_id=actor.api_key_id if actor else None,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def _send_after_commit(session: AsyncSession, row: PaymentRefund) -> None:
    await enqueue(session, REFUND_SUBMIT_JOB, {"refund_id": str(row.id)}, dedupe_key=f"{REFUND_SUBMIT_JOB}:{row.id}")


async def _audit(
    session: AsyncSession, payment: Payment, row: PaymentRefund, *, actor: Principal | None, ip: str | None
) -> None:
    await record_audit(
        session,
        action=f"payments.{payment.kind}.{'reverse' if row.method == RefundMethod.REVERSAL else 'refund'}",
        organization_id=payment.organization_id,
        actor=actor,
        target_type=payment.kind,
        target_id=str(payment.id),
        changes={"refund_id": str(row.id), "amount": row.amount, "method": row.method, "reason": row.reason},
        ip=ip,
    )


async def refund(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    payment_id: uuid.UUID,
    amount: int | None,
    reason: str,
    idempotency_key: str,
    actor: Principal | None,
    settings: Settings,
    currency: str | None = None,
    ip: str | None = None,
) -> RefundView:
    """Refund ``amount`` (None: all that remains) of a succeeded collection. The same ``idempotency_key`` again
    answers the first refund; with another amount or reason it is a 409. Nothing is written on any refusal.
    ``actor``: the person or API key asking (None for a business module acting on its own)."""
    payment = await _locked(session, organization_id, payment_id, reason, idempotency_key)
    if payment.kind != PaymentKind.COLLECTION:
        raise _not_refundable(payment)
    known = await _known(session, payment, idempotency_key, amount=amount, reason=reason)
    if known is not None:
        return refund_view(known)
    if Status(payment.status) not in REFUNDABLE_STATUSES:
        raise _not_refundable(payment)
    remaining = await refundable_amount(session, payment)
    wanted = _checked_amount(payment, amount, currency, remaining)
    method = await _method(session, payment, amount=wanted, remaining=remaining, settings=settings)
    row = await _new_row(
        session, payment, method=method, amount=wanted, reason=reason, key=idempotency_key, actor=actor
    )
    if method is RefundMethod.REFUND:
        await _hold(session, payment, row)
        await _send_after_commit(session, row)
    else:
        payout = await _payout_back(session, payment, row, actor=actor, settings=settings)
        row.payout_id = payout.id
        row.next_poll_at = utcnow() + next_poll_delay(settings, 0)  # the refund follows its payout (refund poller)
    await _audit(session, payment, row, actor=actor, ip=ip)
    return refund_view(row)


async def reverse(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    payment_id: uuid.UUID,
    reason: str,
    idempotency_key: str,
    actor: Principal | None,
    settings: Settings,
    ip: str | None = None,
) -> RefundView:
    """Ask the provider to undo a succeeded payout (``Capability.REVERSAL``): the payee gives the whole amount back.
    A row of the same table as refunds (``method`` reversal); on success the payout becomes ``reversed`` and the
    money is credited back to the account it came from."""
    payment = await _locked(session, organization_id, payment_id, reason, idempotency_key)
    if payment.kind != PaymentKind.PAYOUT:
        raise Conflict("Seul un envoi peut être annulé.", "Only a payout can be reversed.", code="not_a_payout")
    known = await _known(session, payment, idempotency_key, amount=None, reason=reason)
    if known is not None:
        return refund_view(known)
    if payment.status != Status.SUCCEEDED or await sum_of_refunds(session, payment.id, _HOLDING):
        raise Conflict(
            f"Un envoi « {payment.status} » ne peut pas être annulé : il doit avoir réussi (et pas encore été annulé).",
            f"A '{payment.status}' payout cannot be reversed: it must have succeeded (and not be reversed yet).",
            code="payment_not_reversible",
            extra={"status": payment.status},
        )
    async with await _connector(session, payment, settings) as connector:
        if not connector.supports(Capability.REVERSAL):
            raise Conflict(
                f"« {payment.provider} » ne permet pas d'annuler un envoi.",
                f"'{payment.provider}' cannot reverse a payout.",
                code="reversal_unsupported",
            )
    row = await _new_row(
        session,
        payment,
        method=RefundMethod.REVERSAL,
        amount=payment.amount,
        reason=reason,
        key=idempotency_key,
        actor=actor,
    )
    await _send_after_commit(session, row)
    await _audit(session, payment, row, actor=actor, ip=ip)
    return refund_view(row)


async def list_refunds(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    payment_id: uuid.UUID,
    kind: PaymentKind = PaymentKind.COLLECTION,
) -> list[RefundView]:
    """The refunds of one of the organisation's collections (the reversals of a payout), oldest first (404 for
    anyone else's)."""
    owner = await session.execute(
        select(Payment.id).where(
            Payment.id == payment_id,
            Payment.organization_id == organization_id,
            Payment.kind == kind.value,
        )
    )
    if owner.scalar_one_or_none() is None:
        raise PaymentNotFound()
    rows = await session.execute(
        select(PaymentRefund)
        .where(PaymentRefund.payment_id == payment_id)
        .order_by(PaymentRefund.created_at, PaymentRefund.id)
    )
    return [refund_view(row) for row in rows.scalars()]
