"""The sandbox provider's simulator: an ASGI app with its own wire format, accounts and magic phone numbers.

Wire format (JSON; amounts are decimal strings in major units; numbers are E.164 digits without ``+``):

* ``POST /oauth/token`` (Basic ``client_id:client_secret``) -> ``{access_token, token_type, expires_in}``
* ``POST /v1/collections`` | ``/v1/payouts`` with ``Idempotency-Key`` ->
  ``201 {id, kind, reference, msisdn, amount, currency, fee, state, failure_code, created_at, updated_at}``;
  the same key again -> ``200`` with the same payment (``Idempotent-Replayed: true``); with another body -> 409
* ``GET /v1/collections/{id}``, ``/v1/collections/by-reference/{reference}`` (same for payouts)
* ``POST /v1/bulk-payouts`` with ``Idempotency-Key``, ``{reference, description, items: [{reference, msisdn,
  amount, currency, beneficiary_name}]}`` (1 to 1000 items) -> ``202 {reference, state, items}``; the same key
  again -> ``200`` with the bulk as it stands; another body -> 409; a bulk reference already used -> 409.
  Each item becomes a payout of its own (findable by its reference) or, when refused at once (no account, bad
  amount or currency, a reference already used), an item ``{reference, state: "FAILED", failure_code}``.
  ``GET /v1/bulk-payouts/{reference}`` -> ``{reference, state: PROCESSING|COMPLETED, items}``
* ``POST /v1/refunds`` with ``Idempotency-Key``, ``{reference, collection_id, amount, currency, reason}`` ->
  ``201`` a payment of kind ``refund`` (``PENDING``, then ``SUCCESSFUL``: the merchant pays the collection's payer
  back, no fee); the same key again -> ``200`` the same refund; another body -> 409 ``IDEMPOTENCY_KEY_REUSED``;
  refused at once: unknown collection 404 ``NOT_FOUND``, a collection not ``SUCCESSFUL`` 422 ``NOT_REFUNDABLE``,
  more than what remains refundable (the collection's amount less its pending and successful refunds) 422
  ``REFUND_EXCEEDS_AVAILABLE``, another currency 422 ``CURRENCY_MISMATCH``. Partial refunds are allowed.
  ``GET /v1/refunds/{id}``, ``/v1/refunds/by-reference/{reference}``. Refunds send no callbacks.
* ``GET /v1/balance/{currency}`` -> ``{currency, available}``; ``GET /v1/accounts/{msisdn}`` -> ``{status, name}``
* errors: ``{"error": {"code", "message"}}``; states ``PENDING``, ``SUCCESSFUL``, ``FAILED``, ``EXPIRED``
* callbacks: ``POST <callback_url>`` ``{id, type, created, data: <payment>}`` signed ``Sandbox-Signature``

Outcomes are chosen by the **last three digits** of the phone number (:data:`MAGIC_SUFFIXES`); any other number
succeeds. In a bulk, only the outcomes of a payment's fate apply (refusals, failures, pending for ever, expiry,
unknown status); the transport faults of a single call (slow, timeout, 5xx, 429) do not, an item has no call.
``docs/connectors.md`` has the table.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from cauri.connectors.mobile_money.sandbox import webhooks
from cauri.core.money import CURRENCY_EXPONENTS
from cauri.core.security import constant_time_equal
from cauri.kit.amounts import to_major_units
from cauri.kit.auth import basic_header
from cauri.kit.outcomes import Outcome, outcome_for
from cauri.kit.simulation import (
    BackgroundTasks,
    CallbackSender,
    SimulatedAccounts,
    SimulatorSettings,
)

SANDBOX_CURRENCIES = frozenset({"XAF", "XOF", "GNF", "EUR", "USD"})
# (minimum, maximum) in minor units, per currency; the connector declares the same limits.
SANDBOX_LIMITS: dict[str, tuple[int, int]] = {
    "XAF": (100, 5_000_000),
    "XOF": (100, 5_000_000),
    "GNF": (1_000, 50_000_000),
    "EUR": (100, 1_000_000),
    "USD": (100, 1_000_000),
}
FEE_PERCENT = 1  # the sandbox charges 1 % (rounded down) on collections and payouts
MAX_BULK_ITEMS = 1000
MERCHANT_FLOAT = 1_000_000_000  # opening merchant balance, minor units, per currency
SUBSCRIBER_FLOAT = 100_000_000  # opening balance of every phone number


# The failure code each failing outcome settles with.
FAILURE_CODES: dict[Outcome, str] = {
    Outcome.INSUFFICIENT_FUNDS: "BALANCE_TOO_LOW",
    Outcome.LIMIT_REACHED: "LIMIT_EXCEEDED",
    Outcome.NOT_ALLOWED: "NOT_PERMITTED",
    Outcome.REJECTED_BY_PAYER: "DECLINED_BY_SUBSCRIBER",
    Outcome.PROVIDER_ERROR: "SYSTEM_ERROR",
    Outcome.ACCOUNT_INACTIVE: "ACCOUNT_BLOCKED",
}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class SimPayment:
    id: str
    kind: str  # "collection" | "payout" | "refund"
    reference: str
    msisdn: str
    amount: int  # minor units
    currency: str
    fee: int
    callback_url: str | None
    outcome: Outcome
    state: str = "PENDING"
    failure_code: str | None = None
    created_at: str = field(default_factory=_now_iso)
    updated_at: str = field(default_factory=_now_iso)
    refund_of: str | None = None  # a refund's collection id

    def to_wire(self) -> dict[str, Any]:
        extra = {"collection_id": self.refund_of} if self.refund_of else {}
        return extra | {
            "id": self.id,
            "kind": self.kind,
            "reference": self.reference,
            "msisdn": self.msisdn,
            "amount": _major(self.amount, self.currency),
            "currency": self.currency,
            "fee": _major(self.fee, self.currency),
            "state": self.state,
            "failure_code": self.failure_code,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def _major(amount: int, currency: str) -> str:
    return to_major_units(amount, currency)


def _parse_create(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, dict) or not all(body.get(k) for k in ("reference", "amount", "currency", "msisdn")):
        return None
    return body


def _parse_refund(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, dict) or not all(body.get(k) for k in ("reference", "collection_id", "amount", "currency")):
        return None
    return body


def _parse_bulk(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, dict) or not body.get("reference"):
        return None
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BULK_ITEMS:
        return None
    if not all(
        isinstance(item, dict) and all(item.get(k) for k in ("reference", "amount", "currency", "msisdn"))
        for item in items
    ):
        return None
    if len({str(item["reference"]) for item in items}) != len(items):
        return None
    return body


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _kind_of(request: Request) -> str:
    """From the path relative to where the simulator is mounted (``/sandbox`` inside the API, ``/`` alone)."""
    path, root = request.scope["path"], request.scope.get("root_path", "")
    relative = path[len(root) :] if root and path.startswith(root) else path
    if relative.startswith("/v1/refunds"):
        return "refund"
    return "payout" if relative.startswith("/v1/payouts") else "collection"


class SandboxSimulator:
    """One sandbox merchant account. ``app`` is the ASGI app; the methods below are the test interface."""

    def __init__(
        self,
        *,
        api_key: str = "sk_sandbox_test",
        webhook_secret: str = "whsec_sandbox_test",  # noqa: S107 - the simulator's own test secret
        client_id: str | None = None,
        client_secret: str | None = None,
        settings: SimulatorSettings | None = None,
    ) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.client_id = client_id
        self.client_secret = client_secret
        self.settings = settings or SimulatorSettings()
        self.accounts = SimulatedAccounts(self._opening_balance)
        self.payments: dict[str, SimPayment] = {}
        self.by_reference: dict[tuple[str, str], str] = {}  # (kind, reference) -> id
        self.keys: dict[str, tuple[str, str]] = {}  # idempotency key -> (fingerprint, payment or bulk id)
        self.bulks: dict[str, list[dict[str, Any] | str]] = {}  # bulk reference -> items: payment ids or refusals
        self.create_attempts: Counter[str] = Counter()  # reference -> create requests received
        self.tokens: dict[str, float] = {}  # issued OAuth token -> expiry (time.time())
        self.token_requests = 0
        self.requests: Counter[str] = Counter()  # "METHOD path-template" -> count
        self.tasks = BackgroundTasks()
        self.callbacks = CallbackSender(self.settings)
        self._app = Starlette(routes=self._routes())

    # -- test interface (SimulatedProvider) --------------------------------------------------------------

    @property
    def app(self) -> ASGIApp:
        return self._app

    def created(self, reference: str) -> int:
        return sum(1 for (_kind, ref) in self.by_reference if ref == reference)

    def attempts(self, reference: str) -> int:
        return self.create_attempts[reference]

    def collected(self, reference: str) -> int:
        payment = self._find("collection", reference)
        return self.accounts.moved(f"collection:{payment.id}", debit=payment.msisdn) if payment else 0

    def paid_out(self, reference: str) -> int:
        payment = self._find("payout", reference)
        return self.accounts.moved(f"payout:{payment.id}", credit=payment.msisdn) if payment else 0

    def refunded(self, collection_reference: str) -> int:
        """What the merchant paid back to the payer of the collection sent under ``collection_reference``."""
        collection = self._find("collection", collection_reference)
        if collection is None:
            return 0
        return sum(
            self.accounts.moved(f"refund:{refund.id}", credit=collection.msisdn)
            for refund in self._refunds_of(collection.id)
        )

    def _refunds_of(self, collection_id: str) -> list[SimPayment]:
        return [p for p in self.payments.values() if p.kind == "refund" and p.refund_of == collection_id]

    def merchant_balance(self, currency: str) -> int:
        return self.accounts.balance("merchant", currency)

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    async def aclose(self) -> None:
        await self.tasks.aclose()
        await self.callbacks.aclose()

    def _find(self, kind: str, reference: str) -> SimPayment | None:
        payment_id = self.by_reference.get((kind, reference))
        return self.payments.get(payment_id) if payment_id else None

    @staticmethod
    def _opening_balance(owner: str, currency: str) -> int:
        if owner == "merchant":
            return MERCHANT_FLOAT
        if owner.startswith("fees"):
            return 0
        return 0 if outcome_for(owner) is Outcome.INSUFFICIENT_FUNDS else SUBSCRIBER_FLOAT

    # -- HTTP ------------------------------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        return [
            Route("/oauth/token", self._token, methods=["POST"]),
            Route("/v1/collections", self._create_collection, methods=["POST"]),
            Route("/v1/collections/by-reference/{reference}", self._get_by_reference, methods=["GET"]),
            Route("/v1/collections/{id}", self._get, methods=["GET"]),
            Route("/v1/payouts", self._create_payout, methods=["POST"]),
            Route("/v1/payouts/by-reference/{reference}", self._get_by_reference, methods=["GET"]),
            Route("/v1/payouts/{id}", self._get, methods=["GET"]),
            Route("/v1/refunds", self._create_refund, methods=["POST"]),
            Route("/v1/refunds/by-reference/{reference}", self._get_by_reference, methods=["GET"]),
            Route("/v1/refunds/{id}", self._get, methods=["GET"]),
            Route("/v1/bulk-payouts", self._create_bulk, methods=["POST"]),
            Route("/v1/bulk-payouts/{reference}", self._get_bulk, methods=["GET"]),
            Route("/v1/balance/{currency}", self._balance, methods=["GET"]),
            Route("/v1/accounts/{msisdn}", self._account, methods=["GET"]),
            Route("/_sim/state", self._state, methods=["GET"]),
        ]

    async def _pause(self) -> None:
        if self.settings.latency_seconds > 0:
            await asyncio.sleep(self.settings.latency_seconds)

    def _authorized(self, request: Request) -> bool:
        value = request.headers.get("authorization", "")
        scheme, _, credential = value.partition(" ")
        if scheme.lower() != "bearer" or not credential:
            return False
        if constant_time_equal(credential, self.api_key):
            return True
        expiry = self.tokens.get(credential)
        return expiry is not None and expiry > time.time()

    async def _token(self, request: Request) -> Response:
        self.token_requests += 1
        if self.settings.token_latency_seconds > 0:
            await asyncio.sleep(self.settings.token_latency_seconds)
        if self.client_id is None or self.client_secret is None:
            return _error(404, "NOT_FOUND", "OAuth is not enabled on this sandbox")
        expected = basic_header(self.client_id, self.client_secret)
        if not constant_time_equal(request.headers.get("authorization", ""), expected):
            return _error(401, "UNAUTHORIZED", "bad client credentials")
        form = await request.form()
        if form.get("grant_type") != "client_credentials":
            return _error(400, "BAD_REQUEST", "grant_type must be client_credentials")
        token = secrets.token_urlsafe(24)
        lifetime = self.settings.token_lifetime_seconds
        self.tokens[token] = time.time() + lifetime
        return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": lifetime})

    async def _create_collection(self, request: Request) -> Response:
        return await self._create(request, "collection")

    async def _create_payout(self, request: Request) -> Response:
        return await self._create(request, "payout")

    async def _create(self, request: Request, kind: str) -> Response:  # noqa: PLR0911 - one answer per documented case
        self.requests[f"POST /v1/{kind}s"] += 1
        await self._pause()
        if not self._authorized(request):
            return _error(401, "UNAUTHORIZED", "missing or invalid bearer credentials")
        raw = await request.body()
        body = _parse_create(raw)
        if body is None:
            return _error(400, "BAD_REQUEST", "reference, amount, currency and msisdn are required")
        key = request.headers.get("idempotency-key")
        if not key:
            return _error(400, "BAD_REQUEST", "the Idempotency-Key header is required")
        reference, msisdn = str(body["reference"]), str(body["msisdn"])
        self.create_attempts[reference] += 1
        attempt = self.create_attempts[reference]
        outcome = outcome_for(msisdn)
        fault = self._fault_before_processing(outcome, attempt)
        if fault is not None:
            return fault
        fingerprint = hashlib.sha256(kind.encode() + b"\x00" + raw).hexdigest()
        known = self.keys.get(key)
        if known is not None:
            return await self._replay(known, fingerprint, outcome)
        refusal = self._refusal(kind, body, outcome)
        if refusal is not None:
            return refusal
        if outcome is Outcome.SLOW:
            await asyncio.sleep(self.settings.slow_seconds)
        payment = self._open(kind, body, outcome)
        self.keys[key] = (fingerprint, payment.id)
        if outcome is Outcome.TIMEOUT_AFTER_ACCEPT:
            await asyncio.sleep(self.settings.hang_seconds)
        if outcome is Outcome.ERROR_AFTER_PROCESSING and attempt == 1:
            return _error(500, "INTERNAL_ERROR", "something went wrong")
        return JSONResponse(payment.to_wire(), status_code=201)

    def _fault_before_processing(self, outcome: Outcome, attempt: int) -> Response | None:
        if outcome is Outcome.RATE_LIMITED and attempt == 1:
            retry_after = str(self.settings.retry_after_seconds)
            return _error(429, "TOO_MANY_REQUESTS", "slow down", headers={"Retry-After": retry_after})
        if outcome is Outcome.UNAVAILABLE and attempt <= self.settings.failing_attempts:
            return _error(503, "SERVICE_UNAVAILABLE", "try again later")
        return None

    async def _replay(self, known: tuple[str, str], fingerprint: str, outcome: Outcome) -> Response:
        if known[0] != fingerprint:
            return _error(409, "IDEMPOTENCY_KEY_REUSED", "this key was used with another request")
        if outcome is Outcome.TIMEOUT_AFTER_ACCEPT:
            await asyncio.sleep(self.settings.hang_seconds)
        payment = self.payments[known[1]]
        return JSONResponse(payment.to_wire(), status_code=200, headers={"Idempotent-Replayed": "true"})

    def _refusal(self, kind: str, body: dict[str, Any], outcome: Outcome) -> Response | None:
        refused = self._refused(kind, body, outcome)
        return None if refused is None else _error(*refused)

    def _refused(self, kind: str, body: dict[str, Any], outcome: Outcome) -> tuple[int, str, str] | None:
        """Why the payment is refused at once: (HTTP status, code, message); None when it is accepted."""
        currency = str(body["currency"])
        if (kind, str(body["reference"])) in self.by_reference:
            return 409, "DUPLICATE_REFERENCE", "a payment with this reference already exists"
        if currency not in SANDBOX_CURRENCIES:
            return 422, "UNSUPPORTED_CURRENCY", f"{currency} is not supported"
        try:
            amount = Decimal(str(body["amount"])).scaleb(CURRENCY_EXPONENTS[currency])
        except InvalidOperation:
            return 422, "INVALID_AMOUNT", "unreadable amount"
        low, high = SANDBOX_LIMITS[currency]
        if amount != amount.to_integral_value() or not low <= amount <= high:
            return 422, "INVALID_AMOUNT", f"amount must be between {low} and {high} minor units"
        if outcome is Outcome.NOT_FOUND:
            return 422, "SUBSCRIBER_NOT_FOUND", "no mobile-money account for this number"
        return None

    def _open(self, kind: str, body: dict[str, Any], outcome: Outcome, *, refund_of: str | None = None) -> SimPayment:
        currency = str(body["currency"])
        amount = int(Decimal(str(body["amount"])).scaleb(CURRENCY_EXPONENTS[currency]))
        callback_url = body.get("callback_url")
        payment = SimPayment(
            id=f"sbx_{kind[:3]}_{uuid.uuid4().hex[:20]}",
            kind=kind,
            reference=str(body["reference"]),
            msisdn=str(body["msisdn"]),
            amount=amount,
            currency=currency,
            fee=0 if refund_of else amount * FEE_PERCENT // 100,  # a refund costs the merchant no fee
            callback_url=str(callback_url) if callback_url else None,
            outcome=outcome,
            refund_of=refund_of,
        )
        if outcome is Outcome.UNKNOWN_STATUS:
            payment.state = "ON_HOLD"
        self.payments[payment.id] = payment
        self.by_reference[(kind, payment.reference)] = payment.id
        if outcome not in (Outcome.PENDING_FOREVER, Outcome.UNKNOWN_STATUS):
            self.tasks.start(self._settle(payment))
        return payment

    async def _settle(self, payment: SimPayment) -> None:
        if payment.outcome is Outcome.EXPIRES:
            await asyncio.sleep(self.settings.expiry_seconds)
            self._finish(payment, "EXPIRED", "TIMED_OUT")
        else:
            await asyncio.sleep(self.settings.settle_seconds)
            self._apply(payment)
        await self._notify(payment)

    def _apply(self, payment: SimPayment) -> None:
        failure = FAILURE_CODES.get(payment.outcome)
        if failure is not None:
            self._finish(payment, "FAILED", failure)
            return
        memo = f"{payment.kind}:{payment.id}"
        if payment.kind == "collection":
            if not self.accounts.can_pay(payment.msisdn, payment.currency, payment.amount):
                self._finish(payment, "FAILED", "BALANCE_TOO_LOW")
                return
            self.accounts.move(payment.msisdn, "merchant", payment.currency, payment.amount, memo)
            self.accounts.move("merchant", "fees", payment.currency, payment.fee, memo)
        else:
            if not self.accounts.can_pay("merchant", payment.currency, payment.amount + payment.fee):
                self._finish(payment, "FAILED", "BALANCE_TOO_LOW")
                return
            self.accounts.move("merchant", payment.msisdn, payment.currency, payment.amount, memo)
            self.accounts.move("merchant", "fees", payment.currency, payment.fee, memo)
        self._finish(payment, "SUCCESSFUL", None)

    @staticmethod
    def _finish(payment: SimPayment, state: str, failure_code: str | None) -> None:
        payment.state = state
        payment.failure_code = failure_code
        payment.updated_at = _now_iso()

    async def _notify(self, payment: SimPayment) -> None:
        if payment.callback_url is None or payment.outcome is Outcome.NO_CALLBACK:
            return
        if payment.outcome is Outcome.LATE_CALLBACK:
            await asyncio.sleep(self.settings.late_callback_seconds)
        event_id = "evt_" + hashlib.sha256(f"{payment.id}:{payment.state}".encode()).hexdigest()[:24]
        body = json.dumps(
            {
                "id": event_id,
                "type": f"{payment.kind}.{payment.state.lower()}",
                "created": int(time.time()),
                "data": payment.to_wire(),
            }
        ).encode()
        deliveries = 2 if payment.outcome is Outcome.DUPLICATED_CALLBACK else 1
        for _ in range(deliveries):
            # Signed at send time, like a provider: a re-delivery carries a fresh timestamp.
            headers = webhooks.sign(self.webhook_secret, body, int(time.time()))
            await self.callbacks.send(payment.callback_url, body, headers)

    async def _get(self, request: Request) -> Response:
        await self._pause()
        if not self._authorized(request):
            return _error(401, "UNAUTHORIZED", "missing or invalid bearer credentials")
        kind = _kind_of(request)
        payment = self.payments.get(request.path_params["id"])
        if payment is None or payment.kind != kind:
            return _error(404, "NOT_FOUND", "no such payment")
        return JSONResponse(payment.to_wire())

    async def _get_by_reference(self, request: Request) -> Response:
        await self._pause()
        if not self._authorized(request):
            return _error(401, "UNAUTHORIZED", "missing or invalid bearer credentials")
        kind = _kind_of(request)
        payment = self._find(kind, request.path_params["reference"])
        if payment is None:
            return _error(404, "NOT_FOUND", "no payment with this reference")
        return JSONResponse(payment.to_wire())

    # -- refunds ---------------------------------------------------------------------------------------------------

    async def _create_refund(self, request: Request) -> Response:  # noqa: PLR0911 - one answer per documented case
        self.requests["POST /v1/refunds"] += 1
        await self._pause()
        if not self._authorized(request):
            return _error(401, "UNAUTHORIZED", "missing or invalid bearer credentials")
        raw = await request.body()
        body = _parse_refund(raw)
        if body is None:
            return _error(400, "BAD_REQUEST", "reference, collection_id, amount and currency are required")
        key = request.headers.get("idempotency-key")
        if not key:
            return _error(400, "BAD_REQUEST", "the Idempotency-Key header is required")
        fingerprint = hashlib.sha256(b"refund\x00" + raw).hexdigest()
        known = self.keys.get(key)
        if known is not None:
            return await self._replay(known, fingerprint, Outcome.SUCCESS)
        collection = self.payments.get(str(body["collection_id"]))
        if collection is None or collection.kind != "collection":
            return _error(404, "NOT_FOUND", "no such collection")
        refused = self._refund_refused(collection, body)
        if refused is not None:
            return _error(*refused)
        wire = body | {"msisdn": collection.msisdn, "callback_url": None}
        refund = self._open("refund", wire, Outcome.SUCCESS, refund_of=collection.id)
        self.keys[key] = (fingerprint, refund.id)
        return JSONResponse(refund.to_wire(), status_code=201)

    def _refund_refused(  # noqa: PLR0911 - one answer per documented refusal
        self, collection: SimPayment, body: dict[str, Any]
    ) -> tuple[int, str, str] | None:
        if ("refund", str(body["reference"])) in self.by_reference:
            return 409, "DUPLICATE_REFERENCE", "a refund with this reference already exists"
        if collection.state != "SUCCESSFUL":
            return 422, "NOT_REFUNDABLE", "only a successful collection can be refunded"
        if str(body["currency"]) != collection.currency:
            return 422, "CURRENCY_MISMATCH", f"the collection is in {collection.currency}"
        try:
            amount = Decimal(str(body["amount"])).scaleb(CURRENCY_EXPONENTS[collection.currency])
        except InvalidOperation:
            return 422, "INVALID_AMOUNT", "unreadable amount"
        taken = sum(r.amount for r in self._refunds_of(collection.id) if r.state in ("PENDING", "SUCCESSFUL"))
        if amount != amount.to_integral_value() or amount <= 0:
            return 422, "INVALID_AMOUNT", "the amount must be a positive number of minor units"
        if amount > collection.amount - taken:
            return 422, "REFUND_EXCEEDS_AVAILABLE", f"at most {collection.amount - taken} minor units remain refundable"
        return None

    # -- bulk payouts --------------------------------------------------------------------------------------------

    async def _create_bulk(self, request: Request) -> Response:  # noqa: PLR0911 - one answer per documented case
        self.requests["POST /v1/bulk-payouts"] += 1
        await self._pause()
        if not self._authorized(request):
            return _error(401, "UNAUTHORIZED", "missing or invalid bearer credentials")
        raw = await request.body()
        body = _parse_bulk(raw)
        if body is None:
            return _error(400, "BAD_REQUEST", f"reference and 1 to {MAX_BULK_ITEMS} items with distinct references")
        key = request.headers.get("idempotency-key")
        if not key:
            return _error(400, "BAD_REQUEST", "the Idempotency-Key header is required")
        fingerprint = hashlib.sha256(b"bulk\x00" + raw).hexdigest()
        known = self.keys.get(key)
        if known is not None:
            if known[0] != fingerprint:
                return _error(409, "IDEMPOTENCY_KEY_REUSED", "this key was used with another request")
            return JSONResponse(self._bulk_view(known[1]), headers={"Idempotent-Replayed": "true"})
        reference = str(body["reference"])
        if reference in self.bulks:
            return _error(409, "DUPLICATE_REFERENCE", "a bulk with this reference already exists")
        entries: list[dict[str, Any] | str] = []
        for item in body["items"]:
            self.create_attempts[str(item["reference"])] += 1
            outcome = outcome_for(str(item["msisdn"]))
            refused = self._refused("payout", item, outcome)
            if refused is not None:
                entries.append({"reference": str(item["reference"]), "state": "FAILED", "failure_code": refused[1]})
            else:
                entries.append(self._open("payout", item, outcome).id)
        self.bulks[reference] = entries
        self.keys[key] = (fingerprint, reference)
        return JSONResponse(self._bulk_view(reference), status_code=202)

    async def _get_bulk(self, request: Request) -> Response:
        await self._pause()
        if not self._authorized(request):
            return _error(401, "UNAUTHORIZED", "missing or invalid bearer credentials")
        reference = request.path_params["reference"]
        if reference not in self.bulks:
            return _error(404, "NOT_FOUND", "no bulk with this reference")
        return JSONResponse(self._bulk_view(reference))

    def _bulk_view(self, reference: str) -> dict[str, Any]:
        items = [
            entry if isinstance(entry, dict) else self.payments[entry].to_wire() for entry in self.bulks[reference]
        ]
        settled = all(item["state"] in ("SUCCESSFUL", "FAILED", "EXPIRED") for item in items)
        return {"reference": reference, "state": "COMPLETED" if settled else "PROCESSING", "items": items}

    async def _balance(self, request: Request) -> Response:
        await self._pause()
        if not self._authorized(request):
            return _error(401, "UNAUTHORIZED", "missing or invalid bearer credentials")
        currency = request.path_params["currency"]
        if currency not in SANDBOX_CURRENCIES:
            return _error(422, "UNSUPPORTED_CURRENCY", f"{currency} is not supported")
        return JSONResponse({"currency": currency, "available": _major(self.merchant_balance(currency), currency)})

    async def _account(self, request: Request) -> Response:
        await self._pause()
        if not self._authorized(request):
            return _error(401, "UNAUTHORIZED", "missing or invalid bearer credentials")
        msisdn = request.path_params["msisdn"]
        outcome = outcome_for(msisdn)
        if outcome is Outcome.NOT_FOUND:
            return _error(404, "SUBSCRIBER_NOT_FOUND", "no mobile-money account for this number")
        status = "BLOCKED" if outcome is Outcome.ACCOUNT_INACTIVE else "ACTIVE"
        return JSONResponse({"msisdn": msisdn, "status": status, "name": f"Abonné {msisdn[-3:]}"})

    async def _state(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "UNAUTHORIZED", "missing or invalid bearer credentials")
        return JSONResponse(
            {
                "balances": self.accounts.snapshot(),
                "payments": [p.to_wire() for p in self.payments.values()],
                "token_requests": self.token_requests,
            }
        )
