"""FreeMoPay wire format <-> Cauri's domain: status maps, failure reasons, amounts, numbers, error answers.

Two status vocabularies, on purpose:

* the **create** answer's first status (``CREATED``, ``SUCCESS`` or ``INITIALIZATION_SUCCESS`` depending on the auth
  mode) only says the request was *accepted*: it is pending, never success, whatever the word;
* the **status query** and the callback say ``PENDING``, ``SUCCESS`` or ``FAILED``; there ``SUCCESS`` is paid.

FreeMoPay gives failure reasons as free text (not public, "?"): :func:`failure_from_text` recognises the usual
French and English wordings (and code-like spellings such as ``INSUFFICIENT_BALANCE``); anything else is
``provider_error``. A ``FAILED`` whose reason says the customer did not confirm in time is *expired*.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
from pydantic import ValidationError

from cauri.connectors.base import (
    CallbackEvent,
    CollectRequest,
    PaymentKind,
    PaymentStatus,
    PayoutRequest,
    ProviderPayment,
)
from cauri.connectors.mobile_money.freemopay.schemas import (
    CallbackNotification,
    DepositRequest,
    LocalizedMessage,
    PaymentDetails,
    PaymentInit,
    WithdrawRequest,
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

PROVIDER = "freemopay"
CURRENCY = "XAF"  # FreeMoPay serves Cameroon only

# First status of a create answer: all mean "accepted, waiting for the customer".
ACCEPTED_STATUSES = frozenset({"CREATED", "SUCCESS", "INITIALIZATION_SUCCESS"})
REFUSED_STATUS = "FAILED"

# Status query and callback words -> ours. Anything else is pending, never success.
STATUS_MAP: dict[str, PaymentStatus] = {
    "PENDING": PaymentStatus.PENDING,
    "SUCCESS": PaymentStatus.SUCCEEDED,
    "FAILED": PaymentStatus.FAILED,
}

# The callback's ``transactionType`` for collections; withdrawals use another word (not public: "?").
DEPOSIT_TYPE = "DEPOSIT"

# Free-text reasons -> stable reasons. First match wins, so the specific wordings come first.
_NOT_FOUND = object()  # payer_not_found or payee_not_found, by the payment's kind
_REASON_KEYWORDS: tuple[tuple[tuple[str, ...], FailureReason | object], ...] = (
    (("insufficient", "insuffisant", "not enough", "solde faible", "low balance"), FailureReason.INSUFFICIENT_FUNDS),
    (("expired", "expiré", "expire", "timeout", "timed out", "délai"), FailureReason.EXPIRED),
    (
        ("cancelled by", "canceled by", "annulé par", "annulée par", "rejected", "refused by", "refusé par"),
        FailureReason.REJECTED_BY_PAYER,
    ),
    (("limit", "plafond"), FailureReason.LIMIT_REACHED),
    (("not allowed", "non autoris", "not permitted", "interdit"), FailureReason.NOT_ALLOWED),
    (("blocked", "bloqué", "inactive", "inactif", "suspend"), FailureReason.ACCOUNT_INACTIVE),
    (
        ("not found", "introuvable", "inexistant", "unknown subscriber", "invalid number", "numéro invalide"),
        _NOT_FOUND,
    ),
)


def status_from_wire(word: str | None) -> PaymentStatus:
    return STATUS_MAP.get((word or "").strip().upper(), PaymentStatus.PENDING)


def message_text(message: str | LocalizedMessage | None) -> str:
    if message is None:
        return ""
    if isinstance(message, LocalizedMessage):
        return message.en or message.fr
    return message


def failure_from_text(text: str | None, kind: PaymentKind) -> FailureReason | None:
    """FreeMoPay's free-text reason -> our stable reason; None when there is no text."""
    if not text or not text.strip():
        return None
    lowered = text.lower().replace("_", " ")
    for keywords, reason in _REASON_KEYWORDS:
        if any(keyword in lowered for keyword in keywords):
            if reason is _NOT_FOUND:
                collection = kind is PaymentKind.COLLECTION
                return FailureReason.PAYER_NOT_FOUND if collection else FailureReason.PAYEE_NOT_FOUND
            assert isinstance(reason, FailureReason)
            return reason
    return FailureReason.PROVIDER_ERROR


def amount_to_wire(amount: int, currency: str = CURRENCY) -> str:
    """Minor units -> FreeMoPay's amount string ("1500")."""
    return to_major_units(amount, currency)


def amount_from_wire(value: str | int | float | None, currency: str = CURRENCY) -> int | None:
    try:
        return optional_minor_units(value, currency)
    except UnreadableAmount as exc:
        raise _unreadable(exc) from None


def msisdn_to_wire(e164: str) -> str:
    """``+237670000100`` -> ``237670000100`` (FreeMoPay's ``2376XXXXXXXX``)."""
    return e164.removeprefix("+")


def deposit_to_wire(request: CollectRequest) -> DepositRequest:
    return DepositRequest(
        payer=msisdn_to_wire(request.payer_phone),
        amount=amount_to_wire(request.amount, request.currency),
        external_id=request.reference,
        description=request.description or request.reference,
        callback=request.callback_url,
    )


def withdraw_to_wire(request: PayoutRequest) -> WithdrawRequest:
    return WithdrawRequest(
        receiver=msisdn_to_wire(request.payee_phone),
        amount=amount_to_wire(request.amount, request.currency),
        external_id=request.reference,
        callback=request.callback_url,
    )


def to_wire_json(model: DepositRequest | WithdrawRequest) -> dict[str, Any]:
    return model.model_dump(by_alias=True, exclude_none=True)


def init_from_wire(raw: Any) -> PaymentInit:
    try:
        return PaymentInit.model_validate(raw)
    except ValidationError as exc:
        raise _unreadable(exc) from None


def details_from_wire(raw: Any) -> PaymentDetails:
    try:
        return PaymentDetails.model_validate(raw)
    except ValidationError as exc:
        raise _unreadable(exc) from None


def accepted_payment(
    init: PaymentInit, *, reference: str, amount: int, currency: str, kind: PaymentKind, raw: dict[str, Any]
) -> ProviderPayment:
    """The create answer in Cauri's words: pending (accepted), or :class:`Declined` when refused at once."""
    word = init.status.strip().upper()
    if word == REFUSED_STATUS:
        reason = failure_from_text(message_text(init.message), kind) or FailureReason.PROVIDER_ERROR
        raise Declined(reason, provider=PROVIDER, provider_code=word)
    # CREATED / SUCCESS / INITIALIZATION_SUCCESS, and any word we do not know: accepted, waiting. Never paid yet.
    return ProviderPayment(
        provider_reference=init.reference,
        reference=reference,
        status=PaymentStatus.PENDING,
        amount=amount,
        currency=currency,
        kind=kind,
        provider_status=init.status,
        raw=raw,
    )


def _settled(status: PaymentStatus, reason: FailureReason | None) -> tuple[PaymentStatus, FailureReason | None]:
    """A FAILED that says "expired" is expired; every final failure carries a reason."""
    if status is PaymentStatus.FAILED:
        if reason is FailureReason.EXPIRED:
            return PaymentStatus.EXPIRED, reason
        return status, reason or FailureReason.PROVIDER_ERROR
    return status, None


def payment_from_details(
    details: PaymentDetails, *, reference: str, kind: PaymentKind, raw: dict[str, Any]
) -> ProviderPayment:
    if details.merchant_reference and details.merchant_reference != reference:
        raise InvalidRequest(
            "Cette référence FreeMoPay appartient à un autre paiement.",
            "This FreeMoPay reference belongs to another payment.",
            provider=PROVIDER,
            code="provider_reference_mismatch",
        )
    status, reason = _settled(status_from_wire(details.status), failure_from_text(details.reason, kind))
    amount = amount_from_wire(details.amount)
    return ProviderPayment(
        provider_reference=details.reference,
        reference=reference,
        status=status,
        amount=amount if amount is not None else 0,
        currency=CURRENCY,
        kind=kind,
        failure=reason,
        provider_status=details.status,
        raw=raw,
    )


def kind_of_callback(notification: CallbackNotification) -> PaymentKind:
    word = (notification.transaction_type or DEPOSIT_TYPE).strip().upper()
    return PaymentKind.COLLECTION if word == DEPOSIT_TYPE else PaymentKind.PAYOUT


def notification_from_wire(raw_body: bytes) -> tuple[CallbackNotification, dict[str, Any]]:
    try:
        raw = json.loads(raw_body)
        return CallbackNotification.model_validate(raw), raw
    except (ValueError, ValidationError) as exc:
        raise _unreadable(exc) from None


def event_from_wire(raw_body: bytes) -> CallbackEvent:
    """An unsigned doorbell: confirm with a status query (``GET /api/v2/payment/{reference}``) before crediting."""
    notification, raw = notification_from_wire(raw_body)
    kind = kind_of_callback(notification)
    status, reason = _settled(
        status_from_wire(notification.status), failure_from_text(message_text(notification.message), kind)
    )
    # No event id on the wire: the same notification re-sent must give the same id, another status another one.
    digest = hashlib.sha256(f"{notification.reference}:{notification.status.upper()}".encode()).hexdigest()[:32]
    return CallbackEvent(
        event_id=f"fmp_{digest}",
        provider_reference=notification.reference,
        reference=notification.external_id,
        kind=kind,
        status=status,
        amount=amount_from_wire(notification.amount),
        currency=CURRENCY,
        failure=reason if status.is_final and status is not PaymentStatus.SUCCEEDED else None,
        signed=False,
        raw=raw,
    )


def error_from_response(response: httpx.Response) -> ConnectorError | None:
    """FreeMoPay's ``{code, message: {en, fr}}`` error answers -> the precise error; None: the defaults."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    code = str(body.get("code") or "") or None
    raw_message = body.get("message")
    message_fr = message_en = None
    if isinstance(raw_message, dict):
        message_fr, message_en = raw_message.get("fr"), raw_message.get("en")
    elif isinstance(raw_message, str):
        message_en = raw_message
    common: dict[str, Any] = {"provider": PROVIDER, "provider_code": code}
    if response.status_code == 401 or code == "BAD_API_CREDENTIALS":
        return AuthError(
            f"FreeMoPay a refusé les identifiants : {message_fr}" if message_fr else None,
            f"FreeMoPay rejected the credentials: {message_en}" if message_en else None,
            **common,
        )
    if response.status_code == 404:
        return PaymentNotFound(**common)
    if response.status_code in (400, 422) and code is not None:
        return InvalidRequest(
            f"Requête refusée par FreeMoPay : {message_fr}" if message_fr else None,
            f"Request refused by FreeMoPay: {message_en}" if message_en else None,
            **common,
        )
    return None


def _unreadable(exc: Exception) -> ConnectorError:
    return unreadable_answer(PROVIDER, exc)
