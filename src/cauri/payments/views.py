"""ORM rows -> API bodies (shared by the routes and the outbound webhooks, so both show the same thing)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from cauri.payments.errors import failure_message
from cauri.payments.models import Payment, PaymentTransition
from cauri.payments.schemas import (
    CollectionDetail,
    CollectionRead,
    PaymentRead,
    PayoutDetail,
    PayoutRead,
    TransitionRead,
)
from cauri.payments.states import PaymentKind, Status

_CHARGED = frozenset({Status.SUCCEEDED, Status.REVERSED, Status.REFUNDED})


# An ORM payment, or a row of service.LIST_COLUMNS (same attribute names).
PaymentFields = Payment | Row[Any]


def _fields(payment: PaymentFields) -> dict[str, object]:
    return {
        "id": payment.id,
        "status": Status(payment.status),
        "amount": payment.amount,
        "currency": payment.currency,
        # The provider's fee is only charged on a success; before that it is an estimate, not shown.
        "fee": payment.fee if payment.status in _CHARGED else None,
        "phone": payment.phone,
        "operator": payment.phone_operator,
        "provider": payment.provider,
        "reference": payment.reference,
        "description": payment.description,
        "metadata": dict(payment.extra or {}),
        "account_id": payment.account_id,
        "outbound_reference": payment.outbound_reference,
        "provider_reference": payment.provider_reference,
        "failure_reason": payment.failure_reason,
        "failure_message": failure_message(payment.failure_reason),
        "created_at": payment.created_at,
        "updated_at": payment.updated_at,
        "completed_at": payment.completed_at,
        "expires_at": payment.expires_at,
    }


def collection_read(payment: PaymentFields) -> CollectionRead:
    return CollectionRead.model_validate(_fields(payment))


def payout_read(payment: PaymentFields) -> PayoutRead:
    return PayoutRead.model_validate(_fields(payment))


def payment_read(payment: PaymentFields) -> PaymentRead:
    return collection_read(payment) if payment.kind == PaymentKind.COLLECTION else payout_read(payment)


def _steps(transitions: list[PaymentTransition]) -> list[TransitionRead]:
    return [TransitionRead.model_validate(t) for t in transitions]


def collection_detail(payment: Payment, transitions: list[PaymentTransition]) -> CollectionDetail:
    return CollectionDetail.model_validate({**_fields(payment), "transitions": _steps(transitions)})


def payout_detail(payment: Payment, transitions: list[PaymentTransition]) -> PayoutDetail:
    return PayoutDetail.model_validate({**_fields(payment), "transitions": _steps(transitions)})
