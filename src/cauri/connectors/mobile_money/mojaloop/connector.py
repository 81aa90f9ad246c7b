"""Mojaloop through the SDK scheme adapter's outbound API: party lookup, transfers, bulk transfers.

Cauri is the **payer DFSP's backend**: it sends money (payouts) to any party in the scheme; collections are not
offered (Mojaloop's request-to-pay is out of scope). Flows:

* :meth:`MojaloopConnector.lookup_party` / ``account_holder``: ``GET /parties/{Type}/{ID}`` -> the holder's name.
* ``payout``: ``POST /transfers`` with our reference as ``homeTransactionId`` and ``transferId`` =
  UUIDv5(reference). When the SDK runs without auto-accept it stops at ``WAITING_FOR_PARTY_ACCEPTANCE`` then
  ``WAITING_FOR_QUOTE_ACCEPTANCE``; the connector continues with ``PUT /transfers/{id}`` ``{acceptParty: true}``
  and ``{acceptQuote: true}`` when the quote's fee is within ``max_fee`` (else ``{acceptQuote: false}``: the
  transfer is cancelled). :meth:`start_transfer`, :meth:`accept_party`, :meth:`accept_quote` let a person decide.
* ``payout_status``: ``GET /transfers/{transferId}``; works with our reference alone (the id is derived from it).
* :meth:`bulk_transfer`: ``POST /bulkTransactions`` (1 to 1000 transfers; ``bulkTransactionId`` =
  UUIDv5(batch reference)), results by the SDK's ``PUT /bulkTransactions/{id}`` callback
  (:meth:`parse_bulk_callback`) and :meth:`bulk_status`.

Configurable because the public facts stop short (docs/providers/mojaloop.md):

* ``send_transfer_id`` (default on): the SDK keeps a ``transferId`` given in ``POST /transfers`` (its model only
  creates one when absent), which makes status-by-reference and safe resends possible. An SDK that ignores it
  still works, but then a create is never retried after a 5xx and a timeout leaves the payment to reconcile.
* ``bulk_status_path`` (default ``/bulkTransactions/{id}``): the outbound API documents no bulk status query.
* ``payer_id_type`` / ``payer_id_value``: the ``from`` party (the DFSP's own account for disbursements).
* ``api_token``: the outbound API is usually unauthenticated on a private network; a bearer token if a gateway
  fronts it. ``callback_token``: a bearer token the backend expects on the SDK's bulk callbacks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import SecretStr

from cauri.connectors.base import (
    AccountHolder,
    AmountLimits,
    BulkPayoutItem,
    BulkPayoutLine,
    BulkPayoutResult,
    Capability,
    PaymentConnector,
    PaymentStatus,
    PayoutRequest,
    ProviderPayment,
    _check_money,
    _check_phone,
    _check_reference,
    check_bulk_size,
)
from cauri.connectors.mobile_money.mojaloop import transformers, webhooks
from cauri.connectors.mobile_money.mojaloop.client import MojaloopHttp
from cauri.connectors.mobile_money.mojaloop.simulator import MAX_BULK_ITEMS, MOJALOOP_CURRENCIES
from cauri.connectors.mobile_money.mojaloop.transformers import BulkPhase, Party, Quote
from cauri.kit.auth import AuthStrategy, BearerToken, NoAuth
from cauri.kit.errors import Declined, FailureReason, InvalidRequest
from cauri.kit.http import HttpPolicy

MAX_ACCEPTANCE_STEPS = 3


@dataclass(frozen=True, slots=True)
class TransferState:
    """Where a single transfer stands at the SDK: the payment in Cauri's words plus what awaits a decision."""

    transfer_id: str
    current_state: str
    payment: ProviderPayment
    party: Party | None = None
    quote: Quote | None = None

    @property
    def waiting_for(self) -> str | None:
        """``"party"`` or ``"quote"`` when the SDK waits for our acceptance, else None."""
        return {"WAITING_FOR_PARTY_ACCEPTANCE": "party", "WAITING_FOR_QUOTE_ACCEPTANCE": "quote"}.get(
            self.current_state
        )


@dataclass(frozen=True, slots=True)
class BulkItem:
    """One line of a bulk transfer. ``reference`` is ours (``homeTransactionId``), unique, chosen before any call.

    ``party_id`` is E.164 for ``MSISDN`` (the default), else the identifier as the scheme knows it.
    """

    reference: str
    amount: int
    currency: str
    party_id: str
    party_id_type: str = "MSISDN"
    note: str = ""

    def __post_init__(self) -> None:
        _check_reference(self.reference)
        _check_money(self.amount, self.currency)
        if self.party_id_type == "MSISDN":
            _check_phone(self.party_id, "payee")
        elif not self.party_id:
            raise InvalidRequest("Identifiant du bénéficiaire manquant.", "Missing payee identifier.")


@dataclass(frozen=True, slots=True)
class BulkItemResult:
    reference: str
    status: PaymentStatus
    transfer_id: str | None
    transaction_id: str | None
    amount: int | None
    currency: str | None
    failure: FailureReason | None = None
    error_code: str | None = None
    party: Party | None = None
    quote: Quote | None = None


@dataclass(frozen=True, slots=True)
class BulkResult:
    """A bulk transfer's per-transfer results, from the SDK's callback or a status query (``signed=False``)."""

    bulk_id: str
    reference: str | None  # our batch reference (bulkHomeTransactionID)
    phase: BulkPhase
    state: str | None  # the SDK's currentState
    items: tuple[BulkItemResult, ...]
    raw: Mapping[str, Any] = field(default_factory=dict)
    signed: bool = False

    @property
    def complete(self) -> bool:
        return self.phase is BulkPhase.RESULT and all(item.status.is_final for item in self.items)

    def count(self, status: PaymentStatus) -> int:
        return sum(1 for item in self.items if item.status is status)


@dataclass(frozen=True, slots=True)
class BulkSubmission:
    bulk_id: str
    reference: str
    items: int


class MojaloopConnector(PaymentConnector):
    name = "mojaloop"
    capabilities = frozenset(
        {Capability.PAYOUT, Capability.PAYOUT_STATUS, Capability.ACCOUNT_HOLDER, Capability.BULK_PAYOUT}
    )
    currencies = MOJALOOP_CURRENCIES
    amount_limits: ClassVar[Mapping[str, AmountLimits]] = {}
    callbacks_signed = False
    idempotent_creates = True  # transferId / bulkTransactionId are ours: a resend is recognised by the switch
    status_by_reference = True
    max_bulk_lines = MAX_BULK_ITEMS

    def __init__(
        self,
        *,
        base_url: str,
        payer_id_value: str,
        payer_id_type: str = "MSISDN",
        payer_name: str | None = None,
        api_token: SecretStr | None = None,
        callback_token: SecretStr | None = None,
        max_fee: int = 0,
        send_transfer_id: bool = True,
        bulk_status_path: str = "/bulkTransactions/{id}",
        policy: HttpPolicy | None = None,
    ) -> None:
        auth: AuthStrategy = BearerToken(api_token) if api_token is not None else NoAuth()
        self.client = MojaloopHttp(base_url=base_url, auth=auth, policy=policy)
        self.payer: dict[str, str] = {"idType": payer_id_type, "idValue": payer_id_value}
        if payer_name:
            self.payer["displayName"] = payer_name
        self.callback_token = callback_token
        self.max_fee = max_fee
        self.send_transfer_id = send_transfer_id
        self.bulk_status_path = bulk_status_path

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- parties -----------------------------------------------------------------------------------------------

    async def lookup_party(self, id_type: str, id_value: str) -> Party | None:
        """The account holder behind an identifier (MSISDN in E.164, or any scheme id type); None: no such party."""
        wire_value = transformers.msisdn_to_wire(id_value) if id_type == "MSISDN" else id_value
        try:
            status, raw = await self.client.get_party(id_type, wire_value)
        except Declined as error:
            if error.reason is FailureReason.PAYEE_NOT_FOUND:
                return None
            raise
        if status == 404 or transformers.error_code_of(raw) is not None or raw.get("currentState") == "ERROR_OCCURRED":
            code = transformers.error_code_of(raw)
            if status == 404 or code is None or transformers.failure_from_code(code) is FailureReason.PAYEE_NOT_FOUND:
                return None
            raise transformers.error_for_code(code) or transformers.unreadable(f"party lookup error {code}")
        party = raw.get("party")
        body = party.get("body") if isinstance(party, Mapping) and isinstance(party.get("body"), Mapping) else party
        if not isinstance(body, Mapping):
            raise transformers.unreadable("party lookup without party")
        return transformers.party_from_wire(body, id_type, wire_value)

    async def _account_holder(self, phone: str) -> AccountHolder:
        party = await self.lookup_party("MSISDN", phone)
        return AccountHolder(active=False) if party is None else AccountHolder(active=True, name=party.name)

    # -- single transfers --------------------------------------------------------------------------------------

    def _state(self, raw: Mapping[str, Any], reference: str | None = None) -> TransferState:
        payment = transformers.payment_from_wire(raw, reference=reference)
        return TransferState(
            transfer_id=payment.provider_reference,
            current_state=str(raw.get("currentState") or ""),
            payment=payment,
            party=transformers.party_of_transfer(raw),
            quote=transformers.quote_from_wire(raw),
        )

    async def start_transfer(self, request: PayoutRequest) -> TransferState:
        """``POST /transfers`` without continuing: it may wait for :meth:`accept_party` / :meth:`accept_quote`."""
        self.require(Capability.PAYOUT)
        self.check_amount(request.amount, request.currency)
        body = transformers.transfer_to_wire(request, self.payer, send_transfer_id=self.send_transfer_id)
        raw = await self.client.post_transfer(body, idempotent=self.send_transfer_id)
        return self._state(raw, request.reference)

    async def accept_party(self, transfer_id: str, accept: bool = True) -> TransferState:
        return self._state(await self.client.put_transfer(transfer_id, {"acceptParty": accept}))

    async def accept_quote(self, transfer_id: str, accept: bool = True) -> TransferState:
        return self._state(await self.client.put_transfer(transfer_id, {"acceptQuote": accept}))

    def quote_acceptable(self, state: TransferState, request_amount: int) -> bool:
        """Our acceptance policy: the amount leaving our position exceeds the payout by at most ``max_fee``."""
        quote = state.quote
        return quote is not None and quote.transfer_amount - request_amount <= self.max_fee

    async def _payout(self, request: PayoutRequest) -> ProviderPayment:
        state = await self.start_transfer(request)
        for _ in range(MAX_ACCEPTANCE_STEPS):
            if state.waiting_for == "party":
                state = await self.accept_party(state.transfer_id, state.party is not None)
            elif state.waiting_for == "quote":
                state = await self.accept_quote(state.transfer_id, self.quote_acceptable(state, request.amount))
            else:
                break
        return state.payment

    async def _payout_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        transfer_id = provider_reference or transformers.transfer_id_for(reference)
        return transformers.payment_from_wire(await self.client.get_transfer(transfer_id), reference=reference)

    # -- bulk ----------------------------------------------------------------------------------------------------

    async def bulk_transfer(
        self,
        reference: str,
        items: Sequence[BulkItem],
        *,
        auto_accept_party: bool = True,
        auto_accept_quote: bool = True,
        skip_party_lookup: bool = False,
        expiration: datetime | None = None,
    ) -> BulkSubmission:
        """Submit up to 1000 transfers at once (``POST /bulkTransactions``); results come by callback or status.

        Idempotent: the same ``reference`` and items resubmitted is recognised (no second payment); the same
        reference with other items is refused (``InvalidRequest``, Mojaloop ``3106``).
        """
        _check_reference(reference)
        check_bulk_size(self.name, [item.reference for item in items], MAX_BULK_ITEMS)
        for item in items:
            self.check_amount(item.amount, item.currency)
        bulk_id = transformers.bulk_id_for(reference)
        expiration = expiration or (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
        body = {
            "bulkHomeTransactionID": reference,
            "bulkTransactionId": bulk_id,
            "from": {"partyIdInfo": {"partyIdType": self.payer["idType"], "partyIdentifier": self.payer["idValue"]}},
            "options": {
                "onlyValidateParty": False,
                "autoAcceptParty": {"enabled": auto_accept_party},
                "autoAcceptQuote": {"enabled": auto_accept_quote},
                "skipPartyLookup": skip_party_lookup,
                "synchronous": False,
                "bulkExpiration": expiration.isoformat().replace("+00:00", "Z"),
            },
            "individualTransfers": [self._bulk_line(item) for item in items],
        }
        await self.client.post_bulk(body)
        return BulkSubmission(bulk_id=bulk_id, reference=reference, items=len(items))

    @staticmethod
    def _bulk_line(item: BulkItem) -> dict[str, Any]:
        party_id = transformers.msisdn_to_wire(item.party_id) if item.party_id_type == "MSISDN" else item.party_id
        line: dict[str, Any] = {
            "homeTransactionId": item.reference,
            "to": {"partyIdInfo": {"partyIdType": item.party_id_type, "partyIdentifier": party_id}},
            "amountType": "SEND",
            "currency": item.currency,
            "amount": transformers.amount_to_wire(item.amount, item.currency),
        }
        if item.note:
            line["note"] = item.note[:128]
        return line

    async def bulk_status(self, reference: str) -> BulkResult:
        """The bulk's current results, by our batch reference (``bulk_status_path``, see the module docstring)."""
        raw = await self.client.get_bulk(self.bulk_status_path, transformers.bulk_id_for(reference))
        return self._bulk_result(raw)

    async def _bulk_payout(self, reference: str, lines: Sequence[BulkPayoutLine]) -> None:
        items = [BulkItem(line.reference, line.amount, line.currency, line.payee_phone) for line in lines]
        await self.bulk_transfer(reference, items)

    async def _bulk_payout_status(self, reference: str) -> BulkPayoutResult:
        result = await self.bulk_status(reference)
        return BulkPayoutResult(
            reference=reference,
            state=result.state,
            items=tuple(
                BulkPayoutItem(
                    reference=item.reference,
                    status=item.status,
                    provider_reference=item.transfer_id,
                    provider_status=item.error_code,
                    failure=item.failure,
                )
                for item in result.items
            ),
        )

    async def bulk_accept_parties(self, bulk_id: str, decisions: Mapping[str, bool]) -> None:
        """Answer an ``ACCEPT_PARTY`` callback: ``{transactionId: accept}`` for each line (missing: rejected)."""
        await self.client.put_bulk(
            bulk_id, {"individualTransfers": [{"transactionId": k, "acceptParty": v} for k, v in decisions.items()]}
        )

    async def bulk_accept_quotes(self, bulk_id: str, decisions: Mapping[str, bool]) -> None:
        await self.client.put_bulk(
            bulk_id, {"individualTransfers": [{"transactionId": k, "acceptQuote": v} for k, v in decisions.items()]}
        )

    def parse_bulk_callback(self, headers: Mapping[str, str], raw_body: bytes) -> BulkResult:
        """Read the SDK's ``PUT /bulkTransactions/{id}``; unsigned: confirm with :meth:`bulk_status` before paying."""
        webhooks.verify_shared_token(self.callback_token.get_secret_value() if self.callback_token else None, headers)
        return self._bulk_result(webhooks.load_callback(raw_body))

    def _bulk_result(self, raw: Mapping[str, Any]) -> BulkResult:
        items = []
        for line in raw.get("individualTransferResults") or []:
            if not isinstance(line, Mapping):
                continue
            status, failure = transformers.transfer_status(line)
            currency = str(line["currency"]) if line.get("currency") else None
            to = line.get("to")
            items.append(
                BulkItemResult(
                    reference=str(line.get("homeTransactionId") or ""),
                    status=status,
                    transfer_id=str(line["transferId"]) if line.get("transferId") else None,
                    transaction_id=str(line["transactionId"]) if line.get("transactionId") else None,
                    amount=transformers.amount_from_wire(line["amount"], currency)
                    if currency and line.get("amount") is not None
                    else None,
                    currency=currency,
                    failure=failure if status.is_final and status is not PaymentStatus.SUCCEEDED else None,
                    error_code=transformers.error_code_of(line),
                    party=transformers.party_from_wire(to) if isinstance(to, Mapping) else None,
                    quote=transformers.quote_from_wire({"quoteResponse": line.get("quoteResponse")}),
                )
            )
        return BulkResult(
            bulk_id=str(raw.get("bulkTransactionId") or ""),
            reference=str(raw["bulkHomeTransactionID"]) if raw.get("bulkHomeTransactionID") else None,
            phase=transformers.bulk_phase_of(raw),
            state=str(raw["currentState"]) if raw.get("currentState") else None,
            items=tuple(items),
            raw=dict(raw),
        )
