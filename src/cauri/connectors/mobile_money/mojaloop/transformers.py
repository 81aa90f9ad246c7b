"""Mojaloop SDK scheme adapter wire format <-> Cauri's domain: states, error codes, amounts, parties, bulks.

The SDK outbound API answers a transfer with ``currentState`` (``COMPLETED``, ``ERROR_OCCURRED``,
``WAITING_FOR_PARTY_ACCEPTANCE``, ``WAITING_FOR_QUOTE_ACCEPTANCE``, ``ABORTED``, ``RESERVED``…) and, once the switch
answered, ``fulfil.body.transferState`` (``RECEIVED``, ``RESERVED``, ``COMMITTED``, ``ABORTED``). Errors carry a
Mojaloop error code (``lastError.mojaloopError.errorInformation.errorCode``, or ``statusCode`` in an error answer).

Money safety: only a ``COMMITTED`` transfer is a success, and only a Mojaloop verdict (codes 3xxx client errors,
4xxx payer errors, 5xxx payee errors) is a failure. ``ERROR_OCCURRED`` without such a code (a timeout waiting for
the switch, 1xxx/2xxx technical errors) is *pending*: the transfer may still commit; settle it with ``GET``.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx

from cauri.connectors.base import PaymentKind, PaymentStatus, PayoutRequest, ProviderPayment
from cauri.connectors.mobile_money.mojaloop.schemas import TransferState
from cauri.kit.amounts import UnreadableAmount, to_major_units, to_minor_units
from cauri.kit.errors import (
    ConnectorError,
    Declined,
    FailureReason,
    InvalidRequest,
    PaymentNotFound,
    Timeout,
    read_wire,
    unreadable_answer,
)

PROVIDER = "mojaloop"
# Deterministic ids: a retry, another process or a status query after a timeout finds the same transfer.
_ID_NAMESPACE = uuid.UUID("6f1c9a52-51a8-4f0e-9a57-6d6f6a616c6f")


def transfer_id_for(reference: str) -> str:
    """The ``transferId`` Cauri sends for one of its references (UUID v5: stable, unique per reference)."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"transfer:{reference}"))


def bulk_id_for(reference: str) -> str:
    """The ``bulkTransactionId`` of one of Cauri's batch references."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"bulk:{reference}"))


# SDK states -> ours, for the states that say nothing more precise (see :func:`transfer_status`).
STATUS_MAP: dict[str, PaymentStatus] = {
    "COMPLETED": PaymentStatus.SUCCEEDED,
    "WAITING_FOR_PARTY_ACCEPTANCE": PaymentStatus.PENDING,
    "WAITING_FOR_QUOTE_ACCEPTANCE": PaymentStatus.PENDING,
    "RESERVED": PaymentStatus.PENDING,
    "RECEIVED": PaymentStatus.PENDING,
    "ABORTED": PaymentStatus.FAILED,
}
EXPIRY_CODES = frozenset({"3300", "3301", "3302", "3303"})
NOT_FOUND_CODES = frozenset({"3205", "3206", "3207", "3208", "3209", "3210"})  # an id we asked about, not a party

# Mojaloop error codes (FSPIOP API, section 7.6) -> our reasons. Cauri is the payer FSP: "payee" codes are about
# the beneficiary. Codes not listed fall back to their category (:func:`failure_from_code`).
ERROR_REASONS: dict[str, FailureReason] = {
    "2001": FailureReason.PROVIDER_ERROR,
    "3100": FailureReason.PROVIDER_ERROR,
    "3106": FailureReason.DUPLICATE,
    "3200": FailureReason.PAYEE_NOT_FOUND,
    "3201": FailureReason.PROVIDER_ERROR,
    "3202": FailureReason.NOT_ALLOWED,
    "3203": FailureReason.PAYEE_NOT_FOUND,
    "3204": FailureReason.PAYEE_NOT_FOUND,
    "4001": FailureReason.INSUFFICIENT_FUNDS,
    "4100": FailureReason.CANCELLED,
    "4101": FailureReason.CANCELLED,
    "4102": FailureReason.NOT_ALLOWED,
    "4103": FailureReason.INVALID_CURRENCY,
    "5001": FailureReason.PROVIDER_ERROR,
    "5102": FailureReason.NOT_ALLOWED,
    "5106": FailureReason.INVALID_CURRENCY,
}
# Second digit of a 4xxx/5xxx code: 0 generic, 1 rejection, 2 limit, 3 permission, 4 blocked.
_CATEGORY_REASONS: dict[str, FailureReason] = {
    "0": FailureReason.PROVIDER_ERROR,
    "1": FailureReason.NOT_ALLOWED,
    "2": FailureReason.LIMIT_REACHED,
    "3": FailureReason.NOT_ALLOWED,
    "4": FailureReason.ACCOUNT_INACTIVE,
}


def failure_from_code(code: str | None) -> FailureReason:  # noqa: PLR0911 - one answer per code family
    if not code:
        return FailureReason.PROVIDER_ERROR
    if code in ERROR_REASONS:
        return ERROR_REASONS[code]
    if code in EXPIRY_CODES or code.startswith("33"):
        return FailureReason.EXPIRED
    if code.startswith("32"):
        return FailureReason.PAYEE_NOT_FOUND
    if code[:1] in ("4", "5") and len(code) == 4:
        if code[:2] == "41":
            return FailureReason.CANCELLED  # the payer side (us, or our customer) rejected it
        return _CATEGORY_REASONS.get(code[1], FailureReason.PROVIDER_ERROR)
    return FailureReason.PROVIDER_ERROR


def is_verdict(code: str | None) -> bool:
    """A code that settles the outcome (nothing will commit): client, payer and payee errors (3xxx, 4xxx, 5xxx)."""
    return bool(code) and len(code or "") == 4 and (code or "")[0] in "345"


def _obj(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``raw[key]`` when it is an object, else an empty one (wire data is never trusted to have a shape)."""
    value = raw.get(key)
    return value if isinstance(value, Mapping) else {}


def _body(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """The SDK wraps switch messages as ``{body, headers}``; bulk results are flat."""
    body = raw.get("body")
    return body if isinstance(body, Mapping) else raw


# -- amounts and identifiers -------------------------------------------------------------------------------------


def amount_to_wire(amount: int, currency: str) -> str:
    """Minor units -> Mojaloop's amount string (major units, no trailing zeros needed: "1500", "12.5")."""
    return to_major_units(amount, currency, trim=True)


def amount_from_wire(text: object, currency: str) -> int:
    try:
        return to_minor_units(text, currency)
    except UnreadableAmount as exc:
        raise unreadable(str(exc)) from None


def msisdn_to_wire(e164: str) -> str:
    """Mojaloop MSISDNs are digits with the country code and without ``+``."""
    return e164.removeprefix("+")


def msisdn_from_wire(digits: str) -> str:
    return digits if digits.startswith("+") else f"+{digits}"


def condition_of(fulfilment: str) -> str:
    """Condition = base64url(SHA-256(fulfilment bytes)), both base64url without padding (43 characters)."""
    raw = base64.urlsafe_b64decode(fulfilment + "=" * (-len(fulfilment) % 4))
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()).rstrip(b"=").decode()


# -- parties -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Party:
    """An account holder found by a party lookup (``GET /parties/{type}/{id}``)."""

    id_type: str
    id_value: str
    fsp_id: str | None = None
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None


def party_from_wire(raw: Mapping[str, Any], id_type: str = "", id_value: str = "") -> Party:
    """Accepts an FSPIOP ``Party`` (``partyIdInfo``, ``name``, ``personalInfo``) or the SDK's flat ``to`` object."""
    info = raw.get("partyIdInfo") if isinstance(raw.get("partyIdInfo"), Mapping) else None
    complex_name = _obj(_obj(raw, "personalInfo"), "complexName")
    first = raw.get("firstName") or complex_name.get("firstName")
    middle = raw.get("middleName") or complex_name.get("middleName")
    last = raw.get("lastName") or complex_name.get("lastName")
    name = raw.get("name") or raw.get("displayName")
    if not name and (first or last):
        name = " ".join(str(part) for part in (first, middle, last) if part)
    if info is not None:
        id_type = str(info.get("partyIdType") or id_type)
        id_value = str(info.get("partyIdentifier") or id_value)
        fsp_id = info.get("fspId")
    else:
        id_type = str(raw.get("idType") or id_type)
        id_value = str(raw.get("idValue") or id_value)
        fsp_id = raw.get("fspId")
    return Party(
        id_type=id_type,
        id_value=id_value,
        fsp_id=str(fsp_id) if fsp_id else None,
        name=str(name) if name else None,
        first_name=str(first) if first else None,
        last_name=str(last) if last else None,
    )


# -- transfers ---------------------------------------------------------------------------------------------------


def payee_of(request: PayoutRequest) -> dict[str, str]:
    party_type = request.metadata.get("party_id_type", "MSISDN")
    if party_type == "MSISDN":
        return {"idType": "MSISDN", "idValue": msisdn_to_wire(request.payee_phone)}
    return {"idType": party_type, "idValue": request.metadata.get("party_id", msisdn_to_wire(request.payee_phone))}


def transfer_to_wire(request: PayoutRequest, payer: Mapping[str, str], *, send_transfer_id: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "homeTransactionId": request.reference,
        "from": dict(payer),
        "to": payee_of(request),
        "amountType": "SEND",
        "currency": request.currency,
        "amount": amount_to_wire(request.amount, request.currency),
        "transactionType": "TRANSFER",
    }
    if send_transfer_id:
        body["transferId"] = transfer_id_for(request.reference)
    if request.description:
        body["note"] = request.description[:128]
    return body


def error_code_of(raw: Mapping[str, Any]) -> str | None:
    """The Mojaloop error code of a transfer state or an error answer, wherever the SDK put it."""
    candidates: list[Any] = [
        _obj(_obj(_obj(raw, "lastError"), "mojaloopError"), "errorInformation").get("errorCode"),
        _obj(raw, "errorInformation").get("errorCode"),
    ]
    state = _obj(raw, "transferState")
    if state:
        candidates.append(error_code_of(state))
    candidates.append(raw.get("statusCode"))
    for candidate in candidates:
        if candidate is not None and str(candidate).isdigit() and len(str(candidate)) == 4:
            return str(candidate)
    return None


def switch_state_of(raw: Mapping[str, Any]) -> str | None:
    """``fulfil.body.transferState`` (or a flat ``fulfil.transferState`` in bulk results)."""
    state = _body(_obj(raw, "fulfil")).get("transferState")
    return str(state) if state else None


def _fulfilment_checks(raw: Mapping[str, Any]) -> bool:
    """A committed transfer's fulfilment must hash to the quote's condition; absent data is not a mismatch."""
    fulfilment = _body(_obj(raw, "fulfil")).get("fulfilment")
    condition = _body(_obj(raw, "quoteResponse")).get("condition")
    if not fulfilment or not condition:
        return True
    try:
        return condition_of(str(fulfilment)) == str(condition)
    except ValueError:
        return False


def transfer_status(raw: Mapping[str, Any]) -> tuple[PaymentStatus, FailureReason | None]:  # noqa: PLR0911
    """Our status and failure reason for one transfer (single or bulk item). Unknown words are pending."""
    state = str(raw.get("currentState") or "")
    switch_state = switch_state_of(raw)
    code = error_code_of(raw)
    if switch_state == "COMMITTED" or (state == "COMPLETED" and switch_state is None):
        if not _fulfilment_checks(raw):
            return PaymentStatus.PENDING, None  # a fulfilment that does not match its condition proves nothing
        return PaymentStatus.SUCCEEDED, None
    if switch_state == "ABORTED" or state == "ABORTED":
        if code in EXPIRY_CODES:
            return PaymentStatus.EXPIRED, FailureReason.EXPIRED
        return PaymentStatus.FAILED, failure_from_code(code) if code else FailureReason.CANCELLED
    if state == "ERROR_OCCURRED" or (not state and code):
        if not is_verdict(code):
            return PaymentStatus.PENDING, None  # a technical error or timeout: it may still commit
        if code in EXPIRY_CODES:
            return PaymentStatus.EXPIRED, FailureReason.EXPIRED
        return PaymentStatus.FAILED, failure_from_code(code)
    if state == "COMPLETED":
        return PaymentStatus.PENDING, None  # completed by the SDK but the switch says RECEIVED/RESERVED
    return STATUS_MAP.get(state, PaymentStatus.PENDING), None  # waiting for acceptance, reserved, unknown words


def payment_from_wire(raw: Mapping[str, Any], *, reference: str | None = None) -> ProviderPayment:
    wire = read_wire(TransferState, raw, PROVIDER)
    if not wire.transferId or not wire.currency:
        raise unreadable("transfer without transferId or currency")
    status, failure = transfer_status(raw)
    state = wire.currentState
    switch_state = switch_state_of(raw)
    return ProviderPayment(
        provider_reference=wire.transferId,
        reference=wire.homeTransactionId or reference or "",
        status=status,
        amount=amount_from_wire(wire.amount, wire.currency),
        currency=wire.currency,
        kind=PaymentKind.PAYOUT,
        failure=failure if status.is_final and status is not PaymentStatus.SUCCEEDED else None,
        fee=_fee_of(raw, wire.currency),
        provider_status=f"{state}/{switch_state}" if switch_state else (state or None),
        raw=dict(raw),
    )


def _fee_of(raw: Mapping[str, Any], currency: str) -> int | None:
    fee = _body(_obj(raw, "quoteResponse")).get("payeeFspFee")
    if not isinstance(fee, Mapping) or fee.get("currency") != currency:
        return None
    return amount_from_wire(fee.get("amount", "0"), currency)


@dataclass(frozen=True, slots=True)
class Quote:
    """What the payee FSP quoted: the amount leaving our position, the fee, and until when it holds."""

    quote_id: str | None
    transfer_amount: int
    currency: str
    payee_fee: int
    expiration: str | None


def quote_from_wire(raw: Mapping[str, Any]) -> Quote | None:
    body = _body(_obj(raw, "quoteResponse"))
    amount = _obj(body, "transferAmount")
    if not amount:
        return None
    currency = str(amount.get("currency") or "")
    fee = _obj(body, "payeeFspFee")
    return Quote(
        quote_id=str(raw.get("quoteId")) if raw.get("quoteId") else None,
        transfer_amount=amount_from_wire(amount.get("amount"), currency),
        currency=currency,
        payee_fee=amount_from_wire(fee.get("amount", "0"), currency) if fee else 0,
        expiration=str(body.get("expiration")) if body.get("expiration") else None,
    )


def party_of_transfer(raw: Mapping[str, Any]) -> Party | None:
    body = _body(_obj(raw, "getPartiesResponse"))
    party = _obj(body, "party") or body
    if party:
        return party_from_wire(party)
    to = _obj(raw, "to")
    if to.get("fspId") or to.get("displayName") or to.get("firstName"):
        return party_from_wire(to)
    return None


# -- bulk --------------------------------------------------------------------------------------------------------


class BulkPhase(StrEnum):
    """What a bulk callback (``PUT /bulkTransactions/{id}`` to the backend) asks or tells."""

    ACCEPT_PARTY = "accept_party"  # autoAcceptParty off: parties found, accept each to continue
    ACCEPT_QUOTE = "accept_quote"  # autoAcceptQuote off: quotes received, accept each to continue
    RESULT = "result"  # the final per-transfer results
    IN_PROGRESS = "in_progress"  # a status query while it runs


def bulk_phase_of(raw: Mapping[str, Any]) -> BulkPhase:
    if raw.get("currentState"):
        state = str(raw["currentState"])
        return BulkPhase.RESULT if state in ("COMPLETED", "ERROR_OCCURRED") else BulkPhase.IN_PROGRESS
    items = raw.get("individualTransferResults") or []
    if any(isinstance(item, Mapping) and "quoteResponse" in item for item in items):
        return BulkPhase.ACCEPT_QUOTE
    return BulkPhase.ACCEPT_PARTY


# -- errors ------------------------------------------------------------------------------------------------------


def error_from_response(response: httpx.Response) -> ConnectorError | None:
    """The SDK's error answers ``{statusCode, message, transferState}`` -> the precise error; None: defaults."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, Mapping):
        body = {}
    code = error_code_of(body)
    common: dict[str, Any] = {"provider": PROVIDER, "provider_code": code or str(response.status_code)}
    if response.status_code == 504:
        # The SDK gave up waiting for the switch: the transfer may still commit.
        return Timeout(outcome_unknown=response.request.method not in ("GET", "HEAD"), **common)
    if code is None:
        return None
    return error_for_code(code, common)


def error_for_code(code: str, common: dict[str, Any] | None = None) -> ConnectorError | None:
    """The error a Mojaloop code means; None for technical codes (1xxx/2xxx: unavailable, maybe processed)."""
    common = common or {"provider": PROVIDER, "provider_code": code}
    if code in NOT_FOUND_CODES:
        return PaymentNotFound(**common)
    if code.startswith("31"):
        reason = failure_from_code(code)
        return InvalidRequest(
            f"Requête refusée par le commutateur Mojaloop (code {code}).",
            f"Request refused by the Mojaloop switch (code {code}).",
            reason=reason if reason is FailureReason.DUPLICATE else None,
            **common,
        )
    if not is_verdict(code):
        return None  # technical (1xxx/2xxx): unavailable, maybe processed
    reason = failure_from_code(code)
    if reason is FailureReason.INVALID_CURRENCY:
        return InvalidRequest(reason.message_fr, reason.message_en, reason=reason, code=reason.value, **common)
    return Declined(reason, **common)


def unreadable(detail: str) -> ConnectorError:
    return unreadable_answer(PROVIDER, detail)
