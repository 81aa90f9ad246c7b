"""Orange Money without the Cauri server: WebPay and the Cameroon USSD push, typed, async and blocking.

    from cauri.connectors.mobile_money.orange_money import OrangeMoneyClient

    async with OrangeMoneyClient(client_id="…", client_secret="…", merchant_key="…") as orange:   # WebPay (dev)
        payment = await orange.init_webpayment(order_id="order-42", amount=1500, notif_url="https://…/notif",
                                               return_url="https://…/ok", cancel_url="https://…/ko")
        print(payment.payment_url)                    # send the payer there; keep payment.notif_token
        # in your notification endpoint:
        notification = orange.verify_notification(raw_body, expected_notif_token=stored_notif_token)
        status = await orange.webpayment_status(order_id="order-42", amount=1500, pay_token=payment.pay_token)

    with OrangeMoneyClient.blocking(consumer_key="…", consumer_secret="…", auth_token="…",
                                    channel_user_msisdn="691000000", pin="…") as orange:   # USSD push, Cameroon
        sent = orange.ussd_request_payment(subscriber="+237690000100", amount=500, order_id="order-43",
                                           notif_url="https://…/notif")
        print(orange.ussd_status(sent.pay_token).status)   # PENDING -> SUCCESSFULL / FAILED / EXPIRED

Give the WebPay credentials, the USSD ones, or both. Calls go through Cauri's HTTP layer (OAuth tokens cached,
retries only where safe, masked logs — the PIN and the merchant key never reach a log) and fail with the
connector error tree.
"""

from __future__ import annotations

from pydantic import SecretStr, ValidationError

from cauri.connectors.mobile_money.orange_money import transformers, webhooks
from cauri.connectors.mobile_money.orange_money.client import USSD_BASE_URL, WEBPAY_BASE_URL
from cauri.connectors.mobile_money.orange_money.connector import OrangeUssdPushConnector, OrangeWebPayConnector
from cauri.connectors.mobile_money.orange_money.schemas import (
    InitAnswer,
    UssdPayment,
    UssdPayRequest,
    WebPayment,
    WebPaymentRequest,
    WebPayNotification,
    WebPayStatus,
)
from cauri.kit.errors import AuthError, Declined, FailureReason
from cauri.kit.http import HttpPolicy
from cauri.kit.standalone import BlockingClient, StandaloneClient, as_secret, blocking


def _missing(api: str) -> AuthError:
    return AuthError(
        f"Identifiants Orange {api} non fournis à ce client.",
        f"Orange {api} credentials were not given to this client.",
        provider=transformers.PROVIDER,
        code="connector_credentials_missing",
    )


class OrangeMoneyClient(StandaloneClient):
    """Async Orange Money client for WebPay and/or the Cameroon USSD push."""

    def __init__(
        self,
        *,
        client_id: str | None = None,
        client_secret: str | SecretStr | None = None,
        merchant_key: str | SecretStr | None = None,
        webpay_country: str = "dev",
        webpay_base_url: str = WEBPAY_BASE_URL,
        consumer_key: str | None = None,
        consumer_secret: str | SecretStr | None = None,
        auth_token: str | SecretStr | None = None,
        channel_user_msisdn: str | None = None,
        pin: str | SecretStr | None = None,
        ussd_base_url: str = USSD_BASE_URL,
        policy: HttpPolicy | None = None,
    ) -> None:
        self.webpay: OrangeWebPayConnector | None = None
        self.ussd: OrangeUssdPushConnector | None = None
        secret, key = as_secret(client_secret), as_secret(merchant_key)
        if client_id and secret is not None and key is not None:
            self.webpay = OrangeWebPayConnector(
                client_id=client_id,
                client_secret=secret,
                merchant_key=key,
                base_url=webpay_base_url,
                country=webpay_country,
                policy=policy,
            )
        consumer, token, code = as_secret(consumer_secret), as_secret(auth_token), as_secret(pin)
        if consumer_key and consumer is not None and token is not None and code is not None and channel_user_msisdn:
            self.ussd = OrangeUssdPushConnector(
                consumer_key=consumer_key,
                consumer_secret=consumer,
                auth_token=token,
                channel_user_msisdn=channel_user_msisdn,
                pin=code,
                base_url=ussd_base_url,
                policy=policy,
            )
        super().__init__(self.webpay, self.ussd)

    @classmethod
    def blocking(
        cls,
        *,
        client_id: str | None = None,
        client_secret: str | SecretStr | None = None,
        merchant_key: str | SecretStr | None = None,
        webpay_country: str = "dev",
        webpay_base_url: str = WEBPAY_BASE_URL,
        consumer_key: str | None = None,
        consumer_secret: str | SecretStr | None = None,
        auth_token: str | SecretStr | None = None,
        channel_user_msisdn: str | None = None,
        pin: str | SecretStr | None = None,
        ussd_base_url: str = USSD_BASE_URL,
        policy: HttpPolicy | None = None,
    ) -> SyncOrangeMoneyClient:
        return SyncOrangeMoneyClient(
            cls(
                client_id=client_id,
                client_secret=client_secret,
                merchant_key=merchant_key,
                webpay_country=webpay_country,
                webpay_base_url=webpay_base_url,
                consumer_key=consumer_key,
                consumer_secret=consumer_secret,
                auth_token=auth_token,
                channel_user_msisdn=channel_user_msisdn,
                pin=pin,
                ussd_base_url=ussd_base_url,
                policy=policy,
            )
        )

    def _webpay(self) -> OrangeWebPayConnector:
        if self.webpay is None:
            raise _missing("WebPay")
        return self.webpay

    def _ussd(self) -> OrangeUssdPushConnector:
        if self.ussd is None:
            raise _missing("USSD")
        return self.ussd

    # -- WebPay --------------------------------------------------------------------------------------------

    async def init_webpayment(
        self,
        *,
        order_id: str,
        amount: int,
        notif_url: str,
        return_url: str,
        cancel_url: str,
        currency: str = "XOF",
        lang: str = "fr",
        reference: str = "",
    ) -> WebPayment:
        """``POST …/webpayment``: ``payment_url`` for the payer; keep ``pay_token`` and ``notif_token``."""
        webpay = self._webpay()
        body = WebPaymentRequest(
            merchant_key=webpay.merchant_key.get_secret_value(),
            currency=webpay.wire_currency(currency),
            order_id=order_id,
            amount=amount,
            return_url=return_url,
            cancel_url=cancel_url,
            notif_url=notif_url,
            lang=lang,
            reference=reference,
        )
        raw = await webpay.client.webpayment(body.model_dump())
        try:
            return WebPayment.model_validate(raw)
        except ValidationError as exc:
            raise transformers.unreadable(exc) from None

    async def webpayment_status(self, *, order_id: str, amount: int, pay_token: str) -> WebPayStatus:
        raw = await self._webpay().client.transaction_status(
            {"order_id": order_id, "amount": amount, "pay_token": pay_token}
        )
        return transformers.webpay_status_from_json(raw)

    @staticmethod
    def verify_notification(raw_body: bytes, expected_notif_token: str | None) -> WebPayNotification:
        """Raise :class:`InvalidSignature` unless the notification carries the ``notif_token`` of the init."""
        webhooks.verify_notif_token(raw_body, expected_notif_token)
        return transformers.notification_from_wire(raw_body)[0]

    # -- USSD push -------------------------------------------------------------------------------------------

    async def ussd_init(self) -> str:
        """``mp/init``: a fresh payToken."""
        try:
            return InitAnswer.model_validate(await self._ussd().client.init()).data.pay_token
        except ValidationError as exc:
            raise transformers.unreadable(exc) from None

    async def ussd_pay(
        self, *, pay_token: str, subscriber: str, amount: int, order_id: str, notif_url: str, description: str = ""
    ) -> UssdPayment:
        """``mp/pay``: the prompt goes to ``subscriber``. :class:`Declined` when Orange refuses at once."""
        ussd = self._ussd()
        body = UssdPayRequest(
            notif_url=notif_url,
            channel_user_msisdn=ussd.channel_user_msisdn,
            amount=str(amount),
            subscriber_msisdn=ussd.subscriber_msisdn(subscriber if subscriber.startswith("+") else f"+{subscriber}"),
            pin=ussd.pin.get_secret_value(),
            order_id=order_id,
            description=description or order_id,
            pay_token=pay_token,
        )
        answer = transformers.ussd_answer_from_json(await ussd.client.pay(body.model_dump(by_alias=True)))
        status, failure = transformers.ussd_state(answer.data)
        if status.value == "failed":
            raise Declined(
                failure or FailureReason.PROVIDER_ERROR,
                provider=transformers.PROVIDER,
                provider_code=answer.data.inittxnstatus,
            )
        return answer.data

    async def ussd_request_payment(
        self, *, subscriber: str, amount: int, order_id: str, notif_url: str, description: str = ""
    ) -> UssdPayment:
        """``mp/init`` then ``mp/pay``."""
        pay_token = await self.ussd_init()
        return await self.ussd_pay(
            pay_token=pay_token,
            subscriber=subscriber,
            amount=amount,
            order_id=order_id,
            notif_url=notif_url,
            description=description,
        )

    async def ussd_status(self, pay_token: str) -> UssdPayment:
        return transformers.ussd_answer_from_json(await self._ussd().client.payment_status(pay_token)).data

    async def ussd_push(self, pay_token: str) -> UssdPayment:
        """Re-send the USSD prompt to the subscriber."""
        return transformers.ussd_answer_from_json(await self._ussd().client.push(pay_token)).data

    @staticmethod
    def parse_ussd_notification(raw_body: bytes) -> UssdPayment:
        """The notification as Orange sent it: *unverified* (not signed); see :meth:`confirm_ussd_notification`."""
        webhooks.check_ussd(raw_body)
        event = transformers.ussd_event(raw_body, "XAF")
        return UssdPayment.model_validate(event.raw.get("data", event.raw))

    async def confirm_ussd_notification(self, raw_body: bytes) -> UssdPayment:
        """Orange's own answer about the payment a notification announces."""
        pay_token = self.parse_ussd_notification(raw_body).pay_token
        assert pay_token is not None
        return await self.ussd_status(pay_token)


class SyncOrangeMoneyClient(BlockingClient[OrangeMoneyClient]):
    """:class:`OrangeMoneyClient`, blocking (the connector's private event loop runs the same async code)."""

    init_webpayment = blocking(OrangeMoneyClient.init_webpayment)
    webpayment_status = blocking(OrangeMoneyClient.webpayment_status)
    verify_notification = staticmethod(OrangeMoneyClient.verify_notification)
    ussd_request_payment = blocking(OrangeMoneyClient.ussd_request_payment)
    ussd_status = blocking(OrangeMoneyClient.ussd_status)
    ussd_push = blocking(OrangeMoneyClient.ussd_push)
    parse_ussd_notification = staticmethod(OrangeMoneyClient.parse_ussd_notification)
    confirm_ussd_notification = blocking(OrangeMoneyClient.confirm_ussd_notification)
