"""Moov Money / Flooz merchant API (SOAP 1.1) with its own wallets: push with pending, status, transfer, balance,
mobile account status. Polling only: Moov sends no callback.

``POST /com.tlc.merchant.api/UssdPush`` with an envelope in ``http://api.merchant.tlc.com/``; the ``token`` parameter
must be the merchant's. Faults are SOAP faults with HTTP 500; ``GET …/UssdPush?wsdl`` answers a short WSDL.
Outcomes by the number's **last three digits** (the sandbox's table; ``docs/providers/moov.md``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cauri.connectors.mobile_money.moov import soap
from cauri.connectors.mobile_money.moov.client import SERVICE_PATH
from cauri.connectors.mobile_money.moov.transformers import DEFAULT_OPERATIONS
from cauri.core.security import constant_time_equal
from cauri.kit.outcomes import Outcome, outcome_for
from cauri.kit.outcomes import magic_phone as kit_magic_phone
from cauri.kit.simulation import Fault, SimulatorBase, SimulatorSettings

MOOV_CURRENCIES = frozenset({"XOF"})
MERCHANT_FLOAT = 1_000_000_000
MAGIC_PREFIXES: dict[str, str] = {"BJ": "+2290195000", "TG": "+22879000"}
CODES: dict[Outcome, str] = {
    Outcome.INSUFFICIENT_FUNDS: "10",
    Outcome.NOT_FOUND: "11",
    Outcome.LIMIT_REACHED: "12",
    Outcome.NOT_ALLOWED: "13",
    Outcome.REJECTED_BY_PAYER: "14",
    Outcome.ACCOUNT_INACTIVE: "15",
    Outcome.PROVIDER_ERROR: "99",
}
WSDL = f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" targetNamespace="{soap.SERVICE_NS}" name="UssdPushService">
  <portType name="UssdPush">{"".join(f'<operation name="{name}"/>' for name in DEFAULT_OPERATIONS.values())}</portType>
</definitions>
"""


def magic_phone(outcome: Outcome, country: str = "BJ") -> str:
    return kit_magic_phone(outcome, country, prefixes=MAGIC_PREFIXES)


@dataclass
class SimTransaction:
    referenceid: str
    kind: str  # "push" | "transfer"
    reference: str  # externaldata1 / the merchant's referenceid
    msisdn: str
    amount: int
    outcome: Outcome
    status: str = "100"
    message: str = "Transaction en attente de confirmation"

    def result(self) -> dict[str, object]:
        return {
            "status": self.status,
            "message": self.message,
            "referenceid": self.referenceid,
            "transid": self.referenceid.replace("MV", "TR"),
            "amount": self.amount,
            "externaldata1": self.reference,
            "msisdn": self.msisdn,
        }


class MoovSimulator(SimulatorBase):
    """One Moov merchant. ``app`` is the ASGI app; below, the test interface."""

    def __init__(
        self,
        *,
        token: str = "moov-merchant-token",  # noqa: S107 - the simulator's own test token
        settings: SimulatorSettings | None = None,
    ) -> None:
        super().__init__(settings)
        self.token = token
        self.transactions: dict[str, SimTransaction] = {}
        self.by_reference: dict[tuple[str, str], str] = {}
        self._app = Starlette(routes=[Route(SERVICE_PATH, self._service, methods=["GET", "POST"])])

    # -- test interface ------------------------------------------------------------------------------------

    def created(self, reference: str) -> int:
        return sum(1 for (_kind, ref) in self.by_reference if ref == reference)

    def collected(self, reference: str) -> int:
        transaction = self._find("push", reference)
        return self.accounts.moved(f"push:{transaction.referenceid}", debit=transaction.msisdn) if transaction else 0

    def paid_out(self, reference: str) -> int:
        transaction = self._find("transfer", reference)
        if transaction is None:
            return 0
        return self.accounts.moved(f"transfer:{transaction.referenceid}", credit=transaction.msisdn)

    def merchant_balance(self, currency: str) -> int:
        return self.accounts.balance("merchant", currency)

    def _find(self, kind: str, reference: str) -> SimTransaction | None:
        referenceid = self.by_reference.get((kind, reference))
        return self.transactions.get(referenceid) if referenceid else None

    def _house_balance(self, owner: str) -> int | None:
        return {"merchant": MERCHANT_FLOAT, "moov": 0}.get(owner)

    # -- SOAP --------------------------------------------------------------------------------------------------

    @staticmethod
    def _xml(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(body, status_code=status, media_type="text/xml; charset=utf-8", headers=headers)

    def _fault(self, message: str, code: str = "soap:Server") -> Response:
        return self._xml(soap.fault_envelope(code, message), 500)

    async def _service(self, request: Request) -> Response:
        if request.method == "GET":
            return (
                Response(WSDL, media_type="text/xml") if "wsdl" in request.query_params else Response(status_code=405)
            )
        await self._pause()
        try:
            operation, params = soap.call_of(await request.body())
        except soap.MalformedXml:
            return self._fault("Unmarshalling Error: malformed request", "soap:Client")
        self.requests[operation] += 1
        if not constant_time_equal(params.get("token", ""), self.token):
            return self._fault("Invalid token: authentication failed", "soap:Client")
        handlers = {
            DEFAULT_OPERATIONS["push"]: self._push,
            "Push": self._push,
            DEFAULT_OPERATIONS["transfer"]: self._transfer,
            DEFAULT_OPERATIONS["status"]: self._status,
            DEFAULT_OPERATIONS["balance"]: self._balance,
            DEFAULT_OPERATIONS["account"]: self._account,
        }
        handler = handlers.get(operation)
        if handler is None:
            return self._fault(f"Cannot find dispatch method for {{{soap.SERVICE_NS}}}{operation}", "soap:Client")
        return await handler(operation, params)

    def _answer(self, operation: str, result: dict[str, object]) -> Response:
        return self._xml(soap.response_envelope(operation, result))

    async def _create(self, operation: str, kind: str, msisdn: str, amount_text: str, reference: str) -> Response:
        attempt = self._attempt(reference)
        outcome = outcome_for(msisdn)
        fault = self._refusal(outcome, attempt)
        if fault is not None:
            return self._fault_answer(fault)
        try:
            amount = int(amount_text)
        except ValueError:
            amount = 0
        if amount <= 0 or not msisdn.isdigit():
            return self._answer(operation, {"status": "20", "message": "Montant ou numéro invalide"})
        if (kind, reference) in self.by_reference:
            return self._answer(operation, {"status": "13", "message": "Référence déjà utilisée"})
        if outcome is Outcome.NOT_FOUND:
            return self._answer(operation, {"status": "11", "message": "Abonné inconnu"})
        await self._take_time(outcome)
        transaction = SimTransaction(f"MV{secrets.token_hex(6).upper()}", kind, reference, msisdn, amount, outcome)
        self.transactions[transaction.referenceid] = transaction
        self.by_reference[(kind, reference)] = transaction.referenceid
        if outcome is Outcome.UNKNOWN_STATUS:
            transaction.status, transaction.message = "77", "En cours de vérification"
        elif outcome is not Outcome.PENDING_FOREVER:
            self.tasks.start(self._settle(transaction))
        fault = await self._after_accepting(outcome, attempt)
        if fault is not None:
            return self._fault_answer(fault)
        return self._answer(operation, transaction.result())

    def _fault_answer(self, fault: Fault) -> Response:
        """The outcome table's faults as Moov's front answers them: plain HTTP errors, or a SOAP fault."""
        if fault is Fault.RATE_LIMITED:
            return Response("Too Many Requests", 429, headers=self._retry_after())
        if fault is Fault.UNAVAILABLE:
            return Response("Service Unavailable", 503, media_type="text/plain")
        return self._fault("Internal error")

    async def _push(self, operation: str, params: dict[str, str]) -> Response:
        reference = params.get("externaldata1") or params.get("msisdn", "")
        return await self._create(operation, "push", params.get("msisdn", ""), params.get("amount", ""), reference)

    async def _transfer(self, operation: str, params: dict[str, str]) -> Response:
        reference = params.get("referenceid") or params.get("extendeddata", "")
        return await self._create(
            operation, "transfer", params.get("destination", ""), params.get("amount", ""), reference
        )

    async def _settle(self, transaction: SimTransaction) -> None:
        def expire() -> None:
            transaction.status, transaction.message = "16", "Délai de confirmation dépassé"

        await self._settle_later(transaction.outcome, settle=lambda: self._apply(transaction), expire=expire)

    def _apply(self, transaction: SimTransaction) -> None:
        code = CODES.get(transaction.outcome)
        memo = f"{transaction.kind}:{transaction.referenceid}"
        if code is None and transaction.kind == "push":
            if self.accounts.can_pay(transaction.msisdn, "XOF", transaction.amount):
                self.accounts.move(transaction.msisdn, "merchant", "XOF", transaction.amount, memo)
            else:
                code = "10"
        elif code is None:
            if self.accounts.can_pay("merchant", "XOF", transaction.amount):
                self.accounts.move("merchant", transaction.msisdn, "XOF", transaction.amount, memo)
            else:
                code = "10"
        transaction.status = code or "0"
        transaction.message = "Succès" if code is None else "Échec de la transaction"

    async def _status(self, operation: str, params: dict[str, str]) -> Response:
        referenceid = params.get("referenceid", "")
        transaction = self.transactions.get(referenceid) or self._find("push", referenceid)
        transaction = transaction or self._find("transfer", referenceid)
        if transaction is None:
            return self._answer(operation, {"status": "404", "message": "Transaction introuvable"})
        return self._answer(operation, transaction.result())

    async def _balance(self, operation: str, params: dict[str, str]) -> Response:
        return self._answer(operation, {"status": "0", "balance": self.merchant_balance("XOF"), "currency": "XOF"})

    async def _account(self, operation: str, params: dict[str, str]) -> Response:
        msisdn = params.get("msisdn", "")
        outcome = outcome_for(msisdn)
        if outcome is Outcome.NOT_FOUND:
            return self._answer(operation, {"status": "11", "message": "Abonné inconnu"})
        state: dict[str, Any] = {
            "status": "0",
            "subscriberstatus": "SUSPENDED" if outcome is Outcome.ACCOUNT_INACTIVE else "ACTIVE",
            "firstname": "Abla",
            "lastname": f"Abonné {msisdn[-3:]}",
            "accounttype": "SUBSCRIBER",
        }
        return self._answer(operation, state)
