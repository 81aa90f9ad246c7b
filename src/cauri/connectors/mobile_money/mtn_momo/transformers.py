"""MTN MoMo wire format <-> Cauri's domain: status and reason maps, amounts, numbers, reference ids, errors.

``X-Reference-Id`` is *derived* from our reference (a UUID v4 built from a SHA-256 of the kind and reference):
every attempt, from any process, sends the same id, so MTN's ``409 RESOURCE_ALREADY_EXIST`` on a retry means "I
already have it" and a status query needs nothing but our reference. The callback carries our reference as
``externalId`` (MTN puts no id of its own in it), from which the ``X-Reference-Id`` is derived again.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from decimal import Decimal
from typing import Any, Literal

import httpx
from pydantic import ValidationError

from cauri.connectors.base import (
    CallbackEvent,
    CollectRequest,
    PaymentKind,
    PaymentStatus,
    PayoutRequest,
    ProviderPayment,
    RefundRequest,
)
from cauri.connectors.mobile_money.mtn_momo.schemas import (
    AccountBalance,
    Party,
    Refund,
    RequestToPay,
    TransactionStatus,
    Transfer,
)
from cauri.kit.amounts import UnreadableAmount, optional_minor_units, to_major_units
from cauri.kit.errors import (
    AuthError,
    ConnectorError,
    Declined,
    FailureReason,
    InvalidRequest,
    PaymentNotFound,
    unreadable_answer,
)

PROVIDER = "mtn_momo"
MAX_MESSAGE = 160  # payerMessage and payeeNote
ALREADY_EXISTS = "RESOURCE_ALREADY_EXIST"

# MTN's status words -> ours. The sandbox also answers CREATED; the docs name ONGOING, REJECTED and EXPIRED.
STATUS_MAP: dict[str, PaymentStatus] = {
    "PENDING": PaymentStatus.PENDING,
    "CREATED": PaymentStatus.PENDING,
    "ONGOING": PaymentStatus.PENDING,
    "SUCCESSFUL": PaymentStatus.SUCCEEDED,
    "FAILED": PaymentStatus.FAILED,
    "REJECTED": PaymentStatus.FAILED,
    "EXPIRED": PaymentStatus.EXPIRED,
}

# MTN's failure reasons -> ours. Unknown codes are provider_error.
REASON_MAP: dict[str, FailureReason] = {
    "PAYER_NOT_FOUND": FailureReason.PAYER_NOT_FOUND,
    "PAYEE_NOT_FOUND": FailureReason.PAYEE_NOT_FOUND,
    "NOT_ENOUGH_FUNDS": FailureReason.INSUFFICIENT_FUNDS,
    "PAYER_LIMIT_REACHED": FailureReason.LIMIT_REACHED,
    "PAYEE_NOT_ALLOWED_TO_RECEIVE": FailureReason.NOT_ALLOWED,
    "NOT_ALLOWED": FailureReason.NOT_ALLOWED,
    "NOT_ALLOWED_TARGET_ENVIRONMENT": FailureReason.NOT_ALLOWED,
    "INVALID_CURRENCY": FailureReason.INVALID_CURRENCY,
    "APPROVAL_REJECTED": FailureReason.REJECTED_BY_PAYER,
    "EXPIRED": FailureReason.EXPIRED,
    "SERVICE_UNAVAILABLE": FailureReason.PROVIDER_ERROR,
    "INTERNAL_PROCESSING_ERROR": FailureReason.PROVIDER_ERROR,
    "COULD_NOT_PERFORM_TRANSACTION": FailureReason.PROVIDER_ERROR,
    "INVALID_CALLBACK_URL_HOST": FailureReason.PROVIDER_ERROR,
    "PAYER_FAILED": FailureReason.PROVIDER_ERROR,  # the sandbox's 46733123450
}
# Reasons that describe a payment still in progress (the sandbox's "ongoing" and "delayed" numbers).
IN_PROGRESS_REASONS = frozenset({"PAYER_ONGOING", "PAYER_DELAYED"})


def status_from_wire(word: str | None) -> PaymentStatus:
    return STATUS_MAP.get((word or "").strip().upper(), PaymentStatus.PENDING)


def failure_from_wire(code: str | None, status: str | None = None) -> FailureReason | None:
    if code and code.upper() in IN_PROGRESS_REASONS:
        return None
    if code:
        return REASON_MAP.get(code.upper(), FailureReason.PROVIDER_ERROR)
    if (status or "").upper() == "REJECTED":
        return FailureReason.REJECTED_BY_PAYER
    return None


def reference_id(kind: PaymentKind | Literal["refund"], reference: str) -> str:
    """The ``X-Reference-Id`` for our reference: the same on every attempt, a valid UUID v4."""
    digest = hashlib.sha256(f"cauri-mtn-momo:{kind}:{reference}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def amount_to_wire(amount: int, currency: str) -> str:
    """Minor units -> MTN's amount string in major units, without needless zeros ("1500", "25", "12.5")."""
    return to_major_units(amount, currency, trim=True)


def amount_from_wire(value: str | int | float | None, currency: str) -> int | None:
    try:
        return optional_minor_units(value, currency)
    except UnreadableAmount as exc:
        raise _unreadable(exc) from None


def msisdn_to_wire(e164: str) -> str:
    return e164.removeprefix("+")


def _message(text: str) -> str:
    return text[:MAX_MESSAGE]


def request_to_pay_to_wire(request: CollectRequest) -> RequestToPay:
    text = _message(request.description or request.reference)
    return RequestToPay(
        amount=amount_to_wire(request.amount, request.currency),
        currency=request.currency,
        external_id=request.reference,
        payer=Party(party_id_type="MSISDN", party_id=msisdn_to_wire(request.payer_phone)),
        payer_message=text,
        payee_note=text,
    )


def transfer_to_wire(request: PayoutRequest) -> Transfer:
    text = _message(request.description or request.reference)
    return Transfer(
        amount=amount_to_wire(request.amount, request.currency),
        currency=request.currency,
        external_id=request.reference,
        payee=Party(party_id_type="MSISDN", party_id=msisdn_to_wire(request.payee_phone)),
        payer_message=text,
        payee_note=text,
    )


def refund_to_wire(request: RefundRequest) -> Refund:
    text = _message(request.reason or request.reference)
    return Refund(
        amount=amount_to_wire(request.amount, request.currency),
        currency=request.currency,
        external_id=request.reference,
        payer_message=text,
        payee_note=text,
        reference_id_to_refund=request.provider_reference,
    )


def wire_json(model: RequestToPay | Transfer | Refund) -> dict[str, Any]:
    return model.model_dump(by_alias=True, exclude_none=True)


def status_from_json(raw: Any) -> TransactionStatus:
    try:
        return TransactionStatus.model_validate(raw)
    except ValidationError as exc:
        raise _unreadable(exc) from None


def payment_from_status(
    wire: TransactionStatus, *, kind: PaymentKind, reference: str, provider_reference: str, raw: dict[str, Any]
) -> ProviderPayment:
    if wire.external_id and wire.external_id != reference:
        raise InvalidRequest(
            "Cette référence MTN appartient à un autre paiement.",
            "This MTN reference belongs to another payment.",
            provider=PROVIDER,
            code="provider_reference_mismatch",
        )
    status = status_from_wire(wire.status)
    failure = None
    if status in (PaymentStatus.FAILED, PaymentStatus.EXPIRED):
        fallback = FailureReason.EXPIRED if status is PaymentStatus.EXPIRED else FailureReason.PROVIDER_ERROR
        failure = failure_from_wire(wire.reason_code, wire.status) or fallback
    currency = wire.currency or ""
    amount = amount_from_wire(wire.amount, currency) if currency else None
    return ProviderPayment(
        provider_reference=provider_reference,
        reference=reference,
        status=status,
        amount=amount if amount is not None else 0,
        currency=currency,
        kind=kind,
        failure=failure,
        provider_status=wire.status,
        raw=raw,
    )


def same_payment(wire: TransactionStatus, body: RequestToPay | Transfer) -> bool:
    """After a 409: is the payment MTN already has the one we are sending (not another under a reused id)?"""
    party = wire.payer if isinstance(body, RequestToPay) else wire.payee
    ours = body.payer if isinstance(body, RequestToPay) else body.payee
    if wire.currency and wire.currency != body.currency:
        return False
    if wire.amount is not None and Decimal(str(wire.amount)) != Decimal(body.amount):
        return False
    return party is None or party.party_id == ours.party_id


def kind_of(wire: TransactionStatus) -> PaymentKind:
    return PaymentKind.PAYOUT if wire.payee is not None and wire.payer is None else PaymentKind.COLLECTION


def event_from_wire(raw_body: bytes) -> CallbackEvent:
    """MTN's callback: the transaction's JSON, unsigned, with our reference as ``externalId`` and no id of MTN's."""
    try:
        raw = json.loads(raw_body)
    except ValueError as exc:
        raise _unreadable(exc) from None
    wire = status_from_json(raw)
    if not wire.external_id:
        raise _unreadable(ValueError("no externalId"))
    kind = kind_of(wire)
    provider_reference = reference_id(kind, wire.external_id)
    payment = payment_from_status(
        wire, kind=kind, reference=wire.external_id, provider_reference=provider_reference, raw=raw
    )
    # Stable across re-deliveries of the same news, different for another status.
    identity = f"{kind.value}:{wire.external_id}:{wire.status}:{wire.financial_transaction_id or ''}"
    return CallbackEvent(
        event_id="mtn_" + hashlib.sha256(identity.encode()).hexdigest()[:32],
        provider_reference=provider_reference,
        reference=wire.external_id,
        kind=kind,
        status=payment.status,
        amount=payment.amount if payment.currency else None,
        currency=payment.currency or None,
        failure=payment.failure,
        signed=False,
        raw=raw,
    )


def balance_from_json(raw: Any) -> AccountBalance:
    try:
        return AccountBalance.model_validate(raw)
    except ValidationError as exc:
        raise _unreadable(exc) from None


def error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    code = body.get("code") or body.get("error")
    return str(code) if code else None


def error_from_response(response: httpx.Response) -> ConnectorError | None:  # noqa: PLR0911 - one per code
    """MTN's ``{code, message}`` (and Azure APIM's ``{statusCode, message}``) -> the precise error."""
    code = error_code(response)
    if code is None:
        return None
    common: dict[str, Any] = {"provider": PROVIDER, "provider_code": code}
    if code == "NOT_ALLOWED_TARGET_ENVIRONMENT":
        return AuthError(
            "MTN refuse cet environnement cible (X-Target-Environment) pour ces identifiants.",
            "MTN refuses this target environment (X-Target-Environment) for these credentials.",
            **common,
        )
    if code == "INVALID_CALLBACK_URL_HOST":
        return InvalidRequest(
            "L'hôte de l'URL de notification ne correspond pas au providerCallbackHost de l'utilisateur API.",
            "The callback URL host does not match the API user's providerCallbackHost.",
            code="invalid_callback_url_host",
            **common,
        )
    if code == "RESOURCE_NOT_FOUND":
        return PaymentNotFound(**common)
    if code == ALREADY_EXISTS:
        return InvalidRequest(
            FailureReason.DUPLICATE.message_fr,
            FailureReason.DUPLICATE.message_en,
            reason=FailureReason.DUPLICATE,
            code="duplicate_reference",
            **common,
        )
    reason = REASON_MAP.get(code)
    if reason is None or response.status_code >= 500:
        return None
    if reason in (FailureReason.INVALID_CURRENCY, FailureReason.INVALID_AMOUNT):
        return InvalidRequest(reason.message_fr, reason.message_en, reason=reason, code=reason.value, **common)
    return Declined(reason, **common)


def _unreadable(exc: Exception) -> ConnectorError:
    return unreadable_answer(PROVIDER, exc)
