"""ORM rows -> API bodies (shared by the routes and the outbound webhooks, so both show the same thing)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from cauri.payments.models import Payment, PaymentTransition
from cauri.payments.outcomes import failure_message
from cauri.payments.redirects import payment_url_of
from cauri.payments.schemas import (
    CollectionDetail,
    CollectionRead,
    PaymentRead,
    PayoutDetail,
    PayoutRead,
    TransitionRead,
)
from cauri.payments.states import PaymentKind, Status

CHARGED_STATUSES = frozenset({Status.SUCCEEDED, Status.REVERSED, Status.REFUNDED, Status.PARTIALLY_REFUNDED})


# An ORM payment, or a row of service.LIST_COLUMNS (same attribute names).
PaymentFields = Payment | Row[Any]


def charged_fee(payment: PaymentFields) -> int | None:
    """The provider's fee is only charged on a success; before that it is an estimate, not shown."""
    fee: int | None = payment.fee
    return fee if payment.status in CHARGED_STATUSES else None


def _fields(payment: PaymentFields) -> dict[str, object]:
    return {
        "id": payment.id,
        "status": Status(payment.status),
        "amount": payment.amount,
        "currency": payment.currency,
        "fee": charged_fee(payment),
        "phone": payment.phone,
        "operator": payment.phone_operator,
        "provider": payment.provider,
        "reference": payment.reference,
        "description": payment.description,
        "metadata": dict(payment.extra or {}),
        "account_id": payment.account_id,
        "purpose": payment.purpose,
        "owner_id": payment.owner_id,
        "outbound_reference": payment.outbound_reference,
        "provider_reference": payment.provider_reference,
        "failure_reason": payment.failure_reason,
        "failure_message": failure_message(payment.failure_reason),
        "created_at": payment.created_at,
        "updated_at": payment.updated_at,
        "completed_at": payment.completed_at,
        "expires_at": payment.expires_at,
    }


def _collection_fields(payment: PaymentFields) -> dict[str, object]:
    payment_url, expires_at = payment_url_of(payment)
    return {**_fields(payment), "payment_url": payment_url, "payment_url_expires_at": expires_at}


def collection_read(payment: PaymentFields) -> CollectionRead:
    return CollectionRead.model_validate(_collection_fields(payment))


def payout_read(payment: PaymentFields) -> PayoutRead:
    return PayoutRead.model_validate(_fields(payment))


def payment_read(payment: PaymentFields) -> PaymentRead:
    return collection_read(payment) if payment.kind == PaymentKind.COLLECTION else payout_read(payment)


def _steps(transitions: list[PaymentTransition]) -> list[TransitionRead]:
    return [TransitionRead.model_validate(t) for t in transitions]


def collection_detail(payment: Payment, transitions: list[PaymentTransition]) -> CollectionDetail:
    return CollectionDetail.model_validate({**_collection_fields(payment), "transitions": _steps(transitions)})


def payout_detail(payment: Payment, transitions: list[PaymentTransition]) -> PayoutDetail:
    return PayoutDetail.model_validate({**_fields(payment), "transitions": _steps(transitions)})


@dataclass(frozen=True)
class PaymentView:
    """A payment as business modules read it (:mod:`cauri.payments.public`)."""

    id: uuid.UUID
    kind: PaymentKind
    status: Status
    amount: int
    currency: str
    fee: int | None  # the provider's fee, once charged (a success)
    provider: str
    purpose: str | None
    owner_id: str | None
    phone: str  # the counterparty's, E.164
    reference: str
    account_id: uuid.UUID
    provider_reference: str | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


def payment_view(payment: Payment) -> PaymentView:
    return PaymentView(
        id=payment.id,
        kind=PaymentKind(payment.kind),
        status=Status(payment.status),
        amount=payment.amount,
        currency=payment.currency,
        fee=charged_fee(payment),
        provider=payment.provider,
        purpose=payment.purpose,
        owner_id=payment.owner_id,
        phone=payment.phone,
        reference=payment.reference,
        account_id=payment.account_id,
        provider_reference=payment.provider_reference,
        failure_reason=payment.failure_reason,
        created_at=payment.created_at,
        updated_at=payment.updated_at,
        completed_at=payment.completed_at,
    )
