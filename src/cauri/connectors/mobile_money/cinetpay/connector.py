"""CinetPay (optional aggregator, West and Central Africa): payment links, check, ``x-token`` notifications.

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
    CallbackEvent,
    Capability,
    CollectRequest,
    PaymentConnector,
    ProviderPayment,
)
from cauri.connectors.mobile_money.cinetpay import transformers, webhooks
from cauri.connectors.mobile_money.cinetpay.client import BASE_URL, CinetPayHttp
from cauri.connectors.mobile_money.cinetpay.simulator import CINETPAY_CURRENCIES, MINIMUM_AMOUNT
from cauri.kit.errors import FailureReason, InvalidRequest
from cauri.kit.http import HttpPolicy


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
