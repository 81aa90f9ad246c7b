"""Moov Money (Flooz) SOAP results <-> Cauri's domain: status codes, operations, amounts, numbers, faults.

Known: status ``0`` = success, ``100`` = pending. The other codes are not published (?): the map below is what the
simulator speaks and is easy to extend; a code it does not know is **pending**, never a success nor a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from cauri.connectors.base import AccountHolder, PaymentKind, PaymentStatus, ProviderPayment
from cauri.connectors.mobile_money.moov import soap
from cauri.connectors.mobile_money.moov.schemas import AccountResult, BalanceResult, TransactionResult
from cauri.kit.errors import (
    AuthError,
    ConnectorError,
    Declined,
    FailureReason,
    InvalidRequest,
    read_wire,
    unreadable_answer,
)

PROVIDER = "moov"
SUCCESS, PENDING = "0", "100"
# Final failure codes (?) -> reasons; "11" is the payee for a transfer.
FAILURE_CODES: dict[str, FailureReason] = {
    "10": FailureReason.INSUFFICIENT_FUNDS,
    "11": FailureReason.PAYER_NOT_FOUND,
    "12": FailureReason.LIMIT_REACHED,
    "13": FailureReason.NOT_ALLOWED,
    "14": FailureReason.REJECTED_BY_PAYER,
    "15": FailureReason.ACCOUNT_INACTIVE,
    "16": FailureReason.EXPIRED,
    "99": FailureReason.PROVIDER_ERROR,
}
INVALID_CODES = frozenset({"20", "21"})  # bad amount, bad number format (?)
# WSDL operation names (only ``PushWithPending`` is confirmed publicly; the others are configurable).
DEFAULT_OPERATIONS: dict[str, str] = {
    "push": "PushWithPending",
    "status": "getTransactionStatus",
    "transfer": "transferFlooz",
    "balance": "getBalance",
    "account": "getMobileAccountStatus",
}
AUTH_WORDS = ("token", "authentication", "unauthorized", "credential")


def status_from_code(code: str | None, kind: PaymentKind) -> tuple[PaymentStatus, FailureReason | None]:
    code = (code or "").strip()
    if code == SUCCESS:
        return PaymentStatus.SUCCEEDED, None
    reason = FAILURE_CODES.get(code)
    if reason is None:
        return PaymentStatus.PENDING, None  # "100" and anything unknown
    if reason is FailureReason.EXPIRED:
        return PaymentStatus.EXPIRED, reason
    if reason is FailureReason.PAYER_NOT_FOUND and kind is PaymentKind.PAYOUT:
        reason = FailureReason.PAYEE_NOT_FOUND
    return PaymentStatus.FAILED, reason


def msisdn_to_wire(e164: str) -> str:
    return e164.removeprefix("+")


def payment_from_result(
    result: Mapping[str, str], *, reference: str, amount: int, currency: str, kind: PaymentKind
) -> ProviderPayment:
    wire = read_wire(TransactionResult, result, PROVIDER)
    status, failure = status_from_code(wire.status, kind)
    provider_reference = wire.referenceid or wire.transid or ""
    if not provider_reference and wire.status is None:
        raise unreadable("result without status nor reference")
    return ProviderPayment(
        provider_reference=provider_reference or reference,
        reference=wire.externaldata1 or reference,
        status=status,
        amount=wire.amount if wire.amount is not None else amount,
        currency=currency,
        kind=kind,
        failure=failure,
        provider_status=wire.status,
        raw=dict(result),
    )


def refusal_at_creation(result: Mapping[str, str], kind: PaymentKind) -> ConnectorError | None:
    """A create answered with a final failure code: nothing was started, say why at once."""
    code = (result.get("status") or "").strip()
    if code in INVALID_CODES:
        return InvalidRequest(
            f"Requête refusée par Moov : {result.get('message') or code}.",
            f"Request refused by Moov: {result.get('message') or code}.",
            provider=PROVIDER,
            provider_code=code,
        )
    status, failure = status_from_code(code, kind)
    if status in (PaymentStatus.FAILED, PaymentStatus.EXPIRED) and failure is not None:
        return Declined(failure, provider=PROVIDER, provider_code=code)
    return None


def error_from_fault(fault: soap.SoapFault) -> ConnectorError | None:
    text = f"{fault.code} {fault.message}".lower()
    if any(word in text for word in AUTH_WORDS):
        return AuthError(provider=PROVIDER, provider_code=fault.code or None)
    return None


def error_from_response(response: httpx.Response) -> ConnectorError | None:
    """A SOAP fault (usually with HTTP 500): a refused token is an :class:`AuthError`; the rest, the defaults."""
    try:
        fault = soap.fault_of(response.content)
    except soap.MalformedXml:
        return None
    return error_from_fault(fault) if fault is not None else None


def unreadable(detail: str) -> ConnectorError:
    return unreadable_answer(PROVIDER, detail)


def balance_from_result(result: Mapping[str, Any]) -> int:
    wire = read_wire(BalanceResult, result, PROVIDER)
    try:
        return int(wire.balance.split(".")[0])
    except ValueError:
        raise unreadable(f"balance {wire.balance!r}") from None


def account_from_result(result: Mapping[str, Any]) -> AccountHolder:
    """An account Moov does not answer ``0`` for is not usable (unknown or refused)."""
    wire = read_wire(AccountResult, result, PROVIDER)
    if wire.status != SUCCESS:
        return AccountHolder(active=False)
    name = " ".join(part for part in (wire.firstname, wire.lastname) if part) or None
    return AccountHolder(active=wire.subscriberstatus.upper() == "ACTIVE", name=name)
