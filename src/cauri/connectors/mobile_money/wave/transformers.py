"""Wave wire format <-> Cauri's domain: session and payout status maps, error codes, amounts, events.

A checkout session is read in this order: ``payment_status`` succeeded is paid; a ``cancelled`` payment with a
``last_payment_error`` failed (with the error's reason); an ``expired`` session expired; ``cancelled`` without an
error was cancelled; anything else (``open``/``processing``, or a word we do not know) is pending.

Wave's error codes are not public ("?"): known kebab-case codes are mapped, then keywords
(insufficient, limit, blocked, not-found…); anything else is ``provider_error``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
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
from cauri.connectors.mobile_money.wave.schemas import (
    CheckoutSession,
    CheckoutSessionCreate,
    Payout,
    PayoutCreate,
    WebhookEvent,
)
from cauri.kit.amounts import UnreadableAmount, optional_minor_units, to_major_units
from cauri.kit.errors import (
    AuthError,
    ConnectorError,
    FailureReason,
    InvalidRequest,
    PaymentNotFound,
    unreadable_answer,
)

PROVIDER = "wave"
MAX_PAYMENT_REASON = 40  # Wave shows payment_reason on the recipient's statement; kept short ("?")

PAYOUT_STATUS_MAP: dict[str, PaymentStatus] = {
    "processing": PaymentStatus.PENDING,
    "succeeded": PaymentStatus.SUCCEEDED,
    "failed": PaymentStatus.FAILED,
    "reversed": PaymentStatus.CANCELLED,  # paid, then returned to the merchant: the payee did not keep it
}

ERROR_CODES: dict[str, FailureReason] = {
    "insufficient-funds": FailureReason.INSUFFICIENT_FUNDS,
    "insufficient-balance": FailureReason.INSUFFICIENT_FUNDS,
    "limit-exceeded": FailureReason.LIMIT_REACHED,
    "recipient-limit-exceeded": FailureReason.LIMIT_REACHED,
    "payout-limit-exceeded": FailureReason.LIMIT_REACHED,
    "blocked-account": FailureReason.ACCOUNT_INACTIVE,
    "account-blocked": FailureReason.ACCOUNT_INACTIVE,
    "not-allowed": FailureReason.NOT_ALLOWED,
    "name-mismatch": FailureReason.NOT_ALLOWED,
    "payer-mobile-mismatch": FailureReason.NOT_ALLOWED,
    "cancelled-by-payer": FailureReason.REJECTED_BY_PAYER,
    "payment-declined": FailureReason.REJECTED_BY_PAYER,
    "internal-error": FailureReason.PROVIDER_ERROR,
    # Wave's published payout error codes (docs.wave.com/payout, "Errors")
    "recipient-account-blocked": FailureReason.ACCOUNT_INACTIVE,
    "recipient-account-inactive": FailureReason.ACCOUNT_INACTIVE,
    "recipient-minor": FailureReason.NOT_ALLOWED,
    "country-mismatch": FailureReason.NOT_ALLOWED,
    "currency-mismatch": FailureReason.INVALID_CURRENCY,
    "internal-server-error": FailureReason.PROVIDER_ERROR,
    "service-unavailable": FailureReason.PROVIDER_ERROR,
}
_KEYWORDS: tuple[tuple[tuple[str, ...], FailureReason | None], ...] = (
    (("insufficient",), FailureReason.INSUFFICIENT_FUNDS),
    (("limit",), FailureReason.LIMIT_REACHED),
    (("blocked", "inactive", "closed", "suspended"), FailureReason.ACCOUNT_INACTIVE),
    (("not-found", "no-account", "unknown-mobile", "unregistered"), None),  # payer/payee_not_found by kind
    (("not-allowed", "forbidden", "kyc", "mismatch"), FailureReason.NOT_ALLOWED),
    (("declined", "cancel", "reject"), FailureReason.REJECTED_BY_PAYER),
)


def failure_from_code(code: str | None, kind: PaymentKind) -> FailureReason:
    word = (code or "").strip().lower().replace("_", "-")
    if word in ERROR_CODES:
        return ERROR_CODES[word]
    for keywords, reason in _KEYWORDS:
        if any(keyword in word for keyword in keywords):
            if reason is None:
                return (
                    FailureReason.PAYER_NOT_FOUND if kind is PaymentKind.COLLECTION else FailureReason.PAYEE_NOT_FOUND
                )
            return reason
    return FailureReason.PROVIDER_ERROR


def session_state(session: CheckoutSession) -> tuple[PaymentStatus, FailureReason | None]:
    payment = session.payment_status.strip().lower()
    checkout = session.checkout_status.strip().lower()
    if payment == "succeeded":
        return PaymentStatus.SUCCEEDED, None
    if payment == "cancelled" and session.last_payment_error is not None:
        return PaymentStatus.FAILED, failure_from_code(session.last_payment_error.code, PaymentKind.COLLECTION)
    if checkout == "expired":
        return PaymentStatus.EXPIRED, FailureReason.EXPIRED
    if payment == "cancelled":
        return PaymentStatus.CANCELLED, FailureReason.CANCELLED
    return PaymentStatus.PENDING, None


def session_word(session: CheckoutSession) -> str:
    """The provider's own words, kept for support: ``<checkout_status>/<payment_status>``."""
    return f"{session.checkout_status}/{session.payment_status}"


def amount_to_wire(amount: int, currency: str) -> str:
    return to_major_units(amount, currency)


def amount_from_wire(value: str | int | None, currency: str) -> int | None:
    try:
        return optional_minor_units(value, currency)
    except UnreadableAmount as exc:
        raise _unreadable(exc) from None


def checkout_to_wire(request: CollectRequest, *, success_url: str, error_url: str) -> CheckoutSessionCreate:
    return CheckoutSessionCreate(
        amount=amount_to_wire(request.amount, request.currency),
        currency=request.currency,
        success_url=success_url,
        error_url=error_url,
        client_reference=request.reference,
        restrict_payer_mobile=request.payer_phone,
    )


def payout_to_wire(request: PayoutRequest) -> PayoutCreate:
    return PayoutCreate(
        currency=request.currency,
        receive_amount=amount_to_wire(request.amount, request.currency),
        mobile=request.payee_phone,
        name=request.payee_name,
        client_reference=request.reference,
        payment_reason=(request.description or None) and request.description[:MAX_PAYMENT_REASON],
    )


def wire_json(model: CheckoutSessionCreate | PayoutCreate) -> dict[str, Any]:
    return model.model_dump(exclude_none=True)


def session_from_json(raw: Any) -> CheckoutSession:
    try:
        return CheckoutSession.model_validate(raw)
    except ValidationError as exc:
        raise _unreadable(exc) from None


def payout_from_json(raw: Any) -> Payout:
    try:
        return Payout.model_validate(raw)
    except ValidationError as exc:
        raise _unreadable(exc) from None


def _check_reference(found: str | None, reference: str) -> None:
    if found and found != reference:
        raise InvalidRequest(
            "Cette référence Wave appartient à un autre paiement.",
            "This Wave reference belongs to another payment.",
            provider=PROVIDER,
            code="provider_reference_mismatch",
        )


def payment_from_session(raw: dict[str, Any], reference: str) -> ProviderPayment:
    session = session_from_json(raw)
    _check_reference(session.client_reference, reference)
    status, failure = session_state(session)
    return ProviderPayment(
        provider_reference=session.id,
        reference=reference,
        status=status,
        amount=amount_from_wire(session.amount, session.currency) or 0,
        currency=session.currency,
        kind=PaymentKind.COLLECTION,
        failure=failure,
        provider_status=session_word(session),
        raw=raw,
        payment_url=session.wave_launch_url or None,
        payment_url_expires_at=expiry_from_wire(session.when_expires),
    )


def expiry_from_wire(value: str | None) -> datetime | None:
    """Wave's ``when_expires`` (ISO 8601, ``Z``) as an aware datetime; unreadable reads as unknown, never fails
    the payment: the payment's own expiry still applies."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def payment_from_payout(raw: dict[str, Any], reference: str) -> ProviderPayment:
    payout = payout_from_json(raw)
    _check_reference(payout.client_reference, reference)
    status = PAYOUT_STATUS_MAP.get(payout.status.strip().lower(), PaymentStatus.PENDING)
    failure = None
    if status is PaymentStatus.FAILED:
        code = payout.payout_error.error_code if payout.payout_error else None
        failure = failure_from_code(code, PaymentKind.PAYOUT)
    elif status is PaymentStatus.CANCELLED:
        failure = FailureReason.CANCELLED
    return ProviderPayment(
        provider_reference=payout.id,
        reference=reference,
        status=status,
        amount=amount_from_wire(payout.receive_amount, payout.currency) or 0,
        currency=payout.currency,
        kind=PaymentKind.PAYOUT,
        failure=failure,
        fee=amount_from_wire(payout.fee, payout.currency),
        provider_status=payout.status,
        raw=raw,
    )


def search_results(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """Wave's search answers ``{"result": [...]}`` (a bare list is accepted too)."""
    result = raw.get("result", raw.get("value"))
    return [item for item in result if isinstance(item, dict)] if isinstance(result, list) else []


def event_from_wire(raw_body: bytes) -> CallbackEvent:
    """A verified Wave event in Cauri's words.

    ``checkout.session.completed`` is the payment; ``checkout.session.payment_failed`` is a failed *attempt*: the
    session stays open and the payer may try again, so it is reported **pending** (the failure rides along in
    ``failure``); the status query settles it (and expires the session it reports failed).
    """
    try:
        raw = json.loads(raw_body)
        event = WebhookEvent.model_validate(raw)
    except (ValueError, ValidationError) as exc:
        raise _unreadable(exc) from None
    if event.type.startswith("checkout.session."):
        session = session_from_json(event.data)
        status, failure = session_state(session)
        if event.type == "checkout.session.payment_failed" and status is PaymentStatus.FAILED:
            status = PaymentStatus.PENDING
        return CallbackEvent(
            event_id=event.id,
            provider_reference=session.id,
            reference=session.client_reference,
            kind=PaymentKind.COLLECTION,
            status=status,
            amount=amount_from_wire(session.amount, session.currency),
            currency=session.currency,
            failure=failure,
            signed=True,
            raw=raw,
        )
    # merchant.payment_received, b2b.payment_*: money that reached the account without a Cauri request.
    data = event.data
    currency = str(data.get("currency") or "") or None
    amount_field = data.get("amount") or data.get("receive_amount")
    failed = event.type.endswith("_failed")
    return CallbackEvent(
        event_id=event.id,
        provider_reference=str(data.get("id") or event.id),
        reference=data.get("client_reference") if isinstance(data.get("client_reference"), str) else None,
        kind=PaymentKind.COLLECTION,
        status=PaymentStatus.FAILED if failed else PaymentStatus.SUCCEEDED,
        amount=amount_from_wire(str(amount_field), currency) if currency and amount_field is not None else None,
        currency=currency,
        failure=FailureReason.PROVIDER_ERROR if failed else None,
        signed=True,
        raw=raw,
    )


def error_from_response(response: httpx.Response) -> ConnectorError | None:
    """Wave's ``{code, message}`` error answers -> the precise error; None: the defaults."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    # Validation errors are ``{code, message}``; an execution error is ``{error_code, error_message}`` (Wave's docs).
    code = str(body.get("code") or body.get("error_code") or "") or None
    message = str(body.get("message") or body.get("error_message") or "")
    common: dict[str, Any] = {"provider": PROVIDER, "provider_code": code}
    if response.status_code in (401, 403):
        return AuthError(**common)
    if response.status_code == 404:
        return PaymentNotFound(**common)
    if response.status_code in (400, 409, 422) and code is not None:
        suffix = f" ({message})" if message else ""
        return InvalidRequest(
            f"Requête refusée par Wave : {code}{suffix}.", f"Request refused by Wave: {code}{suffix}.", **common
        )
    return None


def _unreadable(exc: Exception) -> ConnectorError:
    return unreadable_answer(PROVIDER, exc)
