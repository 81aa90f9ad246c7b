"""A Wave simulator: checkout sessions with a launch page, payouts, refunds, balance, signed webhooks.

* ``Authorization: Bearer <api key>`` on every call (else ``401``); ``idempotency-key`` honoured on every POST
  (the same key and body return the first answer; the same key with another body is ``409``)
* ``POST /v1/checkout/sessions`` -> the session (``cos-…``, ``checkout_status`` open, ``payment_status``
  processing, ``wave_launch_url`` on this simulator); ``GET /v1/checkout/sessions/{id}``,
  ``GET /v1/checkout/sessions?transaction_id=``, ``GET /v1/checkout/sessions/search?client_reference=``
  (``{"result": [...]}``), ``POST …/{id}/expire``, ``POST …/{id}/refund``
* ``POST /v1/payout`` -> the payout (``pt-…``, processing, then succeeded or failed with ``payout_error``);
  ``GET /v1/payout/{id}``, ``GET /v1/payouts/search?client_reference=``; ``GET /v1/balance``
* ``POST /v1/payout/{id}/reverse``: the same ``idempotency-key`` again replays the first answer; a payout reversed
  already is refused under another key (409 ``payout-already-reversed``) unless ``idempotent_reversal=True``, which
  answers 200 and moves nothing, as Wave documents; refused after 3 days (``payout-reversal-time-limit-exceeded``)
  or when the payee no longer holds the amount (``insufficient-funds``)
* ``POST /v1/payout-batch`` (``idempotency-key``; ``{"payouts": [<payout requests>]}``) -> ``{"id": "pb-…"}`` at
  once; the payouts are then made one by one (``batch_item_seconds`` apart), each an ordinary payout (same
  outcomes, same ``GET /v1/payout/{id}`` and search); ``GET /v1/payout-batch/{id}`` (also the
  ``/v1/payouts-batch/{id}`` spelling of Wave's endpoint list) -> ``{id, status: processing|complete, payouts}``:
  ``complete`` once every payout of the batch exists -- each may still be ``processing``, as in Wave's example
* ``GET /v1/transactions?date=YYYY-MM-DD&after=<cursor>`` -> ``{page_info: {start_cursor, end_cursor,
  has_next_page}, date, items}``: every movement of the wallet that day (UTC; today by default), oldest first,
  ``transactions_page_size`` a page; ``amount`` is negative for money going out, ``fee`` apart, ``balance`` after
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
import base64
import binascii
import hashlib
import html
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
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
MAX_PAYMENT_REASON = 40  # Wave: payment_reason up to 40 characters
FEE_PERCENT = 1  # payouts: Wave charges the sender on top of receive_amount ("?": the real fee grid is Wave's)
UNKNOWN_PAYMENT_STATUS = "under-review"  # a word the connector does not know: must read as pending

BATCH_ITEM_SECONDS = 0.01  # between two payouts of a batch ("?": Wave's pace is not public)
REVERSAL_WINDOW = timedelta(days=3)  # Wave: a payout can be reversed up to 3 days after its creation

# The error codes the simulator gives. Checkout errors are not public; payout errors follow Wave's published list
# where it has one (recipient-limit-exceeded, recipient-account-blocked, recipient-minor, insufficient-funds,
# internal-server-error); an unknown recipient is not in it ("?": recipient-not-found).
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
    Outcome.NOT_ALLOWED: "recipient-minor",
    Outcome.PROVIDER_ERROR: "internal-server-error",
    Outcome.ACCOUNT_INACTIVE: "recipient-account-blocked",
}
# Faults a batch create suffers when one of its payouts' numbers asks for it (the batch is one HTTP call).
BATCH_FAULTS = (
    Outcome.SLOW,
    Outcome.TIMEOUT_AFTER_ACCEPT,
    Outcome.UNAVAILABLE,
    Outcome.ERROR_AFTER_PROCESSING,
    Outcome.RATE_LIMITED,
)


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
    payment_reason: str | None = None
    batch_id: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "currency": self.currency,
            "receive_amount": str(self.amount),
            "fee": str(self.fee),
            "mobile": self.mobile,
            "name": self.name,
            "client_reference": self.client_reference,
            "payment_reason": self.payment_reason,
            "status": self.status,
            "timestamp": _iso(self.timestamp),
            "payout_error": self.error,
        }


@dataclass
class SimBatch:
    id: str
    requests: list[dict[str, Any]]  # the payout requests, validated, in order
    payout_ids: list[str] = field(default_factory=list)  # made so far

    @property
    def status(self) -> str:
        return "complete" if len(self.payout_ids) == len(self.requests) else "processing"


@dataclass
class SimEntry:
    """One line of the wallet's statement (``GET /v1/transactions``)."""

    timestamp: datetime
    transaction_id: str
    transaction_type: str
    amount: int  # signed: negative when money leaves the wallet
    fee: int
    balance: int  # after this movement
    currency: str
    is_reversal: bool = False
    counterparty_mobile: str | None = None
    counterparty_name: str | None = None
    client_reference: str | None = None
    payment_reason: str | None = None
    checkout_api_session_id: str | None = None
    batch_id: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "timestamp": _iso(self.timestamp.replace(microsecond=0)),
            "transaction_id": self.transaction_id,
            "transaction_type": self.transaction_type,
            "amount": str(self.amount),
            "fee": str(self.fee),
            "balance": str(self.balance),
            "currency": self.currency,
            "is_reversal": self.is_reversal,
            "counterparty_name": self.counterparty_name,
            "counterparty_mobile": self.counterparty_mobile,
            "client_reference": self.client_reference,
            "payment_reason": self.payment_reason,
            "checkout_api_session_id": self.checkout_api_session_id,
            "batch_id": self.batch_id,
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
        transactions_page_size: int = 100,
        batch_item_seconds: float = BATCH_ITEM_SECONDS,
        idempotent_reversal: bool = False,
    ) -> None:
        super().__init__(settings)
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.sessions: dict[str, SimSession] = {}
        self.payouts: dict[str, SimPayout] = {}
        self.batches: dict[str, SimBatch] = {}
        self.statement: list[SimEntry] = []  # the wallet's movements, oldest first
        self.transactions_page_size = transactions_page_size
        self.batch_item_seconds = batch_item_seconds
        self.idempotent_reversal = idempotent_reversal
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
                Route("/v1/payout-batch", self._create_batch, methods=["POST"]),
                Route("/v1/payout-batch/", self._create_batch, methods=["POST"]),
                Route("/v1/payout-batch/{id}", self._get_batch, methods=["GET"]),
                Route("/v1/payouts-batch/{id}", self._get_batch, methods=["GET"]),
                Route("/v1/transactions", self._transactions, methods=["GET"]),
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
        session.transaction_id = self._record(
            "api_checkout",
            session.amount,
            session.currency,
            counterparty_mobile=mobile,
            client_reference=session.client_reference,
            checkout_api_session_id=session.id,
        )
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
        self._record(
            "api_checkout_refund",
            -session.amount,
            session.currency,
            is_reversal=True,
            counterparty_mobile=session.payer,
            client_reference=session.client_reference,
            checkout_api_session_id=session.id,
        )
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
        outcome = outcome_for(str(body.get("mobile", "")))
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
        checked = self._payout_request(body)
        if isinstance(checked, str):
            return _error(400, "request-validation-error", checked)
        await self._take_time(outcome)
        payout = self._make_payout(body, *checked)
        answer = payout.to_wire()
        self.keys.remember(key, request_fingerprint, answer)
        fault = await self._after_accepting(outcome, attempt)
        return self._fault(fault) if fault is not None else JSONResponse(answer)

    def _payout_request(self, body: dict[str, Any]) -> tuple[int, str, str] | str:
        """One payout request checked: ``(amount, currency, mobile)``, or what is wrong with it."""
        currency = str(body.get("currency", ""))
        amount = self._amount(body.get("receive_amount"), currency)
        mobile = body.get("mobile")
        if amount is None or not (isinstance(mobile, str) and mobile.startswith("+") and mobile[1:].isdigit()):
            return "receive_amount (string), currency XOF, E.164 mobile."
        reason = body.get("payment_reason")
        if reason is not None and not (isinstance(reason, str) and len(reason) <= MAX_PAYMENT_REASON):
            return f"payment_reason is a string of at most {MAX_PAYMENT_REASON} characters."
        return amount, currency, mobile

    def _make_payout(
        self, body: dict[str, Any], amount: int, currency: str, mobile: str, batch_id: str | None = None
    ) -> SimPayout:
        reference = body.get("client_reference")
        reason = body.get("payment_reason")
        outcome = outcome_for(mobile)
        payout = SimPayout(
            id=f"pt-{uuid.uuid4().hex[:20]}",
            amount=amount,
            fee=amount * FEE_PERCENT // 100,
            currency=currency,
            mobile=mobile,
            name=str(body["name"]) if body.get("name") else None,
            client_reference=reference if isinstance(reference, str) else None,
            outcome=outcome,
            payment_reason=reason if isinstance(reason, str) else None,
            batch_id=batch_id,
        )
        if outcome is Outcome.UNKNOWN_STATUS:
            payout.status = UNKNOWN_PAYMENT_STATUS
        self.payouts[payout.id] = payout
        if outcome not in (Outcome.PENDING_FOREVER, Outcome.UNKNOWN_STATUS):
            self.tasks.start(self._settle_payout(payout))
        return payout

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
        self._record(
            "api_payout",
            -payout.amount,
            payout.currency,
            fee=payout.fee,
            counterparty_mobile=payout.mobile,
            counterparty_name=payout.name,
            client_reference=payout.client_reference,
            payment_reason=payout.payment_reason,
            batch_id=payout.batch_id,
        )

    async def _reverse_payout(self, request: Request) -> Response:  # noqa: PLR0911 - one answer per case
        """The payee gives a succeeded payout back (it must still hold the amount); the payout reads ``reversed``.

        Wave documents the call as idempotent: reversing a reversed payout answers 200 and creates nothing
        (``idempotent_reversal=True``); by default a second reversal under another key is refused, the answer
        Cauri's connector contract expects. Wave also documents that the fee comes back; this simulator keeps it
        (both in docs/providers/wave.md).
        """
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
            return _error(404, "not-found", "No such payout.")
        if payout.status == "reversed":
            if self.idempotent_reversal:
                return JSONResponse({})  # Wave's documented answer: success, nothing moves a second time
            return _error(409, "payout-already-reversed", "This payout was reversed already.")
        if payout.status != "succeeded":
            return _error(400, "payout-reversal-not-possible", "Only a succeeded payout can be reversed.")
        if datetime.now(UTC) - payout.timestamp > REVERSAL_WINDOW:
            return _error(400, "payout-reversal-time-limit-exceeded", "The time to reverse this payout is over.")
        if not self.accounts.can_pay(payout.mobile, payout.currency, payout.amount):
            return _error(400, "insufficient-funds", "The recipient no longer holds the amount.")
        self.accounts.move(payout.mobile, "merchant", payout.currency, payout.amount, f"reverse:{payout.id}")
        payout.status = "reversed"
        self._record(
            "api_payout_reversal",
            payout.amount,
            payout.currency,
            is_reversal=True,
            counterparty_mobile=payout.mobile,
            counterparty_name=payout.name,
            client_reference=payout.client_reference,
            batch_id=payout.batch_id,
        )
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
            return _error(404, "not-found", "No such payout.")
        return JSONResponse(payout.to_wire())

    async def _search_payouts(self, request: Request) -> Response:
        await self._pause()
        refusal = self._checked(request, "GET /v1/payouts/search")
        if refusal is not None:
            return refusal
        wanted = request.query_params.get("client_reference")
        found = [p.to_wire() for p in self.payouts.values() if wanted and p.client_reference == wanted]
        return JSONResponse({"result": found})

    # -- payout batches ------------------------------------------------------------------------------------------

    async def _create_batch(self, request: Request) -> Response:  # noqa: PLR0911 - one answer per case
        guarded = await self._guarded_create(request, "POST /v1/payout-batch")
        if isinstance(guarded, Response):
            return guarded
        body, key = guarded
        if key is None:
            return _error(400, "missing-idempotency-key", "Payout batches need an idempotency-key header.")
        items = body.get("payouts")
        if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
            return _error(400, "request-validation-error", "payouts must be a non-empty list of payout requests.")
        outcomes = [outcome_for(str(item.get("mobile", ""))) for item in items]
        outcome = next((o for o in outcomes if o in BATCH_FAULTS), Outcome.SUCCESS)
        attempt = self._attempt(f"batch:{key}")
        fault = self._refusal(outcome, attempt)
        if fault is not None:
            return self._fault(fault)
        request_fingerprint = fingerprint(json.dumps(body, sort_keys=True))
        replay = self._replay(key, request_fingerprint)
        if replay is not None:
            if outcome is Outcome.TIMEOUT_AFTER_ACCEPT:
                await asyncio.sleep(self.settings.hang_seconds)
            return replay
        for index, item in enumerate(items):
            checked = self._payout_request(item)
            if isinstance(checked, str):
                # Wave's validation error shape: the whole batch is refused, naming the item.
                detail = {"loc": ["payouts", index], "msg": checked, "type": "value_error"}
                return JSONResponse(
                    {"code": "request-validation-error", "message": "Request invalid", "details": [detail]},
                    status_code=400,
                )
        await self._take_time(outcome)
        batch = SimBatch(id=f"pb-{uuid.uuid4().hex[:20]}", requests=list(items))
        self.batches[batch.id] = batch
        answer = {"id": batch.id}
        self.keys.remember(key, request_fingerprint, answer)
        self.tasks.start(self._run_batch(batch))
        fault = await self._after_accepting(outcome, attempt)
        return self._fault(fault) if fault is not None else JSONResponse(answer)

    async def _run_batch(self, batch: SimBatch) -> None:
        """Wave makes a batch's payouts asynchronously: one after the other, each then settles on its own."""
        for item in batch.requests:
            await asyncio.sleep(self.batch_item_seconds)
            checked = self._payout_request(item)
            assert not isinstance(checked, str)  # validated when the batch was accepted
            batch.payout_ids.append(self._make_payout(item, *checked, batch_id=batch.id).id)

    async def _get_batch(self, request: Request) -> Response:
        await self._pause()
        refusal = self._checked(request, "GET /v1/payout-batch/{id}")
        if refusal is not None:
            return refusal
        batch = self.batches.get(request.path_params["id"])
        if batch is None:
            return _error(404, "not-found", "No such payout batch.")
        payouts = [self.payouts[payout_id].to_wire() for payout_id in batch.payout_ids]
        return JSONResponse({"id": batch.id, "status": batch.status, "payouts": payouts})

    # -- the wallet's statement ----------------------------------------------------------------------------------

    def _record(self, transaction_type: str, amount: int, currency: str, *, fee: int = 0, **details: Any) -> str:
        """Write one movement of the wallet (after it happened) to the statement; its ``transaction_id``."""
        transaction_id = f"T_{secrets.token_hex(6).upper()}"
        self.statement.append(
            SimEntry(
                timestamp=datetime.now(UTC),
                transaction_id=transaction_id,
                transaction_type=transaction_type,
                amount=amount,
                fee=fee,
                balance=self.merchant_balance(currency),
                currency=currency,
                **details,
            )
        )
        return transaction_id

    async def _transactions(self, request: Request) -> Response:
        """``GET /v1/transactions?date=&after=``: one day's movements, a page at a time (``include_subaccounts``
        is accepted; this wallet has none)."""
        await self._pause()
        refusal = self._checked(request, "GET /v1/transactions")
        if refusal is not None:
            return refusal
        wanted = request.query_params.get("date")
        try:
            day = date.fromisoformat(wanted) if wanted else datetime.now(UTC).date()
        except ValueError:
            return _error(400, "request-validation-error", "date must be YYYY-MM-DD.")
        entries = [entry for entry in self.statement if entry.timestamp.date() == day]
        after = request.query_params.get("after")
        start = 0
        if after:
            position = _cursor_position(after, day)
            if position is None:
                return _error(400, "request-validation-error", "after is not a cursor of this date's list.")
            start = position + 1
        page = entries[start : start + self.transactions_page_size]
        end_cursor = _cursor(day, start + len(page) - 1) if page else after
        return JSONResponse(
            {
                "page_info": {
                    "start_cursor": after or None,
                    "end_cursor": end_cursor,
                    "has_next_page": start + len(page) < len(entries),
                },
                "date": day.isoformat(),
                "items": [entry.to_wire() for entry in page],
            }
        )

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


def _cursor(day: date, position: int) -> str:
    """An opaque cursor (Wave's are opaque base64 strings): the day and the position of the last item given."""
    return base64.urlsafe_b64encode(f"{day.isoformat()}:{position}".encode()).decode().rstrip("=")


def _cursor_position(cursor: str, day: date) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    cursor_day, _, position = text.partition(":")
    if cursor_day != day.isoformat() or not position.isdigit():
        return None
    return int(position)
