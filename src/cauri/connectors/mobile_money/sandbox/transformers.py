"""Sandbox wire format <-> Cauri's domain: the status map, the failure map, amounts and error answers.

The sandbox speaks its own dialect on purpose (``SUCCESSFUL``, ``BALANCE_TOO_LOW``, amounts as decimal strings in
major units, numbers without ``+``) so the framework is exercised exactly as a real provider would exercise it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx

from cauri.connectors.base import (
    AccountHolder,
    Balance,
    BulkPayoutItem,
    BulkPayoutLine,
    BulkPayoutResult,
    CallbackEvent,
    CollectRequest,
    PaymentKind,
    PaymentStatus,
    PayoutRequest,
    ProviderPayment,
    RefundRequest,
)
from cauri.connectors.mobile_money.sandbox.schemas import (
    WireAccount,
    WireBalance,
    WireBulk,
    WireEvent,
    WirePayment,
)
from cauri.kit.amounts import UnreadableAmount, to_major_units, to_minor_units
from cauri.kit.errors import (
    AuthError,
    ConnectorError,
    Declined,
    FailureReason,
    InvalidRequest,
    PaymentNotFound,
    read_wire,
    refund_refused,
    unreadable_answer,
)

PROVIDER = "sandbox"

# The sandbox's status words -> ours. Anything else (e.g. "ON_HOLD") is pending, never success.
STATUS_MAP: dict[str, PaymentStatus] = {
    "PENDING": PaymentStatus.PENDING,
    "SUCCESSFUL": PaymentStatus.SUCCEEDED,
    "FAILED": PaymentStatus.FAILED,
    "EXPIRED": PaymentStatus.EXPIRED,
    "CANCELLED": PaymentStatus.CANCELLED,
}

# The sandbox's failure codes -> our stable reasons (payer/payee decided by the payment's kind).
FAILURE_MAP: dict[str, FailureReason] = {
    "BALANCE_TOO_LOW": FailureReason.INSUFFICIENT_FUNDS,
    "LIMIT_EXCEEDED": FailureReason.LIMIT_REACHED,
    "NOT_PERMITTED": FailureReason.NOT_ALLOWED,
    "DECLINED_BY_SUBSCRIBER": FailureReason.REJECTED_BY_PAYER,
    "SYSTEM_ERROR": FailureReason.PROVIDER_ERROR,
    "ACCOUNT_BLOCKED": FailureReason.ACCOUNT_INACTIVE,
    "TIMED_OUT": FailureReason.EXPIRED,
    "UNSUPPORTED_CURRENCY": FailureReason.INVALID_CURRENCY,
    "INVALID_AMOUNT": FailureReason.INVALID_AMOUNT,
    "DUPLICATE_REFERENCE": FailureReason.DUPLICATE,
    "CANCELLED": FailureReason.CANCELLED,
}


def status_from_wire(word: str | None) -> PaymentStatus:
    return STATUS_MAP.get((word or "").upper(), PaymentStatus.PENDING)


def failure_from_wire(code: str | None, kind: PaymentKind) -> FailureReason | None:
    if not code:
        return None
    if code == "SUBSCRIBER_NOT_FOUND":
        return FailureReason.PAYER_NOT_FOUND if kind is PaymentKind.COLLECTION else FailureReason.PAYEE_NOT_FOUND
    return FAILURE_MAP.get(code, FailureReason.PROVIDER_ERROR)


def amount_to_wire(amount: int, currency: str) -> str:
    """Minor units -> the sandbox's decimal string in major units ("1500", "12.50")."""
    return to_major_units(amount, currency)


def amount_from_wire(text: str | int, currency: str) -> int:
    try:
        return to_minor_units(text, currency)
    except UnreadableAmount:
        raise InvalidRequest(
            f"Montant illisible pour {currency} : {text!r}.",
            f"Unreadable amount for {currency}: {text!r}.",
            provider=PROVIDER,
        ) from None


def msisdn_to_wire(e164: str) -> str:
    return e164.removeprefix("+")


def collect_to_wire(request: CollectRequest) -> dict[str, Any]:
    return {
        "reference": request.reference,
        "amount": amount_to_wire(request.amount, request.currency),
        "currency": request.currency,
        "msisdn": msisdn_to_wire(request.payer_phone),
        "description": request.description,
        "callback_url": request.callback_url,
        "metadata": dict(request.metadata),
    }


def payout_to_wire(request: PayoutRequest) -> dict[str, Any]:
    return {
        "reference": request.reference,
        "amount": amount_to_wire(request.amount, request.currency),
        "currency": request.currency,
        "msisdn": msisdn_to_wire(request.payee_phone),
        "description": request.description,
        "callback_url": request.callback_url,
        "beneficiary_name": request.payee_name,
        "metadata": dict(request.metadata),
    }


def refund_to_wire(request: RefundRequest) -> dict[str, Any]:
    return {
        "reference": request.reference,
        "collection_id": request.provider_reference,
        "amount": amount_to_wire(request.amount, request.currency),
        "currency": request.currency,
        "reason": request.reason,
    }


def refund_from_wire(raw: dict[str, Any]) -> ProviderPayment:
    """A refund reads like a payout (money going out to the payer); it carries no fee."""
    refund = payment_from_wire(raw)
    return ProviderPayment(
        provider_reference=refund.provider_reference,
        reference=refund.reference,
        status=refund.status,
        amount=refund.amount,
        currency=refund.currency,
        kind=PaymentKind.PAYOUT,
        failure=refund.failure,
        provider_status=refund.provider_status,
        raw=raw,
    )


def bulk_payout_to_wire(reference: str, lines: Sequence[BulkPayoutLine], description: str) -> dict[str, Any]:
    return {
        "reference": reference,
        "description": description,
        "items": [
            {
                "reference": line.reference,
                "amount": amount_to_wire(line.amount, line.currency),
                "currency": line.currency,
                "msisdn": msisdn_to_wire(line.payee_phone),
                "beneficiary_name": line.payee_name,
            }
            for line in lines
        ],
    }


def bulk_from_wire(raw: dict[str, Any]) -> BulkPayoutResult:
    wire = read_wire(WireBulk, raw, PROVIDER)
    items = []
    for item in wire.items:
        status = status_from_wire(item.state)
        failed = status.is_final and status is not PaymentStatus.SUCCEEDED
        items.append(
            BulkPayoutItem(
                reference=item.reference,
                status=status,
                provider_reference=item.id,
                provider_status=item.failure_code or item.state,
                failure=(failure_from_wire(item.failure_code, PaymentKind.PAYOUT) or FailureReason.PROVIDER_ERROR)
                if failed
                else None,
            )
        )
    return BulkPayoutResult(reference=wire.reference, state=wire.state, items=tuple(items))


def _kind(word: str) -> PaymentKind:
    return PaymentKind.PAYOUT if word == "payout" else PaymentKind.COLLECTION


def payment_from_wire(raw: dict[str, Any]) -> ProviderPayment:
    wire = read_wire(WirePayment, raw, PROVIDER)
    kind = _kind(wire.kind)
    status = status_from_wire(wire.state)
    return ProviderPayment(
        provider_reference=wire.id,
        reference=wire.reference,
        status=status,
        amount=amount_from_wire(wire.amount, wire.currency),
        currency=wire.currency,
        kind=kind,
        failure=failure_from_wire(wire.failure_code, kind)
        if status.is_final and status is not PaymentStatus.SUCCEEDED
        else None,
        fee=amount_from_wire(wire.fee, wire.currency) if wire.fee is not None else None,
        provider_status=wire.state,
        raw=raw,
    )


def event_from_wire(raw_body: bytes) -> CallbackEvent:
    try:
        raw = json.loads(raw_body)
    except ValueError as exc:
        raise unreadable_answer(PROVIDER, exc) from None
    wire = read_wire(WireEvent, raw, PROVIDER)
    payment = payment_from_wire(raw["data"])
    return CallbackEvent(
        event_id=wire.id,
        provider_reference=payment.provider_reference,
        reference=payment.reference,
        kind=payment.kind,
        status=payment.status,
        amount=payment.amount,
        currency=payment.currency,
        failure=payment.failure,
        signed=True,
        raw=raw,
    )


def balance_from_wire(raw: dict[str, Any]) -> Balance:
    wire = read_wire(WireBalance, raw, PROVIDER)
    return Balance(currency=wire.currency, available=amount_from_wire(wire.available, wire.currency))


def account_from_wire(raw: dict[str, Any]) -> AccountHolder:
    wire = read_wire(WireAccount, raw, PROVIDER)
    return AccountHolder(active=wire.status == "ACTIVE", name=wire.name)


# What the sandbox answers a refund it will not make (docs: the simulator's module docstring).
REFUND_REFUSALS = frozenset({"NOT_REFUNDABLE", "REFUND_EXCEEDS_AVAILABLE", "CURRENCY_MISMATCH"})


def error_from_response(response: httpx.Response) -> ConnectorError | None:
    """The sandbox's error answers ``{"error": {"code", "message"}}`` -> the precise error; None: defaults."""
    code = _error_code(response)
    if code is None:
        return None
    common: dict[str, Any] = {"provider": PROVIDER, "provider_code": code}
    simple: dict[str, type[ConnectorError]] = {
        "UNAUTHORIZED": AuthError,
        "NOT_FOUND": PaymentNotFound,
        "BAD_REQUEST": InvalidRequest,
        "IDEMPOTENCY_KEY_REUSED": InvalidRequest,
    }
    if code in simple:
        return simple[code](**common)
    if code in REFUND_REFUSALS:
        return refund_refused(PROVIDER, code, status_code=response.status_code)
    if code != "SUBSCRIBER_NOT_FOUND" and code not in FAILURE_MAP:
        return None
    kind = PaymentKind.PAYOUT if "/payouts" in response.request.url.path else PaymentKind.COLLECTION
    reason = failure_from_wire(code, kind) or FailureReason.PROVIDER_ERROR
    if reason in (FailureReason.INVALID_CURRENCY, FailureReason.INVALID_AMOUNT):
        return InvalidRequest(reason.message_fr, reason.message_en, reason=reason, code=reason.value, **common)
    return Declined(reason, **common)


def _error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code", "")) if isinstance(error, dict) else None
