"""FedaPay wire format <-> Cauri's domain: the status maps, error codes, amounts, modes, wrapped answers.

FedaPay wraps objects in their type: ``{"v1/transaction": {...}}``, ``{"v1/payout": {...}}``. Amounts are integers
in the currency's unit (XOF has no decimals). Transaction statuses: ``pending``, ``approved``, ``declined``,
``canceled``, ``refunded``, ``transferred`` and the ``…_partially_refunded`` forms (the SDKs' ``PAID_STATUS``);
``expired`` is accepted too (?, see the docs page). Payout statuses: ``pending``, ``scheduled``, ``started``,
``sent``, ``failed`` (fedapay-node ``test/PayoutTest.ts``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from cauri.connectors.base import (
    CallbackEvent,
    CollectRequest,
    PaymentKind,
    PaymentStatus,
    PayoutRequest,
    ProviderPayment,
)
from cauri.connectors.mobile_money.fedapay.schemas import (
    BalancesAnswer,
    CurrenciesAnswer,
    Payout,
    PayoutAnswer,
    PayoutsAnswer,
    TokenAnswer,
    Transaction,
    TransactionAnswer,
    WebhookEvent,
)
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
    "approved_partially_refunded": PaymentStatus.SUCCEEDED,
    "transferred_partially_refunded": PaymentStatus.SUCCEEDED,
    "expired": PaymentStatus.EXPIRED,
}
PAYOUT_STATUS_MAP: dict[str, PaymentStatus] = {
    "pending": PaymentStatus.PENDING,
    "scheduled": PaymentStatus.PENDING,
    "started": PaymentStatus.PENDING,
    "processing": PaymentStatus.PENDING,
    "sent": PaymentStatus.SUCCEEDED,
    "failed": PaymentStatus.FAILED,
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
# Redirect-less payment modes (``POST /v1/{mode} {token, phone_number}``) by country and operator (the carrier name
# of the numbering plan, lower case). The names are FedaPay's current ones (fedapay-node ``src/Transaction.ts``
# ``AVAILABLE_MOBILE_MONEY`` and FedaPay's payment-methods page); Free Money Senegal is ``free_sn`` (its numbers
# now read "Yas" in the numbering plan), Celtiis (SBIN) in Benin ``sbin``.
MODES: dict[tuple[str, str], str] = {
    ("BJ", "mtn"): "mtn_open",
    ("BJ", "moov"): "moov",
    ("BJ", "celtiis"): "sbin",
    ("CI", "mtn"): "mtn_open_ci",
    ("TG", "moov"): "moov_tg",
    ("TG", "togo telecom"): "togocel",
    ("TG", "togocel"): "togocel",
    ("SN", "free"): "free_sn",
    ("SN", "yas"): "free_sn",
    ("NE", "airtel"): "airtel_ne",
    ("GN", "mtn"): "mtn_open_gn",
    ("GN", "areeba"): "mtn_open_gn",
}
# Every mode FedaPay's SDKs and docs name (``metadata["fedapay_mode"]`` or ``default_mode`` may pick any): the
# older ``mtn`` and ``mtn_ci`` are still accepted; ``wave_direct_ci`` (Wave CI) and ``mtn_ecw`` have no number
# range of their own, so they are chosen explicitly.
KNOWN_MODES = frozenset(
    {
        *MODES.values(),
        "mtn",
        "mtn_ci",
        "mtn_ecw",
        "wave_direct_ci",
    }
)


def status_from_wire(word: object) -> PaymentStatus:
    return STATUS_MAP.get(str(word or "").lower(), PaymentStatus.PENDING)


def payout_status_from_wire(word: object) -> PaymentStatus:
    return PAYOUT_STATUS_MAP.get(str(word or "").lower(), PaymentStatus.PENDING)


def failure_from_wire(
    code: object, status: PaymentStatus, kind: PaymentKind = PaymentKind.COLLECTION
) -> FailureReason | None:
    if status is PaymentStatus.CANCELLED:
        return FailureReason.CANCELLED
    if status is PaymentStatus.EXPIRED:
        return FailureReason.EXPIRED
    if status is not PaymentStatus.FAILED:
        return None
    reason = ERROR_CODES.get(str(code or ""), FailureReason.PROVIDER_ERROR)
    if kind is PaymentKind.PAYOUT and reason is FailureReason.PAYER_NOT_FOUND:
        return FailureReason.PAYEE_NOT_FOUND
    return reason


def mode_for(phone: str, default: str | None = None) -> str:
    """The redirect-less mode for a payer's number (its country and operator), else ``default``."""
    try:
        info = parse_phone(phone, field="payer_phone")
    except Exception:
        info = None
    if info is not None and info.carrier:
        carrier = info.carrier.strip().lower()
        for (country, operator), mode in MODES.items():
            if info.region == country and (carrier == operator or carrier.startswith(operator)):
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


def phone_to_wire(phone: str, country: str) -> dict[str, str]:
    """FedaPay's ``phone_number`` object: ``{number, country}`` (the SDK examples send the ISO code lower case)."""
    return {"number": phone, "country": country.lower()}


def _customer(metadata: Mapping[str, str], phone: str, country: str, default_name: str) -> dict[str, Any]:
    names = (metadata.get("payer_name") or metadata.get("payee_name") or default_name).split(" ", 1)
    return {
        "firstname": names[0],
        "lastname": names[1] if len(names) > 1 else names[0],
        "email": metadata.get("payer_email") or None,
        "phone_number": phone_to_wire(phone, country),
    }


def collect_to_wire(request: CollectRequest, *, country: str) -> dict[str, Any]:
    """The create body. FedaPay takes a transaction without a customer too (the push then names the phone); we
    send the customer so the transaction shows who pays in FedaPay's dashboard."""
    return {
        "description": request.description or f"Paiement {request.reference}",
        "amount": amount_to_wire(request.amount, request.currency),
        "currency": {"iso": request.currency},
        "callback_url": request.callback_url,
        "merchant_reference": request.reference,
        # Our reference last: the caller's metadata may carry a ``cauri_reference`` of its own (the payments flow
        # puts the merchant's reference there), and events are matched to payments by ours.
        "custom_metadata": {**dict(request.metadata), "cauri_reference": request.reference},
        "customer": _customer(request.metadata, request.payer_phone, country, "Client Cauri"),
    }


def payout_to_wire(request: PayoutRequest, *, country: str, mode: str) -> dict[str, Any]:
    """``POST /v1/payouts``: amount, currency, mode and the payee as the customer (FedaPay's payouts guide)."""
    metadata = {**dict(request.metadata), "payee_name": request.payee_name or ""}
    return {
        "description": request.description or f"Paiement {request.reference}",
        "amount": amount_to_wire(request.amount, request.currency),
        "currency": {"iso": request.currency},
        "mode": mode,
        "merchant_reference": request.reference,
        "custom_metadata": {**dict(request.metadata), "cauri_reference": request.reference},
        "customer": _customer(
            {k: v for k, v in metadata.items() if v}, request.payee_phone, country, "Bénéficiaire Cauri"
        ),
    }


def reference_of(item: Transaction | Payout) -> str | None:
    metadata = item.custom_metadata or {}
    if metadata.get("cauri_reference"):
        return str(metadata["cauri_reference"])
    return item.merchant_reference or None


def payment_from_wire(raw: Mapping[str, Any], *, reference: str | None = None) -> ProviderPayment:
    """A transaction answer (wrapped or bare); another shape is an unreadable answer, never a success."""
    return _payment(read_wire(TransactionAnswer, raw, PROVIDER).transaction, raw, reference=reference)


def payout_from_wire(raw: Mapping[str, Any], *, reference: str | None = None) -> ProviderPayment:
    """``{"v1/payout": {...}}``; another shape is unreadable."""
    return _payout(read_wire(PayoutAnswer, raw, PROVIDER).payout, raw, reference=reference)


def started_from_wire(raw: Mapping[str, Any], payout_id: str, *, reference: str) -> ProviderPayment:
    """``PUT /v1/payouts/start``'s answer: the started payout among ``"v1/payouts"``."""
    answer = read_wire(PayoutsAnswer, raw, PROVIDER)
    for payout in answer.payouts:
        if str(payout.id) == payout_id:
            return _payout(payout, {"v1/payout": payout.model_dump(mode="json", by_alias=True)}, reference=reference)
    raise unreadable(f"payout {payout_id} missing from the start answer")


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


def _payout(payout: Payout, raw: Mapping[str, Any], *, reference: str | None = None) -> ProviderPayment:
    status = payout_status_from_wire(payout.status)
    return ProviderPayment(
        provider_reference=str(payout.id),
        reference=reference_of(payout) or reference or "",
        status=status,
        amount=payout.amount,
        currency=payout.currency_iso,
        kind=PaymentKind.PAYOUT,
        failure=failure_from_wire(payout.last_error_code, status, PaymentKind.PAYOUT),
        provider_status=payout.status or None,
        raw=dict(raw),
    )


def balance_from_wire(raw: Mapping[str, Any], currencies: Mapping[int, str], currency: str) -> int:
    """The sum of the account's balances (one per mode) in ``currency``."""
    answer = read_wire(BalancesAnswer, raw, PROVIDER)
    return sum(b.amount for b in answer.balances if currencies.get(b.currency_id or 0) == currency)


def currencies_from_wire(raw: Mapping[str, Any]) -> dict[int, str]:
    answer = read_wire(CurrenciesAnswer, raw, PROVIDER)
    return {c.id: c.iso for c in answer.currencies if c.id is not None}


def token_from_wire(raw: Mapping[str, Any]) -> TokenAnswer:
    return read_wire(TokenAnswer, raw, PROVIDER)


def event_from_wire(raw_body: bytes, *, signed: bool) -> CallbackEvent:
    """``transaction.*`` events settle collections, ``payout.*`` events payouts (the entity's ``klass`` says too)."""
    try:
        body = json.loads(raw_body)
    except ValueError:
        raise unreadable("webhook is not JSON") from None
    event = read_wire(WebhookEvent, body, PROVIDER)
    is_payout = str(event.name or "").startswith("payout.") or event.entity.klass == "v1/payout"
    if is_payout:
        payout = read_wire(Payout, body["entity"], PROVIDER)
        payment = _payout(payout, body["entity"])
    else:
        payment = _payment(event.entity, body["entity"])
    event_id = str(event.id or f"{event.name}:{payment.provider_reference}")
    return CallbackEvent(
        event_id=event_id,
        provider_reference=payment.provider_reference,
        reference=payment.reference or None,
        kind=payment.kind,
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
