"""A Mojaloop SDK scheme adapter (outbound API) with a switch and payee FSPs behind it, on one ASGI app.

What it speaks (JSON; amounts are strings in major units; MSISDNs are digits without ``+``):

* ``GET /parties/{Type}/{ID}`` -> ``{party: {body: Party}, currentState: "COMPLETED"}``; unknown party:
  ``{currentState: "ERROR_OCCURRED", errorInformation: {errorCode: "3204", …}}``
* ``POST /transfers`` -> the transfer (``transferId``, ``currentState``, ``to`` filled in, ``getPartiesResponse``,
  ``quoteResponse`` with a condition, ``fulfil.body`` with ``transferState`` and the fulfilment); refusals are HTTP
  500 ``{statusCode: <Mojaloop code>, message, transferState}``. ``auto_accept_party``/``auto_accept_quote`` off
  (the SDK's ``AUTO_ACCEPT_PARTY``/``AUTO_ACCEPT_QUOTES``) stop at ``WAITING_FOR_PARTY_ACCEPTANCE`` /
  ``WAITING_FOR_QUOTE_ACCEPTANCE``; ``PUT /transfers/{id}`` ``{acceptParty}`` / ``{acceptQuote}`` continues.
  A ``transferId`` sent by the caller is kept; a POST with a known ``transferId`` and the same content is a resend
  (answered again, never paid twice), with other content it is refused (``3106``). ``GET /transfers/{id}``.
* ``POST /bulkTransactions`` (1 to 1000 transfers) -> 202 ``{bulkTransactionId}``; the results go to the backend
  as ``PUT {backend_url}/bulkTransactions/{id}`` (and, with auto-accept off, the parties then the quotes to accept,
  answered by ``PUT /bulkTransactions/{id}`` ``{individualTransfers: [{transactionId, acceptParty|acceptQuote}]}``).
  ``GET /bulkTransactions/{id}`` answers the current results (see the connector's docstring).

Outcomes are chosen by the payee MSISDN's **last three digits** (the sandbox's table, ``docs/providers/mojaloop.md``);
the DFSP's liquidity at the switch (``liquidity``) is debited by every committed transfer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cauri.core.security import constant_time_equal
from cauri.kit.amounts import positive_minor_units, to_major_units
from cauri.kit.outcomes import MAGIC_SUFFIXES, Outcome
from cauri.kit.simulation import KEY_REUSED, Fault, IdempotentReplay, SimulatorBase, SimulatorSettings, fingerprint

MOJALOOP_CURRENCIES = frozenset({"XOF", "XAF", "GNF", "USD", "EUR"})
MAX_BULK_ITEMS = 1000
DEFAULT_LIQUIDITY = 1_000_000_000  # the DFSP's position at the switch, minor units, per currency
MAGIC_PREFIXES: dict[str, str] = {"CI": "+2250700000", "SN": "+221770000", "CM": "+237670000", "BJ": "+229019700"}
_SUFFIX_OF = {outcome: suffix for suffix, outcome in MAGIC_SUFFIXES.items()}
# Failing outcomes -> the Mojaloop error the payee FSP (or the switch) answers.
ERROR_OF: dict[Outcome, tuple[str, str]] = {
    Outcome.NOT_FOUND: ("3204", "Party not found"),
    Outcome.INSUFFICIENT_FUNDS: ("4001", "Payer FSP insufficient liquidity"),
    Outcome.LIMIT_REACHED: ("5200", "Payee limit error"),
    Outcome.NOT_ALLOWED: ("5300", "Payee permission error"),
    Outcome.REJECTED_BY_PAYER: ("5104", "Payee rejected transaction"),
    Outcome.PROVIDER_ERROR: ("5000", "Generic Payee error"),
    Outcome.ACCOUNT_INACTIVE: ("5400", "Generic Payee blocked error"),
}
EXPIRED = ("3303", "Transfer expired")
FIRST_NAMES = ("Awa", "Koffi", "Aminata", "Yao", "Fatou", "Ibrahim", "Mariam", "Kodjo")
LAST_NAMES = ("Diallo", "Mensah", "Traoré", "Kouassi", "Ndiaye", "Ouédraogo", "Coulibaly", "Agbodjan")


def magic_phone(outcome: Outcome, country: str = "CI") -> str:
    """An E.164 number that makes the simulated payee FSP produce ``outcome``."""
    return MAGIC_PREFIXES[country] + _SUFFIX_OF[outcome]


def outcome_for(id_type: str, id_value: str) -> Outcome:
    return MAGIC_SUFFIXES.get(id_value[-3:], Outcome.SUCCESS) if id_type == "MSISDN" else Outcome.SUCCESS


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _major(amount: int, currency: str) -> str:
    return to_major_units(amount, currency, trim=True)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def party_body(id_type: str, id_value: str, fsp_id: str = "payeefsp") -> dict[str, Any]:
    digest = int(hashlib.sha256(id_value.encode()).hexdigest(), 16)
    first, last = FIRST_NAMES[digest % len(FIRST_NAMES)], LAST_NAMES[(digest // 8) % len(LAST_NAMES)]
    return {
        "partyIdInfo": {"partyIdType": id_type, "partyIdentifier": id_value, "fspId": fsp_id},
        "name": f"{first} {last}",
        "personalInfo": {"complexName": {"firstName": first, "lastName": last}},
    }


def _error_block(code: str, description: str, http_status: int = 500) -> dict[str, Any]:
    return {
        "httpStatusCode": http_status,
        "mojaloopError": {"errorInformation": {"errorCode": code, "errorDescription": description}},
    }


@dataclass
class SimTransfer:
    transfer_id: str
    home_id: str
    request: dict[str, Any]
    id_type: str
    id_value: str
    amount: int
    currency: str
    outcome: Outcome
    bulk_id: str | None = None
    transaction_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    state: str = "RECEIVED"  # the SDK's currentState
    switch_state: str | None = None  # fulfil.body.transferState
    party: dict[str, Any] | None = None
    quote_id: str | None = None
    quote: dict[str, Any] | None = None
    fulfilment: str | None = None
    completed_at: str | None = None
    error: tuple[str, str] | None = None
    initiated_at: str = field(default_factory=_now)

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "transferId": self.transfer_id,
            "homeTransactionId": self.home_id,
            "from": self.request.get("from"),
            "to": {"idType": self.id_type, "idValue": self.id_value},
            "amountType": self.request.get("amountType", "SEND"),
            "currency": self.currency,
            "amount": _major(self.amount, self.currency),
            "transactionType": "TRANSFER",
            "currentState": self.state,
            "initiatedTimestamp": self.initiated_at,
        }
        if self.request.get("note"):
            out["note"] = self.request["note"]
        if self.party is not None:
            complex_name = self.party["personalInfo"]["complexName"]
            out["to"].update(
                fspId=self.party["partyIdInfo"]["fspId"],
                displayName=self.party["name"],
                firstName=complex_name["firstName"],
                lastName=complex_name["lastName"],
            )
            out["getPartiesResponse"] = {"body": {"party": self.party}, "headers": {}}
        if self.quote is not None:
            out["quoteId"] = self.quote_id
            out["quoteResponse"] = {"body": self.quote, "headers": {}}
            out["quoteResponseSource"] = "payeefsp"
        if self.switch_state is not None:
            body: dict[str, Any] = {"transferState": self.switch_state}
            if self.switch_state == "COMMITTED":
                body.update(fulfilment=self.fulfilment, completedTimestamp=self.completed_at)
            out["fulfil"] = {"body": body, "headers": {}}
        if self.error is not None:
            out["lastError"] = _error_block(*self.error)
        return out

    def bulk_result(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "transactionId": self.transaction_id,
            "transferId": self.transfer_id,
            "homeTransactionId": self.home_id,
            "to": {"partyIdInfo": {"partyIdType": self.id_type, "partyIdentifier": self.id_value}},
            "amountType": self.request.get("amountType", "SEND"),
            "amount": _major(self.amount, self.currency),
            "currency": self.currency,
        }
        if self.party is not None:
            out["to"] = self.party
        if self.quote is not None:
            out["quoteId"] = self.quote_id
            out["quoteResponse"] = self.quote
        if self.switch_state is not None:
            out["fulfil"] = {"transferState": self.switch_state, "completedTimestamp": self.completed_at}
            if self.fulfilment:
                out["fulfil"]["fulfilment"] = self.fulfilment
        if self.error is not None:
            out["lastError"] = _error_block(*self.error)
        return out


@dataclass
class SimBulk:
    bulk_id: str
    home_id: str
    options: dict[str, Any]
    transfers: list[SimTransfer]
    outcome: Outcome  # bulk-level faults and callback modes: the first transfer's number
    state: str = "RECEIVED"
    decisions: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)


class MojaloopSimulator(SimulatorBase):
    """One DFSP's SDK scheme adapter and the scheme behind it. ``app`` is the ASGI app; below, the test interface."""

    def __init__(
        self,
        *,
        dfsp_id: str = "cauri",
        api_token: str | None = None,
        auto_accept_party: bool = True,
        auto_accept_quote: bool = True,
        backend_url: str | None = None,
        liquidity: int = DEFAULT_LIQUIDITY,
        payee_fee: int = 0,
        settings: SimulatorSettings | None = None,
    ) -> None:
        super().__init__(settings)
        self.dfsp_id = dfsp_id
        self.api_token = api_token
        self.auto_accept_party = auto_accept_party
        self.auto_accept_quote = auto_accept_quote
        self.backend_url = backend_url.rstrip("/") if backend_url else None
        self.payee_fee = payee_fee
        self._liquidity = liquidity
        self.transfers: dict[str, SimTransfer] = {}
        self.by_home: dict[str, list[str]] = {}
        self.bulks: dict[str, SimBulk] = {}
        # transferId / bulkTransactionId -> itself, bound to the content first sent under it
        self.transfer_keys: IdempotentReplay[str] = IdempotentReplay()
        self.bulk_keys: IdempotentReplay[str] = IdempotentReplay()
        self._app = Starlette(routes=self._routes())

    # -- test interface (SimulatedProvider) --------------------------------------------------------------

    def created(self, reference: str) -> int:
        return len(self.by_home.get(reference, ()))

    def collected(self, reference: str) -> int:
        return 0  # the outbound API only sends money

    def paid_out(self, reference: str) -> int:
        return sum(
            self.accounts.moved(f"transfer:{transfer_id}", credit=self.transfers[transfer_id].id_value)
            for transfer_id in self.by_home.get(reference, ())
        )

    def merchant_balance(self, currency: str) -> int:
        return self.accounts.balance("dfsp", currency)

    def transfer_for(self, reference: str) -> SimTransfer | None:
        ids = self.by_home.get(reference)
        return self.transfers[ids[-1]] if ids else None

    def _opening_balance(self, owner: str, currency: str) -> int:
        return self._liquidity if owner == "dfsp" else 0  # a payer DFSP's position; payees start with nothing

    # -- HTTP ------------------------------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        return [
            Route("/", self._health, methods=["GET"]),
            Route("/parties/{type}/{id}", self._get_party, methods=["GET"]),
            Route("/transfers", self._post_transfer, methods=["POST"]),
            Route("/transfers/{id}", self._get_transfer, methods=["GET"]),
            Route("/transfers/{id}", self._put_transfer, methods=["PUT"]),
            Route("/bulkTransactions", self._post_bulk, methods=["POST"]),
            Route("/bulkTransactions/{id}", self._put_bulk, methods=["PUT"]),
            Route("/bulkTransactions/{id}", self._get_bulk, methods=["GET"]),
        ]

    def _authorized(self, request: Request) -> bool:
        if not self.api_token:
            return True  # the SDK's outbound API usually sits on a private network, without auth
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and constant_time_equal(credential, self.api_token)

    @staticmethod
    def _error(
        status: int,
        code: str,
        message: str,
        transfer: SimTransfer | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        body: dict[str, Any] = {"statusCode": code, "message": message}
        if transfer is not None:
            body["transferState"] = transfer.to_wire()
        return JSONResponse(body, status_code=status, headers=headers)

    async def _health(self, _request: Request) -> Response:
        return Response(status_code=200)

    async def _get_party(self, request: Request) -> Response:
        await self._enter("GET /parties")
        if not self._authorized(request):
            return self._error(401, "401", "Unauthorized")
        id_type, id_value = request.path_params["type"], request.path_params["id"]
        if outcome_for(id_type, id_value) is Outcome.NOT_FOUND:
            return JSONResponse(
                {
                    "currentState": "ERROR_OCCURRED",
                    "errorInformation": {"errorCode": "3204", "errorDescription": "Party not found"},
                }
            )
        return JSONResponse(
            {"party": {"body": party_body(id_type, id_value), "headers": {}}, "currentState": "COMPLETED"}
        )

    @staticmethod
    def _parse_transfer(body: Any) -> tuple[str, str, str, int, str] | str:  # noqa: PLR0911 - one answer per field
        """(homeTransactionId, idType, idValue, amount, currency) or what is wrong."""
        if not isinstance(body, dict):
            return "a JSON object is required"
        to, source = body.get("to"), body.get("from")
        if not isinstance(to, dict) or not to.get("idType") or not to.get("idValue"):
            return ".to.idType and .to.idValue are required"
        if not isinstance(source, dict) or not source.get("idType") or not source.get("idValue"):
            return ".from.idType and .from.idValue are required"
        if body.get("amountType") not in ("SEND", "RECEIVE") or body.get("transactionType") != "TRANSFER":
            return ".amountType must be SEND or RECEIVE and .transactionType TRANSFER"
        currency = str(body.get("currency") or "")
        if currency not in MOJALOOP_CURRENCIES:
            return ".currency is not supported by the scheme"
        amount = positive_minor_units(body.get("amount"), currency)
        if amount is None or not isinstance(body.get("amount"), str):
            return ".amount must be a positive amount string"
        if not body.get("homeTransactionId"):
            return ".homeTransactionId is required"
        return str(body["homeTransactionId"]), str(to["idType"]), str(to["idValue"]), amount, currency

    async def _post_transfer(self, request: Request) -> Response:  # noqa: PLR0911 - one answer per documented case
        await self._enter("POST /transfers")
        if not self._authorized(request):
            return self._error(401, "401", "Unauthorized")
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            return self._error(400, "3101", "Malformed syntax")
        parsed = self._parse_transfer(body)
        if isinstance(parsed, str):
            return self._error(400, "3100", f"Generic validation error: {parsed}")
        home_id, id_type, id_value, amount, currency = parsed
        attempt = self._attempt(home_id)
        outcome = outcome_for(id_type, id_value)
        fault = self._refusal(outcome, attempt)
        if fault is not None:
            return self._fault(fault)
        transfer_id = str(body.get("transferId") or uuid.uuid4())
        # The transferId is the idempotency key: the same transfer again answers it as it stands now.
        request_fingerprint = fingerprint(raw)
        known = self.transfer_keys.recall(transfer_id, request_fingerprint)
        if known is KEY_REUSED:
            return self._error(500, "3106", "Modified request: this transferId was used with other content")
        if known is not None:
            if outcome is Outcome.TIMEOUT_AFTER_ACCEPT:
                await asyncio.sleep(self.settings.hang_seconds)
            return self._answer(self.transfers[known])
        transfer = SimTransfer(transfer_id, home_id, body, id_type, id_value, amount, currency, outcome)
        self.transfers[transfer_id] = transfer
        self.transfer_keys.remember(transfer_id, request_fingerprint, transfer_id)
        self.by_home.setdefault(home_id, []).append(transfer_id)
        await self._take_time(outcome)
        self._discover(transfer)
        if transfer.error is None and not self.auto_accept_party:
            transfer.state = "WAITING_FOR_PARTY_ACCEPTANCE"
            return self._answer(transfer)
        return await self._after_party(transfer, attempt)

    def _fault(self, fault: Fault) -> Response:
        if fault is Fault.RATE_LIMITED:
            return self._error(429, "2005", "Server busy", headers=self._retry_after())
        if fault is Fault.UNAVAILABLE:
            return self._error(503, "2003", "Service currently unavailable")
        return self._error(500, "2001", "Internal server error")

    def _answer(self, transfer: SimTransfer) -> Response:
        if transfer.error is not None and transfer.state == "ERROR_OCCURRED":
            return self._error(500, transfer.error[0], transfer.error[1], transfer)
        return JSONResponse(transfer.to_wire())

    def _discover(self, transfer: SimTransfer) -> None:
        """The party lookup (switch -> ALS -> payee FSP)."""
        if transfer.outcome is Outcome.NOT_FOUND:
            self._fail(transfer, ERROR_OF[Outcome.NOT_FOUND])
            return
        transfer.party = party_body(transfer.id_type, transfer.id_value)

    def _quote(self, transfer: SimTransfer) -> None:
        fee = self.payee_fee
        transfer.quote_id = str(uuid.uuid4())
        transfer.fulfilment = _b64url(secrets.token_bytes(32))
        condition = _b64url(hashlib.sha256(base64.urlsafe_b64decode(transfer.fulfilment + "=")).digest())
        expiration = (datetime.now(UTC) + timedelta(minutes=1)).isoformat(timespec="milliseconds")
        transfer.quote = {
            "transferAmount": {
                "amount": _major(transfer.amount + fee, transfer.currency),
                "currency": transfer.currency,
            },
            "payeeReceiveAmount": {"amount": _major(transfer.amount, transfer.currency), "currency": transfer.currency},
            "payeeFspFee": {"amount": _major(fee, transfer.currency), "currency": transfer.currency},
            "payeeFspCommission": {"amount": "0", "currency": transfer.currency},
            "expiration": expiration.replace("+00:00", "Z"),
            "ilpPacket": _b64url(json.dumps({"transferId": transfer.transfer_id}).encode()),
            "condition": condition,
        }

    async def _after_party(self, transfer: SimTransfer, attempt: int) -> Response:
        if transfer.error is None:
            self._quote(transfer)
            if not self.auto_accept_quote:
                transfer.state = "WAITING_FOR_QUOTE_ACCEPTANCE"
                return self._answer(transfer)
            self._execute(transfer)
        fault = await self._after_accepting(transfer.outcome, attempt)
        return self._fault(fault) if fault is not None else self._answer(transfer)

    def _fail(self, transfer: SimTransfer, error: tuple[str, str], state: str = "ERROR_OCCURRED") -> None:
        transfer.error = error
        transfer.state = state

    def _execute(self, transfer: SimTransfer, *, in_bulk: bool = False) -> None:
        """The transfer phase: prepare (reserve the payer DFSP's position), fulfil (commit) or abort."""
        outcome = transfer.outcome
        if outcome in ERROR_OF:
            self._fail(transfer, ERROR_OF[outcome])
            return
        total = transfer.amount + self.payee_fee
        if not self.accounts.can_pay("dfsp", transfer.currency, total):
            self._fail(transfer, ERROR_OF[Outcome.INSUFFICIENT_FUNDS])
            return
        if outcome is Outcome.EXPIRES:
            transfer.state, transfer.switch_state = "RESERVED", "RESERVED"
            if in_bulk:
                self._expire(transfer)
            else:
                self.tasks.start(self._expire_later(transfer))
            return
        if not in_bulk and outcome is Outcome.PENDING_FOREVER:
            transfer.state, transfer.switch_state = "RESERVED", "RESERVED"
            return
        if not in_bulk and outcome is Outcome.UNKNOWN_STATUS:
            transfer.state = "PREPARE_RECEIVED"  # a word the connector does not know: must read as pending
            return
        memo = f"transfer:{transfer.transfer_id}"
        self.accounts.move("dfsp", transfer.id_value, transfer.currency, transfer.amount, memo)
        self.accounts.move("dfsp", "payeefsp-fees", transfer.currency, self.payee_fee, memo)
        transfer.state, transfer.switch_state = "COMPLETED", "COMMITTED"
        transfer.completed_at = _now()

    async def _expire_later(self, transfer: SimTransfer) -> None:
        await asyncio.sleep(self.settings.expiry_seconds)
        self._expire(transfer)

    def _expire(self, transfer: SimTransfer) -> None:
        transfer.switch_state = "ABORTED"
        self._fail(transfer, EXPIRED)

    async def _get_transfer(self, request: Request) -> Response:
        await self._enter("GET /transfers")
        if not self._authorized(request):
            return self._error(401, "401", "Unauthorized")
        transfer = self.transfers.get(request.path_params["id"])
        if transfer is None:
            return self._error(404, "3208", "Transfer ID not found")
        return JSONResponse(transfer.to_wire())

    async def _put_transfer(self, request: Request) -> Response:  # noqa: PLR0911 - one answer per documented case
        await self._enter("PUT /transfers")
        if not self._authorized(request):
            return self._error(401, "401", "Unauthorized")
        transfer = self.transfers.get(request.path_params["id"])
        if transfer is None:
            return self._error(404, "3208", "Transfer ID not found")
        try:
            body = json.loads(await request.body())
        except ValueError:
            return self._error(400, "3101", "Malformed syntax")
        if not isinstance(body, dict):
            return self._error(400, "3101", "Malformed syntax")
        if "acceptParty" in body and transfer.state == "WAITING_FOR_PARTY_ACCEPTANCE":
            if body["acceptParty"] is not True:
                transfer.state = "ABORTED"
                return self._answer(transfer)
            return await self._after_party(transfer, self.create_attempts[transfer.home_id])
        if "acceptQuote" in body and transfer.state == "WAITING_FOR_QUOTE_ACCEPTANCE":
            if body["acceptQuote"] is not True:
                transfer.state = "ABORTED"
                return self._answer(transfer)
            self._execute(transfer)
            return self._answer(transfer)
        if transfer.state not in ("WAITING_FOR_PARTY_ACCEPTANCE", "WAITING_FOR_QUOTE_ACCEPTANCE"):
            return self._answer(transfer)  # a replayed acceptance: the transfer as it is now
        return self._error(400, "3100", f"Generic validation error: the transfer is {transfer.state}")

    # -- bulk --------------------------------------------------------------------------------------------------

    def _parse_bulk(self, body: Any) -> list[tuple[str, str, str, int, str, dict[str, Any]]] | str:
        if not isinstance(body, dict) or not body.get("bulkTransactionId") or not body.get("bulkHomeTransactionID"):
            return "bulkTransactionId and bulkHomeTransactionID are required"
        items = body.get("individualTransfers")
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_BULK_ITEMS:
            return f"individualTransfers must hold 1 to {MAX_BULK_ITEMS} transfers"
        source = body.get("from")
        if not isinstance(source, dict) or not isinstance(source.get("partyIdInfo"), dict):
            return ".from.partyIdInfo is required"
        parsed = []
        for index, item in enumerate(items):
            info = item.get("to", {}).get("partyIdInfo") if isinstance(item, dict) else None
            currency = str(item.get("currency") or "") if isinstance(item, dict) else ""
            amount = positive_minor_units(item.get("amount"), currency) if isinstance(item, dict) else None
            if not isinstance(info, dict) or not info.get("partyIdType") or not info.get("partyIdentifier"):
                return f"individualTransfers[{index}].to.partyIdInfo is required"
            if currency not in MOJALOOP_CURRENCIES or amount is None or not item.get("homeTransactionId"):
                return f"individualTransfers[{index}]: homeTransactionId, amount and currency are required"
            parsed.append(
                (
                    str(item["homeTransactionId"]),
                    str(info["partyIdType"]),
                    str(info["partyIdentifier"]),
                    amount,
                    currency,
                    item,
                )
            )
        return parsed

    async def _post_bulk(self, request: Request) -> Response:  # noqa: PLR0911 - one answer per documented case
        await self._enter("POST /bulkTransactions")
        if not self._authorized(request):
            return self._error(401, "401", "Unauthorized")
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            return self._error(400, "3101", "Malformed syntax")
        parsed = self._parse_bulk(body)
        if isinstance(parsed, str):
            return self._error(400, "3100", f"Generic validation error: {parsed}")
        bulk_id = str(body["bulkTransactionId"])
        attempt = self._attempt(bulk_id)
        first = outcome_for(parsed[0][1], parsed[0][2])
        fault = self._refusal(first, attempt)
        if fault is not None:
            return self._fault(fault)
        # The content that matters: who pays whom how much (options such as the expiration may differ on a resend).
        content = json.dumps([body.get("from"), body.get("individualTransfers")], sort_keys=True).encode()
        request_fingerprint = fingerprint(content)
        known = self.bulk_keys.recall(bulk_id, request_fingerprint)
        if known is KEY_REUSED:
            return self._error(400, "3106", "Modified request: this bulkTransactionId was used with other content")
        if known is not None:
            return JSONResponse({"bulkTransactionId": known}, status_code=202)
        transfers = []
        for home_id, id_type, id_value, amount, currency, item in parsed:
            transfer = SimTransfer(
                str(uuid.uuid4()),
                home_id,
                item,
                id_type,
                id_value,
                amount,
                currency,
                outcome_for(id_type, id_value),
                bulk_id=bulk_id,
            )
            self.transfers[transfer.transfer_id] = transfer
            self.by_home.setdefault(home_id, []).append(transfer.transfer_id)
            transfers.append(transfer)
        options = body.get("options") if isinstance(body.get("options"), dict) else {}
        bulk = SimBulk(bulk_id, str(body["bulkHomeTransactionID"]), options, transfers, first)
        self.bulks[bulk_id] = bulk
        self.bulk_keys.remember(bulk_id, request_fingerprint, bulk_id)
        self.tasks.start(self._process_bulk(bulk))
        if first is Outcome.TIMEOUT_AFTER_ACCEPT:
            await asyncio.sleep(self.settings.hang_seconds)
        return JSONResponse({"bulkTransactionId": bulk_id}, status_code=202)

    @staticmethod
    def _enabled(options: dict[str, Any], name: str) -> bool:
        value = options.get(name)
        return bool(value.get("enabled", True)) if isinstance(value, dict) else True

    async def _process_bulk(self, bulk: SimBulk) -> None:
        await asyncio.sleep(self.settings.settle_seconds)
        bulk.state = "DISCOVERY_PROCESSING"
        live = bulk.transfers
        if not bulk.options.get("skipPartyLookup"):
            for transfer in live:
                self._discover(transfer)
            live = [t for t in live if t.error is None]
            if not self._enabled(bulk.options, "autoAcceptParty") and live:
                bulk.state = "DISCOVERY_ACCEPTANCE_PENDING"
                live = await self._ask_backend(bulk, live, "acceptParty", [t.bulk_result() for t in live])
        else:
            for transfer in live:
                transfer.party = party_body(transfer.id_type, transfer.id_value)
        bulk.state = "AGREEMENT_PROCESSING"
        for transfer in live:
            self._quote(transfer)
        if not self._enabled(bulk.options, "autoAcceptQuote") and live:
            bulk.state = "AGREEMENT_ACCEPTANCE_PENDING"
            live = await self._ask_backend(bulk, live, "acceptQuote", [t.bulk_result() for t in live])
        bulk.state = "TRANSFERS_PROCESSING"
        for transfer in live:
            self._execute(transfer, in_bulk=True)
        bulk.state = "COMPLETED"
        await self._send_results(bulk)

    async def _ask_backend(
        self, bulk: SimBulk, live: list[SimTransfer], decision: str, results: list[dict[str, Any]]
    ) -> list[SimTransfer]:
        """Send the parties (or quotes) to the backend and wait for its acceptance, item by item."""
        await self._put_backend(
            bulk,
            {
                "bulkHomeTransactionID": bulk.home_id,
                "bulkTransactionId": bulk.bulk_id,
                "individualTransferResults": results,
            },
        )
        answer = await bulk.decisions.get()
        accepted = {
            str(item.get("transactionId"))
            for item in answer.get("individualTransfers", [])
            if isinstance(item, dict) and item.get(decision) is True
        }
        kept = []
        for transfer in live:
            if transfer.transaction_id in accepted:
                kept.append(transfer)
            else:
                self._fail(transfer, ("4101", "Payer rejected transaction request"), state="ABORTED")
        return kept

    async def _send_results(self, bulk: SimBulk) -> None:
        if bulk.outcome is Outcome.NO_CALLBACK:
            return
        if bulk.outcome is Outcome.LATE_CALLBACK:
            await asyncio.sleep(self.settings.late_callback_seconds)
        deliveries = 2 if bulk.outcome is Outcome.DUPLICATED_CALLBACK else 1
        for _ in range(deliveries):
            await self._put_backend(bulk, self._bulk_wire(bulk))

    def _bulk_wire(self, bulk: SimBulk) -> dict[str, Any]:
        return {
            "bulkHomeTransactionID": bulk.home_id,
            "bulkTransactionId": bulk.bulk_id,
            "currentState": "COMPLETED" if bulk.state == "COMPLETED" else bulk.state,
            "options": bulk.options,
            "individualTransferResults": [t.bulk_result() for t in bulk.transfers],
        }

    async def _put_backend(self, bulk: SimBulk, body: dict[str, Any]) -> None:
        if self.backend_url is None:
            return
        raw = json.dumps(body, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "Date": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()),
        }
        await self.callbacks.send(f"{self.backend_url}/bulkTransactions/{bulk.bulk_id}", raw, headers, method="PUT")

    async def _put_bulk(self, request: Request) -> Response:
        await self._enter("PUT /bulkTransactions")
        if not self._authorized(request):
            return self._error(401, "401", "Unauthorized")
        bulk = self.bulks.get(request.path_params["id"])
        if bulk is None:
            return self._error(404, "3210", "Bulk transfer ID not found")
        try:
            body = json.loads(await request.body())
        except ValueError:
            return self._error(400, "3101", "Malformed syntax")
        if not isinstance(body, dict) or not isinstance(body.get("individualTransfers"), list):
            return self._error(400, "3100", "Generic validation error: individualTransfers is required")
        if bulk.state not in ("DISCOVERY_ACCEPTANCE_PENDING", "AGREEMENT_ACCEPTANCE_PENDING"):
            return self._error(400, "3100", f"Generic validation error: the bulk is {bulk.state}")
        bulk.decisions.put_nowait(body)
        return JSONResponse({"bulkTransactionId": bulk.bulk_id}, status_code=202)

    async def _get_bulk(self, request: Request) -> Response:
        await self._enter("GET /bulkTransactions")
        if not self._authorized(request):
            return self._error(401, "401", "Unauthorized")
        bulk = self.bulks.get(request.path_params["id"])
        if bulk is None:
            return self._error(404, "3210", "Bulk transfer ID not found")
        return JSONResponse(self._bulk_wire(bulk))
