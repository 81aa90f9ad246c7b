"""CinetPay wire format <-> Cauri's domain: answer codes, status maps, amounts, notifications.

Checkout v2: answers carry ``code`` and ``message`` (``"201" CREATED`` for a payment, ``"00" SUCCES`` for a paid
check) and ``data``; the check's ``data.status`` is ``ACCEPTED`` or ``REFUSED`` (anything else is pending). Amounts
are integers, multiples of 5. The current API (``v1_*`` below): flat answers ``{code, status, …}`` with numeric
codes and status words, JSON notifications carrying the ``notify_token`` the init gave.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import httpx

from cauri.connectors.base import (
    CallbackEvent,
    CollectRequest,
    PaymentKind,
    PaymentStatus,
    PayoutRequest,
    ProviderPayment,
)
from cauri.connectors.mobile_money.cinetpay.schemas import (
    CheckAnswer,
    CheckData,
    PaymentAnswer,
    V1BalanceAnswer,
    V1Notification,
    V1PaymentAnswer,
    V1StatusAnswer,
    V1TransferAnswer,
)
from cauri.core.phone import parse_phone
from cauri.kit.errors import (
    AuthError,
    ConnectorError,
    Declined,
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


# -- the current API (``api_version: v1``) ----------------------------------------------------------------------
# Status words and numeric codes of cinetpay-python ``constants/statuses.py``.
V1_CODES: dict[int, str] = {
    200: "OK",
    100: "SUCCESS",
    -1: "OPERATION_ERROR",
    404: "NOT_FOUND",
    1005: "INVALID_CREDENTIALS",
    1004: "INVALID_PARAMS",
    1003: "EXPIRED_TOKEN",
    1002: "INVALID_TOKEN",
    1200: "TRANSACTION_EXIST",
    2001: "INITIATED",
    2002: "PENDING",
    2003: "EXPIRED",
    2004: "OTP_ERROR",
    2008: "OTP_EXPIRED",
    2005: "INSUFFICIENT_BALANCE",
    2006: "USER_NOT_FOUND",
    2007: "USER_IS_BLOCKED",
    2010: "FAILED",
    2011: "NOT_ALLOWED",
}
# A payment's or transfer's status word -> (status, why it failed). Anything else is pending.
V1_STATUSES: dict[str, tuple[PaymentStatus, FailureReason | None]] = {
    "SUCCESS": (PaymentStatus.SUCCEEDED, None),
    "EXPIRED": (PaymentStatus.EXPIRED, FailureReason.EXPIRED),
    "OTP_EXPIRED": (PaymentStatus.EXPIRED, FailureReason.EXPIRED),
    "FAILED": (PaymentStatus.FAILED, FailureReason.PROVIDER_ERROR),
    "OPERATION_ERROR": (PaymentStatus.FAILED, FailureReason.PROVIDER_ERROR),
    "INSUFFICIENT_BALANCE": (PaymentStatus.FAILED, FailureReason.INSUFFICIENT_FUNDS),
    "USER_NOT_FOUND": (PaymentStatus.FAILED, FailureReason.PAYER_NOT_FOUND),
    "USER_IS_BLOCKED": (PaymentStatus.FAILED, FailureReason.ACCOUNT_INACTIVE),
    "NOT_ALLOWED": (PaymentStatus.FAILED, FailureReason.NOT_ALLOWED),
    "OTP_ERROR": (PaymentStatus.FAILED, FailureReason.REJECTED_BY_PAYER),
}
# Refusals of a create (an error answer), read as declines: the payment was not made.
V1_DECLINES = {
    word: reason for word, (status, reason) in V1_STATUSES.items() if status is PaymentStatus.FAILED and reason
}
# Operator of a payer or payee number -> CinetPay's ``payment_method`` (cinetpay-python
# ``constants/payment_methods.py``), by country and the numbering plan's carrier name (lower case).
V1_PAYMENT_METHODS: dict[tuple[str, str], str] = {
    ("CI", "orange"): "OM_CI",
    ("CI", "moov"): "MOOV_CI",
    ("CI", "mtn"): "MTN_CI",
    ("BF", "orange"): "OM_BF",
    ("BF", "moov"): "MOOV_BF",
    ("ML", "orange"): "OM_ML",
    ("ML", "moov"): "MOOV_ML",
    ("ML", "sotelma"): "MOOV_ML",
    ("SN", "orange"): "OM_SN",
    ("SN", "free"): "FREE_SN",
    ("SN", "yas"): "FREE_SN",
    ("SN", "expresso"): "EXPRESSO_SN",
    ("TG", "moov"): "MOOV_TG",
    ("TG", "togo telecom"): "TMONEY_TG",
    ("GN", "orange"): "OM_GN",
    ("GN", "mtn"): "MTN_GN",
    ("GN", "areeba"): "MTN_GN",
    ("CM", "orange"): "OM_CM",
    ("CM", "mtn"): "MTN_CM",
    ("BJ", "moov"): "MOOV_BJ",
    ("BJ", "mtn"): "MTN_BJ",
    ("CD", "orange"): "OM_CD",
    ("CD", "airtel"): "AIRTEL_CD",
    ("CD", "vodacom"): "MPESA_CD",
    ("CD", "africell"): "AFRICELL_CD",
    ("NE", "airtel"): "AIRTEL_NE",
    ("NE", "moov"): "MOOV_NE",
    ("NE", "zamani"): "ZAMANI_NE",
    ("NE", "orange"): "ZAMANI_NE",
}
V1_TRANSFER_RANGE = (100, 1_500_000)  # the SDK's checks on a transfer's amount


def v1_word(code: int | None, status: str) -> str:
    return (status or V1_CODES.get(code if code is not None else 0, "")).upper()


def v1_outcome(code: int | None, status: str, kind: PaymentKind) -> tuple[PaymentStatus, FailureReason | None]:
    word = v1_word(code, status)
    result, reason = V1_STATUSES.get(word, (PaymentStatus.PENDING, None))
    if kind is PaymentKind.PAYOUT and reason is FailureReason.PAYER_NOT_FOUND:
        reason = FailureReason.PAYEE_NOT_FOUND
    return result, reason


def payment_method_for(phone: str) -> str | None:
    """CinetPay's ``payment_method`` for a number (its country and operator), or None (CinetPay's page asks)."""
    try:
        info = parse_phone(phone, field="phone")
    except Exception:
        return None
    carrier = (info.carrier or "").strip().lower()
    for (country, operator), method in V1_PAYMENT_METHODS.items():
        if info.region == country and carrier and (carrier == operator or carrier.startswith(operator)):
            return method
    return None


def v1_payment_to_wire(request: CollectRequest, *, channel: str) -> dict[str, Any]:
    """``POST /v1/payment``: the SDK's fields. ``direct_pay`` asks for the push on the payer's phone when the
    operator is known (``payment_method``); otherwise the payer chooses on ``payment_url``."""
    names = (request.metadata.get("payer_name") or "Client Cauri").split(" ", 1)
    method = request.metadata.get("cinetpay_payment_method") or payment_method_for(request.payer_phone)
    return_url = request.metadata.get("return_url") or request.callback_url or ""
    body: dict[str, Any] = {
        "currency": request.currency,
        "merchant_transaction_id": request.reference,
        "amount": request.amount,
        "lang": request.metadata.get("lang", "fr"),
        "designation": (request.description or f"Paiement {request.reference}")[:255],
        "client_email": request.metadata.get("payer_email") or "client@cauri.invalid",
        "client_first_name": names[0],
        "client_last_name": names[1] if len(names) > 1 else names[0],
        "success_url": return_url,
        "failed_url": return_url,
        "notify_url": request.callback_url or "",
        "channel": channel,
        "client_phone_number": request.payer_phone,
    }
    if method is not None:
        body["payment_method"] = method
        body["direct_pay"] = True
    return body


def v1_transfer_to_wire(request: PayoutRequest) -> dict[str, Any]:
    method = request.metadata.get("cinetpay_payment_method") or payment_method_for(request.payee_phone)
    if method is None:
        raise InvalidRequest(
            "Aucun moyen de transfert CinetPay pour ce numéro (opérateur non pris en charge).",
            "No CinetPay transfer method for this number (operator not supported).",
            provider=PROVIDER,
            code="unsupported_operator",
        )
    return {
        "currency": request.currency,
        "merchant_transaction_id": request.reference,
        "phone_number": request.payee_phone,
        "amount": request.amount,
        "payment_method": method,
        "reason": (request.description or f"Paiement {request.reference}")[:255],
        "notify_url": request.callback_url or "",
    }


def v1_payment_from_init(raw: Mapping[str, Any], request: CollectRequest) -> ProviderPayment:
    """The init's answer: pending (or what ``details`` says of a direct payment), with ``notify_token`` as the
    payment's ``callback_token`` (the notification echoes it)."""
    answer = read_wire(V1PaymentAnswer, raw, PROVIDER)
    status, failure = PaymentStatus.PENDING, None
    if answer.details is not None:
        status, failure = v1_outcome(answer.details.code, answer.details.status, PaymentKind.COLLECTION)
        if status is PaymentStatus.SUCCEEDED:  # a success is only believed from the status query
            status, failure = PaymentStatus.PENDING, None
    payment_url = answer.payment_url or None
    return ProviderPayment(
        provider_reference=answer.transaction_id,
        reference=request.reference,
        status=status,
        amount=request.amount,
        currency=request.currency,
        kind=PaymentKind.COLLECTION,
        failure=failure,
        provider_status=v1_word(answer.details.code, answer.details.status) if answer.details else answer.status,
        raw={**raw, "payment_url": payment_url},
        callback_token=answer.notify_token,
        payment_url=payment_url,
    )


def v1_status_to_payment(
    raw: Mapping[str, Any], reference: str, kind: PaymentKind, *, amount: int | None = None, currency: str = ""
) -> ProviderPayment:
    """A payment's or transfer's status. A success must name its amount (the transfer status does; the payment
    status does when CinetPay adds it): a success without one is unreadable, never credited blind."""
    answer = read_wire(V1TransferAnswer if "notify_token" in raw else V1StatusAnswer, raw, PROVIDER)
    status, failure = v1_outcome(answer.code, answer.status, kind)
    paid = answer.amount if answer.amount is not None else amount
    if paid is None:
        if status is PaymentStatus.SUCCEEDED:
            raise unreadable("a success without an amount")
        paid = 0
    return ProviderPayment(
        provider_reference=answer.transaction_id or reference,
        reference=answer.merchant_transaction_id or reference,
        status=status,
        amount=paid,
        currency=answer.currency or currency,
        kind=kind,
        failure=failure,
        fee=answer.fee_amount,
        provider_status=v1_word(answer.code, answer.status) or None,
        raw=dict(raw),
        callback_token=getattr(answer, "notify_token", None) or None,
    )


def v1_balance_from_wire(raw: Mapping[str, Any]) -> tuple[int, str]:
    answer = read_wire(V1BalanceAnswer, raw, PROVIDER)
    return answer.available_balance, answer.currency


# Fields of a transfer's status that a payment's notification does not carry: a notification with them is about a
# transfer (the SDK's notification type names neither; see docs/providers/cinetpay.md).
V1_TRANSFER_MARKERS = ("fee_amount", "phone_number")


def v1_event_from_wire(raw_body: bytes) -> CallbackEvent:
    """A JSON notification: a doorbell (``signed=False``): its ``notify_token`` proves it comes from CinetPay only
    against the token the init gave, so the payments module confirms each one with a status query."""
    try:
        body = json.loads(raw_body)
    except ValueError:
        raise unreadable("notification is not JSON") from None
    if not isinstance(body, dict):
        raise unreadable("notification is not a JSON object")
    notification = read_wire(V1Notification, body, PROVIDER)
    kind = PaymentKind.PAYOUT if any(k in body for k in V1_TRANSFER_MARKERS) else PaymentKind.COLLECTION
    status, failure = v1_outcome(body.get("code"), str(body.get("status") or ""), kind)
    reference = notification.merchant_transaction_id or None
    return CallbackEvent(
        event_id=f"{notification.transaction_id}:{v1_word(body.get('code'), str(body.get('status') or ''))}",
        provider_reference=notification.transaction_id,
        reference=reference,
        kind=kind,
        status=status,
        amount=None,
        currency=None,
        failure=failure,
        signed=False,
        raw=body,
        callback_token=notification.notify_token,
    )


V1_OK_CODES = frozenset({200, 100, 2001, 2002})  # answers the SDK's HTTP client never reads as errors
V1_TOKEN_WORDS = frozenset({"INVALID_TOKEN", "EXPIRED_TOKEN"})


def v1_error_from_response(response: httpx.Response) -> ConnectorError | None:
    """An error answer (HTTP 4xx/5xx): ``{code, status, description}``."""
    try:
        body = response.json()
    except ValueError:
        body = None
    return v1_error(body) if isinstance(body, dict) else None


def v1_error_in_answer(body: Mapping[str, Any]) -> ConnectorError | None:
    """An error in a 2xx answer, as the SDK tells it (``http/http_client.py``): a code other than 200, 100, 2001,
    2002 *with* a ``description``. A final status without one (2005 INSUFFICIENT_BALANCE…) is data, not an error."""
    code = body.get("code")
    if code is None or not body.get("description"):
        return None
    try:
        number = int(code)
    except (TypeError, ValueError):
        return None
    return None if number in V1_OK_CODES else v1_error(body)


def v1_error(body: Mapping[str, Any]) -> ConnectorError | None:
    """``{code, status, description}``: 1005/1002/1003 credentials or token, 1004 invalid, 1200 a reused
    ``merchant_transaction_id``, 404 unknown, 2005/2006/2007/2011 a refusal."""
    raw_code = body.get("code")
    code = int(str(raw_code)) if str(raw_code).lstrip("-").isdigit() else None
    word = v1_word(code, str(body.get("status") or ""))
    common: dict[str, Any] = {"provider": PROVIDER, "provider_code": word or None}
    description = str(body.get("description") or word)
    if word in ("INVALID_CREDENTIALS", *V1_TOKEN_WORDS):
        return AuthError(**common)
    if word == "NOT_FOUND":
        return PaymentNotFound(**common)
    if word in V1_DECLINES:
        return Declined(V1_DECLINES[word], **common)
    if word in ("INVALID_PARAMS", "TRANSACTION_EXIST"):
        duplicate = word == "TRANSACTION_EXIST"
        return InvalidRequest(
            f"Requête refusée par CinetPay : {description}.",
            f"Request refused by CinetPay: {description}.",
            reason=FailureReason.DUPLICATE if duplicate else None,
            code="duplicate_reference" if duplicate else None,
            **common,
        )
    return None
