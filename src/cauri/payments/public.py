"""The payments API for business modules: collect, pay out, cancel, refund, read, and learn when a payment settled.

Plain typed service functions on the caller's session (never a commit, never an HTTP error): a tontine, a rental
or a restaurant module moves money across a provider only through these, and learns the outcome from settlement
events (:func:`on_settled`). ``collect`` and ``payout`` validate exactly as ``POST /collections`` and
``POST /payouts`` do, because they build the same body and call the same ``service.create_payment``.
See docs/payments.md, "Public API for modules".
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import NotRequired, TypedDict, Unpack

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings, get_settings
from cauri.core.errors import ValidationFailed, field_error, translate_validation_errors
from cauri.identity.audit import record_audit
from cauri.kit.errors import FailureReason
from cauri.payments import refunds, service
from cauri.payments.errors import PaymentNotFound, check_idempotency_key, idempotency_key_reused, not_cancellable
from cauri.payments.events import (
    PURPOSE_PATTERN,
    SettlementEvent,
    Subscriber,
    on_settled,
    record_settlement_event,
)
from cauri.payments.models import IDEMPOTENCY_KEY_MAX, OWNER_ID_MAX, PURPOSE_MAX, Payment
from cauri.payments.refund_schemas import RefundView
from cauri.payments.schemas import CollectionCreate, PaymentCreate, PayoutCreate
from cauri.payments.settlement import Outcome, apply_outcome, lock_payment
from cauri.payments.states import Cause, PaymentKind, Status
from cauri.payments.views import PaymentView, payment_view

__all__ = [
    "Counterparty",
    "PaymentArguments",
    "PaymentView",
    "PhoneCounterparty",
    "SettlementEvent",
    "Subscriber",
    "cancel",
    "collect",
    "get",
    "on_settled",
    "payout",
    "record_settlement_event",
    "refund",
    "refunds_of",
]


@dataclass(frozen=True)
class PhoneCounterparty:
    """The payer (collect) or payee (payout) by mobile-money number, read with the organisation's region."""

    phone: str
    name: str | None = None


# Will become a union when cards or redirect payments arrive; callers already type against this name.
Counterparty = PhoneCounterparty


class PaymentArguments(TypedDict):
    """The keyword arguments of :func:`collect` and :func:`payout`."""

    organization_id: uuid.UUID
    amount: int  # minor units
    currency: str
    counterparty: Counterparty
    purpose: str  # "<module>.<what>", e.g. "tontine.contribution"
    owner_id: str | None  # the id of the module's object the payment belongs to
    idempotency_key: str
    account_id: NotRequired[uuid.UUID | None]  # credited (collect) or debited (payout); default: the wallet
    provider: NotRequired[str | None]  # default: chosen from the number
    reference: NotRequired[str | None]  # default: generated
    description: NotRequired[str | None]
    metadata: NotRequired[dict[str, str] | None]
    settings: NotRequired[Settings | None]  # the process's settings (default: from the environment)


async def collect(session: AsyncSession, **arguments: Unpack[PaymentArguments]) -> PaymentView:
    """Ask the counterparty to pay ``amount`` into ``account_id``; sent to the provider once the caller commits."""
    return await _create(session, PaymentKind.COLLECTION, arguments)


async def payout(session: AsyncSession, **arguments: Unpack[PaymentArguments]) -> PaymentView:
    """Pay ``amount`` from ``account_id`` (reserved now) to the counterparty; sent once the caller commits."""
    return await _create(session, PaymentKind.PAYOUT, arguments)


async def get(session: AsyncSession, *, organization_id: uuid.UUID, payment_id: uuid.UUID) -> PaymentView:
    payment = (
        await session.execute(
            select(Payment).where(Payment.id == payment_id, Payment.organization_id == organization_id)
        )
    ).scalar_one_or_none()
    if payment is None:
        raise PaymentNotFound()
    return payment_view(payment)


async def cancel(
    session: AsyncSession, *, organization_id: uuid.UUID, payment_id: uuid.UUID, settings: Settings | None = None
) -> PaymentView:
    """End a payment that was never sent to its provider; once sent the provider may have it (409)."""
    payment = await lock_payment(session, payment_id)
    if payment is None or payment.organization_id != organization_id:
        raise PaymentNotFound()
    # submit_attempts is committed before the provider call: under the row lock, 0 means nobody sent it.
    if payment.status != Status.CREATED or payment.submit_attempts > 0:
        raise not_cancellable(payment.status)
    await apply_outcome(
        session,
        payment,
        Outcome(Status.CANCELLED, reason=FailureReason.CANCELLED.value),
        cause=Cause.OPERATOR,
        settings=settings or get_settings(),
    )
    await record_audit(
        session,
        action=f"payments.{payment.kind}.cancel",
        organization_id=organization_id,
        actor=None,
        target_type=payment.kind,
        target_id=str(payment.id),
        changes={"purpose": payment.purpose, "owner_id": payment.owner_id},
    )
    return payment_view(payment)


async def refund(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    payment_id: uuid.UUID,
    amount: int | None,
    reason: str,
    idempotency_key: str,
    settings: Settings | None = None,
) -> RefundView:
    """Give back ``amount`` (None: all that remains) of a succeeded collection; sent once the caller commits.

    Each succeeded refund is announced by a settlement event of its own (``refund_id``, ``refund_amount``). The
    same ``idempotency_key`` again answers the first refund. See :mod:`cauri.payments.refunds`."""
    return await refunds.refund(
        session,
        organization_id=organization_id,
        payment_id=payment_id,
        amount=amount,
        reason=reason,
        idempotency_key=idempotency_key,
        actor=None,
        settings=settings or get_settings(),
    )


async def refunds_of(session: AsyncSession, *, organization_id: uuid.UUID, payment_id: uuid.UUID) -> list[RefundView]:
    return await refunds.list_refunds(session, organization_id=organization_id, payment_id=payment_id)


def _checked_origin(arguments: PaymentArguments, kind: PaymentKind) -> service.ModuleOrigin:
    purpose = arguments["purpose"]
    if len(purpose) > PURPOSE_MAX or not PURPOSE_PATTERN.match(purpose):
        raise field_error(
            "purpose",
            "invalid_purpose",
            f"Objet invalide : « <module>.<quoi> » en minuscules, {PURPOSE_MAX} caractères au plus.",
            f"Invalid purpose: '<module>.<what>' in lower case, at most {PURPOSE_MAX} characters.",
        )
    owner_id = arguments["owner_id"]
    if owner_id is not None and not 1 <= len(owner_id) <= OWNER_ID_MAX:
        raise field_error(
            "owner_id",
            "invalid_owner_id",
            f"Identifiant du propriétaire : 1 à {OWNER_ID_MAX} caractères.",
            f"Owner id: 1 to {OWNER_ID_MAX} characters.",
        )
    key = arguments["idempotency_key"]
    check_idempotency_key(key, IDEMPOTENCY_KEY_MAX)
    return service.ModuleOrigin(
        purpose=purpose, owner_id=owner_id, idempotency_key=key, request_hash=_fingerprint(kind, arguments)
    )


def _fingerprint(kind: PaymentKind, arguments: PaymentArguments) -> str:
    """What makes a retry "the same call": every argument but the key itself and the process's settings."""
    counterparty = arguments["counterparty"]
    described = {
        "kind": kind.value,
        **{name: value for name, value in arguments.items() if name not in ("idempotency_key", "settings")},
        "counterparty": [type(counterparty).__name__, counterparty.phone, counterparty.name],
    }
    canonical = json.dumps(described, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _body(kind: PaymentKind, arguments: PaymentArguments) -> PaymentCreate:
    """The HTTP body these arguments stand for, validated by the same schema (a 422 naming the field)."""
    counterparty = arguments["counterparty"]
    if not isinstance(counterparty, PhoneCounterparty):
        raise field_error(
            "counterparty",
            "unsupported_counterparty",
            "Type de contrepartie non pris en charge.",
            "Unsupported kind of counterparty.",
        )
    metadata: dict[str, str] = dict(arguments.get("metadata") or {})
    fields: dict[str, object] = {
        "amount": arguments["amount"],
        "currency": arguments["currency"],
        "phone": counterparty.phone,
        # A purpose is made of reference characters: the generated reference says what the payment is for.
        "reference": arguments.get("reference") or f"{arguments['purpose']}:{uuid.uuid4().hex[:16]}",
        "description": arguments.get("description"),
        "account_id": arguments.get("account_id"),
        "provider": arguments.get("provider"),
    }
    schema: type[PaymentCreate] = CollectionCreate
    if kind is PaymentKind.PAYOUT:
        schema, fields["payee_name"] = PayoutCreate, counterparty.name
    elif counterparty.name:
        metadata["payer_name"] = counterparty.name
    try:
        return schema.model_validate({**fields, "metadata": metadata})
    except ValidationError as exc:
        errors = translate_validation_errors(list(exc.errors()))
        raise ValidationFailed(field=errors[0].field, errors=errors) from None


async def _by_key(session: AsyncSession, organization_id: uuid.UUID, key: str) -> Payment | None:
    statement = select(Payment).where(Payment.organization_id == organization_id, Payment.idempotency_key == key)
    return (await session.execute(statement)).scalar_one_or_none()


def _replayed(existing: Payment, origin: service.ModuleOrigin) -> PaymentView:
    """The same call again (a retried job, a double click): the first payment, no second provider call."""
    if existing.request_hash != origin.request_hash:
        raise idempotency_key_reused(str(existing.id))
    return payment_view(existing)


async def _create(session: AsyncSession, kind: PaymentKind, arguments: PaymentArguments) -> PaymentView:
    organization_id = arguments["organization_id"]
    origin = _checked_origin(arguments, kind)
    existing = await _by_key(session, organization_id, origin.idempotency_key)
    if existing is not None:
        return _replayed(existing, origin)
    body = _body(kind, arguments)
    try:
        # A savepoint: when a concurrent call with the same key commits first (PostgreSQL; SQLite serialises
        # writers), our insert fails on the unique key and the caller's transaction goes on with the first payment.
        async with session.begin_nested():
            payment = await service.create_payment(
                session,
                kind=kind,
                body=body,
                principal=None,
                organization_id=organization_id,
                settings=arguments.get("settings") or get_settings(),
                origin=origin,
            )
    except IntegrityError:
        existing = await _by_key(session, organization_id, origin.idempotency_key)
        if existing is None:
            raise
        return _replayed(existing, origin)
    return payment_view(payment)
