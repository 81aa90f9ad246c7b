"""A FedaPay account: transactions, tokens and payment URLs, the redirect-less mobile modes, payouts, balances,
refunds, webhooks.

Paths as FedaPay's, under ``/v1`` (the SDKs' ``<host>/v1/<path>``): ``/v1/transactions``,
``/v1/transactions/{id}``, ``/v1/transactions/{id}/token``, ``/v1/{mode}``, ``/v1/transactions/{id}/refund``,
``/v1/payouts``, ``/v1/payouts/{id}``, ``PUT /v1/payouts/start``, ``/v1/balances``, ``/v1/currencies``;
``Authorization: Bearer sk_sandbox_…``; answers wrapped in their type (``{"v1/transaction": …}``) with the fields
of FedaPay's SDK fixtures (``include=customer,currency`` embeds those objects). Events
``transaction.approved|declined|canceled|…`` and ``payout.sent|failed`` are POSTed signed with
``X-FEDAPAY-SIGNATURE`` to the account's webhook URL (``webhook_url``, the dashboard setting; a
``{merchant_reference}`` in it is replaced by the object's, so a test can give each payment its own path); without
one, to the transaction's ``callback_url`` (convenient in tests).

Outcomes by the **last three digits** of the number that pays or is paid (the sandbox's table;
``docs/providers/fedapay.md``): the customer's on create, and the push's ``phone_number`` chooses again (a
transaction created without a customer gets its outcome there).
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
MERCHANT_FLOAT = 1_000_000_000  # the account's balance before any collection: payouts are paid from it
# Redirect-less modes (``POST /v1/{mode}``): fedapay-node ``Transaction.AVAILABLE_MOBILE_MONEY`` and FedaPay's
# payment-methods page (``mtn_open_gn``, ``sbin``, ``moov``…); unknown names answer 404 as an unknown path does.
MODES = frozenset(
    {
        "mtn",
        "moov",
        "mtn_ci",
        "moov_tg",
        "mtn_open",
        "mtn_open_ci",
        "mtn_open_gn",
        "mtn_ecw",
        "airtel_ne",
        "free_sn",
        "togocel",
        "sbin",
        "wave_direct_ci",
    }
)
CURRENCIES: dict[str, dict[str, Any]] = {"XOF": {"id": 1, "name": "FCFA", "iso": "XOF", "code": 952, "div": 1}}
CURRENCY_BY_ID = {currency["id"]: iso for iso, currency in CURRENCIES.items()}
# Benin MTN / Moov, Côte d'Ivoire MTN, Togo Moov: numbers with any last three digits.
MAGIC_PREFIXES: dict[str, str] = {
    "BJ": "+2290197000",
    "BJ-MOOV": "+2290195000",
    "CI": "+2250500000",
    "TG": "+22879000",
    "TG-TOGOCEL": "+22870000",
    "SN-FREE": "+221760000",
    "NE": "+22796000",
    "GN": "+224660000",
    "BJ-CELTIIS": "+2290140000",
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


def _currency(iso: str) -> dict[str, Any]:
    return {"klass": "v1/currency", **CURRENCIES[iso]}


@dataclass
class SimCustomer:
    id: int
    firstname: str
    lastname: str
    email: str | None
    phone: str | None
    created_at: str = field(default_factory=_now)

    def to_wire(self) -> dict[str, Any]:
        return {
            "klass": "v1/customer",
            "id": self.id,
            "firstname": self.firstname,
            "lastname": self.lastname,
            "full_name": f"{self.firstname} {self.lastname}",
            "email": self.email,
            "phone_number_id": self.id if self.phone else None,
            "account_id": 1,
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "deleted_at": None,
        }


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
    phone: str  # the payer's number: the customer's, then the push's (empty until one is known)
    outcome: Outcome
    customer: SimCustomer | None = None
    status: str = "pending"
    mode: str | None = None
    last_error_code: str | None = None
    fees: int = 0
    refunded: int = 0
    token: str | None = None
    transaction_key: str = field(default_factory=lambda: secrets.token_hex(16))
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    stamps: dict[str, str] = field(default_factory=dict)  # "approved_at"… once reached

    def to_wire(self, include: frozenset[str] = frozenset()) -> dict[str, Any]:
        paid = self.status in ("approved", "transferred", "refunded")
        wire: dict[str, Any] = {
            "klass": "v1/transaction",
            "id": self.id,
            "reference": self.reference,
            "amount": self.amount,
            "description": self.description,
            "callback_url": self.callback_url,
            "status": self.status,
            "customer_id": self.customer.id if self.customer else None,
            "currency_id": CURRENCIES[self.currency]["id"],
            "mode": self.mode,
            "operation": "payment",
            "metadata": {"paid_customer": {"phone_number": self.phone}} if self.mode and self.phone else {},
            "commission": FEE_PER_MILLE / 1000,
            "fees": self.fees,
            "fixed_commission": 0,
            "amount_transferred": self.amount - self.fees if paid else 0,
            "amount_debited": self.amount if paid else 0,
            "merchant_reference": self.merchant_reference,
            "custom_metadata": self.custom_metadata,
            "transaction_key": self.transaction_key,
            "last_error_code": self.last_error_code,
            "receipt_url": None,
            "account_id": 1,
            "balance_id": 1,
            "payment_method_id": None,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "deleted_at": None,
        }
        for stamp in ("approved_at", "canceled_at", "declined_at", "refunded_at", "transferred_at"):
            wire[stamp] = self.stamps.get(stamp)
        if "currency" in include:
            wire["currency"] = _currency(self.currency)
        if "customer" in include and self.customer is not None:
            wire["customer"] = self.customer.to_wire()
        return wire


@dataclass
class SimPayout:
    id: int
    reference: str
    merchant_reference: str
    amount: int
    currency: str
    mode: str | None
    custom_metadata: dict[str, Any]
    phone: str
    outcome: Outcome
    customer: SimCustomer | None = None
    status: str = "pending"
    last_error_code: str | None = None
    last_error_message: str | None = None
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    stamps: dict[str, str] = field(default_factory=dict)  # "started_at", "sent_at", "failed_at"

    def to_wire(self, include: frozenset[str] = frozenset()) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "klass": "v1/payout",
            "id": self.id,
            "reference": self.reference,
            "amount": self.amount,
            "status": self.status,
            "customer_id": self.customer.id if self.customer else None,
            "currency_id": CURRENCIES[self.currency]["id"],
            "balance_id": 1,
            "mode": self.mode,
            "merchant_reference": self.merchant_reference,
            "custom_metadata": self.custom_metadata,
            "last_error_code": self.last_error_code,
            "last_error_message": self.last_error_message,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "scheduled_at": None,
            "deleted_at": None,
        }
        for stamp in ("started_at", "sent_at", "failed_at"):
            wire[stamp] = self.stamps.get(stamp)
        if "currency" in include:
            wire["currency"] = _currency(self.currency)
        if "customer" in include and self.customer is not None:
            wire["customer"] = self.customer.to_wire()
        return wire


def _error(
    status: int, message: str, errors: dict[str, list[str]] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers)


def _include(request: Request, body: Any = None) -> frozenset[str]:
    """``include=customer,currency`` from the query string or the JSON body (the SDKs send it in the body)."""
    value = request.query_params.get("include") or (body.get("include") if isinstance(body, dict) else None) or ""
    return frozenset(part.strip() for part in str(value).split(",") if part.strip())


def _phone_of(value: Any) -> str | None:
    """The number of a ``phone_number`` object (``{number, country}``)."""
    if isinstance(value, dict) and value.get("number"):
        return str(value["number"])
    return None


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
        self.payouts: dict[int, SimPayout] = {}
        self.payout_by_reference: dict[str, int] = {}
        self.customers: dict[int, SimCustomer] = {}
        self._next_id = 100_000 + secrets.randbelow(800_000)
        self._app = Starlette(
            routes=[
                Route("/v1/transactions", self._create, methods=["POST"]),
                Route("/v1/transactions/{id:int}", self._get, methods=["GET"]),
                Route("/v1/transactions/{id:int}/token", self._token, methods=["POST"]),
                Route("/v1/transactions/{id:int}/refund", self._refund, methods=["POST"]),
                Route("/v1/payouts", self._create_payout, methods=["POST"]),
                Route("/v1/payouts/start", self._start_payouts, methods=["PUT"]),
                Route("/v1/payouts/{id:int}", self._get_payout, methods=["GET"]),
                Route("/v1/balances", self._balances, methods=["GET"]),
                Route("/v1/currencies", self._currencies, methods=["GET"]),
                Route("/v1/{mode}", self._pay, methods=["POST"]),
                Route("/pay/{token}", self._payment_page, methods=["GET"]),
            ]
        )

    # -- test interface ------------------------------------------------------------------------------------

    def created(self, reference: str) -> int:
        return int(reference in self.by_reference) + int(reference in self.payout_by_reference)

    def collected(self, reference: str) -> int:
        transaction = self._find(reference)
        return self.accounts.moved(f"trx:{transaction.id}", debit=transaction.phone) if transaction else 0

    def paid_out(self, reference: str) -> int:
        payout_id = self.payout_by_reference.get(reference)
        payout = self.payouts.get(payout_id) if payout_id is not None else None
        return self.accounts.moved(f"payout:{payout.id}", credit=payout.phone) if payout else 0

    def refunded(self, reference: str) -> int:
        """What went back to the payer of the transaction made under our ``reference``."""
        transaction = self._find(reference)
        return self.accounts.moved(f"refund:{transaction.id}", credit=transaction.phone) if transaction else 0

    def merchant_balance(self, currency: str) -> int:
        return self.accounts.balance("merchant", currency)

    def transaction(self, reference: str) -> SimTransaction | None:
        return self._find(reference)

    def payout(self, reference: str) -> SimPayout | None:
        payout_id = self.payout_by_reference.get(reference)
        return self.payouts.get(payout_id) if payout_id is not None else None

    def _find(self, reference: str) -> SimTransaction | None:
        transaction_id = self.by_reference.get(reference)
        return self.transactions.get(transaction_id) if transaction_id is not None else None

    def _house_balance(self, owner: str) -> int | None:
        return {"merchant": MERCHANT_FLOAT, "fedapay": 0}.get(owner)

    # -- HTTP ------------------------------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and constant_time_equal(key, self.api_key)

    @staticmethod
    async def _body(request: Request) -> Any:
        raw = await request.body()
        return json.loads(raw) if raw else {}

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _customer(self, value: Any) -> SimCustomer | None:
        if not isinstance(value, dict):
            return None
        customer = SimCustomer(
            id=self._new_id(),
            firstname=str(value.get("firstname") or ""),
            lastname=str(value.get("lastname") or ""),
            email=value.get("email"),
            phone=_phone_of(value.get("phone_number")),
        )
        self.customers[customer.id] = customer
        return customer

    async def _create(self, request: Request) -> Response:
        await self._enter("POST /transactions")
        if not self._authorized(request):
            return _error(401, "Unauthenticated. Invalid API key.")
        try:
            body = await self._body(request)
        except ValueError:
            return _error(400, "Invalid JSON")
        problems = self._validate(body, payout=False)
        if problems:
            return _error(422, "The given data was invalid.", problems)
        phone = _phone_of((body.get("customer") or {}).get("phone_number")) or ""
        merchant_reference = str(body.get("merchant_reference") or f"auto-{self._next_id}")
        attempt = self._attempt(merchant_reference)
        outcome = outcome_for(phone) if phone else Outcome.SUCCESS
        fault = self._refusal(outcome, attempt)
        if fault is not None:
            return self._fault(fault)
        if merchant_reference in self.by_reference:
            return _error(422, "The given data was invalid.", {"merchant_reference": ["has already been taken"]})
        await self._take_time(outcome)
        transaction = SimTransaction(
            id=self._new_id(),
            reference=f"trx_{secrets.token_hex(5)}",
            merchant_reference=merchant_reference,
            amount=int(body["amount"]),
            currency=str(body["currency"]["iso"]),
            description=str(body.get("description") or ""),
            callback_url=body.get("callback_url"),
            custom_metadata=body.get("custom_metadata") or {},
            phone=phone,
            outcome=outcome,
            customer=self._customer(body.get("customer")),
        )
        self.transactions[transaction.id] = transaction
        self.by_reference[merchant_reference] = transaction.id
        return JSONResponse({"v1/transaction": transaction.to_wire(_include(request, body))}, status_code=201)

    @staticmethod
    def _validate(body: Any, *, payout: bool) -> dict[str, list[str]]:
        """A transaction needs a description, its customer is optional; a payout needs its customer's phone (the
        start may name another) and its description is optional (FedaPay's payouts guide)."""
        if not isinstance(body, dict):
            return {"body": ["must be an object"]}
        problems: dict[str, list[str]] = {}
        if not isinstance(body.get("amount"), int) or isinstance(body.get("amount"), bool) or body["amount"] <= 0:
            problems["amount"] = ["must be a positive integer"]
        currency = body.get("currency")
        if not isinstance(currency, dict) or currency.get("iso") not in FEDAPAY_CURRENCIES:
            problems["currency"] = ["is not supported"]
        if not body.get("description") and not payout:
            problems["description"] = ["can't be blank"]
        customer = body.get("customer")
        if customer is not None and not isinstance(customer, dict):
            problems["customer"] = ["is invalid"]
        elif isinstance(customer, dict) and "phone_number" in customer and not _phone_of(customer["phone_number"]):
            problems["customer.phone_number"] = ["is invalid"]
        elif payout and not (isinstance(customer, dict) and _phone_of(customer.get("phone_number"))):
            problems["customer.phone_number"] = ["can't be blank"]
        mode = body.get("mode")
        if mode is not None and mode not in MODES:
            problems["mode"] = ["is invalid"]
        return problems

    async def _get(self, request: Request) -> Response:
        await self._enter("GET /transactions")
        if not self._authorized(request):
            return _error(401, "Unauthenticated. Invalid API key.")
        transaction = self.transactions.get(request.path_params["id"])
        if transaction is None:
            return _error(404, "Transaction not found")
        return JSONResponse({"v1/transaction": transaction.to_wire(_include(request))})

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

    async def _pay(self, request: Request) -> Response:  # noqa: PLR0911 - one answer per documented case
        mode = request.path_params["mode"]
        await self._enter(f"POST /{mode}")
        if mode not in MODES:
            return _error(404, "Not found")
        if not self._authorized(request):
            return _error(401, "Unauthenticated. Invalid API key.")
        try:
            body = await self._body(request)
        except ValueError:
            return _error(400, "Invalid JSON")
        transaction_id = self.tokens.get(str(body.get("token"))) if isinstance(body, dict) else None
        if transaction_id is None:
            return _error(422, "The given data was invalid.", {"token": ["is invalid"]})
        transaction = self.transactions[transaction_id]
        pushed_phone = _phone_of(body.get("phone_number"))
        if transaction.mode is None:
            # The push names the phone that pays (the SDKs' ``sendNowWithToken(mode, token, {phone_number})``):
            # it chooses the outcome, also for a transaction created without a customer.
            if pushed_phone:
                transaction.phone, transaction.outcome = pushed_phone, outcome_for(pushed_phone)
            if not transaction.phone:
                return _error(422, "The given data was invalid.", {"phone_number": ["can't be blank"]})
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
        await self._notify("transaction", transaction)

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
    def _finish(item: SimTransaction | SimPayout, status: str, code: str | None) -> None:
        item.status = status
        item.last_error_code = code
        item.updated_at = _now()
        item.stamps[f"{status}_at"] = item.updated_at

    async def _notify(self, kind: str, item: SimTransaction | SimPayout) -> None:
        target = self.webhook_url or (item.callback_url if isinstance(item, SimTransaction) else None)
        if target is not None:
            target = target.replace("{merchant_reference}", item.merchant_reference)
        name = f"{kind}.{item.status}"
        event_id = int(hashlib.sha256(f"{item.id}:{name}".encode()).hexdigest()[:12], 16)
        entity = item.to_wire(frozenset({"currency"}))
        body = json.dumps({"id": event_id, "name": name, "object": kind, "entity": entity})
        raw = body.encode()
        await self._deliver(
            item.outcome, target, raw, lambda: webhooks.sign(self.webhook_secret, raw, int(time.time()))
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
        return JSONResponse({"v1/transaction": transaction.to_wire(_include(request, body))})

    # -- payouts -------------------------------------------------------------------------------------------

    async def _create_payout(self, request: Request) -> Response:
        await self._enter("POST /payouts")
        if not self._authorized(request):
            return _error(401, "Unauthenticated. Invalid API key.")
        try:
            body = await self._body(request)
        except ValueError:
            return _error(400, "Invalid JSON")
        problems = self._validate(body, payout=True)
        if problems:
            return _error(422, "The given data was invalid.", problems)
        phone = _phone_of(body["customer"]["phone_number"]) or ""
        merchant_reference = str(body.get("merchant_reference") or f"auto-{self._next_id}")
        attempt = self._attempt(merchant_reference)
        outcome = outcome_for(phone)
        fault = self._refusal(outcome, attempt)
        if fault is not None:
            return self._fault(fault)
        if merchant_reference in self.payout_by_reference:
            return _error(422, "The given data was invalid.", {"merchant_reference": ["has already been taken"]})
        await self._take_time(outcome)
        payout = SimPayout(
            id=self._new_id(),
            reference=str(int(time.time() * 1000)),
            merchant_reference=merchant_reference,
            amount=int(body["amount"]),
            currency=str(body["currency"]["iso"]),
            mode=body.get("mode"),
            custom_metadata=body.get("custom_metadata") or {},
            phone=phone,
            outcome=outcome,
            customer=self._customer(body.get("customer")),
        )
        self.payouts[payout.id] = payout
        self.payout_by_reference[merchant_reference] = payout.id
        return JSONResponse({"v1/payout": payout.to_wire(_include(request, body))}, status_code=201)

    async def _get_payout(self, request: Request) -> Response:
        await self._enter("GET /payouts")
        if not self._authorized(request):
            return _error(401, "Unauthenticated. Invalid API key.")
        payout = self.payouts.get(request.path_params["id"])
        if payout is None:
            return _error(404, "Payout not found")
        return JSONResponse({"v1/payout": payout.to_wire(_include(request))})

    async def _start_payouts(self, request: Request) -> Response:  # noqa: PLR0911 - one answer per documented case
        """``PUT /v1/payouts/start {payouts: [{id, phone_number?, scheduled_at?}]}``: all or none are started."""
        await self._enter("PUT /payouts/start")
        if not self._authorized(request):
            return _error(401, "Unauthenticated. Invalid API key.")
        try:
            body = await self._body(request)
        except ValueError:
            return _error(400, "Invalid JSON")
        items = body.get("payouts") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            return _error(422, "The given data was invalid.", {"payouts": ["can't be blank"]})
        chosen: list[tuple[SimPayout, dict[str, Any]]] = []
        for item in items:
            payout = self.payouts.get(item.get("id")) if isinstance(item.get("id"), int) else None
            if payout is None:
                return _error(404, "Payout not found")
            if payout.status != "pending":
                return _error(422, "The given data was invalid.", {"payouts": [f"payout {payout.id} already started"]})
            chosen.append((payout, item))
        for payout, item in chosen:
            phone = _phone_of(item.get("phone_number"))
            if phone:
                payout.phone, payout.outcome = phone, outcome_for(phone)
            payout.status = "started"
            payout.updated_at = payout.stamps["started_at"] = _now()
            if payout.outcome not in (Outcome.PENDING_FOREVER, Outcome.UNKNOWN_STATUS):
                self.tasks.start(self._settle_payout(payout))
            elif payout.outcome is Outcome.UNKNOWN_STATUS:
                payout.status = "on_hold"
        fault = await self._after_accepting(chosen[0][0].outcome, attempt=1)
        if fault is not None:
            return self._fault(fault)
        return JSONResponse({"v1/payouts": [payout.to_wire(_include(request, body)) for payout, _ in chosen]})

    async def _settle_payout(self, payout: SimPayout) -> None:
        await self._settle_later(
            payout.outcome,
            settle=lambda: self._apply_payout(payout),
            expire=lambda: self._finish(payout, "failed", "timeout"),
        )
        await self._notify("payout", payout)

    def _apply_payout(self, payout: SimPayout) -> None:
        code = ERROR_CODES.get(payout.outcome)
        if code is None and not self.accounts.can_pay("merchant", payout.currency, payout.amount):
            code = ERROR_CODES[Outcome.INSUFFICIENT_FUNDS]
        if code is not None:
            self._finish(payout, "failed", code)
            payout.last_error_message = code.replace("_", " ")
            return
        self.accounts.move("merchant", payout.phone, payout.currency, payout.amount, f"payout:{payout.id}")
        self._finish(payout, "sent", None)

    # -- balances ------------------------------------------------------------------------------------------

    async def _balances(self, request: Request) -> Response:
        """One balance per currency here (FedaPay keeps one per mode; their sum is what Cauri reads)."""
        await self._enter("GET /balances")
        if not self._authorized(request):
            return _error(401, "Unauthenticated. Invalid API key.")
        balances = [
            {
                "klass": "v1/balance",
                "id": currency["id"],
                "currency_id": currency["id"],
                "account_id": 1,
                "amount": self.merchant_balance(iso),
                "mode": None,
                "created_at": None,
                "updated_at": _now(),
            }
            for iso, currency in CURRENCIES.items()
        ]
        return JSONResponse({"v1/balances": balances})

    async def _currencies(self, request: Request) -> Response:
        await self._enter("GET /currencies")
        if not self._authorized(request):
            return _error(401, "Unauthenticated. Invalid API key.")
        return JSONResponse({"v1/currencies": [_currency(iso) for iso in CURRENCIES]})
