"""CinetPay (optional aggregator, West and Central Africa), two APIs chosen by the ``api_version`` credential field:
checkout v2 (:class:`CinetPayConnector`, the default) and the current API (:class:`CinetPayV1Connector`, ``v1``).

Checkout v2: payment links, check, ``x-token`` notifications.

``collect`` opens a payment (``POST /v2/payment``, our reference as ``transaction_id``, the payer's number as
``customer_phone_number``) and answers pending with the ``payment_url`` in ``raw``; the payer finishes on it.
``collect_status`` is ``POST /v2/payment/check`` by our ``transaction_id``. A notification's ``x-token`` is
checked (HMAC-SHA256 over the 16 ``cpm_*`` fields, constant time) but carries no timestamp, so events are
``signed=False``: the payments module confirms each one with a check before crediting anyone.

Configurable because not public (docs/providers/cinetpay.md): ``base_url``; ``channels`` (default
``MOBILE_MONEY``); the refusal words behind ``REFUSED`` (``transformers.REFUSAL_REASONS``; unknown ones are
``provider_error``); the answer code of a reused ``transaction_id`` (``624`` assumed; then the payment is checked
instead of created twice).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import SecretStr

from cauri.connectors.base import (
    AmountLimits,
    Balance,
    CallbackEvent,
    Capability,
    CollectRequest,
    PaymentConnector,
    PaymentKind,
    PayoutRequest,
    ProviderPayment,
)
from cauri.connectors.mobile_money.cinetpay import transformers, webhooks
from cauri.connectors.mobile_money.cinetpay.client import BASE_URL, CinetPayHttp, CinetPayV1Http, v1_base_url
from cauri.connectors.mobile_money.cinetpay.simulator import CINETPAY_CURRENCIES, MINIMUM_AMOUNT
from cauri.connectors.mobile_money.cinetpay.transformers import PROVIDER
from cauri.kit.errors import FailureReason, InvalidRequest
from cauri.kit.http import HttpPolicy
from cauri.kit.signatures import verify_callback_token


class CinetPayConnector(PaymentConnector):
    name = "cinetpay"
    capabilities = frozenset({Capability.COLLECT, Capability.COLLECT_STATUS, Capability.CALLBACKS})
    currencies = CINETPAY_CURRENCIES
    amount_limits: ClassVar[Mapping[str, AmountLimits]] = {
        currency: AmountLimits(MINIMUM_AMOUNT, None) for currency in ("XOF", "XAF", "GNF")
    }
    callbacks_signed = False  # x-token has no timestamp: a signal, confirmed by a check
    idempotent_creates = True  # transaction_id is ours and unique at CinetPay
    status_by_reference = True

    def __init__(
        self,
        *,
        apikey: SecretStr,
        site_id: str,
        secret_keys: list[SecretStr],
        base_url: str = BASE_URL,
        channels: str = "MOBILE_MONEY",
        policy: HttpPolicy | None = None,
    ) -> None:
        self.client = CinetPayHttp(base_url=base_url, policy=policy)
        self._apikey = apikey
        self.site_id = site_id
        self._secret_keys = secret_keys
        self.channels = channels

    async def aclose(self) -> None:
        await self.client.aclose()

    def check_amount(self, amount: int, currency: str) -> None:
        super().check_amount(amount, currency)
        if amount % 5:
            raise InvalidRequest(
                "CinetPay n'accepte que des montants multiples de 5.",
                "CinetPay only accepts amounts that are multiples of 5.",
                provider=self.name,
                code="invalid_amount",
                reason=FailureReason.INVALID_AMOUNT,
            )

    def _credentials(self) -> dict[str, str]:
        return {"apikey": self._apikey.get_secret_value(), "site_id": self.site_id}

    async def _collect(self, request: CollectRequest) -> ProviderPayment:
        body = transformers.payment_to_wire(
            request, apikey=self._apikey.get_secret_value(), site_id=self.site_id, channels=self.channels
        )
        try:
            raw = await self.client.payment(body)
        except InvalidRequest as error:
            if error.reason is FailureReason.DUPLICATE:  # our earlier attempt created it: read it, never pay twice
                return await self._collect_status(request.reference, None)
            raise
        return transformers.payment_from_init(raw, request)

    async def _collect_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        raw = await self.client.check({**self._credentials(), "transaction_id": reference})
        return transformers.check_to_payment(raw, reference)

    def _verify_callback(self, headers: Mapping[str, str], raw_body: bytes, now: float | None) -> None:
        webhooks.verify([s.get_secret_value() for s in self._secret_keys], headers, raw_body)

    def _parse_callback(self, headers: Mapping[str, str], raw_body: bytes) -> CallbackEvent:
        return transformers.event_from_wire(raw_body)


class CinetPayV1Connector(PaymentConnector):
    """CinetPay's current API (``api_version: v1``): OAuth login, payments, transfers, balance, JSON notifications.

    ``collect`` opens a payment (``POST /v1/payment``, our reference as ``merchant_transaction_id``; with the
    operator's ``payment_method`` and ``direct_pay`` the push goes to the payer's phone, else the payer chooses on
    ``payment_url``); its ``notify_token`` is the payment's ``callback_token``. ``collect_status`` is
    ``GET /v1/payment/{merchant_transaction_id}``. ``payout`` is ``POST /v1/transfer``, its status
    ``GET /v1/transfer/{id}``; ``balance`` is ``GET /v1/balances``. Notifications (JSON, ``notify_token``) are
    doorbells (``signed=False``): each is confirmed by a status query before anyone is credited.
    """

    name = "cinetpay"
    capabilities = frozenset(
        {
            Capability.COLLECT,
            Capability.COLLECT_STATUS,
            Capability.PAYOUT,
            Capability.PAYOUT_STATUS,
            Capability.BALANCE,
            Capability.CALLBACKS,
        }
    )
    currencies = CINETPAY_CURRENCIES
    amount_limits: ClassVar[Mapping[str, AmountLimits]] = {
        currency: AmountLimits(MINIMUM_AMOUNT, 2_500_000) for currency in ("XOF", "XAF", "GNF")
    }
    callbacks_signed = False  # the notify_token proves the sender only against the one stored at init
    idempotent_creates = True  # merchant_transaction_id is ours and unique at CinetPay (1200 TRANSACTION_EXIST)
    status_by_reference = True  # GET /v1/payment/{merchant_transaction_id}

    def __init__(
        self,
        *,
        api_key: SecretStr,
        api_password: SecretStr,
        base_url: str | None = None,
        channel: str = "PUSH",
        policy: HttpPolicy | None = None,
    ) -> None:
        url = v1_base_url(api_key.get_secret_value(), base_url)
        self.client = CinetPayV1Http(base_url=url, api_key=api_key, api_password=api_password, policy=policy)
        self.channel = channel

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _collect(self, request: CollectRequest) -> ProviderPayment:
        try:
            raw = await self.client.payment(transformers.v1_payment_to_wire(request, channel=self.channel))
        except InvalidRequest as error:
            if error.reason is FailureReason.DUPLICATE:  # our earlier attempt created it: read it, never pay twice
                return await self._collect_status(request.reference, None)
            raise
        return transformers.v1_payment_from_init(raw, request)

    async def _collect_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        raw = await self.client.payment_status(reference)
        return transformers.v1_status_to_payment(raw, reference, PaymentKind.COLLECTION)

    async def _payout(self, request: PayoutRequest) -> ProviderPayment:
        low, high = transformers.V1_TRANSFER_RANGE
        if not low <= request.amount <= high:
            raise InvalidRequest(
                f"Un transfert CinetPay va de {low} à {high} {request.currency}.",
                f"A CinetPay transfer is {low} to {high} {request.currency}.",
                provider=self.name,
                code="invalid_amount",
                reason=FailureReason.INVALID_AMOUNT,
            )
        self.check_amount(request.amount, request.currency)
        try:
            raw = await self.client.transfer(transformers.v1_transfer_to_wire(request))
        except InvalidRequest as error:
            if error.reason is FailureReason.DUPLICATE:
                return await self._payout_status(request.reference, None)
            raise
        return transformers.v1_status_to_payment(
            raw, request.reference, PaymentKind.PAYOUT, amount=request.amount, currency=request.currency
        )

    async def _payout_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        raw = await self.client.transfer_status(provider_reference or reference)
        return transformers.v1_status_to_payment(raw, reference, PaymentKind.PAYOUT)

    async def _balance(self, currency: str) -> Balance:
        available, account_currency = transformers.v1_balance_from_wire(await self.client.balances())
        # One account, one currency: a balance in another currency has nothing available.
        return Balance(currency=currency, available=available if account_currency == currency else 0)

    def _verify_callback(self, headers: Mapping[str, str], raw_body: bytes, now: float | None) -> None:
        webhooks.verify_v1_shape(raw_body)

    def _parse_callback(self, headers: Mapping[str, str], raw_body: bytes) -> CallbackEvent:
        return transformers.v1_event_from_wire(raw_body)

    @staticmethod
    def verify_notify_token(raw_body: bytes, expected: str) -> CallbackEvent:
        """For integrators who kept the init's ``notify_token``: compare it (constant time), then parse."""
        event = transformers.v1_event_from_wire(raw_body)
        verify_callback_token(provider=PROVIDER, received=event.callback_token, expected=expected)
        return event
