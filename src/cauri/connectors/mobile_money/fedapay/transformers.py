"""FedaPay wire format <-> Cauri's domain: the status map, error codes, amounts, phone numbers, wrapped answers.

FedaPay wraps objects in their type: ``{"v1/transaction": {...}}``. Amounts are integers in the currency's unit
(XOF has no decimals). Statuses: ``pending``, ``approved``, ``declined``, ``canceled``, ``refunded``,
``transferred`` (approved and transferred are paid); ``expired`` is accepted too (?, see the docs page).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from cauri.connectors.base import CallbackEvent, CollectRequest, PaymentKind, PaymentStatus, ProviderPayment
from cauri.connectors.mobile_money.fedapay.schemas import TokenAnswer, Transaction, TransactionAnswer, WebhookEvent
from cauri.core.money import CURRENCY_EXPONENTS
from cauri.core.phone import parse_phone
from cauri.kit.errors import (
    AuthError,
    ConnectorError,
    FailureReason,
    InvalidRequest,
    PaymentNotFound,
    read_wire,
    unreadable_answer,
)

PROVIDER = "fedapay"

STATUS_MAP: dict[str, PaymentStatus] = {
    "pending": PaymentStatus.PENDING,
    "approved": PaymentStatus.SUCCEEDED,
    "transferred": PaymentStatus.SUCCEEDED,
    "declined": PaymentStatus.FAILED,
    "canceled": PaymentStatus.CANCELLED,
    "refunded": PaymentStatus.SUCCEEDED,  # it was paid, then refunded: the refund is its own operation
    "expired": PaymentStatus.EXPIRED,
}
# ``last_error_code`` of a declined transaction (the public docs do not list them: unknown codes are provider_error).
ERROR_CODES: dict[str, FailureReason] = {
    "insufficient_funds": FailureReason.INSUFFICIENT_FUNDS,
    "invalid_phone_number": FailureReason.PAYER_NOT_FOUND,
    "unknown_customer": FailureReason.PAYER_NOT_FOUND,
    "limit_exceeded": FailureReason.LIMIT_REACHED,
    "not_allowed": FailureReason.NOT_ALLOWED,
    "rejected_by_customer": FailureReason.REJECTED_BY_PAYER,
    "timeout": FailureReason.EXPIRED,
    "account_blocked": FailureReason.ACCOUNT_INACTIVE,
    "processing_error": FailureReason.PROVIDER_ERROR,
}
# Redirect-less payment modes (``POST /{mode} {token}``) by country and operator.
MODES: dict[tuple[str, str], str] = {
    ("BJ", "MTN"): "mtn",
    ("BJ", "Moov"): "moov",
    ("CI", "MTN"): "mtn_ci",
    ("TG", "Moov"): "moov_tg",
}


def status_from_wire(word: object) -> PaymentStatus:
    return STATUS_MAP.get(str(word or "").lower(), PaymentStatus.PENDING)


def failure_from_wire(code: object, status: PaymentStatus) -> FailureReason | None:
    if status is PaymentStatus.CANCELLED:
        return FailureReason.CANCELLED
    if status is PaymentStatus.EXPIRED:
        return FailureReason.EXPIRED
    if status is not PaymentStatus.FAILED:
        return None
    return ERROR_CODES.get(str(code or ""), FailureReason.PROVIDER_ERROR)


def mode_for(phone: str, default: str | None = None) -> str:
    """The redirect-less mode for a payer's number (its country and operator), else ``default``."""
    try:
        info = parse_phone(phone, field="payer_phone")
    except Exception:
        info = None
    if info is not None and info.carrier:
        for (country, operator), mode in MODES.items():
            if info.region == country and operator.lower() in info.carrier.lower():
                return mode
    if default:
        return default
    raise InvalidRequest(
        "Aucun mode de paiement FedaPay pour ce numéro (opérateur non pris en charge).",
        "No FedaPay payment mode for this number (operator not supported).",
        provider=PROVIDER,
        code="unsupported_operator",
    )


def amount_to_wire(amount: int, currency: str) -> int:
    """FedaPay takes an integer amount in the currency's unit; Cauri only routes zero-decimal currencies here."""
    if CURRENCY_EXPONENTS.get(currency, 0) != 0:
        raise InvalidRequest(
            f"FedaPay n'accepte pas de montant fractionnaire ({currency}).",
            f"FedaPay does not take fractional amounts ({currency}).",
            provider=PROVIDER,
            reason=FailureReason.INVALID_CURRENCY,
        )
    return amount


def collect_to_wire(request: CollectRequest, *, country: str) -> dict[str, Any]:
    names = (request.metadata.get("payer_name") or "Client Cauri").split(" ", 1)
    return {
        "description": request.description or f"Paiement {request.reference}",
        "amount": amount_to_wire(request.amount, request.currency),
        "currency": {"iso": request.currency},
        "callback_url": request.callback_url,
        "merchant_reference": request.reference,
        # Our reference last: the caller's metadata may carry a ``cauri_reference`` of its own (the payments flow
        # puts the merchant's reference there), and events are matched to payments by ours.
        "custom_metadata": {**dict(request.metadata), "cauri_reference": request.reference},
        "customer": {
            "firstname": names[0],
            "lastname": names[1] if len(names) > 1 else names[0],
            "email": request.metadata.get("payer_email") or None,
            "phone_number": {"number": request.payer_phone, "country": country.lower()},
        },
    }


def reference_of(transaction: Transaction) -> str | None:
    metadata = transaction.custom_metadata or {}
    if metadata.get("cauri_reference"):
        return str(metadata["cauri_reference"])
    return transaction.merchant_reference or None


def payment_from_wire(raw: Mapping[str, Any], *, reference: str | None = None) -> ProviderPayment:
    """A transaction answer (wrapped or bare); another shape is an unreadable answer, never a success."""
    return _payment(read_wire(TransactionAnswer, raw, PROVIDER).transaction, raw, reference=reference)


def _payment(transaction: Transaction, raw: Mapping[str, Any], *, reference: str | None = None) -> ProviderPayment:
    status = status_from_wire(transaction.status)
    return ProviderPayment(
        provider_reference=str(transaction.id),
        reference=reference_of(transaction) or reference or "",
        status=status,
        amount=transaction.amount,
        currency=transaction.currency_iso,
        kind=PaymentKind.COLLECTION,
        failure=failure_from_wire(transaction.last_error_code, status),
        fee=transaction.fees,
        provider_status=transaction.status or None,
        raw=dict(raw),
    )


def token_from_wire(raw: Mapping[str, Any]) -> TokenAnswer:
    return read_wire(TokenAnswer, raw, PROVIDER)


def event_from_wire(raw_body: bytes, *, signed: bool) -> CallbackEvent:
    try:
        body = json.loads(raw_body)
    except ValueError:
        raise unreadable("webhook is not JSON") from None
    event = read_wire(WebhookEvent, body, PROVIDER)
    payment = _payment(event.entity, body["entity"])
    event_id = str(event.id or f"{event.name}:{payment.provider_reference}")
    return CallbackEvent(
        event_id=event_id,
        provider_reference=payment.provider_reference,
        reference=payment.reference or None,
        kind=PaymentKind.COLLECTION,
        status=payment.status,
        amount=payment.amount,
        currency=payment.currency,
        failure=payment.failure,
        signed=signed,
        raw=body,
    )


def error_from_response(response: httpx.Response) -> ConnectorError | None:
    """FedaPay errors: ``{"message": …, "errors": {field: [...]}}``; 401 bad key, 404 unknown object, 422 invalid."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    message = str(body.get("message", "")) if isinstance(body, dict) else ""
    common: dict[str, Any] = {"provider": PROVIDER, "provider_code": message[:80] or None}
    if response.status_code == 401:
        return AuthError(**common)
    if response.status_code == 404:
        return PaymentNotFound(**common)
    if response.status_code in (400, 422):
        errors = body.get("errors") if isinstance(body, dict) else None
        fields = ", ".join(sorted(errors)) if isinstance(errors, dict) else ""
        return InvalidRequest(
            f"Requête refusée par FedaPay : {message or 'données invalides'} {fields}".strip(),
            f"Request refused by FedaPay: {message or 'invalid data'} {fields}".strip(),
            **common,
        )
    return None


def unreadable(detail: str) -> ConnectorError:
    return unreadable_answer(PROVIDER, detail)
