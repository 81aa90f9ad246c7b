"""The Orange Money connectors: WebPay (a payment URL) and the Cameroon USSD push ("omcoreapis").

Both collect only (neither API pays out) and neither signs its notifications.

**WebPay** (:class:`OrangeWebPayConnector`, Côte d'Ivoire, Senegal, Cameroon, Mali, Burkina Faso, Guinea):

* init ``POST /orange-money-webpay/{cc}/v1/webpayment`` -> ``pay_token``, ``payment_url`` (in
  ``ProviderPayment.raw``: send the payer there; they type their number and an OTP on Orange's page) and
  ``notif_token`` (``ProviderPayment.callback_token``: store it);
* status ``POST …/transactionstatus {order_id, amount, pay_token}``: ``order_id`` is derived from our reference (at
  most 30 characters), and the ``provider_reference`` is ``"<pay_token>:<amount>:<currency>"`` so that a status
  query needs nothing else;
* the notification ``{status, notif_token, txnid}`` names the payment only by its ``notif_token``: match it to the
  stored ``callback_token`` (:meth:`OrangeWebPayConnector.verify_notification`), then confirm by status query.

**USSD push** (:class:`OrangeUssdPushConnector`, Cameroon, XAF): ``mp/init`` -> ``payToken`` (the
``provider_reference``), ``mp/pay`` sends the prompt to the subscriber (``60019``: insufficient funds, refused at
once), ``mp/paymentstatus/{payToken}``; :meth:`OrangeUssdPushConnector.resend_push` re-sends a prompt.

Not public, hence configurable ("?" in providers.md): the WebPay country path and currency code (settings
``webpay_country``, default ``dev`` with currency ``OUV``, and ``webpay_currency``), the payer's pages (``return_url``,
``cancel_url``), the USSD gateway and token URLs (``base_url``, ``token_url``), the USSD number format
(``msisdn_format``: ``national`` by default), the USSD notification's shape (the payment's ``data``, bare or
wrapped), failure codes beyond ``60019`` (``provider_error``), amount limits (Cauri's defaults below).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import SecretStr, ValidationError

from cauri.connectors.base import (
    AmountLimits,
    CallbackEvent,
    Capability,
    CollectRequest,
    PaymentConnector,
    PaymentStatus,
    ProviderPayment,
)
from cauri.connectors.mobile_money.orange_money import transformers, webhooks
from cauri.connectors.mobile_money.orange_money.client import (
    USSD_BASE_URL,
    WEBPAY_BASE_URL,
    UssdPushHttp,
    WebPayHttp,
)
from cauri.connectors.mobile_money.orange_money.schemas import (
    InitAnswer,
    UssdPayRequest,
    WebPayment,
    WebPaymentRequest,
)
from cauri.kit.errors import (
    AuthError,
    Declined,
    FailureReason,
    InvalidRequest,
    PaymentNotFound,
)
from cauri.kit.http import HttpPolicy

# The currency each WebPay country path takes ("dev" takes "OUV", Orange's test money, for any of ours).
WEBPAY_COUNTRY_CURRENCIES: dict[str, str] = {
    "ci": "XOF",
    "sn": "XOF",
    "ml": "XOF",
    "bf": "XOF",
    "cm": "XAF",
    "gn": "GNF",
}
WEBPAY_LIMITS: dict[str, tuple[int, int]] = {
    "XOF": (100, 1_000_000),
    "XAF": (100, 1_000_000),
    "GNF": (1_000, 10_000_000),
}
USSD_LIMITS: dict[str, tuple[int, int]] = {"XAF": (100, 1_000_000)}


def _missing_setting(name: str) -> AuthError:
    return AuthError(
        f"Paramètre manquant pour « orange_money » : {name}.",
        f"Missing setting for 'orange_money': {name}.",
        provider=transformers.PROVIDER,
        code="connector_setting_missing",
    )


def _notif_url(callback_url: str | None) -> str:
    if not callback_url:
        raise InvalidRequest(
            "Orange Money exige une URL de notification (callback_url).",
            "Orange Money requires a notification URL (callback_url).",
            provider=transformers.PROVIDER,
            code="notif_url_required",
        )
    if len(callback_url) > transformers.MAX_NOTIF_URL:
        raise InvalidRequest(
            f"URL de notification trop longue pour Orange ({len(callback_url)} > {transformers.MAX_NOTIF_URL}).",
            f"Notification URL too long for Orange ({len(callback_url)} > {transformers.MAX_NOTIF_URL}).",
            provider=transformers.PROVIDER,
            code="notif_url_too_long",
        )
    return callback_url


class OrangeWebPayConnector(PaymentConnector):
    name = "orange_money"
    capabilities = frozenset({Capability.COLLECT, Capability.COLLECT_STATUS, Capability.CALLBACKS})
    currencies = frozenset(WEBPAY_LIMITS)
    amount_limits: ClassVar[Mapping[str, AmountLimits]] = {
        currency: AmountLimits(low, high) for currency, (low, high) in WEBPAY_LIMITS.items()
    }
    callbacks_signed = False
    idempotent_creates = False
    status_by_reference = False

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: SecretStr,
        merchant_key: SecretStr,
        base_url: str = WEBPAY_BASE_URL,
        country: str = "dev",
        currency_code: str | None = None,
        return_url: str | None = None,
        cancel_url: str | None = None,
        lang: str = "fr",
        merchant_name: str = "",
        token_url: str | None = None,
        policy: HttpPolicy | None = None,
    ) -> None:
        self.country = country.lower()
        self.client = WebPayHttp(
            base_url=base_url,
            client_id=client_id,
            client_secret=client_secret,
            country=self.country,
            token_url=token_url,
            policy=policy,
        )
        self.merchant_key = merchant_key
        self.currency_code = currency_code
        self.return_url, self.cancel_url = return_url, cancel_url
        self.lang, self.merchant_name = lang, merchant_name

    async def aclose(self) -> None:
        await self.client.aclose()

    def wire_currency(self, currency: str) -> str:
        """What WebPay's ``currency`` field says: ``OUV`` in dev, else the country's currency (checked)."""
        if self.currency_code:
            return self.currency_code
        if self.country == "dev":
            return "OUV"
        expected = WEBPAY_COUNTRY_CURRENCIES.get(self.country)
        if expected is not None and expected != currency:
            raise InvalidRequest(
                f"Orange WebPay « {self.country} » n'accepte que {expected}, pas {currency}.",
                f"Orange WebPay '{self.country}' only accepts {expected}, not {currency}.",
                provider=self.name,
                code="invalid_currency",
                reason=FailureReason.INVALID_CURRENCY,
            )
        return currency

    async def _collect(self, request: CollectRequest) -> ProviderPayment:
        if not self.return_url or not self.cancel_url:
            raise _missing_setting("return_url / cancel_url")
        body = WebPaymentRequest(
            merchant_key=self.merchant_key.get_secret_value(),
            currency=self.wire_currency(request.currency),
            order_id=transformers.order_id(request.reference),
            amount=transformers.amount_to_int(request.amount, request.currency),
            return_url=self.return_url,
            cancel_url=self.cancel_url,
            notif_url=_notif_url(request.callback_url),
            lang=self.lang,
            reference=self.merchant_name or (request.description[:30] if request.description else ""),
        )
        raw = await self.client.webpayment(body.model_dump())
        try:
            answer = WebPayment.model_validate(raw)
        except ValidationError as exc:
            raise transformers.unreadable(exc) from None
        return transformers.payment_from_webpayment(answer, raw, request)

    async def _collect_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        if not provider_reference:
            raise PaymentNotFound(
                "Orange WebPay ne retrouve un paiement que par son pay_token.",
                "Orange WebPay finds a payment by its pay_token only.",
                provider=self.name,
                code="provider_reference_required",
            )
        pay_token, amount, _currency = transformers.split_webpay_reference(provider_reference)
        raw = await self.client.transaction_status(
            {"order_id": transformers.order_id(reference), "amount": amount, "pay_token": pay_token}
        )
        return transformers.payment_from_webpay_status(raw, reference=reference, provider_reference=provider_reference)

    def verify_notification(self, raw_body: bytes, expected_notif_token: str | None) -> None:
        """WebPay's authenticity check: the notification carries the ``notif_token`` stored for this payment."""
        webhooks.verify_notif_token(raw_body, expected_notif_token)

    def _verify_callback(self, headers: Mapping[str, str], raw_body: bytes, now: float | None) -> None:
        webhooks.check_webpay(raw_body)

    def _parse_callback(self, headers: Mapping[str, str], raw_body: bytes) -> CallbackEvent:
        return transformers.webpay_event(raw_body)


class OrangeUssdPushConnector(PaymentConnector):
    name = "orange_money"
    capabilities = frozenset({Capability.COLLECT, Capability.COLLECT_STATUS, Capability.CALLBACKS})
    currencies = frozenset(USSD_LIMITS)
    amount_limits: ClassVar[Mapping[str, AmountLimits]] = {
        currency: AmountLimits(low, high) for currency, (low, high) in USSD_LIMITS.items()
    }
    callbacks_signed = False
    idempotent_creates = False
    status_by_reference = False

    def __init__(
        self,
        *,
        consumer_key: str,
        consumer_secret: SecretStr,
        auth_token: SecretStr,
        channel_user_msisdn: str,
        pin: SecretStr,
        base_url: str = USSD_BASE_URL,
        token_url: str | None = None,
        msisdn_format: str = "national",
        policy: HttpPolicy | None = None,
    ) -> None:
        self.client = UssdPushHttp(
            base_url=base_url,
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            auth_token=auth_token,
            token_url=token_url,
            policy=policy,
        )
        self.channel_user_msisdn = channel_user_msisdn
        self.pin = pin
        if msisdn_format not in ("national", "international"):
            raise InvalidRequest(
                "msisdn_format : « national » ou « international ».",
                "msisdn_format: 'national' or 'international'.",
                provider=self.name,
                code="invalid_setting",
            )
        self.msisdn_format = msisdn_format

    async def aclose(self) -> None:
        await self.client.aclose()

    def subscriber_msisdn(self, e164: str) -> str:
        if self.msisdn_format == "international":
            return e164.removeprefix("+")
        return transformers.national_msisdn(e164)

    async def _collect(self, request: CollectRequest) -> ProviderPayment:
        notif_url = _notif_url(request.callback_url)
        try:
            pay_token = InitAnswer.model_validate(await self.client.init()).data.pay_token
        except ValidationError as exc:
            raise transformers.unreadable(exc) from None
        body = UssdPayRequest(
            notif_url=notif_url,
            channel_user_msisdn=self.channel_user_msisdn,
            amount=str(transformers.amount_to_int(request.amount, request.currency)),
            subscriber_msisdn=self.subscriber_msisdn(request.payer_phone),
            pin=self.pin.get_secret_value(),
            order_id=request.reference,
            description=(request.description or request.reference)[:100],
            pay_token=pay_token,
        )
        raw = await self.client.pay(body.model_dump(by_alias=True))
        answer = transformers.ussd_answer_from_json(raw)
        if not answer.data.pay_token:
            answer.data.pay_token = pay_token
        payment = transformers.payment_from_ussd(
            answer.data, reference=request.reference, currency=request.currency, raw=raw, amount=request.amount
        )
        if payment.status is PaymentStatus.FAILED:
            raise Declined(
                payment.failure or FailureReason.PROVIDER_ERROR,
                provider=self.name,
                provider_code=answer.data.inittxnstatus or answer.data.confirmtxnstatus,
            )
        return payment

    async def _query(self, call: str, reference: str, provider_reference: str | None) -> ProviderPayment:
        if not provider_reference:
            raise PaymentNotFound(
                "L'API USSD d'Orange ne retrouve un paiement que par son payToken.",
                "Orange's USSD API finds a payment by its payToken only.",
                provider=self.name,
                code="provider_reference_required",
            )
        fetch = self.client.push if call == "push" else self.client.payment_status
        raw: dict[str, Any] = await fetch(provider_reference)
        answer = transformers.ussd_answer_from_json(raw)
        if not answer.data.pay_token:
            answer.data.pay_token = provider_reference
        return transformers.payment_from_ussd(answer.data, reference=reference, currency="XAF", raw=raw)

    async def _collect_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        return await self._query("status", reference, provider_reference)

    async def resend_push(self, reference: str, provider_reference: str) -> ProviderPayment:
        """Send the USSD prompt again (the subscriber missed it); Orange refuses once the payment is settled."""
        try:
            return await self._query("push", reference, provider_reference)
        except InvalidRequest as exc:
            raise InvalidRequest(
                "Orange ne renvoie plus la demande : le paiement n'est plus en attente.",
                "Orange no longer re-sends the prompt: the payment is not pending any more.",
                provider=self.name,
                provider_code=exc.provider_code,
                code="push_not_pending",
            ) from exc

    def _verify_callback(self, headers: Mapping[str, str], raw_body: bytes, now: float | None) -> None:
        webhooks.check_ussd(raw_body)

    def _parse_callback(self, headers: Mapping[str, str], raw_body: bytes) -> CallbackEvent:
        return transformers.ussd_event(raw_body, "XAF")
