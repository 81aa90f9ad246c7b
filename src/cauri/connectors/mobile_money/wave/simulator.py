"""A Wave simulator: checkout sessions with a launch page, payouts, refunds, balance, signed webhooks.

* ``Authorization: Bearer <api key>`` on every call (else ``401``); ``idempotency-key`` honoured on every POST
  (the same key and body return the first answer; the same key with another body is ``409``)
* ``POST /v1/checkout/sessions`` -> the session (``cos-…``, ``checkout_status`` open, ``payment_status``
  processing, ``wave_launch_url`` on this simulator); ``GET /v1/checkout/sessions/{id}``,
  ``GET /v1/checkout/sessions?transaction_id=``, ``GET /v1/checkout/sessions/search?client_reference=``
  (``{"result": [...]}``), ``POST …/{id}/expire``, ``POST …/{id}/refund``
* ``POST /v1/payout`` -> the payout (``pt-…``, processing, then succeeded or failed with ``payout_error``);
  ``GET /v1/payout/{id}``, ``GET /v1/payouts/search?client_reference=``; ``GET /v1/balance``
* the payer: when a session is restricted to a number (``restrict_payer_mobile``), that Wave user pays after
  ``settle_seconds``, with the outcome its number's last three digits choose (the sandbox table); otherwise a
  person pays on the launch page (``GET``/``POST /c/{id}``, a number to type)
* ``PUT /_sim/webhook {"url": …}`` sets the webhook address (what Wave's business portal does)
* webhooks: ``{id: "EV_…", type, data}`` signed ``Wave-Signature: t=…,v1=hex(HMAC(secret, t + body))`` and POSTed to
  ``webhook_url``, the merchant's one webhook address (Wave's portal setting); ``{client_reference}`` in it is
  replaced by the session's, a convenience for tests where each payment has its own receiver path
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from cauri.connectors.mobile_money.wave import webhooks
from cauri.core.security import constant_time_equal
from cauri.kit.amounts import positive_minor_units
from cauri.kit.outcomes import Outcome, outcome_for
from cauri.kit.simulation import KEY_REUSED, Fault, IdempotentReplay, SimulatorBase, SimulatorSettings, fingerprint

DEFAULT_API_KEY = "wave_sn_prod_demo_key"
DEFAULT_WEBHOOK_SECRET = "wave_sn_WHS_demo_secret"  # noqa: S105 - the simulator's published development secret
CURRENCIES = frozenset({"XOF"})
MERCHANT_FLOAT = 1_000_000_000
SESSION_LIFETIME = timedelta(minutes=30)
FEE_PERCENT = 1  # payouts: Wave charges the sender on top of receive_amount ("?": the real fee grid is Wave's)
UNKNOWN_PAYMENT_STATUS = "under-review"  # a word the connector does not know: must read as pending

# The error codes the simulator gives (Wave's real codes are not public).
CHECKOUT_ERRORS: dict[Outcome, str] = {
    Outcome.NOT_FOUND: "payer-not-found",
    Outcome.INSUFFICIENT_FUNDS: "insufficient-funds",
    Outcome.LIMIT_REACHED: "limit-exceeded",
    Outcome.NOT_ALLOWED: "not-allowed",
    Outcome.REJECTED_BY_PAYER: "cancelled-by-payer",
    Outcome.PROVIDER_ERROR: "internal-error",
    Outcome.ACCOUNT_INACTIVE: "blocked-account",
}
PAYOUT_ERRORS: dict[Outcome, str] = {
    Outcome.NOT_FOUND: "recipient-not-found",
    Outcome.INSUFFICIENT_FUNDS: "insufficient-funds",
    Outcome.LIMIT_REACHED: "recipient-limit-exceeded",
    Outcome.NOT_ALLOWED: "not-allowed",
    Outcome.PROVIDER_ERROR: "internal-error",
    Outcome.ACCOUNT_INACTIVE: "blocked-account",
}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


@dataclass
class SimSession:
    id: str
    amount: int
    currency: str
    client_reference: str | None
    restrict_payer_mobile: str | None
    success_url: str
    error_url: str
    launch_url: str
    outcome: Outcome
    expires_at: datetime
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    checkout_status: str = "open"
    payment_status: str = "processing"
    transaction_id: str | None = None
    last_payment_error: dict[str, str] | None = None
    payer: str | None = None
    refunded: bool = False

    def refresh(self) -> None:
        """Sessions expire by themselves (Wave's ``when_expires``)."""
        if self.checkout_status == "open" and datetime.now(UTC) >= self.expires_at:
            self.checkout_status = "expired"

    def to_wire(self) -> dict[str, Any]:
        self.refresh()
        return {
            "id": self.id,
            "amount": str(self.amount),
            "currency": self.currency,
            "business_name": "Cauri Simulator",
            "checkout_status": self.checkout_status,
            "payment_status": self.payment_status,
            "client_reference": self.client_reference,
            "transaction_id": self.transaction_id,
            "wave_launch_url": self.launch_url,
            "success_url": self.success_url,
            "error_url": self.error_url,
            "restrict_payer_mobile": self.restrict_payer_mobile,
            "when_created": _iso(self.created_at),
            "when_expires": _iso(self.expires_at),
            "last_payment_error": self.last_payment_error,
        }


@dataclass
class SimPayout:
    id: str
    amount: int
    fee: int
    currency: str
    mobile: str
    name: str | None
    client_reference: str | None
    outcome: Outcome
    status: str = "processing"
    error: dict[str, str] | None = None
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "currency": self.currency,
            "receive_amount": str(self.amount),
            "fee": str(self.fee),
            "mobile": self.mobile,
            "name": self.name,
            "client_reference": self.client_reference,
            "status": self.status,
            "timestamp": _iso(self.timestamp),
            "payout_error": self.error,
        }


class WaveSimulator(SimulatorBase):
    """One Wave business account. ``app`` is the ASGI app; the methods below are the test interface."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        webhook_url: str | None = None,
        settings: SimulatorSettings | None = None,
    ) -> None:
        super().__init__(settings)
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.sessions: dict[str, SimSession] = {}
        self.payouts: dict[str, SimPayout] = {}
        self.keys: IdempotentReplay[dict[str, Any]] = IdempotentReplay()  # idempotency key -> the first answer
        self._app = Starlette(
            routes=[
                Route("/v1/checkout/sessions", self._create_session, methods=["POST"]),
                Route("/v1/checkout/sessions", self._session_by_transaction, methods=["GET"]),
                Route("/v1/checkout/sessions/search", self._search_sessions, methods=["GET"]),
                Route("/v1/checkout/sessions/{id}", self._get_session, methods=["GET"]),
                Route("/v1/checkout/sessions/{id}/expire", self._expire, methods=["POST"]),
                Route("/v1/checkout/sessions/{id}/refund", self._refund, methods=["POST"]),
                Route("/v1/payout", self._create_payout, methods=["POST"]),
                Route("/v1/payout/{id}", self._get_payout, methods=["GET"]),
                Route("/v1/payout/{id}/reverse", self._reverse_payout, methods=["POST"]),
                Route("/v1/payouts/search", self._search_payouts, methods=["GET"]),
                Route("/v1/balance", self._balance, methods=["GET"]),
                Route("/c/{id}", self._launch_page, methods=["GET", "POST"]),
                Route("/_sim/state", self._state, methods=["GET"]),
                Route("/_sim/webhook", self._set_webhook, methods=["PUT"]),
            ]
        )

    # -- test interface (SimulatedProvider) ------------------------------------------------------------------

    def created(self, reference: str) -> int:
        return sum(1 for s in self.sessions.values() if s.client_reference == reference) + sum(
            1 for p in self.payouts.values() if p.client_reference == reference
        )

    def collected(self, reference: str) -> int:
        return sum(
            self.accounts.moved(f"checkout:{s.id}", debit=s.payer)
            for s in self.sessions.values()
            if s.client_reference == reference and s.payer
        )

    def paid_out(self, reference: str) -> int:
        return sum(
            self.accounts.moved(f"payout:{p.id}", credit=p.mobile)
            for p in self.payouts.values()
            if p.client_reference == reference
        )

    def refunded(self, reference: str) -> int:
        """What went back to the payer of the checkout session made under our ``reference``."""
        return sum(
            self.accounts.moved(f"refund:{s.id}", credit=s.payer)
            for s in self.sessions.values()
            if s.client_reference == reference and s.payer
        )

    def merchant_balance(self, currency: str) -> int:
        return self.accounts.balance("merchant", currency)

    def _house_balance(self, owner: str) -> int | None:
        return {"merchant": MERCHANT_FLOAT, "fees": 0}.get(owner)

    # -- plumbing ------------------------------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and constant_time_equal(credential, self.api_key)

    async def _guarded_create(self, request: Request, label: str) -> tuple[dict[str, Any], str | None] | Response:
        await self._enter(label)
        if not self._authorized(request):
            return _error(401, "missing-auth-header", "Invalid or missing API key.")
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _error(400, "request-validation-error", "The body must be a JSON object.")
        return body, request.headers.get("idempotency-key")

    def _replay(self, key: str | None, request_fingerprint: str) -> Response | None:
        known = self.keys.recall(key, request_fingerprint)
        if known is KEY_REUSED:
            return _error(409, "idempotency-mismatch", "This idempotency-key was used with another request.")
        return None if known is None else JSONResponse(known)

    def _fault(self, fault: Fault) -> JSONResponse:
        if fault is Fault.RATE_LIMITED:
            return _error(429, "rate-limit-exceeded", "Too many requests.", headers=self._retry_after())
        if fault is Fault.UNAVAILABLE:
            return _error(503, "service-unavailable", "Wave is temporarily unavailable.")
        return _error(500, "internal-server-error", "Something went wrong.")

    @staticmethod
    def _amount(text: object, currency: str) -> int | None:
        """Wave's amounts are strings (``"1500"``) in a currency it serves."""
        if currency not in CURRENCIES or not isinstance(text, str):
            return None
        return positive_minor_units(text, currency)

    # -- checkout sessions -----------------------------------------------------------------------------------

    async def _create_session(self, request: Request) -> Response:
        guarded = await self._guarded_create(request, "POST /v1/checkout/sessions")
        if isinstance(guarded, Response):
            return guarded
        body, key = guarded
        reference = body.get("client_reference")
        mobile = body.get("restrict_payer_mobile")
        outcome = outcome_for(str(mobile)) if mobile else Outcome.SUCCESS
        attempt = self._attempt(reference) if isinstance(reference, str) else 1
        fault = self._refusal(outcome, attempt)
        if fault is not None:
            return self._fault(fault)
        request_fingerprint = fingerprint(json.dumps(body, sort_keys=True))
        replay = self._replay(key, request_fingerprint)
        if replay is not None:
            if outcome is Outcome.TIMEOUT_AFTER_ACCEPT:
                await asyncio.sleep(self.settings.hang_seconds)
            return replay
        currency = str(body.get("currency", ""))
        amount = self._amount(body.get("amount"), currency)
        if amount is None or not body.get("success_url") or not body.get("error_url"):
            return _error(
                400, "request-validation-error", "amount (string), currency XOF, success_url and error_url required."
            )
        if mobile is not None and not (isinstance(mobile, str) and mobile.startswith("+") and mobile[1:].isdigit()):
            return _error(400, "request-validation-error", "restrict_payer_mobile must be E.164.")
        await self._take_time(outcome)
        session_id = f"cos-{uuid.uuid4().hex[:20]}"
        lifetime = timedelta(seconds=self.settings.expiry_seconds) if outcome is Outcome.EXPIRES else SESSION_LIFETIME
        session = SimSession(
            id=session_id,
            amount=amount,
            currency=currency,
            client_reference=reference if isinstance(reference, str) else None,
            restrict_payer_mobile=mobile if isinstance(mobile, str) else None,
            success_url=str(body["success_url"]),
            error_url=str(body["error_url"]),
            launch_url=f"{str(request.base_url).rstrip('/')}/c/{session_id}",
            outcome=outcome,
            expires_at=datetime.now(UTC) + lifetime,
        )
        if outcome is Outcome.UNKNOWN_STATUS:
            session.payment_status = UNKNOWN_PAYMENT_STATUS
        self.sessions[session_id] = session
        answer = session.to_wire()
        self.keys.remember(key, request_fingerprint, answer)
        if session.restrict_payer_mobile and outcome not in (
            Outcome.PENDING_FOREVER,
            Outcome.EXPIRES,
            Outcome.UNKNOWN_STATUS,
        ):
            self.tasks.start(self._payer_pays(session))
        fault = await self._after_accepting(outcome, attempt)
        return self._fault(fault) if fault is not None else JSONResponse(answer)

    async def _payer_pays(self, session: SimSession) -> None:
        """The restricted payer opens the launch URL in the Wave app and confirms."""
        await asyncio.sleep(self.settings.settle_seconds)
        assert session.restrict_payer_mobile is not None
        await self._pay(session, session.restrict_payer_mobile)

    async def _pay(self, session: SimSession, mobile: str) -> None:
        session.refresh()
        if session.checkout_status != "open":
            return
        outcome = outcome_for(mobile)
        error = CHECKOUT_ERRORS.get(outcome)
        if error is None and not self.accounts.can_pay(mobile, session.currency, session.amount):
            error = CHECKOUT_ERRORS[Outcome.INSUFFICIENT_FUNDS]
        if error is not None:
            session.payment_status = "cancelled"
            session.last_payment_error = {"code": error, "message": error.replace("-", " ").capitalize()}
            await self._webhook(session, "checkout.session.payment_failed")
            return
        self.accounts.move(mobile, "merchant", session.currency, session.amount, f"checkout:{session.id}")
        session.payer = mobile
        session.checkout_status, session.payment_status = "complete", "succeeded"
        session.last_payment_error = None
        session.transaction_id = f"T_{secrets.token_hex(8).upper()}"
        await self._webhook(session, "checkout.session.completed")

    async def _webhook(self, session: SimSession, event_type: str) -> None:
        if self.webhook_url is None:
            return
        event_id = "EV_" + hashlib.sha256(f"{session.id}:{event_type}".encode()).hexdigest()[:24].upper()
        body = json.dumps({"id": event_id, "type": event_type, "data": session.to_wire()}).encode()
        url = self.webhook_url.replace("{client_reference}", session.client_reference or session.id)
        await self._deliver(
            session.outcome, url, body, lambda: webhooks.sign(self.webhook_secret, body, int(time.time()))
        )

    def _checked(self, request: Request, label: str) -> Response | None:
        self.requests[label] += 1
        if not self._authorized(request):
            return _error(401, "missing-auth-header", "Invalid or missing API key.")
        return None

    async def _get_session(self, request: Request) -> Response:
        await self._pause()
        refusal = self._checked(request, "GET /v1/checkout/sessions/{id}")
        if refusal is not None:
            return refusal
        session = self.sessions.get(request.path_params["id"])
        if session is None:
            return _error(404, "checkout-session-not-found", "No such checkout session.")
        return JSONResponse(session.to_wire())

    async def _session_by_transaction(self, request: Request) -> Response:
        refusal = self._checked(request, "GET /v1/checkout/sessions?transaction_id")
        if refusal is not None:
            return refusal
        wanted = request.query_params.get("transaction_id")
        for session in self.sessions.values():
            if wanted and session.transaction_id == wanted:
                return JSONResponse(session.to_wire())
        return _error(404, "checkout-session-not-found", "No session for this transaction.")

    async def _search_sessions(self, request: Request) -> Response:
        await self._pause()
        refusal = self._checked(request, "GET /v1/checkout/sessions/search")
        if refusal is not None:
            return refusal
        wanted = request.query_params.get("client_reference")
        found = [s.to_wire() for s in self.sessions.values() if wanted and s.client_reference == wanted]
        return JSONResponse({"result": found})

    async def _expire(self, request: Request) -> Response:
        refusal = self._checked(request, "POST /v1/checkout/sessions/{id}/expire")
        if refusal is not None:
            return refusal
        session = self.sessions.get(request.path_params["id"])
        if session is None:
            return _error(404, "checkout-session-not-found", "No such checkout session.")
        session.refresh()
        if session.checkout_status == "complete":
            return _error(409, "checkout-session-complete", "A completed session cannot be expired.")
        session.checkout_status = "expired"
        return JSONResponse(session.to_wire())

    async def _refund(self, request: Request) -> Response:
        guarded = await self._guarded_create(request, "POST /v1/checkout/sessions/{id}/refund")
        if isinstance(guarded, Response):
            return guarded
        _body, key = guarded
        session_id = request.path_params["id"]
        replay = self._replay(key, f"refund:{session_id}")
        if replay is not None:
            return replay
        session = self.sessions.get(session_id)
        if session is None:
            return _error(404, "checkout-session-not-found", "No such checkout session.")
        if session.payment_status != "succeeded" or session.payer is None:
            return _error(400, "checkout-refund-failed", "Only a succeeded payment can be refunded.")
        if session.refunded:
            return _error(409, "checkout-already-refunded", "This payment was refunded already.")
        self.accounts.move("merchant", session.payer, session.currency, session.amount, f"refund:{session_id}")
        session.refunded = True
        self.keys.remember(key, f"refund:{session_id}", {})
        return JSONResponse({})

    # -- payouts -------------------------------------------------------------------------------------------------

    async def _create_payout(self, request: Request) -> Response:
        guarded = await self._guarded_create(request, "POST /v1/payout")
        if isinstance(guarded, Response):
            return guarded
        body, key = guarded
        if key is None:
            return _error(400, "missing-idempotency-key", "Payouts need an idempotency-key header.")
        reference = body.get("client_reference")
        mobile = str(body.get("mobile", ""))
        outcome = outcome_for(mobile)
        attempt = self._attempt(reference) if isinstance(reference, str) else 1
        fault = self._refusal(outcome, attempt)
        if fault is not None:
            return self._fault(fault)
        request_fingerprint = fingerprint(json.dumps(body, sort_keys=True))
        replay = self._replay(key, request_fingerprint)
        if replay is not None:
            if outcome is Outcome.TIMEOUT_AFTER_ACCEPT:
                await asyncio.sleep(self.settings.hang_seconds)
            return replay
        currency = str(body.get("currency", ""))
        amount = self._amount(body.get("receive_amount"), currency)
        if amount is None or not (mobile.startswith("+") and mobile[1:].isdigit()):
            return _error(400, "request-validation-error", "receive_amount (string), currency XOF, E.164 mobile.")
        await self._take_time(outcome)
        payout = SimPayout(
            id=f"pt-{uuid.uuid4().hex[:20]}",
            amount=amount,
            fee=amount * FEE_PERCENT // 100,
            currency=currency,
            mobile=mobile,
            name=str(body["name"]) if body.get("name") else None,
            client_reference=reference if isinstance(reference, str) else None,
            outcome=outcome,
        )
        if outcome is Outcome.UNKNOWN_STATUS:
            payout.status = UNKNOWN_PAYMENT_STATUS
        self.payouts[payout.id] = payout
        answer = payout.to_wire()
        self.keys.remember(key, request_fingerprint, answer)
        if outcome not in (Outcome.PENDING_FOREVER, Outcome.UNKNOWN_STATUS):
            self.tasks.start(self._settle_payout(payout))
        fault = await self._after_accepting(outcome, attempt)
        return self._fault(fault) if fault is not None else JSONResponse(answer)

    async def _settle_payout(self, payout: SimPayout) -> None:
        await asyncio.sleep(self.settings.settle_seconds)
        code = PAYOUT_ERRORS.get(payout.outcome)
        if code is None and not self.accounts.can_pay("merchant", payout.currency, payout.amount + payout.fee):
            code = PAYOUT_ERRORS[Outcome.INSUFFICIENT_FUNDS]
        if code is not None:
            payout.status = "failed"
            payout.error = {"error_code": code, "error_message": code.replace("-", " ").capitalize()}
            return
        memo = f"payout:{payout.id}"
        self.accounts.move("merchant", payout.mobile, payout.currency, payout.amount, memo)
        self.accounts.move("merchant", "fees", payout.currency, payout.fee, memo)
        payout.status = "succeeded"

    async def _reverse_payout(self, request: Request) -> Response:  # noqa: PLR0911 - one answer per case
        """The payee gives a succeeded payout back (it must still hold the amount); the payout reads ``reversed``."""
        guarded = await self._guarded_create(request, "POST /v1/payout/{id}/reverse")
        if isinstance(guarded, Response):
            return guarded
        _body, key = guarded
        payout_id = request.path_params["id"]
        replay = self._replay(key, f"reverse:{payout_id}")
        if replay is not None:
            return replay
        payout = self.payouts.get(payout_id)
        if payout is None:
            return _error(404, "payout-not-found", "No such payout.")
        if payout.status == "reversed":
            return _error(409, "payout-already-reversed", "This payout was reversed already.")
        if payout.status != "succeeded":
            return _error(400, "payout-reversal-not-possible", "Only a succeeded payout can be reversed.")
        if not self.accounts.can_pay(payout.mobile, payout.currency, payout.amount):
            return _error(400, "insufficient-funds", "The recipient no longer holds the amount.")
        self.accounts.move(payout.mobile, "merchant", payout.currency, payout.amount, f"reverse:{payout.id}")
        payout.status = "reversed"
        self.keys.remember(key, f"reverse:{payout_id}", {})
        return JSONResponse({})

    def reversed(self, reference: str) -> int:
        """What the payee of the payout made under our ``reference`` gave back."""
        return sum(
            self.accounts.moved(f"reverse:{p.id}", debit=p.mobile)
            for p in self.payouts.values()
            if p.client_reference == reference
        )

    async def _get_payout(self, request: Request) -> Response:
        await self._pause()
        refusal = self._checked(request, "GET /v1/payout/{id}")
        if refusal is not None:
            return refusal
        payout = self.payouts.get(request.path_params["id"])
        if payout is None:
            return _error(404, "payout-not-found", "No such payout.")
        return JSONResponse(payout.to_wire())

    async def _search_payouts(self, request: Request) -> Response:
        await self._pause()
        refusal = self._checked(request, "GET /v1/payouts/search")
        if refusal is not None:
            return refusal
        wanted = request.query_params.get("client_reference")
        found = [p.to_wire() for p in self.payouts.values() if wanted and p.client_reference == wanted]
        return JSONResponse({"result": found})

    async def _balance(self, request: Request) -> Response:
        await self._pause()
        refusal = self._checked(request, "GET /v1/balance")
        if refusal is not None:
            return refusal
        return JSONResponse({"amount": str(self.merchant_balance("XOF")), "currency": "XOF"})

    # -- the payer's page and the simulator's state ----------------------------------------------------------------

    async def _launch_page(self, request: Request) -> Response:
        session = self.sessions.get(request.path_params["id"])
        if session is None:
            return HTMLResponse("<p>Session inconnue.</p>", status_code=404)
        if request.method == "POST":
            form = await request.form()
            mobile = str(form.get("mobile", "")).strip()
            if session.restrict_payer_mobile and mobile != session.restrict_payer_mobile:
                return HTMLResponse("<p>Ce paiement est réservé à un autre numéro.</p>", status_code=403)
            await self._pay(session, mobile)
        wire = session.to_wire()
        return HTMLResponse(
            "<!doctype html><html lang='fr'><meta charset='utf-8'><title>Wave (simulateur)</title>"
            f"<h1>Payer {html.escape(wire['amount'])} {html.escape(session.currency)}</h1>"
            f"<p>État : {html.escape(session.checkout_status)} / {html.escape(session.payment_status)}</p>"
            "<form method='post'><label>Numéro Wave <input name='mobile' placeholder='+221770000100'></label>"
            "<button>Payer</button></form></html>"
        )

    async def _set_webhook(self, request: Request) -> Response:
        """The portal setting: ``PUT /_sim/webhook {"url": …}`` (``null`` to stop sending webhooks)."""
        if not self._authorized(request):
            return _error(401, "missing-auth-header", "Invalid or missing API key.")
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        url = body.get("url") if isinstance(body, dict) else None
        if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            return _error(400, "request-validation-error", "url must be an http(s) URL or null.")
        self.webhook_url = url
        return JSONResponse({"url": self.webhook_url})

    async def _state(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "missing-auth-header", "Invalid or missing API key.")
        return JSONResponse(
            {
                "balances": self.accounts.snapshot(),
                "sessions": [s.to_wire() for s in self.sessions.values()],
                "payouts": [p.to_wire() for p in self.payouts.values()],
            }
        )
