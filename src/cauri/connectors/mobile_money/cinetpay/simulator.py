"""A CinetPay merchant site: ``POST /v2/payment``, ``POST /v2/payment/check``, the payment page, ``x-token``
notifications (form-encoded ``cpm_*`` fields POSTed to ``notify_url``).

Credentials (``apikey``, ``site_id``) in the JSON body; answers ``{code, message, data}``. The payer "completes"
the payment ``settle`` seconds after it is created; the outcome is chosen by ``customer_phone_number``'s last three
digits (the sandbox's table; ``docs/providers/cinetpay.md``).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cauri.connectors.mobile_money.cinetpay import webhooks
from cauri.core.security import constant_time_equal
from cauri.kit.outcomes import Outcome, outcome_for
from cauri.kit.outcomes import magic_phone as kit_magic_phone
from cauri.kit.simulation import Fault, SimulatorBase, SimulatorSettings

CINETPAY_CURRENCIES = frozenset({"XOF", "XAF", "CDF", "GNF", "USD"})
MINIMUM_AMOUNT = 100
FEE_PER_MILLE = 30  # 3 %, kept on accepted payments
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


class CinetPaySimulator(SimulatorBase):
    """One CinetPay site. ``app`` is the ASGI app; below, the test interface."""

    def __init__(
        self,
        *,
        apikey: str = "cinetpay-apikey-cauri",
        site_id: str = "105900",
        secret_key: str = "cinetpay-secret-cauri",  # noqa: S107 - the simulator's own test secret
        settings: SimulatorSettings | None = None,
    ) -> None:
        super().__init__(settings)
        self.apikey, self.site_id, self.secret_key = apikey, site_id, secret_key
        self.payments: dict[str, SimPayment] = {}
        self.by_token: dict[str, str] = {}
        self._app = Starlette(
            routes=[
                Route("/v2/payment", self._payment, methods=["POST"]),
                Route("/v2/payment/check", self._check, methods=["POST"]),
                Route("/payment/{token}", self._page, methods=["GET"]),
            ]
        )

    # -- test interface ------------------------------------------------------------------------------------

    def created(self, reference: str) -> int:
        return 1 if reference in self.payments else 0

    def collected(self, reference: str) -> int:
        payment = self.payments.get(reference)
        return self.accounts.moved(f"pay:{reference}", debit=payment.phone) if payment else 0

    def paid_out(self, reference: str) -> int:
        return 0

    def merchant_balance(self, currency: str) -> int:
        return self.accounts.balance("merchant", currency)

    def _house_balance(self, owner: str) -> int | None:
        return 0 if owner in ("merchant", "cinetpay") else None  # the site holds only what it collected

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
