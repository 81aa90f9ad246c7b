"""A CinetPay merchant account, speaking both of CinetPay's APIs.

Checkout v2: ``POST /v2/payment``, ``POST /v2/payment/check``, the payment page, ``x-token`` notifications
(form-encoded ``cpm_*`` fields POSTed to ``notify_url``); credentials (``apikey``, ``site_id``) in the JSON body;
answers ``{code, message, data}``.

The current API (the shapes of CinetPay's cinetpay-python SDK): ``POST /v1/oauth/login {api_key, api_password}`` ->
``{access_token}``, then with ``Authorization: Bearer``: ``POST /v1/payment``, ``GET /v1/payment/{id}``,
``POST /v1/transfer``, ``GET /v1/transfer/{id}``, ``GET /v1/balances``; flat answers ``{code, status, …}``; JSON
notifications carrying the ``notify_token`` the init gave.

As CinetPay's front end does, a doubled slash in a path (``/v2//payment``) reaches the same endpoint. The payer
"completes" a payment ``settle`` seconds after it is created; the outcome is chosen by the phone number's last three
digits (``customer_phone_number``, ``client_phone_number``, a transfer's ``phone_number``; the sandbox's table,
``docs/providers/cinetpay.md``).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from cauri.connectors.mobile_money.cinetpay import webhooks
from cauri.core.security import constant_time_equal
from cauri.kit.outcomes import Outcome, outcome_for
from cauri.kit.outcomes import magic_phone as kit_magic_phone
from cauri.kit.simulation import Fault, SimulatorBase, SimulatorSettings

CINETPAY_CURRENCIES = frozenset({"XOF", "XAF", "CDF", "GNF", "USD"})
MINIMUM_AMOUNT = 100
MAXIMUM_AMOUNT = 2_500_000  # a payment, as the current SDK checks it
TRANSFER_RANGE = (100, 1_500_000)
FEE_PER_MILLE = 30  # 3 %, kept on accepted payments
TRANSFER_FEE_PER_MILLE = 10  # 1 %, on top of a transfer
MERCHANT_FLOAT = 1_000_000_000  # what the account holds before any collection: transfers are paid from it
TOKEN_LIFETIME = 86_400  # seconds (the SDKs keep the JWT 23 hours)
CHANNELS = frozenset({"PUSH", "OTP", "QRCODE"})
MAGIC_PREFIXES: dict[str, str] = {"CI": "+2250700000", "SN": "+221770000", "CM": "+237670000", "BF": "+22670000"}
REFUSALS: dict[Outcome, str] = {
    Outcome.NOT_FOUND: "INVALID_PHONE_NUMBER",
    Outcome.INSUFFICIENT_FUNDS: "INSUFFICIENT_BALANCE",
    Outcome.LIMIT_REACHED: "LIMIT_EXCEEDED",
    Outcome.NOT_ALLOWED: "OPERATION_NOT_ALLOWED",
    Outcome.REJECTED_BY_PAYER: "CUSTOMER_REFUSED",
    Outcome.PROVIDER_ERROR: "PAYMENT_FAILED",
    Outcome.ACCOUNT_INACTIVE: "ACCOUNT_BLOCKED",
}


# The current API's words for the same outcomes (cinetpay-python ``constants/statuses.py``): it has no word for a
# reached limit or a payer who refused, which read FAILED.
V1_REFUSALS: dict[Outcome, tuple[int, str]] = {
    Outcome.NOT_FOUND: (2006, "USER_NOT_FOUND"),
    Outcome.INSUFFICIENT_FUNDS: (2005, "INSUFFICIENT_BALANCE"),
    Outcome.LIMIT_REACHED: (2010, "FAILED"),
    Outcome.NOT_ALLOWED: (2011, "NOT_ALLOWED"),
    Outcome.REJECTED_BY_PAYER: (2010, "FAILED"),
    Outcome.PROVIDER_ERROR: (2010, "FAILED"),
    Outcome.ACCOUNT_INACTIVE: (2007, "USER_IS_BLOCKED"),
}
V1_WORDS: dict[str, int] = {"SUCCESS": 100, "INITIATED": 2001, "PENDING": 2002, "EXPIRED": 2003, "ON_HOLD": 2002}


class CollapseSlashes:
    """``/v2//payment`` reaches ``/v2/payment``, as at CinetPay's front end (integrators' base URLs often end in a
    slash their code doubles)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "//" in scope["path"]:
            path = re.sub("/{2,}", "/", scope["path"])
            scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)


def magic_phone(outcome: Outcome, country: str = "CI") -> str:
    return kit_magic_phone(outcome, country, prefixes=MAGIC_PREFIXES)


@dataclass
class SimPayment:
    transaction_id: str
    token: str
    amount: int
    currency: str
    description: str
    notify_url: str | None
    phone: str
    outcome: Outcome
    fingerprint: str
    status: str = "WAITING_FOR_CUSTOMER"
    error_code: str | None = None
    payment_date: str = ""
    created_at: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"))
    api: str = "v2"  # the API that opened it: its notification speaks the same
    cinetpay_id: str = field(default_factory=lambda: f"CP{secrets.token_hex(8).upper()}")  # ``transaction_id`` in v1
    notify_token: str = field(default_factory=lambda: secrets.token_hex(16))
    customer: dict[str, str] = field(default_factory=dict)

    def v1_word(self) -> tuple[int, str]:
        if self.status == "ACCEPTED":
            return 100, "SUCCESS"
        if self.status == "REFUSED":
            return next((v for o, v in V1_REFUSALS.items() if o is self.outcome), (2010, "FAILED"))
        if self.status == "EXPIRED":
            return 2003, "EXPIRED"
        if self.status == "ON_HOLD":
            return 2002, "ON_HOLD"  # a word the API does not list: clients must read it as pending
        return 2001, "INITIATED"

    def v1_status(self) -> dict[str, Any]:
        code, word = self.v1_word()
        return {
            "code": code,
            "status": word,
            "merchant_transaction_id": self.transaction_id,  # ours (v2 calls it transaction_id)
            "transaction_id": self.cinetpay_id,
            "amount": str(self.amount),
            "currency": self.currency,
            "user": {**self.customer, "phone_number": self.phone},
        }

    def check(self) -> dict[str, Any]:
        if self.status == "ACCEPTED":
            code, message = "00", "SUCCES"
        elif self.status in ("WAITING_FOR_CUSTOMER", "ON_HOLD"):
            code, message = "662", "WAITING_CUSTOMER_PAYMENT"
        else:
            code, message = "600", self.error_code or "PAYMENT_FAILED"
        data = {
            "amount": str(self.amount),
            "currency": self.currency,
            "status": self.status,
            "payment_method": "OM" if self.phone.startswith("+225") else "MOMO",
            "description": self.description,
            "metadata": self.transaction_id,
            "operator_id": f"MP{self.token[:10].upper()}" if self.status == "ACCEPTED" else None,
            "payment_date": self.payment_date,
            "payment_token": self.token,
            "error_code": self.error_code,
        }
        return {"code": code, "message": message, "data": data, "api_response_id": secrets.token_hex(6)}


@dataclass
class SimTransfer:
    """A transfer of the current API: ``merchant_transaction_id`` ours, ``transaction_id`` CinetPay's."""

    merchant_transaction_id: str
    amount: int
    currency: str
    phone: str
    payment_method: str
    notify_url: str | None
    outcome: Outcome
    transaction_id: str = field(default_factory=lambda: f"TR{secrets.token_hex(8).upper()}")
    notify_token: str = field(default_factory=lambda: secrets.token_hex(16))
    status: tuple[int, str] = (2002, "PENDING")

    @property
    def fee(self) -> int:
        return self.amount * TRANSFER_FEE_PER_MILLE // 1000

    def to_wire(self) -> dict[str, Any]:
        code, word = self.status
        return {
            "code": code,
            "status": word,
            "merchant_transaction_id": self.merchant_transaction_id,
            "transaction_id": self.transaction_id,
            "amount": str(self.amount),
            "fee_amount": str(self.fee),
            "phone_number": self.phone,
            "currency": self.currency,
        }


class CinetPaySimulator(SimulatorBase):
    """One CinetPay site. ``app`` is the ASGI app; below, the test interface."""

    def __init__(
        self,
        *,
        apikey: str = "cinetpay-apikey-cauri",
        site_id: str = "105900",
        secret_key: str = "cinetpay-secret-cauri",  # noqa: S107 - the simulator's own test secret
        settings: SimulatorSettings | None = None,
        api_password: str = "cinetpay-password-cauri",  # noqa: S107 - the current API's, for the simulator
        account_currency: str = "XOF",
    ) -> None:
        super().__init__(settings)
        self.apikey, self.site_id, self.secret_key = apikey, site_id, secret_key
        self.api_password, self.account_currency = api_password, account_currency
        self.payments: dict[str, SimPayment] = {}
        self.by_token: dict[str, str] = {}
        self.transfers: dict[str, SimTransfer] = {}
        self.access_tokens: dict[str, float] = {}  # JWT -> when it expires (time.time())
        self.logins = 0
        # The HTTP status of a refused token: 401 here; 200 reproduces an API that says it only in the body (the
        # SDK's HTTP client reads an error from a 200 too: a code outside 200/100/2001/2002 with a description).
        self.token_error_status = 401
        self._app = CollapseSlashes(
            Starlette(
                routes=[
                    Route("/v2/payment", self._payment, methods=["POST"]),
                    Route("/v2/payment/check", self._check, methods=["POST"]),
                    Route("/payment/{token}", self._page, methods=["GET"]),
                    Route("/v1/oauth/login", self._login, methods=["POST"]),
                    Route("/v1/payment", self._v1_payment, methods=["POST"]),
                    Route("/v1/payment/{identifier}", self._v1_payment_status, methods=["GET"]),
                    Route("/v1/transfer", self._v1_transfer, methods=["POST"]),
                    Route("/v1/transfer/{identifier}", self._v1_transfer_status, methods=["GET"]),
                    Route("/v1/balances", self._v1_balances, methods=["GET"]),
                ]
            )
        )

    # -- test interface ------------------------------------------------------------------------------------

    def collected(self, reference: str) -> int:
        payment = self.payments.get(reference)
        return self.accounts.moved(f"pay:{reference}", debit=payment.phone) if payment else 0

    def paid_out(self, reference: str) -> int:
        transfer = self.transfers.get(reference)
        return self.accounts.moved(f"transfer:{reference}", credit=transfer.phone) if transfer else 0

    def created(self, reference: str) -> int:
        return int(reference in self.payments) + int(reference in self.transfers)

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now (the next call answers 1003 EXPIRED_TOKEN)."""
        for token in self.access_tokens:
            self.access_tokens[token] = 0.0

    def merchant_balance(self, currency: str) -> int:
        return self.accounts.balance("merchant", currency)

    def _house_balance(self, owner: str) -> int | None:
        return {"merchant": MERCHANT_FLOAT, "cinetpay": 0}.get(owner)

    # -- HTTP ------------------------------------------------------------------------------------------------

    def _authorized(self, body: dict[str, Any]) -> bool:
        return (
            constant_time_equal(str(body.get("apikey", "")), self.apikey) and str(body.get("site_id")) == self.site_id
        )

    @staticmethod
    def _answer(code: str, message: str, status: int = 200, data: Any = None, **headers: str) -> JSONResponse:
        body = {"code": code, "message": message, "description": message.replace("_", " ").lower(), "data": data}
        return JSONResponse(body, status_code=status, headers=headers or None)

    async def _json(self, request: Request) -> dict[str, Any] | None:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    async def _payment(self, request: Request) -> Response:  # noqa: PLR0911 - one answer per documented case
        await self._enter("POST /v2/payment")
        body = await self._json(request)
        if body is None:
            return self._answer("608", "MINIMUM_REQUIRED_FIELDS", 400)
        if not self._authorized(body):
            return self._answer("609", "AUTH_NOT_FOUND", 401)
        reference = str(body.get("transaction_id") or "")
        amount, currency = body.get("amount"), str(body.get("currency") or "")
        if not reference or not body.get("description") or not body.get("notify_url"):
            return self._answer("608", "MINIMUM_REQUIRED_FIELDS", 400)
        if not isinstance(amount, int) or amount < MINIMUM_AMOUNT or amount % 5 or currency not in CINETPAY_CURRENCIES:
            return self._answer("613", "ERROR_AMOUNT_TOO_LOW_OR_NOT_MULTIPLE_OF_5_OR_CURRENCY", 400)
        attempt = self._attempt(reference)
        phone = str(body.get("customer_phone_number") or "")
        outcome = outcome_for(phone)
        fault = self._refusal(outcome, attempt)
        if fault is not None:
            return self._fault(fault)
        if reference in self.payments:
            if outcome is Outcome.TIMEOUT_AFTER_ACCEPT:
                await asyncio.sleep(self.settings.hang_seconds)
            return self._answer("624", "TRANSACTION_ID_ALREADY_USED", 400)
        await self._take_time(outcome)
        token = secrets.token_hex(20)
        payment = SimPayment(
            reference, token, amount, currency, str(body["description"]), body.get("notify_url"), phone, outcome, ""
        )
        self.payments[reference] = payment
        self.by_token[token] = reference
        if outcome is Outcome.UNKNOWN_STATUS:
            payment.status = "ON_HOLD"
        elif outcome is not Outcome.PENDING_FOREVER:
            self.tasks.start(self._settle(payment))
        fault = await self._after_accepting(outcome, attempt)
        if fault is not None:
            return self._fault(fault)
        url = f"{request.base_url}payment/{token}"
        return self._answer("201", "CREATED", data={"payment_token": token, "payment_url": url})

    def _fault(self, fault: Fault) -> JSONResponse:
        if fault is Fault.RATE_LIMITED:
            return self._answer("429", "TOO_MANY_REQUESTS", 429, **self._retry_after())
        if fault is Fault.UNAVAILABLE:
            return self._answer("503", "SERVICE_UNAVAILABLE", 503)
        return self._answer("500", "INTERNAL_ERROR", 500)

    async def _page(self, request: Request) -> Response:
        reference = self.by_token.get(request.path_params["token"])
        if reference is None:
            return Response("Lien invalide", status_code=404, media_type="text/plain")
        payment = self.payments[reference]
        return Response(
            f"<html><body><h1>CinetPay</h1><p>{payment.amount} {payment.currency}</p></body></html>",
            media_type="text/html",
        )

    async def _check(self, request: Request) -> Response:
        await self._enter("POST /v2/payment/check")
        body = await self._json(request)
        if body is None:
            return self._answer("608", "MINIMUM_REQUIRED_FIELDS", 400)
        if not self._authorized(body):
            return self._answer("609", "AUTH_NOT_FOUND", 401)
        reference = str(body.get("transaction_id") or self.by_token.get(str(body.get("token")), ""))
        payment = self.payments.get(reference)
        if payment is None:
            return self._answer("404", "TRANSACTION_NOT_FOUND", 404)
        return JSONResponse(payment.check())

    async def _settle(self, payment: SimPayment) -> None:
        def expire() -> None:
            payment.status, payment.error_code = "EXPIRED", "TRANSACTION_EXPIRED"

        await self._settle_later(payment.outcome, settle=lambda: self._apply(payment), expire=expire)
        payment.payment_date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        await self._notify(payment)

    def _apply(self, payment: SimPayment) -> None:
        refusal = REFUSALS.get(payment.outcome)
        if refusal is None and not self.accounts.can_pay(payment.phone, payment.currency, payment.amount):
            refusal = REFUSALS[Outcome.INSUFFICIENT_FUNDS]
        if refusal is not None:
            payment.status, payment.error_code = "REFUSED", refusal
            return
        memo = f"pay:{payment.transaction_id}"
        self.accounts.move(payment.phone, "merchant", payment.currency, payment.amount, memo)
        self.accounts.move("merchant", "cinetpay", payment.currency, payment.amount * FEE_PER_MILLE // 1000, memo)
        payment.status = "ACCEPTED"

    async def _notify(self, payment: SimPayment) -> None:
        if payment.api == "v1":
            await self._notify_v1(payment.outcome, payment.notify_url, self._v1_notification(payment))
            return
        digits = payment.phone.removeprefix("+")
        fields = {
            "cpm_site_id": self.site_id,
            "cpm_trans_id": payment.transaction_id,
            "cpm_trans_date": payment.payment_date,
            "cpm_amount": str(payment.amount),
            "cpm_currency": payment.currency,
            "signature": payment.token,
            "payment_method": "OM" if payment.phone.startswith("+225") else "MOMO",
            "cel_phone_num": digits[3:],
            "cpm_phone_prefixe": digits[:3],
            "cpm_language": "fr",
            "cpm_version": "V4",
            "cpm_payment_config": "SINGLE",
            "cpm_page_action": "PAYMENT",
            "cpm_custom": payment.transaction_id,
            "cpm_designation": payment.description,
            "cpm_error_message": "SUCCES" if payment.status == "ACCEPTED" else (payment.error_code or "PAYMENT_FAILED"),
        }
        body = urlencode(fields).encode()
        await self._deliver(payment.outcome, payment.notify_url, body, webhooks.sign(self.secret_key, body))

    # -- the current API -----------------------------------------------------------------------------------------

    @staticmethod
    def _v1_answer(status: int, code: int, word: str, description: str, **headers: str) -> JSONResponse:
        body = {"code": code, "status": word, "description": description}
        return JSONResponse(body, status_code=status, headers=headers or None)

    def _v1_fault(self, fault: Fault) -> JSONResponse:
        if fault is Fault.RATE_LIMITED:
            return self._v1_answer(429, 429, "TOO_MANY_REQUESTS", "Too many requests", **self._retry_after())
        if fault is Fault.UNAVAILABLE:
            return self._v1_answer(503, -1, "OPERATION_ERROR", "Service unavailable")
        return self._v1_answer(500, -1, "OPERATION_ERROR", "Internal error")

    def _bearer(self, request: Request) -> JSONResponse | None:
        """None when the bearer token is valid, else the answer refusing it."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expires = self.access_tokens.get(token) if scheme.lower() == "bearer" else None
        if expires is None:
            return self._v1_answer(self.token_error_status, 1002, "INVALID_TOKEN", "Votre token est invalide")
        if time.time() >= expires:
            return self._v1_answer(self.token_error_status, 1003, "EXPIRED_TOKEN", "Votre token a expiré")
        return None

    async def _login(self, request: Request) -> Response:
        await self._enter("POST /v1/oauth/login")
        body = await self._json(request)
        if (
            body is None
            or not constant_time_equal(str(body.get("api_key", "")), self.apikey)
            or not constant_time_equal(str(body.get("api_password", "")), self.api_password)
        ):
            return self._v1_answer(401, 1005, "INVALID_CREDENTIALS", "Identifiant de connexion incorrect")
        token = secrets.token_urlsafe(32)
        self.access_tokens[token] = time.time() + TOKEN_LIFETIME
        self.logins += 1
        return JSONResponse(
            {"code": 200, "status": "OK", "access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME}
        )

    @staticmethod
    def _v1_payment_problems(body: dict[str, Any]) -> list[str]:
        problems = [
            name
            for name in ("merchant_transaction_id", "designation", "notify_url", "currency")
            if not isinstance(body.get(name), str) or not body[name]
        ]
        amount = body.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool) or not MINIMUM_AMOUNT <= amount <= MAXIMUM_AMOUNT:
            problems.append("amount")
        if body.get("currency") not in CINETPAY_CURRENCIES:
            problems.append("currency")
        if body.get("channel") not in CHANNELS:
            problems.append("channel")
        if body.get("direct_pay") and not body.get("client_phone_number"):
            problems.append("client_phone_number")
        return problems

    async def _v1_payment(self, request: Request) -> Response:
        await self._enter("POST /v1/payment")
        refused = self._bearer(request)
        if refused is not None:
            return refused
        body = await self._json(request)
        problems = self._v1_payment_problems(body) if body is not None else ["body"]
        if body is None or problems:
            return self._v1_answer(400, 1004, "INVALID_PARAMS", f"Paramètres invalides : {', '.join(problems)}")
        reference = str(body["merchant_transaction_id"])
        attempt = self._attempt(reference)
        phone = str(body.get("client_phone_number") or "")
        outcome = outcome_for(phone)
        fault = self._refusal(outcome, attempt)
        if fault is not None:
            return self._v1_fault(fault)
        if reference in self.payments:
            if outcome is Outcome.TIMEOUT_AFTER_ACCEPT:
                await asyncio.sleep(self.settings.hang_seconds)
            return self._v1_answer(400, 1200, "TRANSACTION_EXIST", "Cette transaction existe déjà")
        await self._take_time(outcome)
        token = secrets.token_hex(20)
        payment = SimPayment(
            reference, token, body["amount"], body["currency"], body["designation"], body["notify_url"], phone,
            outcome, "", api="v1",
            customer={
                "name": f"{body.get('client_first_name', '')} {body.get('client_last_name', '')}".strip(),
                "email": str(body.get("client_email") or ""),
            },
        )  # fmt: skip
        self.payments[reference] = payment
        self.by_token[token] = reference
        if outcome is Outcome.UNKNOWN_STATUS:
            payment.status = "ON_HOLD"
        elif outcome is not Outcome.PENDING_FOREVER:
            self.tasks.start(self._settle(payment))
        fault = await self._after_accepting(outcome, attempt)
        if fault is not None:
            return self._v1_fault(fault)
        direct = bool(body.get("direct_pay"))
        return JSONResponse(
            {
                "code": 200,
                "status": "OK",
                "payment_token": token,
                "notify_token": payment.notify_token,
                "transaction_id": payment.cinetpay_id,
                "merchant_transaction_id": reference,
                "payment_url": f"{request.base_url}payment/{token}",
                "details": {
                    "code": 2001,
                    "status": "INITIATED",
                    "message": "Paiement initié sur le téléphone du client" if direct else "Paiement initié",
                    "must_be_redirected": not direct,
                },
            }
        )

    def _payment_by(self, identifier: str) -> SimPayment | None:
        """By our reference, the payment token or CinetPay's transaction id (the SDK's ``get_status``)."""
        payment = self.payments.get(identifier) or self.payments.get(self.by_token.get(identifier, ""))
        if payment is None:
            payment = next((p for p in self.payments.values() if p.cinetpay_id == identifier), None)
        return payment

    async def _v1_payment_status(self, request: Request) -> Response:
        await self._enter("GET /v1/payment")
        refused = self._bearer(request)
        if refused is not None:
            return refused
        payment = self._payment_by(request.path_params["identifier"])
        if payment is None or payment.api != "v1":
            return self._v1_answer(404, 404, "NOT_FOUND", "Transaction introuvable")
        return JSONResponse(payment.v1_status())

    def _v1_notification(self, payment: SimPayment) -> dict[str, Any]:
        """The SDK's notification (``notify_token``, ``merchant_transaction_id``, ``transaction_id``, ``user``) with
        the status's ``code`` and ``status``, which the SDK's type does not name (see the provider page)."""
        status = payment.v1_status()
        return {
            "notify_token": payment.notify_token,
            "merchant_transaction_id": payment.transaction_id,
            "transaction_id": payment.cinetpay_id,
            "code": status["code"],
            "status": status["status"],
            "user": status["user"],
        }

    async def _notify_v1(self, outcome: Outcome, url: str | None, body: dict[str, Any]) -> None:
        await self._deliver(outcome, url, json.dumps(body).encode(), {"Content-Type": "application/json"})

    async def _v1_transfer(self, request: Request) -> Response:
        await self._enter("POST /v1/transfer")
        refused = self._bearer(request)
        if refused is not None:
            return refused
        body = await self._json(request)
        low, high = TRANSFER_RANGE
        fields = ("merchant_transaction_id", "phone_number", "payment_method", "currency", "notify_url")
        problems = [] if body is not None else ["body"]
        if body is not None:
            problems = [name for name in fields if not isinstance(body.get(name), str) or not body[name]]
            amount = body.get("amount")
            if not isinstance(amount, int) or isinstance(amount, bool) or not low <= amount <= high:
                problems.append("amount")
            if body.get("currency") != self.account_currency:
                problems.append("currency")
        if body is None or problems:
            return self._v1_answer(400, 1004, "INVALID_PARAMS", f"Paramètres invalides : {', '.join(problems)}")
        reference = str(body["merchant_transaction_id"])
        attempt = self._attempt(reference)
        phone = str(body["phone_number"])
        outcome = outcome_for(phone)
        fault = self._refusal(outcome, attempt)
        if fault is not None:
            return self._v1_fault(fault)
        if reference in self.transfers:
            if outcome is Outcome.TIMEOUT_AFTER_ACCEPT:
                await asyncio.sleep(self.settings.hang_seconds)
            return self._v1_answer(400, 1200, "TRANSACTION_EXIST", "Cette transaction existe déjà")
        await self._take_time(outcome)
        transfer = SimTransfer(
            reference, body["amount"], body["currency"], phone, body["payment_method"], body["notify_url"], outcome
        )
        self.transfers[reference] = transfer
        if outcome is Outcome.UNKNOWN_STATUS:
            transfer.status = (2002, "ON_HOLD")
        elif outcome is not Outcome.PENDING_FOREVER:
            self.tasks.start(self._settle_transfer(transfer))
        fault = await self._after_accepting(outcome, attempt)
        if fault is not None:
            return self._v1_fault(fault)
        return JSONResponse({**transfer.to_wire(), "notify_token": transfer.notify_token})

    async def _settle_transfer(self, transfer: SimTransfer) -> None:
        def expire() -> None:
            transfer.status = (2003, "EXPIRED")

        await self._settle_later(transfer.outcome, settle=lambda: self._apply_transfer(transfer), expire=expire)
        await self._notify_v1(
            transfer.outcome, transfer.notify_url, {**transfer.to_wire(), "notify_token": transfer.notify_token}
        )

    def _apply_transfer(self, transfer: SimTransfer) -> None:
        refusal = V1_REFUSALS.get(transfer.outcome)
        total = transfer.amount + transfer.fee
        if refusal is None and not self.accounts.can_pay("merchant", transfer.currency, total):
            refusal = V1_REFUSALS[Outcome.INSUFFICIENT_FUNDS]
        if refusal is not None:
            transfer.status = refusal
            return
        memo = f"transfer:{transfer.merchant_transaction_id}"
        self.accounts.move("merchant", transfer.phone, transfer.currency, transfer.amount, memo)
        self.accounts.move("merchant", "cinetpay", transfer.currency, transfer.fee, memo)
        transfer.status = (100, "SUCCESS")

    async def _v1_transfer_status(self, request: Request) -> Response:
        await self._enter("GET /v1/transfer")
        refused = self._bearer(request)
        if refused is not None:
            return refused
        identifier = request.path_params["identifier"]
        transfer = self.transfers.get(identifier) or next(
            (t for t in self.transfers.values() if t.transaction_id == identifier), None
        )
        if transfer is None:
            return self._v1_answer(404, 404, "NOT_FOUND", "Transfert introuvable")
        return JSONResponse(transfer.to_wire())

    async def _v1_balances(self, request: Request) -> Response:
        await self._enter("GET /v1/balances")
        refused = self._bearer(request)
        if refused is not None:
            return refused
        available = self.merchant_balance(self.account_currency)
        return JSONResponse(
            {"code": 200, "status": "OK", "available_balance": str(available), "currency": self.account_currency}
        )
