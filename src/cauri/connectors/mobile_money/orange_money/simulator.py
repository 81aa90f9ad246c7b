"""An Orange Money simulator: WebPay (with its payment page) and the Cameroon USSD push, on one app.

WebPay:

* ``POST /oauth/v3/token`` (Basic ``client_id:client_secret``, form ``grant_type=client_credentials``)
* ``POST /orange-money-webpay/{cc}/v1/webpayment`` -> ``201 {status, message, pay_token, payment_url,
  notif_token}``; ``cc`` is ``dev`` (currency ``OUV``) or a country whose currency is then required; ``order_id``
  at most 30 characters, ``notif_url`` at most 120
* ``POST /orange-money-webpay/{cc}/v1/transactionstatus`` ``{order_id, amount, pay_token}`` -> ``{status,
  order_id, txnid}`` (INITIATED, PENDING, SUCCESS, FAILED, EXPIRED)
* the payer finishes on ``payment_url`` (``GET``/``POST /webpay/pay/{pay_token}``: number and OTP); then Orange
  POSTs ``{status, notif_token, txnid}`` to ``notif_url``. In tests, :meth:`OrangeMoneySimulator.expect_payer`
  tells the simulated customer which number will pay an order: they pay ``settle_seconds`` after the init

Cameroon USSD push ("omcoreapis"):

* ``POST /token`` (Basic consumer key:secret) then ``Authorization: Bearer`` **and** ``X-AUTH-TOKEN`` on every call
* ``POST /omcoreapis/1.0.2/mp/init`` -> ``{message, data: {payToken}}``; ``POST …/mp/pay`` (channel user's
  number and PIN, subscriber's national number) -> ``{message, data}`` with ``status`` PENDING, or FAILED with
  ``inittxnstatus`` ``60019`` when the subscriber's balance is too low; ``GET …/mp/paymentstatus/{payToken}``
  (PENDING, SUCCESSFULL, FAILED, EXPIRED); ``GET …/mp/push/{payToken}`` re-sends the prompt
* the subscriber confirms the prompt after ``settle_seconds``; the notification POSTs the payment's ``data``

Outcomes come from the payer's number, **last three digits**, the sandbox table (``docs/providers/orange_money.md``).
"""

from __future__ import annotations

import asyncio
import html
import json
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from cauri.connectors.mobile_money.orange_money import transformers, webhooks
from cauri.core.security import constant_time_equal
from cauri.kit.outcomes import Outcome, magic_phone, outcome_for
from cauri.kit.simulation import Fault, SimulatorBase, SimulatorSettings, basic_credentials, json_object

DEFAULT_CLIENT_ID = "om_client_demo"
DEFAULT_CLIENT_SECRET = "om_client_secret_demo"  # noqa: S105 - the simulator's published development secret
DEFAULT_MERCHANT_KEY = "om_merchant_key_demo"
DEFAULT_CONSUMER_KEY = "omcm_consumer_demo"
DEFAULT_CONSUMER_SECRET = "omcm_consumer_secret_demo"  # noqa: S105 - published development secret
DEFAULT_AUTH_TOKEN = "omcm_x_auth_token_demo"  # noqa: S105 - published development secret
DEFAULT_CHANNEL_USER = "691000000"
DEFAULT_PIN = "2222"
MERCHANT_FLOAT = 1_000_000_000
WEBPAY_COUNTRY_CURRENCIES = {"ci": "XOF", "sn": "XOF", "ml": "XOF", "bf": "XOF", "cm": "XAF", "gn": "GNF"}
WEBPAY_LIFETIME_SECONDS = 600.0  # an unpaid payment URL expires ("?": Orange's real lifetime is not public)
UNKNOWN_STATUS = "IN_PROGRESS"  # a word the connector does not know: must read as pending
INSUFFICIENT_CODE = "60019"
MAGIC_PREFIXES = {"CM": "+237690000", "CI": "+2250700000", "SN": "+221770000"}  # Orange mobile ranges
# confirmtxnstatus codes the simulator gives to the other failures (Orange's real codes are not public).
USSD_FAILURE_CODES: dict[Outcome, tuple[str, str]] = {
    Outcome.NOT_FOUND: ("00017", "Subscriber not found"),
    Outcome.LIMIT_REACHED: ("00066", "Transaction limit reached"),
    Outcome.NOT_ALLOWED: ("00068", "Operation not allowed"),
    Outcome.REJECTED_BY_PAYER: ("01", "Cancelled by the subscriber"),
    Outcome.PROVIDER_ERROR: ("99", "System error"),
    Outcome.ACCOUNT_INACTIVE: ("00048", "Account suspended"),
}
WEBPAY_FAILURES = frozenset(USSD_FAILURE_CODES) | {Outcome.INSUFFICIENT_FUNDS}


def orange_phone(outcome: Outcome, country: str = "CM") -> str:
    """An Orange number producing ``outcome`` on this simulator (e.g. ``+237690000902``)."""
    return magic_phone(outcome, country, prefixes=MAGIC_PREFIXES)


def _error(status: int, code: int | str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "description": message}, status_code=status, headers=headers)


@dataclass
class WebOrder:
    pay_token: str
    notif_token: str
    order_id: str
    amount: int
    currency: str  # ISO (the merchant's money), whatever was sent ("OUV" in dev)
    wire_currency: str
    notif_url: str
    outcome: Outcome
    expires_at: float
    status: str = "INITIATED"
    txnid: str | None = None
    payer: str | None = None

    def refresh(self) -> None:
        if self.status in ("INITIATED", "PENDING") and time.time() >= self.expires_at:
            self.status = "EXPIRED"


@dataclass
class UssdTxn:
    pay_token: str
    created: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"))
    order_id: str | None = None
    amount: int = 0
    subscriber: str | None = None
    notif_url: str | None = None
    description: str = ""
    outcome: Outcome = Outcome.SUCCESS
    status: str | None = None  # None until mp/pay
    txnid: str | None = None
    inittxnstatus: str | None = None
    inittxnmessage: str | None = None
    confirmtxnstatus: str | None = None
    confirmtxnmessage: str | None = None
    pushes: int = 0

    def data(self, channel_user: str) -> dict[str, Any]:
        return {
            "id": abs(hash(self.pay_token)) % 10**8,
            "createtime": self.created,
            "subscriberMsisdn": self.subscriber,
            "amount": str(self.amount) if self.amount else None,
            "payToken": self.pay_token,
            "txnid": self.txnid,
            "txnmode": "0",
            "inittxnmessage": self.inittxnmessage,
            "inittxnstatus": self.inittxnstatus,
            "confirmtxnstatus": self.confirmtxnstatus,
            "confirmtxnmessage": self.confirmtxnmessage,
            "status": self.status,
            "notifUrl": self.notif_url,
            "description": self.description,
            "channelUserMsisdn": channel_user,
            "orderId": self.order_id,
        }


class OrangeMoneySimulator(SimulatorBase):
    """One Orange Money merchant, reachable through WebPay and the Cameroon USSD push."""

    def __init__(
        self,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        merchant_key: str = DEFAULT_MERCHANT_KEY,
        consumer_key: str = DEFAULT_CONSUMER_KEY,
        consumer_secret: str = DEFAULT_CONSUMER_SECRET,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        channel_user_msisdn: str = DEFAULT_CHANNEL_USER,
        pin: str = DEFAULT_PIN,
        settings: SimulatorSettings | None = None,
    ) -> None:
        self.client_id, self.client_secret, self.merchant_key = client_id, client_secret, merchant_key
        self.consumer_key, self.consumer_secret, self.auth_token = consumer_key, consumer_secret, auth_token
        super().__init__(settings)
        self.channel_user_msisdn, self.pin = channel_user_msisdn, pin
        self.orders: dict[str, WebOrder] = {}  # pay_token -> WebPay order
        self.ussd: dict[str, UssdTxn] = {}  # payToken -> USSD payment
        self.expected_payers: dict[str, str] = {}  # order_id -> the number that will pay it (tests)
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (api, expiry)
        self.token_requests: Counter[str] = Counter()
        prefix = "/omcoreapis/1.0.2"
        self._app = Starlette(
            routes=[
                Route("/oauth/v3/token", self._webpay_token, methods=["POST"]),
                Route("/orange-money-webpay/{cc}/v1/webpayment", self._webpayment, methods=["POST"]),
                Route("/orange-money-webpay/{cc}/v1/transactionstatus", self._transaction_status, methods=["POST"]),
                Route("/webpay/pay/{pay_token}", self._payment_page, methods=["GET", "POST"]),
                Route("/token", self._ussd_token, methods=["POST"]),
                Route(f"{prefix}/mp/init", self._ussd_init, methods=["POST"]),
                Route(f"{prefix}/mp/pay", self._ussd_pay, methods=["POST"]),
                Route(f"{prefix}/mp/paymentstatus/{{pay_token}}", self._ussd_status, methods=["GET"]),
                Route(f"{prefix}/mp/push/{{pay_token}}", self._ussd_push, methods=["GET"]),
                Route("/_sim/state", self._state, methods=["GET"]),
            ]
        )

    # -- test interface (SimulatedProvider) ------------------------------------------------------------------

    @staticmethod
    def _ids(reference: str) -> set[str]:
        return {reference, transformers.order_id(reference)}

    def expect_payer(self, order_id: str, msisdn: str) -> None:
        """The customer who will open this order's payment URL and pay with ``msisdn`` (WebPay asks them)."""
        self.expected_payers[order_id] = msisdn

    def created(self, reference: str) -> int:
        ids = self._ids(reference)
        webpay = sum(1 for o in self.orders.values() if o.order_id in ids)
        return webpay + sum(1 for t in self.ussd.values() if t.order_id in ids)

    def attempts(self, reference: str) -> int:
        return sum(self.create_attempts[i] for i in self._ids(reference))

    def collected(self, reference: str) -> int:
        ids = self._ids(reference)
        webpay = sum(
            self.accounts.moved(f"webpay:{o.pay_token}", debit=o.payer)
            for o in self.orders.values()
            if o.order_id in ids and o.payer
        )
        ussd = sum(
            self.accounts.moved(f"ussd:{t.pay_token}", debit=t.subscriber)
            for t in self.ussd.values()
            if t.order_id in ids and t.subscriber
        )
        return webpay + ussd

    def paid_out(self, reference: str) -> int:
        return 0  # neither API pays out

    def merchant_balance(self, currency: str) -> int:
        return self.accounts.balance("merchant", currency)

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def _house_balance(self, owner: str) -> int | None:
        return MERCHANT_FLOAT if owner == "merchant" else None

    # -- plumbing ------------------------------------------------------------------------------------------------

    async def _issue_token(self, request: Request, api: str, user: str, password: str) -> Response:
        self.requests[f"POST {request.url.path}"] += 1
        self.token_requests[api] += 1
        if self.settings.token_latency_seconds > 0:
            await asyncio.sleep(self.settings.token_latency_seconds)
        given_user, given_password = basic_credentials(request.headers.get("authorization", ""))
        if not (constant_time_equal(given_user, user) and constant_time_equal(given_password, password)):
            return JSONResponse(
                {"error": "invalid_client", "error_description": "The requested service needs credentials"},
                status_code=401,
            )
        form = parse_qs((await request.body()).decode())
        if form.get("grant_type") != ["client_credentials"]:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        token = secrets.token_urlsafe(24)
        lifetime = self.settings.token_lifetime_seconds
        self.tokens[token] = (api, time.time() + lifetime)
        return JSONResponse({"token_type": "Bearer", "access_token": token, "expires_in": lifetime})

    def _bearer_ok(self, request: Request, api: str) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        issued = self.tokens.get(token) if scheme.lower() == "bearer" else None
        return issued is not None and issued[0] == api and issued[1] > time.time()

    def _fault(self, fault: Fault) -> JSONResponse:
        if fault is Fault.RATE_LIMITED:
            return _error(429, 42, "Too many requests", headers=self._retry_after())
        if fault is Fault.UNAVAILABLE:
            return _error(503, 5001, "Service temporarily unavailable")
        return _error(500, 500, "Internal error")

    async def _notify(self, url: str | None, body: bytes, outcome: Outcome) -> None:
        await self._deliver(outcome, url, body, webhooks.CALLBACK_HEADERS)

    # -- WebPay --------------------------------------------------------------------------------------------------

    async def _webpay_token(self, request: Request) -> Response:
        return await self._issue_token(request, "webpay", self.client_id, self.client_secret)

    async def _webpayment(self, request: Request) -> Response:
        await self._enter("POST webpayment")
        if not self._bearer_ok(request, "webpay"):
            return _error(401, 42, "Expired or invalid credentials")
        body = json_object(await request.body()) or {}
        if not constant_time_equal(str(body.get("merchant_key", "")), self.merchant_key):
            return _error(401, 1, "Invalid merchant key")
        country = request.path_params["cc"].lower()
        wire_currency = str(body.get("currency", ""))
        currency = "XOF" if country == "dev" else WEBPAY_COUNTRY_CURRENCIES.get(country, "")
        expected_currency = "OUV" if country == "dev" else currency
        order_id, amount, notif_url = str(body.get("order_id", "")), body.get("amount"), str(body.get("notif_url", ""))
        problems = [
            not currency and f"unknown country {country}",
            wire_currency != expected_currency and f"currency must be {expected_currency}",
            not 0 < len(order_id) <= transformers.MAX_ORDER_ID and "order_id is 1 to 30 characters",
            not (isinstance(amount, int) and amount > 0) and "amount must be a positive integer",
            not 0 < len(notif_url) <= transformers.MAX_NOTIF_URL and "notif_url is 1 to 120 characters",
            not (body.get("return_url") and body.get("cancel_url")) and "return_url and cancel_url are required",
        ]
        refused = [p for p in problems if p]
        if refused:
            return _error(400, 400, "; ".join(str(p) for p in refused))
        assert isinstance(amount, int)
        attempt = self._attempt(order_id)
        payer = self.expected_payers.get(order_id)
        outcome = outcome_for(payer) if payer else Outcome.SUCCESS
        fault = self._refusal(outcome, attempt)
        if fault is not None:
            return self._fault(fault)
        await self._take_time(outcome)
        lifetime = self.settings.expiry_seconds if outcome is Outcome.EXPIRES else WEBPAY_LIFETIME_SECONDS
        order = WebOrder(
            pay_token=secrets.token_hex(32),
            notif_token=secrets.token_hex(16),
            order_id=order_id,
            amount=amount,
            currency=currency,
            wire_currency=wire_currency,
            notif_url=notif_url,
            outcome=outcome,
            expires_at=time.time() + lifetime,
        )
        if outcome is Outcome.UNKNOWN_STATUS:
            order.status = UNKNOWN_STATUS
        self.orders[order.pay_token] = order
        if payer and outcome not in (Outcome.PENDING_FOREVER, Outcome.EXPIRES, Outcome.UNKNOWN_STATUS):
            self.tasks.start(self._customer_pays(order, payer))
        fault = await self._after_accepting(outcome, attempt)
        if fault is not None:
            return self._fault(fault)
        payment_url = f"{str(request.base_url).rstrip('/')}/webpay/pay/{order.pay_token}"
        return JSONResponse(
            {
                "status": 201,
                "message": "OK",
                "pay_token": order.pay_token,
                "payment_url": payment_url,
                "notif_token": order.notif_token,
            },
            status_code=201,
        )

    async def _customer_pays(self, order: WebOrder, msisdn: str) -> None:
        """The customer opens the payment URL, types their number and the OTP from #144#391*PIN#, confirms."""
        await asyncio.sleep(self.settings.settle_seconds)
        await self._webpay_pay(order, msisdn)

    async def _webpay_pay(self, order: WebOrder, msisdn: str) -> bool:
        order.refresh()
        if order.status not in ("INITIATED", "PENDING"):
            return False
        outcome = outcome_for(msisdn)
        paid = outcome not in WEBPAY_FAILURES and self.accounts.can_pay(msisdn, order.currency, order.amount)
        if paid:
            self.accounts.move(msisdn, "merchant", order.currency, order.amount, f"webpay:{order.pay_token}")
            order.payer, order.status = msisdn, "SUCCESS"
            order.txnid = "MP" + datetime.now(UTC).strftime("%y%m%d.%H%M") + "." + secrets.token_hex(3).upper()
        else:
            order.status = "FAILED"
        body = webhooks.webpay_notification(order.status, order.notif_token, order.txnid)
        await self._notify(order.notif_url, body, order.outcome)
        return paid

    async def _transaction_status(self, request: Request) -> Response:
        await self._enter("POST transactionstatus")
        if not self._bearer_ok(request, "webpay"):
            return _error(401, 42, "Expired or invalid credentials")
        body = json_object(await request.body()) or {}
        order = self.orders.get(str(body.get("pay_token", "")))
        if order is None:
            return _error(404, 404, "Unknown pay_token")
        if body.get("order_id") != order.order_id or body.get("amount") != order.amount:
            return _error(400, 400, "order_id and amount do not match this pay_token")
        order.refresh()
        return JSONResponse({"status": order.status, "order_id": order.order_id, "txnid": order.txnid})

    async def _payment_page(self, request: Request) -> Response:
        order = self.orders.get(request.path_params["pay_token"])
        if order is None:
            return HTMLResponse("<p>Paiement inconnu.</p>", status_code=404)
        message = ""
        if request.method == "POST":
            form = await request.form()
            msisdn = str(form.get("msisdn", "")).strip().removeprefix("+")
            otp = str(form.get("otp", "")).strip()
            if not (msisdn.isdigit() and otp.isdigit() and 4 <= len(otp) <= 6):
                message = "Numéro ou code OTP invalide."
            else:
                message = "Paiement effectué." if await self._webpay_pay(order, msisdn) else "Paiement refusé."
        order.refresh()
        return HTMLResponse(
            "<!doctype html><html lang='fr'><meta charset='utf-8'><title>Orange Money (simulateur)</title>"
            f"<h1>Payer {order.amount} {html.escape(order.currency)}</h1>"
            f"<p>Commande {html.escape(order.order_id)} — état : {html.escape(order.status)}</p>"
            f"<p>{html.escape(message)}</p>"
            "<form method='post'><label>Numéro Orange Money <input name='msisdn'></label>"
            "<label>Code OTP (#144#391*code#) <input name='otp'></label><button>Payer</button></form></html>"
        )

    # -- Cameroon USSD push --------------------------------------------------------------------------------------

    async def _ussd_token(self, request: Request) -> Response:
        return await self._issue_token(request, "ussd", self.consumer_key, self.consumer_secret)

    def _ussd_auth(self, request: Request) -> Response | None:
        if not self._bearer_ok(request, "ussd"):
            return _error(401, 900901, "Invalid Credentials")
        if not constant_time_equal(request.headers.get("x-auth-token", ""), self.auth_token):
            return _error(401, 401, "Invalid X-AUTH-TOKEN")
        return None

    async def _ussd_init(self, request: Request) -> Response:
        await self._enter("POST mp/init")
        refusal = self._ussd_auth(request)
        if refusal is not None:
            return refusal
        transaction = UssdTxn(pay_token="MP" + datetime.now(UTC).strftime("%y%m%d") + secrets.token_hex(8).upper())
        self.ussd[transaction.pay_token] = transaction
        return JSONResponse(
            {"message": "Payment request successfully initiated", "data": {"payToken": transaction.pay_token}}
        )

    async def _ussd_pay(self, request: Request) -> Response:  # noqa: PLR0911 - one answer per case
        await self._enter("POST mp/pay")
        refusal = self._ussd_auth(request)
        if refusal is not None:
            return refusal
        body = json_object(await request.body()) or {}
        transaction = self.ussd.get(str(body.get("payToken", "")))
        subscriber, order_id = str(body.get("subscriberMsisdn", "")), str(body.get("orderId", ""))
        amount_text = str(body.get("amount", ""))
        if transaction is None:
            return _error(400, 400, "Unknown payToken: call mp/init first")
        national = subscriber.removeprefix("237") if len(subscriber) == 12 else subscriber
        if not (national.isdigit() and len(national) == 9 and order_id and amount_text.isdigit()):
            return _error(400, 400, "subscriberMsisdn (6XXXXXXXX), orderId and amount are required")
        if str(body.get("channelUserMsisdn")) != self.channel_user_msisdn or not constant_time_equal(
            str(body.get("pin", "")), self.pin
        ):
            return _error(401, 401, "Invalid channel user MSISDN or PIN")
        attempt = self._attempt(order_id)
        outcome = outcome_for(subscriber)
        fault = self._refusal(outcome, attempt)
        if fault is not None:
            return self._fault(fault)
        if transaction.status is not None:
            return _error(400, 400, "payToken already used")
        await self._take_time(outcome)
        transaction.order_id, transaction.amount, transaction.subscriber = order_id, int(amount_text), subscriber
        transaction.notif_url = str(body.get("notifUrl") or "") or None
        transaction.description, transaction.outcome = str(body.get("description", "")), outcome
        transaction.status = "PENDING"
        if not self.accounts.can_pay(subscriber, "XAF", transaction.amount):
            transaction.status = "FAILED"
            transaction.inittxnstatus = INSUFFICIENT_CODE
            transaction.inittxnmessage = "60019 :: Le solde du compte du payeur est insuffisant"
        else:
            transaction.inittxnstatus, transaction.inittxnmessage = "200", "Paiement en attente de confirmation"
            if outcome is Outcome.UNKNOWN_STATUS:
                transaction.status = UNKNOWN_STATUS
            elif outcome is not Outcome.PENDING_FOREVER:
                self.tasks.start(self._subscriber_answers(transaction))
        fault = await self._after_accepting(outcome, attempt)
        if fault is not None:
            return self._fault(fault)
        message = "Payment request failed" if transaction.status == "FAILED" else "Payment request initiated"
        return JSONResponse({"message": message, "data": transaction.data(self.channel_user_msisdn)})

    async def _subscriber_answers(self, transaction: UssdTxn) -> None:
        """The subscriber reads the USSD prompt and types their PIN (or lets it expire)."""

        def answer() -> None:
            failure = USSD_FAILURE_CODES.get(transaction.outcome)
            if failure is not None:
                transaction.status = "FAILED"
                transaction.confirmtxnstatus, transaction.confirmtxnmessage = failure
                return
            assert transaction.subscriber is not None
            memo = f"ussd:{transaction.pay_token}"
            self.accounts.move(transaction.subscriber, "merchant", "XAF", transaction.amount, memo)
            transaction.status = "SUCCESSFULL"
            transaction.confirmtxnstatus, transaction.confirmtxnmessage = "200", "Successful"
            transaction.txnid = "MP" + secrets.token_hex(5).upper()

        def expire() -> None:
            transaction.status = "EXPIRED"

        await self._settle_later(transaction.outcome, settle=answer, expire=expire)
        body = json.dumps(transaction.data(self.channel_user_msisdn)).encode()
        await self._notify(transaction.notif_url, body, transaction.outcome)

    async def _ussd_status(self, request: Request) -> Response:
        await self._enter("GET mp/paymentstatus")
        refusal = self._ussd_auth(request)
        if refusal is not None:
            return refusal
        transaction = self.ussd.get(request.path_params["pay_token"])
        if transaction is None:
            return _error(404, 404, "Unknown payToken")
        return JSONResponse({"message": "Transaction status", "data": transaction.data(self.channel_user_msisdn)})

    async def _ussd_push(self, request: Request) -> Response:
        self.requests["GET mp/push"] += 1
        refusal = self._ussd_auth(request)
        if refusal is not None:
            return refusal
        transaction = self.ussd.get(request.path_params["pay_token"])
        if transaction is None:
            return _error(404, 404, "Unknown payToken")
        if transaction.status != "PENDING":
            return _error(400, 400, f"Nothing to push: the payment is {transaction.status}")
        transaction.pushes += 1
        return JSONResponse({"message": "Push sent to customer", "data": transaction.data(self.channel_user_msisdn)})

    async def _state(self, request: Request) -> Response:
        if not (self._bearer_ok(request, "webpay") or self._bearer_ok(request, "ussd")):
            return _error(401, 42, "Expired or invalid credentials")
        return JSONResponse(
            {
                "balances": self.accounts.snapshot(),
                "webpay": [
                    {"order_id": o.order_id, "status": o.status, "amount": o.amount, "txnid": o.txnid}
                    for o in self.orders.values()
                ],
                "ussd": [t.data(self.channel_user_msisdn) for t in self.ussd.values()],
            }
        )
