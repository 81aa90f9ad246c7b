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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cauri.connectors.mobile_money.sandbox import webhooks
from cauri.core.money import CURRENCY_EXPONENTS
from cauri.core.security import constant_time_equal
from cauri.kit.amounts import to_major_units
from cauri.kit.auth import basic_header
from cauri.kit.outcomes import Outcome, outcome_for
from cauri.kit.simulation import (
    KEY_REUSED,
    Fault,
    IdempotentReplay,
    SimulatorBase,
    SimulatorSettings,
    fingerprint,
    json_object,
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


def _with_fields(raw: bytes, *names: str) -> dict[str, Any] | None:
    """A JSON object body in which every named field is present and not empty, or None."""
    body = json_object(raw)
    return body if body is not None and all(body.get(name) for name in names) else None


def _parse_bulk(raw: bytes) -> dict[str, Any] | None:
    body = _with_fields(raw, "reference")
    if body is None:
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


def _key_reused() -> JSONResponse:
    return _error(409, "IDEMPOTENCY_KEY_REUSED", "this key was used with another request")


def _replayed(answer: dict[str, Any]) -> JSONResponse:
    return JSONResponse(answer, status_code=200, headers={"Idempotent-Replayed": "true"})


def _kind_of(request: Request) -> str:
    """From the path relative to where the simulator is mounted (``/sandbox`` inside the API, ``/`` alone)."""
    path, root = request.scope["path"], request.scope.get("root_path", "")
    relative = path[len(root) :] if root and path.startswith(root) else path
    if relative.startswith("/v1/refunds"):
        return "refund"
    return "payout" if relative.startswith("/v1/payouts") else "collection"


# A replayed answer: a payment's id, or a bulk's reference.
_Known = str


class SandboxSimulator(SimulatorBase):
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
        super().__init__(settings)
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.client_id = client_id
        self.client_secret = client_secret
        self.payments: dict[str, SimPayment] = {}
        self.by_reference: dict[tuple[str, str], str] = {}  # (kind, reference) -> id
        self.keys: IdempotentReplay[_Known] = IdempotentReplay()  # idempotency key -> payment id or bulk reference
        self.bulks: dict[str, list[dict[str, Any] | str]] = {}  # bulk reference -> items: payment ids or refusals
        self.tokens: dict[str, float] = {}  # issued OAuth token -> expiry (time.time())
        self.token_requests = 0
        self._app = Starlette(routes=self._routes())

    # -- test interface (SimulatedProvider) --------------------------------------------------------------

    def created(self, reference: str) -> int:
        return sum(1 for (_kind, ref) in self.by_reference if ref == reference)

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

    def _find(self, kind: str, reference: str) -> SimPayment | None:
        payment_id = self.by_reference.get((kind, reference))
        return self.payments.get(payment_id) if payment_id else None

    def _house_balance(self, owner: str) -> int | None:
        if owner == "merchant":
            return MERCHANT_FLOAT
        return 0 if owner.startswith("fees") else None

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
        refused = await self._guarded(request, f"POST /v1/{kind}s")
        if refused is not None:
            return refused
        raw = await request.body()
        body = _with_fields(raw, "reference", "amount", "currency", "msisdn")
        if body is None:
            return _error(400, "BAD_REQUEST", "reference, amount, currency and msisdn are required")
        key = request.headers.get("idempotency-key")
        if not key:
            return _error(400, "BAD_REQUEST", "the Idempotency-Key header is required")
        attempt = self._attempt(str(body["reference"]))
        outcome = outcome_for(str(body["msisdn"]))
        fault = self._refusal(outcome, attempt)
        if fault is not None:
            return self._fault(fault)
        request_fingerprint = fingerprint(kind, raw)
        known = self.keys.recall(key, request_fingerprint)
        if known is KEY_REUSED:
            return _key_reused()
        if known is not None:
            if outcome is Outcome.TIMEOUT_AFTER_ACCEPT:
                await asyncio.sleep(self.settings.hang_seconds)
            return _replayed(self.payments[known].to_wire())
        declined = self._declined(kind, body, outcome)
        if declined is not None:
            return _error(*declined)
        await self._take_time(outcome)
        payment = self._open(kind, body, outcome)
        self.keys.remember(key, request_fingerprint, payment.id)
        fault = await self._after_accepting(outcome, attempt)
        return self._fault(fault) if fault is not None else JSONResponse(payment.to_wire(), status_code=201)

    async def _guarded(self, request: Request, label: str) -> Response | None:
        """The preamble of every call: counted, paused, then refused unless authorised."""
        await self._enter(label)
        if not self._authorized(request):
            return _error(401, "UNAUTHORIZED", "missing or invalid bearer credentials")
        return None

    def _fault(self, fault: Fault) -> Response:
        if fault is Fault.RATE_LIMITED:
            return _error(429, "TOO_MANY_REQUESTS", "slow down", headers=self._retry_after())
        if fault is Fault.UNAVAILABLE:
            return _error(503, "SERVICE_UNAVAILABLE", "try again later")
        return _error(500, "INTERNAL_ERROR", "something went wrong")

    def _declined(self, kind: str, body: dict[str, Any], outcome: Outcome) -> tuple[int, str, str] | None:
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
        await self._settle_later(
            payment.outcome,
            settle=lambda: self._apply(payment),
            expire=lambda: self._finish(payment, "EXPIRED", "TIMED_OUT"),
        )
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
        event_id = "evt_" + hashlib.sha256(f"{payment.id}:{payment.state}".encode()).hexdigest()[:24]
        body = json.dumps(
            {
                "id": event_id,
                "type": f"{payment.kind}.{payment.state.lower()}",
                "created": int(time.time()),
                "data": payment.to_wire(),
            }
        ).encode()
        # Signed at send time, like a provider: a re-delivery carries a fresh timestamp.
        await self._deliver(
            payment.outcome,
            payment.callback_url,
            body,
            lambda: webhooks.sign(self.webhook_secret, body, int(time.time())),
        )

    async def _get(self, request: Request) -> Response:
        kind = _kind_of(request)
        refused = await self._guarded(request, f"GET /v1/{kind}s/{{id}}")
        if refused is not None:
            return refused
        payment = self.payments.get(request.path_params["id"])
        if payment is None or payment.kind != kind:
            return _error(404, "NOT_FOUND", "no such payment")
        return JSONResponse(payment.to_wire())

    async def _get_by_reference(self, request: Request) -> Response:
        kind = _kind_of(request)
        refused = await self._guarded(request, f"GET /v1/{kind}s/by-reference/{{reference}}")
        if refused is not None:
            return refused
        payment = self._find(kind, request.path_params["reference"])
        if payment is None:
            return _error(404, "NOT_FOUND", "no payment with this reference")
        return JSONResponse(payment.to_wire())

    # -- refunds ---------------------------------------------------------------------------------------------------

    async def _create_refund(self, request: Request) -> Response:  # noqa: PLR0911 - one answer per documented case
        refused = await self._guarded(request, "POST /v1/refunds")
        if refused is not None:
            return refused
        raw = await request.body()
        body = _with_fields(raw, "reference", "collection_id", "amount", "currency")
        if body is None:
            return _error(400, "BAD_REQUEST", "reference, collection_id, amount and currency are required")
        key = request.headers.get("idempotency-key")
        if not key:
            return _error(400, "BAD_REQUEST", "the Idempotency-Key header is required")
        request_fingerprint = fingerprint("refund", raw)
        known = self.keys.recall(key, request_fingerprint)
        if known is KEY_REUSED:
            return _key_reused()
        if known is not None:
            return _replayed(self.payments[known].to_wire())
        collection = self.payments.get(str(body["collection_id"]))
        if collection is None or collection.kind != "collection":
            return _error(404, "NOT_FOUND", "no such collection")
        declined = self._refund_declined(collection, body)
        if declined is not None:
            return _error(*declined)
        wire = body | {"msisdn": collection.msisdn, "callback_url": None}
        refund = self._open("refund", wire, Outcome.SUCCESS, refund_of=collection.id)
        self.keys.remember(key, request_fingerprint, refund.id)
        return JSONResponse(refund.to_wire(), status_code=201)

    def _refund_declined(  # noqa: PLR0911 - one answer per documented refusal
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
        refused = await self._guarded(request, "POST /v1/bulk-payouts")
        if refused is not None:
            return refused
        raw = await request.body()
        body = _parse_bulk(raw)
        if body is None:
            return _error(400, "BAD_REQUEST", f"reference and 1 to {MAX_BULK_ITEMS} items with distinct references")
        key = request.headers.get("idempotency-key")
        if not key:
            return _error(400, "BAD_REQUEST", "the Idempotency-Key header is required")
        request_fingerprint = fingerprint("bulk", raw)
        known = self.keys.recall(key, request_fingerprint)
        if known is KEY_REUSED:
            return _key_reused()
        if known is not None:
            return _replayed(self._bulk_view(known))
        reference = str(body["reference"])
        if reference in self.bulks:
            return _error(409, "DUPLICATE_REFERENCE", "a bulk with this reference already exists")
        entries: list[dict[str, Any] | str] = []
        for item in body["items"]:
            self._attempt(str(item["reference"]))
            outcome = outcome_for(str(item["msisdn"]))
            declined = self._declined("payout", item, outcome)
            if declined is not None:
                entries.append({"reference": str(item["reference"]), "state": "FAILED", "failure_code": declined[1]})
            else:
                entries.append(self._open("payout", item, outcome).id)
        self.bulks[reference] = entries
        self.keys.remember(key, request_fingerprint, reference)
        return JSONResponse(self._bulk_view(reference), status_code=202)

    async def _get_bulk(self, request: Request) -> Response:
        refused = await self._guarded(request, "GET /v1/bulk-payouts/{reference}")
        if refused is not None:
            return refused
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
        refused = await self._guarded(request, "GET /v1/balance/{currency}")
        if refused is not None:
            return refused
        currency = request.path_params["currency"]
        if currency not in SANDBOX_CURRENCIES:
            return _error(422, "UNSUPPORTED_CURRENCY", f"{currency} is not supported")
        return JSONResponse({"currency": currency, "available": _major(self.merchant_balance(currency), currency)})

    async def _account(self, request: Request) -> Response:
        refused = await self._guarded(request, "GET /v1/accounts/{msisdn}")
        if refused is not None:
            return refused
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
