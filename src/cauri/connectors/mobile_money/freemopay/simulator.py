"""A FreeMoPay v2 simulator: FreeMoPay's paths, auth modes, bodies, rate limit and unsigned callbacks.

* ``POST /api/v2/payment/token`` ``{appKey, secretKey}`` -> ``{access_token, expires_in}``; bad credentials ->
  ``401 {code: "BAD_API_CREDENTIALS", message: {en, fr}}`` (also for a wrong Basic header or bearer token)
* ``POST /api/v2/payment`` ``{payer, amount (string), externalId, description, callback}`` ->
  ``{reference, status, message}``; the first status depends on the auth mode (``initial_statuses``: Basic
  answers ``SUCCESS``, the bearer token ``CREATED`` unless configured otherwise): all mean *accepted, waiting*
* ``POST /api/v2/payment/direct-withdraw`` ``{receiver, amount, externalId, callback}`` -> ``{reference, status:
  "CREATED", message}``
* ``GET /api/v2/payment/{reference}`` -> ``{reference, merchandRef, amount, status, reason}``; unknown -> 404
* callbacks: ``POST <callback>`` ``{status, reference, amount, transactionType, externalId, message}``, unsigned,
  re-sent while not answered 2xx
* at most ``rate_limit_per_minute`` (100) requests in any 60 s per merchant, then ``429`` with ``Retry-After``
* creates are not deduplicated (like FreeMoPay): the same ``externalId`` twice makes two payments, so a test sees
  any double create in :meth:`created`

Outcomes come from the payer's (receiver's) number: its **last three digits**, the same table as the sandbox
(``docs/providers/freemopay.md``); failure reasons are free text, as FreeMoPay gives them.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cauri.connectors.mobile_money.freemopay import webhooks
from cauri.core.security import constant_time_equal
from cauri.kit.outcomes import Outcome, outcome_for
from cauri.kit.simulation import Fault, SimulatorBase, SimulatorSettings, basic_credentials, json_object

DEFAULT_APP_KEY = "fmp_app_demo"
DEFAULT_SECRET_KEY = "fmp_secret_demo"  # noqa: S105 - the simulator's published development secret
MERCHANT_FLOAT = 1_000_000_000
CURRENCY = "XAF"

# The free-text reasons the simulator gives (FreeMoPay's real wording is not public).
FAILURE_TEXTS: dict[Outcome, str] = {
    Outcome.INSUFFICIENT_FUNDS: "Insufficient balance",
    Outcome.LIMIT_REACHED: "Transaction limit reached",
    Outcome.NOT_ALLOWED: "Operation not allowed for this account",
    Outcome.REJECTED_BY_PAYER: "Transaction cancelled by the customer",
    Outcome.PROVIDER_ERROR: "Operator error, please retry later",
    Outcome.ACCOUNT_INACTIVE: "Customer account blocked",
}
EXPIRED_TEXT = "Transaction expired: the customer did not confirm in time"
UNKNOWN_STATUS = "IN_PROGRESS"  # a word the connector does not know: must read as pending


def _message(en: str, fr: str) -> dict[str, str]:
    return {"en": en, "fr": fr}


def _error(status: int, code: str, en: str, fr: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": _message(en, fr)}, status_code=status, headers=headers)


def _bad_credentials() -> JSONResponse:
    return _error(401, "BAD_API_CREDENTIALS", "Bad API credentials", "Identifiants API invalides")


@dataclass
class SimPayment:
    reference: str  # FreeMoPay's (uuid)
    kind: str  # "collection" | "payout"
    external_id: str
    msisdn: str
    amount: int
    callback: str | None
    outcome: Outcome
    status: str = "PENDING"
    reason: str | None = None

    def details(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "merchandRef": self.external_id,
            "amount": str(self.amount),
            "status": self.status,
            "reason": self.reason,
        }


class FreeMoPaySimulator(SimulatorBase):
    """One FreeMoPay merchant. ``app`` is the ASGI app; the methods below are the test interface."""

    def __init__(
        self,
        *,
        app_key: str = DEFAULT_APP_KEY,
        secret_key: str = DEFAULT_SECRET_KEY,
        settings: SimulatorSettings | None = None,
        rate_limit_per_minute: int = 100,
        initial_statuses: dict[str, str] | None = None,
        withdraw_transaction_type: str = "WITHDRAW",
    ) -> None:
        super().__init__(settings)
        self.app_key = app_key
        self.secret_key = secret_key
        self.rate_limit_per_minute = rate_limit_per_minute
        self.initial_statuses = {"basic": "SUCCESS", "bearer": "CREATED", **(initial_statuses or {})}
        self.withdraw_transaction_type = withdraw_transaction_type
        self.payments: dict[str, SimPayment] = {}
        self.tokens: dict[str, float] = {}
        self.token_requests = 0
        self.rate_limited = 0  # requests refused by the per-minute limit
        self._window: deque[float] = deque()
        self._app = Starlette(
            routes=[
                Route("/api/v2/payment/token", self._token, methods=["POST"]),
                Route("/api/v2/payment/direct-withdraw", self._withdraw, methods=["POST"]),
                Route("/api/v2/payment/{reference}", self._status, methods=["GET"]),
                Route("/api/v2/payment", self._deposit, methods=["POST"]),
                Route("/_sim/state", self._state, methods=["GET"]),
            ]
        )

    # -- test interface (SimulatedProvider) ------------------------------------------------------------------

    def _by_external_id(self, external_id: str) -> list[SimPayment]:
        return [p for p in self.payments.values() if p.external_id == external_id]

    def created(self, reference: str) -> int:
        return len(self._by_external_id(reference))

    def collected(self, reference: str) -> int:
        return sum(
            self.accounts.moved(f"collection:{p.reference}", debit=p.msisdn)
            for p in self._by_external_id(reference)
            if p.kind == "collection"
        )

    def paid_out(self, reference: str) -> int:
        return sum(
            self.accounts.moved(f"payout:{p.reference}", credit=p.msisdn)
            for p in self._by_external_id(reference)
            if p.kind == "payout"
        )

    def merchant_balance(self, currency: str) -> int:
        return self.accounts.balance("merchant", currency)

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def _house_balance(self, owner: str) -> int | None:
        return MERCHANT_FLOAT if owner == "merchant" else None

    # -- plumbing ------------------------------------------------------------------------------------------------

    def _over_limit(self) -> Response | None:
        """FreeMoPay's 100 requests a minute per merchant (a sliding window here)."""
        now = time.monotonic()
        while self._window and now - self._window[0] >= 60.0:
            self._window.popleft()
        if len(self._window) >= self.rate_limit_per_minute:
            self.rate_limited += 1
            wait = max(1, math.ceil(self._window[0] + 60.0 - now))
            return _error(
                429,
                "TOO_MANY_REQUESTS",
                "Too many requests, retry later",
                "Trop de requêtes, réessayez plus tard",
                headers={"Retry-After": str(wait)},
            )
        self._window.append(now)
        return None

    def _auth_mode(self, request: Request) -> str | None:
        """ "basic" or "bearer" when the request is authenticated, else None."""
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() == "basic":
            app_key, secret_key = basic_credentials(header)
            valid = constant_time_equal(app_key, self.app_key) and constant_time_equal(secret_key, self.secret_key)
            return "basic" if valid else None
        if scheme.lower() == "bearer" and credential:
            expiry = self.tokens.get(credential)
            return "bearer" if expiry is not None and expiry > time.time() else None
        return None

    async def _guard(self, request: Request, label: str) -> Response | str:
        """Count, pause, rate-limit and authenticate one request: the auth mode, or the refusal to answer."""
        await self._enter(label)
        limited = self._over_limit()
        if limited is not None:
            return limited
        mode = self._auth_mode(request)
        return mode if mode is not None else _bad_credentials()

    # -- endpoints -----------------------------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        self.requests["POST /api/v2/payment/token"] += 1
        self.token_requests += 1
        if self.settings.token_latency_seconds > 0:
            await asyncio.sleep(self.settings.token_latency_seconds)
        limited = self._over_limit()
        if limited is not None:
            return limited
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _bad_credentials()
        app_key, secret_key = str(body.get("appKey", "")), str(body.get("secretKey", ""))
        if not (constant_time_equal(app_key, self.app_key) and constant_time_equal(secret_key, self.secret_key)):
            return _bad_credentials()
        token = secrets.token_urlsafe(32)
        lifetime = self.settings.token_lifetime_seconds
        self.tokens[token] = time.time() + lifetime
        return JSONResponse({"access_token": token, "expires_in": lifetime})

    async def _deposit(self, request: Request) -> Response:
        return await self._create(request, "collection")

    async def _withdraw(self, request: Request) -> Response:
        return await self._create(request, "payout")

    async def _create(self, request: Request, kind: str) -> Response:
        path = "/api/v2/payment" if kind == "collection" else "/api/v2/payment/direct-withdraw"
        mode = await self._guard(request, f"POST {path}")
        if not isinstance(mode, str):
            return mode
        body = json_object(await request.body())
        party_field = "payer" if kind == "collection" else "receiver"
        msisdn = str(body.get(party_field, "")) if body else ""
        amount_text = str(body.get("amount", "")) if body else ""
        external_id = str(body.get("externalId", "")) if body else ""
        if not (msisdn.isdigit() and amount_text.isdigit() and int(amount_text) > 0 and external_id):
            return _error(
                400,
                "INVALID_REQUEST",
                f"{party_field}, amount (a string of digits) and externalId are required",
                f"{party_field}, amount (chaîne de chiffres) et externalId sont obligatoires",
            )
        attempt = self._attempt(external_id)
        outcome = outcome_for(msisdn)
        fault = self._refusal(outcome, attempt)
        if fault is not None:
            return self._fault(fault)
        await self._take_time(outcome)
        payment = SimPayment(
            reference=str(uuid.uuid4()),
            kind=kind,
            external_id=external_id,
            msisdn=msisdn,
            amount=int(amount_text),
            callback=str(body["callback"]) if body and body.get("callback") else None,
            outcome=outcome,
        )
        self.payments[payment.reference] = payment
        if outcome is Outcome.NOT_FOUND:
            payment.status = "FAILED"
            payment.reason = "Payer account not found" if kind == "collection" else "Receiver account not found"
            return JSONResponse({"reference": payment.reference, "status": "FAILED", "message": payment.reason})
        if outcome is Outcome.UNKNOWN_STATUS:
            payment.status = UNKNOWN_STATUS
        elif outcome is not Outcome.PENDING_FOREVER:
            self.tasks.start(self._settle(payment))
        fault = await self._after_accepting(outcome, attempt)
        if fault is not None:
            return self._fault(fault)
        first = self.initial_statuses[mode] if kind == "collection" else "CREATED"
        waiting = "Transaction initiated, waiting for the customer"
        return JSONResponse({"reference": payment.reference, "status": first, "message": waiting})

    def _fault(self, fault: Fault) -> JSONResponse:
        if fault is Fault.RATE_LIMITED:
            return _error(429, "TOO_MANY_REQUESTS", "Too many requests", "Trop de requêtes", self._retry_after())
        if fault is Fault.UNAVAILABLE:
            return _error(503, "SERVICE_UNAVAILABLE", "Service unavailable", "Service indisponible")
        return _error(500, "INTERNAL_ERROR", "Internal error", "Erreur interne")

    async def _settle(self, payment: SimPayment) -> None:
        def expire() -> None:
            payment.status, payment.reason = "FAILED", EXPIRED_TEXT

        await self._settle_later(payment.outcome, settle=lambda: self._apply(payment), expire=expire)
        await self._notify(payment)

    def _apply(self, payment: SimPayment) -> None:
        failure = FAILURE_TEXTS.get(payment.outcome)
        if failure is not None:
            payment.status, payment.reason = "FAILED", failure
            return
        memo = f"{payment.kind}:{payment.reference}"
        payer, payee = (payment.msisdn, "merchant") if payment.kind == "collection" else ("merchant", payment.msisdn)
        if not self.accounts.can_pay(payer, CURRENCY, payment.amount):
            payment.status, payment.reason = "FAILED", FAILURE_TEXTS[Outcome.INSUFFICIENT_FUNDS]
            return
        self.accounts.move(payer, payee, CURRENCY, payment.amount, memo)
        payment.status, payment.reason = "SUCCESS", None

    async def _notify(self, payment: SimPayment) -> None:
        body = webhooks.callback_body(
            status=payment.status,
            reference=payment.reference,
            amount=str(payment.amount),
            transaction_type="DEPOSIT" if payment.kind == "collection" else self.withdraw_transaction_type,
            external_id=payment.external_id,
            message=payment.reason or "Transaction successful",
        )
        await self._deliver(payment.outcome, payment.callback, body, webhooks.CALLBACK_HEADERS)

    async def _status(self, request: Request) -> Response:
        mode = await self._guard(request, "GET /api/v2/payment/{reference}")
        if not isinstance(mode, str):
            return mode
        payment = self.payments.get(request.path_params["reference"])
        if payment is None:
            return _error(404, "PAYMENT_NOT_FOUND", "Payment not found", "Paiement introuvable")
        return JSONResponse(payment.details())

    async def _state(self, request: Request) -> Response:
        if self._auth_mode(request) is None:
            return _bad_credentials()
        return JSONResponse(
            {
                "balances": self.accounts.snapshot(),
                "payments": [p.details() | {"kind": p.kind, "msisdn": p.msisdn} for p in self.payments.values()],
                "requests": dict(self.requests),
                "rate_limited": self.rate_limited,
            }
        )
