"""Orange Money wire format <-> Cauri's domain, for WebPay and the Cameroon USSD push ("omcoreapis").

WebPay's status call needs ``order_id``, ``amount`` and ``pay_token``; a stateless connector keeps them where
Cauri already stores something: ``order_id`` is derived from our reference (at most 30 characters), and the
``provider_reference`` is ``"<pay_token>:<amount>:<currency>"`` (:func:`webpay_reference`). The notification names
the payment only by its ``notif_token``, issued at init: it is the payment's ``callback_token``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
from pydantic import ValidationError

from cauri.connectors.base import CallbackEvent, CollectRequest, PaymentKind, PaymentStatus, ProviderPayment
from cauri.connectors.mobile_money.orange_money.schemas import (
    UssdAnswer,
    UssdPayment,
    WebPayment,
    WebPayNotification,
    WebPayStatus,
)
from cauri.core.money import currency_exponent
from cauri.kit.amounts import UnreadableAmount, optional_minor_units
from cauri.kit.errors import (
    AuthError,
    ConnectorError,
    FailureReason,
    InvalidRequest,
    PaymentNotFound,
    unreadable_answer,
)

PROVIDER = "orange_money"
MAX_ORDER_ID = 30
MAX_NOTIF_URL = 120

WEBPAY_STATUS_MAP: dict[str, PaymentStatus] = {
    "INITIATED": PaymentStatus.PENDING,
    "PENDING": PaymentStatus.PENDING,
    "SUCCESS": PaymentStatus.SUCCEEDED,
    "FAILED": PaymentStatus.FAILED,
    "EXPIRED": PaymentStatus.EXPIRED,
}
USSD_STATUS_MAP: dict[str, PaymentStatus] = {
    "INITIATED": PaymentStatus.PENDING,
    "PENDING": PaymentStatus.PENDING,
    "SUCCESSFULL": PaymentStatus.SUCCEEDED,  # sic: Orange Cameroon's spelling
    "SUCCESSFUL": PaymentStatus.SUCCEEDED,
    "FAILED": PaymentStatus.FAILED,
    "EXPIRED": PaymentStatus.EXPIRED,
}
# omcoreapis transaction codes (inittxnstatus / confirmtxnstatus) -> ours; others are provider_error.
USSD_CODES: dict[str, FailureReason] = {"60019": FailureReason.INSUFFICIENT_FUNDS}


def order_id(reference: str) -> str:
    """WebPay's ``order_id`` (at most 30 characters) for our reference: itself when short, else a stable digest."""
    if len(reference) <= MAX_ORDER_ID and reference.isascii():
        return reference
    return "c" + hashlib.sha256(reference.encode()).hexdigest()[: MAX_ORDER_ID - 1]


def webpay_reference(pay_token: str, amount: int, currency: str) -> str:
    return f"{pay_token}:{amount}:{currency}"


def split_webpay_reference(provider_reference: str) -> tuple[str, int, str]:
    try:
        pay_token, amount, currency = provider_reference.rsplit(":", 2)
        return pay_token, int(amount), currency
    except ValueError:
        raise InvalidRequest(
            "Référence Orange WebPay illisible (attendu : <pay_token>:<montant>:<devise>).",
            "Unreadable Orange WebPay reference (expected <pay_token>:<amount>:<currency>).",
            provider=PROVIDER,
            code="invalid_provider_reference",
        ) from None


def amount_to_int(amount: int, currency: str) -> int:
    """WebPay and omcoreapis amounts are whole units (XOF, XAF, GNF have no minor unit)."""
    if currency_exponent(currency) != 0:
        raise InvalidRequest(
            f"Orange Money n'accepte pas {currency}.",
            f"Orange Money does not accept {currency}.",
            provider=PROVIDER,
            code="invalid_currency",
            reason=FailureReason.INVALID_CURRENCY,
        )
    return amount


def amount_from_wire(value: str | int | float | None, currency: str) -> int | None:
    try:
        return optional_minor_units(value, currency)
    except UnreadableAmount as exc:
        raise unreadable(exc) from None


def national_msisdn(e164: str, country_code: str = "237") -> str:
    """``+237690000100`` -> ``690000100`` (omcoreapis numbers are national, "?": see ``msisdn_format``)."""
    digits = e164.removeprefix("+")
    return digits.removeprefix(country_code) if digits.startswith(country_code) else digits


# -- WebPay ---------------------------------------------------------------------------------------------------


def webpay_status_from_json(raw: Any) -> WebPayStatus:
    try:
        return WebPayStatus.model_validate(raw)
    except ValidationError as exc:
        raise unreadable(exc) from None


def webpay_state(word: str | None) -> tuple[PaymentStatus, FailureReason | None]:
    status = WEBPAY_STATUS_MAP.get((word or "").strip().upper(), PaymentStatus.PENDING)
    if status is PaymentStatus.FAILED:
        return status, FailureReason.PROVIDER_ERROR  # WebPay gives no reason
    if status is PaymentStatus.EXPIRED:
        return status, FailureReason.EXPIRED
    return status, None


def payment_from_webpay_status(raw: dict[str, Any], *, reference: str, provider_reference: str) -> ProviderPayment:
    wire = webpay_status_from_json(raw)
    if wire.order_id and wire.order_id != order_id(reference):
        raise InvalidRequest(
            "Cette commande Orange appartient à un autre paiement.",
            "This Orange order belongs to another payment.",
            provider=PROVIDER,
            code="provider_reference_mismatch",
        )
    _pay_token, amount, currency = split_webpay_reference(provider_reference)
    status, failure = webpay_state(wire.status)
    return ProviderPayment(
        provider_reference=provider_reference,
        reference=reference,
        status=status,
        amount=amount,
        currency=currency,
        kind=PaymentKind.COLLECTION,
        failure=failure,
        provider_status=wire.status,
        raw=raw,
    )


def payment_from_webpayment(answer: WebPayment, raw: dict[str, Any], request: CollectRequest) -> ProviderPayment:
    """The init's answer: pending until the payer opens ``payment_url``; ``notif_token`` is the callback token.

    Orange publishes no lifetime for a WebPay URL, so ``payment_url_expires_at`` stays unknown (the payment's own
    expiry applies)."""
    return ProviderPayment(
        provider_reference=webpay_reference(answer.pay_token, request.amount, request.currency),
        reference=request.reference,
        status=PaymentStatus.PENDING,
        amount=request.amount,
        currency=request.currency,
        kind=PaymentKind.COLLECTION,
        provider_status="INITIATED",
        raw=raw,
        callback_token=answer.notif_token,
        payment_url=answer.payment_url,
    )


def notification_from_wire(raw_body: bytes) -> tuple[WebPayNotification, dict[str, Any]]:
    try:
        raw = json.loads(raw_body)
        return WebPayNotification.model_validate(raw), raw
    except (ValueError, ValidationError) as exc:
        raise unreadable(exc) from None


def webpay_event(raw_body: bytes) -> CallbackEvent:
    """A WebPay notification names its payment only by ``notif_token`` (the ``callback_token``)."""
    notification, raw = notification_from_wire(raw_body)
    status, failure = webpay_state(notification.status)
    identity = f"{notification.notif_token}:{notification.status.upper()}:{notification.txnid or ''}"
    return CallbackEvent(
        event_id="om_" + hashlib.sha256(identity.encode()).hexdigest()[:32],
        provider_reference="",
        reference=None,
        kind=PaymentKind.COLLECTION,
        status=status,
        amount=None,
        currency=None,
        failure=failure,
        signed=False,
        raw=raw,
        callback_token=notification.notif_token,
    )


# -- USSD push ------------------------------------------------------------------------------------------------


def ussd_answer_from_json(raw: Any) -> UssdAnswer:
    try:
        return UssdAnswer.model_validate(raw)
    except ValidationError as exc:
        raise unreadable(exc) from None


def ussd_state(wire: UssdPayment) -> tuple[PaymentStatus, FailureReason | None]:
    status = USSD_STATUS_MAP.get((wire.status or "").strip().upper(), PaymentStatus.PENDING)
    if status is PaymentStatus.EXPIRED:
        return status, FailureReason.EXPIRED
    if status is PaymentStatus.FAILED:
        for code in (wire.inittxnstatus, wire.confirmtxnstatus):
            if code and code in USSD_CODES:
                return status, USSD_CODES[code]
        return status, FailureReason.PROVIDER_ERROR
    return status, None


def payment_from_ussd(
    wire: UssdPayment, *, reference: str, currency: str, raw: dict[str, Any], amount: int | None = None
) -> ProviderPayment:
    if wire.order_id and wire.order_id != reference:
        raise InvalidRequest(
            "Ce payToken Orange appartient à un autre paiement.",
            "This Orange payToken belongs to another payment.",
            provider=PROVIDER,
            code="provider_reference_mismatch",
        )
    status, failure = ussd_state(wire)
    wire_amount = amount_from_wire(wire.amount, currency)
    return ProviderPayment(
        provider_reference=wire.pay_token or "",
        reference=reference,
        status=status,
        amount=wire_amount if wire_amount is not None else (amount or 0),
        currency=currency,
        kind=PaymentKind.COLLECTION,
        failure=failure,
        provider_status=wire.status,
        raw=raw,
    )


def ussd_event(raw_body: bytes, currency: str) -> CallbackEvent:
    """The omcoreapis notification ("?": its shape is not public): the payment's ``data``, bare or wrapped."""
    try:
        raw = json.loads(raw_body)
        body = raw.get("data", raw) if isinstance(raw, dict) else None
        wire = UssdPayment.model_validate(body)
    except (ValueError, ValidationError) as exc:
        raise unreadable(exc) from None
    if not wire.pay_token:
        raise unreadable(ValueError("no payToken"))
    status, failure = ussd_state(wire)
    identity = f"{wire.pay_token}:{(wire.status or '').upper()}:{wire.txnid or ''}"
    return CallbackEvent(
        event_id="omcm_" + hashlib.sha256(identity.encode()).hexdigest()[:32],
        provider_reference=wire.pay_token,
        reference=wire.order_id,
        kind=PaymentKind.COLLECTION,
        status=status,
        amount=amount_from_wire(wire.amount, currency),
        currency=currency,
        failure=failure,
        signed=False,
        raw=raw,
    )


# -- errors ---------------------------------------------------------------------------------------------------


def error_from_response(response: httpx.Response) -> ConnectorError | None:
    """Orange's ``{code, message, description}`` (and OAuth's ``{error, error_description}``) -> precise errors."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    code = body.get("code", body.get("error"))
    text = str(body.get("description") or body.get("message") or body.get("error_description") or "")
    common: dict[str, Any] = {"provider": PROVIDER, "provider_code": str(code) if code is not None else None}
    if response.status_code in (401, 403):
        return AuthError(**common)
    if response.status_code == 404:
        return PaymentNotFound(**common)
    if response.status_code in (400, 422) and text:
        return InvalidRequest(f"Requête refusée par Orange : {text}", f"Request refused by Orange: {text}", **common)
    return None


def unreadable(exc: Exception) -> ConnectorError:
    return unreadable_answer(PROVIDER, exc)
