"""CinetPay wire format <-> Cauri's domain: answer codes, the check status map, amounts, notifications.

Answers carry ``code`` and ``message`` (``"201" CREATED`` for a payment, ``"00" SUCCES`` for a paid check) and
``data``; the check's ``data.status`` is ``ACCEPTED`` or ``REFUSED`` (anything else is pending). Amounts are
integers, multiples of 5.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import httpx

from cauri.connectors.base import CallbackEvent, CollectRequest, PaymentKind, PaymentStatus, ProviderPayment
from cauri.connectors.mobile_money.cinetpay.schemas import CheckAnswer, CheckData, PaymentAnswer
from cauri.kit.errors import (
    AuthError,
    ConnectorError,
    FailureReason,
    InvalidRequest,
    PaymentNotFound,
    read_wire,
    unreadable_answer,
)

PROVIDER = "cinetpay"

STATUS_MAP: dict[str, PaymentStatus] = {
    "ACCEPTED": PaymentStatus.SUCCEEDED,
    "REFUSED": PaymentStatus.FAILED,
    "CANCELED": PaymentStatus.CANCELLED,
    "CANCELLED": PaymentStatus.CANCELLED,
    "EXPIRED": PaymentStatus.EXPIRED,
}
# Why a check is REFUSED (``message`` / ``data.error_code``): not published, so unknown words are provider_error.
REFUSAL_REASONS: dict[str, FailureReason] = {
    "INSUFFICIENT_BALANCE": FailureReason.INSUFFICIENT_FUNDS,
    "INVALID_PHONE_NUMBER": FailureReason.PAYER_NOT_FOUND,
    "LIMIT_EXCEEDED": FailureReason.LIMIT_REACHED,
    "OPERATION_NOT_ALLOWED": FailureReason.NOT_ALLOWED,
    "CUSTOMER_REFUSED": FailureReason.REJECTED_BY_PAYER,
    "ACCOUNT_BLOCKED": FailureReason.ACCOUNT_INACTIVE,
    "PAYMENT_FAILED": FailureReason.PROVIDER_ERROR,
    "TRANSACTION_EXPIRED": FailureReason.EXPIRED,
    "TRANSACTION_CANCEL": FailureReason.CANCELLED,
}
# Answer codes (``code``) that mean something precise to us.
AUTH_CODES = frozenset({"609"})  # AUTH_NOT_FOUND: wrong apikey / site_id
INVALID_CODES = frozenset({"608", "613"})  # MINIMUM_REQUIRED_FIELDS, bad amount / currency
NOT_FOUND_CODES = frozenset({"404"})  # unknown transaction_id
DUPLICATE_CODES = frozenset({"624"})  # transaction_id already used (?): the payment exists, check it
# The notification's fields, in the order CinetPay concatenates them for ``x-token``.
TOKEN_FIELDS = (
    "cpm_site_id",
    "cpm_trans_id",
    "cpm_trans_date",
    "cpm_amount",
    "cpm_currency",
    "signature",
    "payment_method",
    "cel_phone_num",
    "cpm_phone_prefixe",
    "cpm_language",
    "cpm_version",
    "cpm_payment_config",
    "cpm_page_action",
    "cpm_custom",
    "cpm_designation",
    "cpm_error_message",
)


def status_from_wire(word: object) -> PaymentStatus:
    return STATUS_MAP.get(str(word or "").upper(), PaymentStatus.PENDING)


def failure_from_wire(word: object, status: PaymentStatus) -> FailureReason | None:
    if status is PaymentStatus.EXPIRED:
        return FailureReason.EXPIRED
    if status is PaymentStatus.CANCELLED:
        return FailureReason.CANCELLED
    if status is not PaymentStatus.FAILED:
        return None
    return REFUSAL_REASONS.get(str(word or "").upper(), FailureReason.PROVIDER_ERROR)


def payment_to_wire(request: CollectRequest, *, apikey: str, site_id: str, channels: str) -> dict[str, Any]:
    return {
        "apikey": apikey,
        "site_id": site_id,
        "transaction_id": request.reference,
        "amount": request.amount,
        "currency": request.currency,
        "description": (request.description or f"Paiement {request.reference}")[:255],
        "notify_url": request.callback_url,
        "return_url": request.metadata.get("return_url") or request.callback_url,
        "channels": channels,
        "customer_phone_number": request.payer_phone,
        "metadata": request.reference,
        "lang": request.metadata.get("lang", "fr"),
    }


def payment_from_init(raw: Mapping[str, Any], request: CollectRequest) -> ProviderPayment:
    """``POST /v2/payment``'s answer: pending; the payer pays on ``payment_url`` (CinetPay gives it no expiry).
    Anything but ``201`` with a payment token is unreadable: it must never pass for an open payment."""
    answer = read_wire(PaymentAnswer, raw, PROVIDER)
    if answer.code != "201" or answer.data is None or not answer.data.payment_token:
        raise unreadable(f"payment answer code {answer.code!r}")
    payment_url = answer.data.payment_url or None
    return ProviderPayment(
        provider_reference=answer.data.payment_token,
        reference=request.reference,
        status=PaymentStatus.PENDING,
        amount=request.amount,
        currency=request.currency,
        kind=PaymentKind.COLLECTION,
        provider_status=answer.message or "CREATED",
        raw={**raw, "payment_url": payment_url},
        payment_url=payment_url,
    )


def check_to_payment(raw: Mapping[str, Any], reference: str, amount: int | None = None) -> ProviderPayment:
    answer = read_wire(CheckAnswer, raw, PROVIDER)
    data = answer.data or CheckData()
    status = status_from_wire(data.status)
    paid = data.amount if data.amount is not None else amount or 0
    return ProviderPayment(
        provider_reference=data.payment_token or data.operator_id or reference,
        reference=reference,
        status=status,
        amount=paid,
        currency=data.currency,
        kind=PaymentKind.COLLECTION,
        failure=failure_from_wire(data.error_code or answer.message, status),
        provider_status=data.status or None,
        raw=dict(raw),
    )


def notification_fields(raw_body: bytes) -> dict[str, str]:
    try:
        return dict(parse_qsl(raw_body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw_body)))
    except (UnicodeDecodeError, ValueError):
        raise unreadable("notification is not a form") from None


def event_from_wire(raw_body: bytes) -> CallbackEvent:
    """A notification is a doorbell (no timestamp in its token): ``signed=False``, confirm with ``check``."""
    fields = notification_fields(raw_body)
    reference = fields.get("cpm_trans_id")
    if not reference:
        raise unreadable("notification without cpm_trans_id")
    message = fields.get("cpm_error_message", "").upper()
    status = PaymentStatus.SUCCEEDED if message in ("SUCCES", "SUCCESS") else PaymentStatus.PENDING
    if message in REFUSAL_REASONS:
        status = PaymentStatus.FAILED
    try:
        amount: int | None = int(fields.get("cpm_amount", ""))
    except ValueError:
        amount = None
    return CallbackEvent(
        event_id=f"{reference}:{fields.get('cpm_trans_date', '')}:{message}",
        provider_reference=reference,
        reference=reference,
        kind=PaymentKind.COLLECTION,
        status=status,
        amount=amount,
        currency=fields.get("cpm_currency") or None,
        failure=failure_from_wire(message, status),
        signed=False,
        raw=fields,
    )


def error_from_response(response: httpx.Response) -> ConnectorError | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    code, message = str(body.get("code", "")), str(body.get("message", ""))
    common: dict[str, Any] = {"provider": PROVIDER, "provider_code": code or None}
    if code in AUTH_CODES:
        return AuthError(**common)
    if code in NOT_FOUND_CODES:
        return PaymentNotFound(**common)
    if code in INVALID_CODES or code in DUPLICATE_CODES:
        return InvalidRequest(
            f"Requête refusée par CinetPay : {message}.",
            f"Request refused by CinetPay: {message}.",
            reason=FailureReason.DUPLICATE if code in DUPLICATE_CODES else None,
            code="duplicate_reference" if code in DUPLICATE_CODES else None,
            **common,
        )
    return None


def unreadable(detail: str) -> ConnectorError:
    return unreadable_answer(PROVIDER, detail)
