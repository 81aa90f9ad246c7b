"""A FedaPay account: transactions, tokens and payment URLs, the redirect-less mobile modes, refunds, webhooks.

Paths as FedaPay's (``/transactions``, ``/transactions/{id}/token``, ``/{mode}``, ``/transactions/{id}``,
``/transactions/{id}/refund``), ``Authorization: Bearer sk_sandbox_…``, answers wrapped in ``{"v1/transaction":
…}``. Events ``transaction.approved|declined|canceled|…`` are POSTed signed with ``X-FEDAPAY-SIGNATURE`` to the
account's webhook URL (``webhook_url``, the dashboard setting); without one, to the transaction's
``callback_url`` (convenient in tests, where each payment has its own receiver path).

Outcomes by the payer number's **last three digits** (the sandbox's table; ``docs/providers/fedapay.md``).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cauri.connectors.mobile_money.fedapay import webhooks
from cauri.core.security import constant_time_equal
from cauri.kit.outcomes import MAGIC_SUFFIXES, Outcome
from cauri.kit.simulation import Fault, SimulatorBase, SimulatorSettings

FEDAPAY_CURRENCIES = frozenset({"XOF"})
FEE_PER_MILLE = 15  # 1.5 %, kept by FedaPay on approved transactions
MERCHANT_FLOAT = 0
MODES = frozenset({"mtn", "moov", "mtn_ci", "moov_tg"})
# Benin MTN / Moov, Côte d'Ivoire MTN, Togo Moov: numbers with any last three digits.
MAGIC_PREFIXES: dict[str, str] = {
    "BJ": "+2290197000",
    "BJ-MOOV": "+2290195000",
    "CI": "+2250500000",
    "TG": "+22879000",
}
_SUFFIX_OF = {outcome: suffix for suffix, outcome in MAGIC_SUFFIXES.items()}
ERROR_CODES: dict[Outcome, str] = {
    Outcome.NOT_FOUND: "unknown_customer",
    Outcome.INSUFFICIENT_FUNDS: "insufficient_funds",
    Outcome.LIMIT_REACHED: "limit_exceeded",
    Outcome.NOT_ALLOWED: "not_allowed",
    Outcome.REJECTED_BY_PAYER: "rejected_by_customer",
    Outcome.PROVIDER_ERROR: "processing_error",
    Outcome.ACCOUNT_INACTIVE: "account_blocked",
}


def magic_phone(outcome: Outcome, country: str = "BJ") -> str:
    return MAGIC_PREFIXES[country] + _SUFFIX_OF[outcome]


def outcome_for(number: str) -> Outcome:
    return MAGIC_SUFFIXES.get(number[-3:], Outcome.SUCCESS)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class SimTransaction:
    id: int
    reference: str  # FedaPay's own ("trx_…")
    merchant_reference: str
    amount: int
    currency: str
    description: str
    callback_url: str | None
    custom_metadata: dict[str, Any]
    phone: str
    outcome: Outcome
    status: str = "pending"
    mode: str | None = None
    last_error_code: str | None = None
    fees: int = 0
    refunded: int = 0
    token: str | None = None
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)

    def to_wire(self) -> dict[str, Any]:
        return {
            "klass": "v1/transaction",
            "id": self.id,
            "reference": self.reference,
            "merchant_reference": self.merchant_reference,
            "amount": self.amount,
            "description": self.description,
            "callback_url": self.callback_url,
            "status": self.status,
            "mode": self.mode,
            "fees": self.fees,
            "amount_transferred": self.amount - self.fees if self.status in ("approved", "transferred") else 0,
            "last_error_code": self.last_error_code,
            "custom_metadata": self.custom_metadata,
            "currency": {"iso": self.currency},
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def _error(
    status: int, message: str, errors: dict[str, list[str]] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers)


class FedaPaySimulator(SimulatorBase):
    """One FedaPay merchant account. ``app`` is the ASGI app; below, the test interface."""

    def __init__(
        self,
        *,
        api_key: str = "sk_sandbox_cauri",
        webhook_secret: str = "wh_sandbox_cauri",  # noqa: S107 - the simulator's own test secret
        webhook_url: str | None = None,
        settings: SimulatorSettings | None = None,
    ) -> None:
        super().__init__(settings)
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.transactions: dict[int, SimTransaction] = {}
        self.by_reference: dict[str, int] = {}
        self.tokens: dict[str, int] = {}
        self._next_id = 100_000 + secrets.randbelow(800_000)
        self._app = Starlette(
            routes=[
                Route("/transactions", self._create, methods=["POST"]),
                Route("/transactions/{id:int}", self._get, methods=["GET"]),
                Route("/transactions/{id:int}/token", self._token, methods=["POST"]),
                Route("/transactions/{id:int}/refund", self._refund, methods=["POST"]),
                Route("/{mode}", self._pay, methods=["POST"]),
                Route("/pay/{token}", self._payment_page, methods=["GET"]),
            ]
        )

    # -- test interface ------------------------------------------------------------------------------------

    def created(self, reference: str) -> int:
        return 1 if reference in self.by_reference else 0

    def collected(self, reference: str) -> int:
        transaction = self._find(reference)
        return self.accounts.moved(f"trx:{transaction.id}", debit=transaction.phone) if transaction else 0

    def paid_out(self, reference: str) -> int:
        return 0  # FedaPay payouts are not part of this connector

    def refunded(self, reference: str) -> int:
        """What went back to the payer of the transaction made under our ``reference``."""
        transaction = self._find(reference)
        return self.accounts.moved(f"refund:{transaction.id}", credit=transaction.phone) if transaction else 0

    def merchant_balance(self, currency: str) -> int:
        return self.accounts.balance("merchant", currency)

    def transaction(self, reference: str) -> SimTransaction | None:
        return self._find(reference)

    def _find(self, reference: str) -> SimTransaction | None:
        transaction_id = self.by_reference.get(reference)
        return self.transactions.get(transaction_id) if transaction_id is not None else None

    def _house_balance(self, owner: str) -> int | None:
        return MERCHANT_FLOAT if owner in ("merchant", "fedapay") else None

    # -- HTTP ------------------------------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and constant_time_equal(key, self.api_key)

    async def _create(self, request: Request) -> Response:
        await self._enter("POST /transactions")
        if not self._authorized(request):
            return _error(401, "Unauthenticated. Invalid API key.")
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "Invalid JSON")
        problems = self._validate(body)
        if problems:
            return _error(422, "The given data was invalid.", problems)
        customer = body["customer"]
        phone = str(customer["phone_number"]["number"])
        merchant_reference = str(body.get("merchant_reference") or f"auto-{self._next_id}")
        attempt = self._attempt(merchant_reference)
        outcome = outcome_for(phone)
        fault = self._refusal(outcome, attempt)
        if fault is not None:
            return self._fault(fault)
        if merchant_reference in self.by_reference:
            return _error(422, "The given data was invalid.", {"merchant_reference": ["has already been taken"]})
        await self._take_time(outcome)
        self._next_id += 1
        transaction = SimTransaction(
            id=self._next_id,
            reference=f"trx_{secrets.token_hex(5)}",
            merchant_reference=merchant_reference,
            amount=int(body["amount"]),
            currency=str(body["currency"]["iso"]),
            description=str(body.get("description") or ""),
            callback_url=body.get("callback_url"),
            custom_metadata=body.get("custom_metadata") or {},
            phone=phone,
            outcome=outcome,
        )
        self.transactions[transaction.id] = transaction
        self.by_reference[merchant_reference] = transaction.id
        return JSONResponse({"v1/transaction": transaction.to_wire()}, status_code=201)

    @staticmethod
    def _validate(body: Any) -> dict[str, list[str]]:
        if not isinstance(body, dict):
            return {"body": ["must be an object"]}
        problems: dict[str, list[str]] = {}
        if not isinstance(body.get("amount"), int) or isinstance(body.get("amount"), bool) or body["amount"] <= 0:
            problems["amount"] = ["must be a positive integer"]
        currency = body.get("currency")
        if not isinstance(currency, dict) or currency.get("iso") not in FEDAPAY_CURRENCIES:
            problems["currency"] = ["is not supported"]
        if not body.get("description"):
            problems["description"] = ["can't be blank"]
        customer = body.get("customer")
        phone = customer.get("phone_number") if isinstance(customer, dict) else None
        if not isinstance(phone, dict) or not phone.get("number"):
            problems["customer.phone_number"] = ["can't be blank"]
        return problems

    async def _get(self, request: Request) -> Response:
        await self._enter("GET /transactions")
        if not self._authorized(request):
            return _error(401, "Unauthenticated. Invalid API key.")
        transaction = self.transactions.get(request.path_params["id"])
        if transaction is None:
            return _error(404, "Transaction not found")
        return JSONResponse({"v1/transaction": transaction.to_wire()})

    async def _token(self, request: Request) -> Response:
        await self._enter("POST /transactions/token")
        if not self._authorized(request):
            return _error(401, "Unauthenticated. Invalid API key.")
        transaction = self.transactions.get(request.path_params["id"])
        if transaction is None:
            return _error(404, "Transaction not found")
        if transaction.token is None:
            transaction.token = secrets.token_urlsafe(24)
            self.tokens[transaction.token] = transaction.id
        url = f"{request.base_url}pay/{transaction.token}"
        return JSONResponse({"token": transaction.token, "url": url})

    async def _payment_page(self, request: Request) -> Response:
        transaction_id = self.tokens.get(request.path_params["token"])
        if transaction_id is None:
            return Response("Lien de paiement invalide", status_code=404, media_type="text/plain")
        transaction = self.transactions[transaction_id]
        page = f"<html><body><h1>FedaPay</h1><p>{transaction.amount} {transaction.currency}</p></body></html>"
        return Response(page, media_type="text/html")

    async def _pay(self, request: Request) -> Response:
        mode = request.path_params["mode"]
        await self._enter(f"POST /{mode}")
        if mode not in MODES:
            return _error(404, "Not found")
        if not self._authorized(request):
            return _error(401, "Unauthenticated. Invalid API key.")
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "Invalid JSON")
        transaction_id = self.tokens.get(str(body.get("token"))) if isinstance(body, dict) else None
        if transaction_id is None:
            return _error(422, "The given data was invalid.", {"token": ["is invalid"]})
        transaction = self.transactions[transaction_id]
        if transaction.mode is None:
            transaction.mode = mode
            if transaction.outcome not in (Outcome.PENDING_FOREVER, Outcome.UNKNOWN_STATUS):
                self.tasks.start(self._settle(transaction))
            elif transaction.outcome is Outcome.UNKNOWN_STATUS:
                transaction.status = "on_hold"
        # Every payment request is a first attempt here: FedaPay fails each one the outcome says fails.
        fault = await self._after_accepting(transaction.outcome, attempt=1)
        if fault is not None:
            return self._fault(fault)
        return JSONResponse({"message": "Transaction en cours de traitement", "reference": transaction.reference})

    def _fault(self, fault: Fault) -> JSONResponse:
        if fault is Fault.RATE_LIMITED:
            return _error(429, "Too Many Attempts.", headers=self._retry_after())
        if fault is Fault.UNAVAILABLE:
            return _error(503, "Service Unavailable")
        return _error(500, "Server Error")

    async def _settle(self, transaction: SimTransaction) -> None:
        await self._settle_later(
            transaction.outcome,
            settle=lambda: self._apply(transaction),
            expire=lambda: self._finish(transaction, "expired", "timeout"),
        )
        await self._notify(transaction)

    def _apply(self, transaction: SimTransaction) -> None:
        code = ERROR_CODES.get(transaction.outcome)
        if code is None and not self.accounts.can_pay(transaction.phone, transaction.currency, transaction.amount):
            code = ERROR_CODES[Outcome.INSUFFICIENT_FUNDS]
        if code is not None:
            self._finish(transaction, "declined", code)
            return
        memo = f"trx:{transaction.id}"
        transaction.fees = transaction.amount * FEE_PER_MILLE // 1000
        self.accounts.move(transaction.phone, "merchant", transaction.currency, transaction.amount, memo)
        self.accounts.move("merchant", "fedapay", transaction.currency, transaction.fees, memo)
        self._finish(transaction, "approved", None)

    @staticmethod
    def _finish(transaction: SimTransaction, status: str, code: str | None) -> None:
        transaction.status = status
        transaction.last_error_code = code
        transaction.updated_at = _now()

    async def _notify(self, transaction: SimTransaction) -> None:
        target = self.webhook_url or transaction.callback_url
        name = f"transaction.{transaction.status}"
        event_id = int(hashlib.sha256(f"{transaction.id}:{name}".encode()).hexdigest()[:12], 16)
        body = json.dumps({"id": event_id, "name": name, "object": "transaction", "entity": transaction.to_wire()})
        raw = body.encode()
        await self._deliver(
            transaction.outcome, target, raw, lambda: webhooks.sign(self.webhook_secret, raw, int(time.time()))
        )

    async def _refund(self, request: Request) -> Response:
        await self._enter("POST /transactions/refund")
        if not self._authorized(request):
            return _error(401, "Unauthenticated. Invalid API key.")
        transaction = self.transactions.get(request.path_params["id"])
        if transaction is None:
            return _error(404, "Transaction not found")
        # A partly refunded transaction reads "refunded" and stays refundable for what remains.
        if transaction.status not in ("approved", "transferred", "refunded"):
            return _error(422, "The given data was invalid.", {"status": ["transaction is not refundable"]})
        raw = await request.body()
        body = json.loads(raw) if raw else {}
        amount = int(body.get("amount") or transaction.amount) if isinstance(body, dict) else transaction.amount
        if amount <= 0 or amount > transaction.amount - transaction.refunded:
            return _error(422, "The given data was invalid.", {"amount": ["exceeds the refundable amount"]})
        self.accounts.move("merchant", transaction.phone, transaction.currency, amount, f"refund:{transaction.id}")
        transaction.refunded += amount
        self._finish(transaction, "refunded", None)
        return JSONResponse({"v1/transaction": transaction.to_wire()})
