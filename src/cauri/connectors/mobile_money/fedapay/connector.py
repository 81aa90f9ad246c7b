"""FedaPay (Benin, Togo, Côte d'Ivoire, Senegal, Niger, Guinea): transactions paid by a redirect-less mobile mode,
payouts, balances, refunds, signed webhooks. Every path is under ``/v1`` (``client.api_root``).

``collect`` creates the transaction (``POST /v1/transactions``, our reference as ``merchant_reference`` and in
``custom_metadata``), asks for its token (``POST /v1/transactions/{id}/token`` -> ``{token, url}``) and starts the
push on the payer's phone with the mode of its country and operator (``POST /v1/{mode} {token, phone_number}``,
``transformers.MODES``), as the SDKs' ``sendNow`` does. The payment URL is kept in ``raw["payment_url"]`` for a
redirect flow. ``payout`` creates the payout (``POST /v1/payouts``) and starts it (``PUT /v1/payouts/start``).
Webhooks are signed (``X-FEDAPAY-SIGNATURE``); FedaPay sends them to the URL configured in its dashboard, so set it
to Cauri's ``/api/v1/webhooks/fedapay`` endpoint (``callback_url`` on a transaction is the *browser* redirect).

Configurable because not public (docs/providers/fedapay.md): ``environment`` (sandbox/live) or ``base_url``;
``default_mode`` for numbers whose operator has no known mode; the ``last_error_code`` words of declined
transactions (unknown ones read as ``provider_error``); the ``expired`` status (accepted if FedaPay sends it).
FedaPay documents no idempotency key and no lookup by our reference: a create is never resent once it may have
arrived, and after a timeout the signed webhook settles the payment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import SecretStr

from cauri.connectors.base import (
    AmountLimits,
    CallbackEvent,
    Capability,
    CollectRequest,
    PaymentConnector,
    PaymentKind,
    PaymentStatus,
    PayoutRequest,
    ProviderPayment,
    RefundRequest,
)
from cauri.connectors.base import Balance as BalanceInfo
from cauri.connectors.mobile_money.fedapay import transformers, webhooks
from cauri.connectors.mobile_money.fedapay.client import LIVE_URL, SANDBOX_URL, FedaPayHttp
from cauri.connectors.mobile_money.fedapay.simulator import FEDAPAY_CURRENCIES
from cauri.core.phone import parse_phone
from cauri.kit.errors import PaymentNotFound
from cauri.kit.http import HttpPolicy


class FedaPayConnector(PaymentConnector):
    name = "fedapay"
    capabilities = frozenset(
        {
            Capability.COLLECT,
            Capability.COLLECT_STATUS,
            Capability.PAYOUT,
            Capability.PAYOUT_STATUS,
            Capability.BALANCE,
            Capability.REFUND,
            Capability.CALLBACKS,
        }
    )
    currencies = FEDAPAY_CURRENCIES
    amount_limits: ClassVar[Mapping[str, AmountLimits]] = {"XOF": AmountLimits(100, None)}
    callbacks_signed = True
    idempotent_creates = False
    status_by_reference = False

    def __init__(
        self,
        *,
        api_key: SecretStr,
        webhook_secrets: list[SecretStr],
        environment: str = "sandbox",
        base_url: str | None = None,
        default_mode: str | None = None,
        policy: HttpPolicy | None = None,
    ) -> None:
        url = base_url or (LIVE_URL if environment == "live" else SANDBOX_URL)
        self.client = FedaPayHttp(base_url=url, api_key=api_key, policy=policy)
        self._webhook_secrets = webhook_secrets
        self.default_mode = default_mode
        self._currencies: dict[int, str] | None = None

    async def aclose(self) -> None:
        await self.client.aclose()

    async def create_transaction(self, request: CollectRequest) -> ProviderPayment:
        """``POST /transactions`` alone (pending): for a redirect flow, follow with :meth:`payment_url`."""
        self.require(Capability.COLLECT)
        self.check_amount(request.amount, request.currency)
        country = self._country(request.payer_phone)
        raw = await self.client.create_transaction(transformers.collect_to_wire(request, country=country))
        return transformers.payment_from_wire(raw, reference=request.reference)

    async def payment_url(self, transaction_id: str) -> tuple[str, str]:
        """``(token, url)`` of a transaction: the URL for a redirect, the token for the mobile modes."""
        answer = transformers.token_from_wire(await self.client.token(transaction_id))
        return answer.token, answer.url

    async def _collect(self, request: CollectRequest) -> ProviderPayment:
        mode = request.metadata.get("fedapay_mode") or transformers.mode_for(request.payer_phone, self.default_mode)
        created = await self.create_transaction(request)
        token, url = await self.payment_url(created.provider_reference)
        phone = transformers.phone_to_wire(request.payer_phone, self._country(request.payer_phone))
        await self.client.pay(mode, token, phone)
        return ProviderPayment(
            provider_reference=created.provider_reference,
            reference=request.reference,
            status=created.status,
            amount=created.amount,
            currency=created.currency,
            kind=PaymentKind.COLLECTION,
            failure=created.failure,
            provider_status=created.provider_status,
            raw={**created.raw, "payment_url": url, "mode": mode},
            payment_url=url or None,  # FedaPay's token answer gives no expiry: the payment's own applies
        )

    async def _collect_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        if not provider_reference:
            raise PaymentNotFound(
                "FedaPay ne retrouve une transaction que par son identifiant : attendez la notification signée.",
                "FedaPay finds a transaction by its id only: wait for the signed webhook.",
                provider=self.name,
                code="provider_reference_required",
            )
        raw = await self.client.get_transaction(provider_reference)
        return transformers.payment_from_wire(raw, reference=reference)

    async def _payout(self, request: PayoutRequest) -> ProviderPayment:
        mode = request.metadata.get("fedapay_mode") or transformers.mode_for(request.payee_phone, self.default_mode)
        country = self._country(request.payee_phone)
        created = transformers.payout_from_wire(
            await self.client.create_payout(transformers.payout_to_wire(request, country=country, mode=mode)),
            reference=request.reference,
        )
        # Not resent by the HTTP client although it is a PUT: a start whose answer was lost has started the payout,
        # and a second start is refused; the unknown outcome is settled by the signed webhook instead.
        started = await self.client.start_payouts(
            [
                {
                    "id": created.raw["v1/payout"]["id"],  # as FedaPay gave it (an integer in its answers)
                    "phone_number": transformers.phone_to_wire(request.payee_phone, country),
                }
            ]
        )
        return transformers.started_from_wire(started, created.provider_reference, reference=request.reference)

    async def _payout_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        if not provider_reference:
            raise PaymentNotFound(
                "FedaPay ne retrouve un transfert que par son identifiant : attendez la notification signée.",
                "FedaPay finds a payout by its id only: wait for the signed webhook.",
                provider=self.name,
                code="provider_reference_required",
            )
        return transformers.payout_from_wire(await self.client.get_payout(provider_reference), reference=reference)

    async def _balance(self, currency: str) -> BalanceInfo:
        if self._currencies is None:
            self._currencies = transformers.currencies_from_wire(await self.client.currencies())
        available = transformers.balance_from_wire(await self.client.balances(), self._currencies, currency)
        return BalanceInfo(currency=currency, available=available)

    async def _refund(self, request: RefundRequest) -> ProviderPayment:
        raw = await self.client.refund(request.provider_reference, {"amount": request.amount})
        return self._refund_outcome(request, raw)

    async def _refund_status(self, request: RefundRequest, provider_reference: str | None) -> ProviderPayment:
        # FedaPay's refund is synchronous and has no object of its own: the transaction says ``refunded`` once done.
        return self._refund_outcome(request, await self.client.get_transaction(request.provider_reference))

    def _refund_outcome(self, request: RefundRequest, raw: dict[str, Any]) -> ProviderPayment:
        transaction = transformers.payment_from_wire(raw)
        done = transaction.provider_status == "refunded"
        return ProviderPayment(
            provider_reference=transaction.provider_reference,
            reference=request.reference,
            status=PaymentStatus.SUCCEEDED if done else PaymentStatus.PENDING,
            amount=request.amount,
            currency=request.currency,
            kind=PaymentKind.PAYOUT,
            provider_status=transaction.provider_status,
            raw=transaction.raw,
        )

    def _verify_callback(self, headers: Mapping[str, str], raw_body: bytes, now: float | None) -> None:
        webhooks.verify([s.get_secret_value() for s in self._webhook_secrets], headers, raw_body, now)

    def _parse_callback(self, headers: Mapping[str, str], raw_body: bytes) -> CallbackEvent:
        return transformers.event_from_wire(raw_body, signed=True)

    @staticmethod
    def _country(phone: str) -> str:
        try:
            return parse_phone(phone, field="payer_phone").region or "BJ"
        except Exception:
            return "BJ"
