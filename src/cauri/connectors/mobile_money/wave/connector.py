"""The Wave connector (Senegal, Côte d'Ivoire, Mali, Burkina Faso; XOF).

* Collect: a **checkout session** (``POST /v1/checkout/sessions``) restricted to the payer's number
  (``restrict_payer_mobile``) with our reference as ``client_reference``; the payer pays on ``wave_launch_url``
  (in ``ProviderPayment.raw``: hand it to the payer). Status by session id, or by our reference
  (``GET /v1/checkout/sessions/search?client_reference=``).
* A failed payment *attempt* leaves the session open (the payer may try again): when the connector reports such a
  session **failed**, it first expires it (``POST …/{id}/expire``) so that no one can pay it afterwards.
* Payout: ``POST /v1/payout`` with ``idempotency-key`` (derived from our reference: retries are safe); status by
  id or ``GET /v1/payouts/search?client_reference=``. Refund of a collection: ``POST …/{id}/refund``. Balance:
  ``GET /v1/balance``.
* Webhooks are signed: ``Wave-Signature: t=…,v1=…`` over ``t + raw body``, verified with a 300 s tolerance.

Not public, hence configurable or assumed ("?" in providers.md): whether checkout sessions honour
``idempotency-key`` (sent anyway: an extra session would never be shown to the payer), the search answers'
envelope (``{"result": [...]}``), error codes (mapped by name and keyword, unknown -> ``provider_error``), partial
refunds (refused: full refunds only), the signature tolerance (300 s), amount limits (Cauri's defaults: 100 to
2 000 000 XOF), the redirect pages (settings ``success_url`` and ``error_url``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import SecretStr

from cauri.connectors.base import (
    AmountLimits,
    Balance,
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
from cauri.connectors.mobile_money.wave import transformers, webhooks
from cauri.connectors.mobile_money.wave.client import DEFAULT_BASE_URL, DEFAULT_POLICY, WaveHttp
from cauri.kit.errors import AuthError, InvalidRequest, PaymentNotFound
from cauri.kit.http import HttpPolicy

WAVE_LIMITS: dict[str, tuple[int, int]] = {"XOF": (100, 2_000_000)}


def idempotency_key(kind: str, reference: str) -> str:
    """Derived from our reference, so a retry from another process or job run is deduplicated as well."""
    return f"cauri-{kind}-{reference}"


class WaveConnector(PaymentConnector):
    name = "wave"
    capabilities = frozenset(
        {
            Capability.COLLECT,
            Capability.PAYOUT,
            Capability.COLLECT_STATUS,
            Capability.PAYOUT_STATUS,
            Capability.BALANCE,
            Capability.REFUND,
            Capability.REVERSAL,
            Capability.CALLBACKS,
        }
    )
    currencies = frozenset(WAVE_LIMITS)
    partial_refunds = False  # a checkout session is refunded in full only
    amount_limits: ClassVar[Mapping[str, AmountLimits]] = {
        currency: AmountLimits(low, high) for currency, (low, high) in WAVE_LIMITS.items()
    }
    callbacks_signed = True
    idempotent_creates = True
    status_by_reference = True

    def __init__(
        self,
        *,
        api_key: SecretStr,
        webhook_secrets: list[SecretStr],
        success_url: str | None = None,
        error_url: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        policy: HttpPolicy | None = None,
    ) -> None:
        self.client = WaveHttp(base_url=base_url, api_key=api_key, policy=policy or DEFAULT_POLICY)
        self._webhook_secrets = webhook_secrets
        self.success_url = success_url
        self.error_url = error_url

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- collections ---------------------------------------------------------------------------------------

    async def _collect(self, request: CollectRequest) -> ProviderPayment:
        if not self.success_url or not self.error_url:
            raise AuthError(
                "Wave exige les pages de retour du payeur : paramètres success_url et error_url.",
                "Wave requires the payer's return pages: settings success_url and error_url.",
                provider=self.name,
                code="connector_setting_missing",
            )
        body = transformers.checkout_to_wire(request, success_url=self.success_url, error_url=self.error_url)
        raw = await self.client.create_checkout_session(
            transformers.wire_json(body), idempotency_key=idempotency_key("collection", request.reference)
        )
        return transformers.payment_from_session(raw, request.reference)

    async def _find_session(self, reference: str) -> dict[str, Any]:
        found = transformers.search_results(await self.client.search_checkout_sessions(reference))
        if not found:
            raise PaymentNotFound(provider=self.name, code="provider_payment_not_found")
        return found[-1]

    async def _collect_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        if provider_reference:
            raw = await self.client.get_checkout_session(provider_reference)
        else:
            raw = await self._find_session(reference)
        payment = transformers.payment_from_session(raw, reference)
        session = transformers.session_from_json(raw)
        if payment.status is PaymentStatus.FAILED and session.checkout_status.lower() == "open":
            # A failed attempt leaves the session payable: close it before calling the payment failed.
            await self.client.expire_checkout_session(session.id)
            payment = transformers.payment_from_session(await self.client.get_checkout_session(session.id), reference)
        return payment

    async def _refund(self, request: RefundRequest) -> ProviderPayment:
        raw = await self.client.get_checkout_session(request.provider_reference)
        collected = transformers.payment_from_session(raw, transformers.session_from_json(raw).client_reference or "")
        if collected.status is not PaymentStatus.SUCCEEDED:
            raise InvalidRequest(
                "Seul un paiement Wave réussi peut être remboursé.",
                "Only a succeeded Wave payment can be refunded.",
                provider=self.name,
                code="refund_not_possible",
            )
        if (request.amount, request.currency) != (collected.amount, collected.currency):
            raise InvalidRequest(
                "Wave ne rembourse que la totalité d'un paiement.",
                "Wave only refunds a payment in full.",
                provider=self.name,
                code="partial_refund_unsupported",
            )
        answer = await self.client.refund_checkout_session(
            request.provider_reference, idempotency_key=idempotency_key("refund", request.reference)
        )
        return ProviderPayment(
            provider_reference=request.provider_reference,
            reference=request.reference,
            status=PaymentStatus.SUCCEEDED,  # Wave answers 2xx once the amount went back to the payer
            amount=request.amount,
            currency=request.currency,
            kind=PaymentKind.PAYOUT,
            provider_status="refunded",
            raw=answer,
        )

    async def _refund_status(self, request: RefundRequest, provider_reference: str | None) -> ProviderPayment:
        # Wave has no refund object to read: the same refund sent again under the same idempotency key is answered
        # with the first answer (a 2xx once refunded), and never refunds twice.
        return await self._refund(request)

    async def _reverse_payout(self, request: RefundRequest) -> ProviderPayment:
        answer = await self.client.reverse_payout(
            request.provider_reference, idempotency_key=idempotency_key("reversal", request.reference)
        )
        return self._reversal(request, PaymentStatus.SUCCEEDED, answer)  # a 2xx: the money came back

    async def _reversal_status(self, request: RefundRequest) -> ProviderPayment:
        # The payout itself tells: ``reversed`` once the money came back (no reversal object of its own).
        raw = await self.client.get_payout(request.provider_reference)
        done = transformers.payout_from_json(raw).status.strip().lower() == "reversed"
        return self._reversal(request, PaymentStatus.SUCCEEDED if done else PaymentStatus.PENDING, raw)

    def _reversal(self, request: RefundRequest, status: PaymentStatus, raw: dict[str, Any]) -> ProviderPayment:
        return ProviderPayment(
            provider_reference=request.provider_reference,
            reference=request.reference,
            status=status,
            amount=request.amount,
            currency=request.currency,
            kind=PaymentKind.COLLECTION,  # money coming back in
            provider_status="reversed" if status is PaymentStatus.SUCCEEDED else None,
            raw=raw,
        )

    # -- payouts ----------------------------------------------------------------------------------------------

    async def _payout(self, request: PayoutRequest) -> ProviderPayment:
        raw = await self.client.create_payout(
            transformers.wire_json(transformers.payout_to_wire(request)),
            idempotency_key=idempotency_key("payout", request.reference),
        )
        return transformers.payment_from_payout(raw, request.reference)

    async def _payout_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        if provider_reference:
            return transformers.payment_from_payout(await self.client.get_payout(provider_reference), reference)
        found = transformers.search_results(await self.client.search_payouts(reference))
        if not found:
            raise PaymentNotFound(provider=self.name, code="provider_payment_not_found")
        return transformers.payment_from_payout(found[-1], reference)

    async def _balance(self, currency: str) -> Balance:
        raw = await self.client.balance()
        wire_currency = str(raw.get("currency", ""))
        if wire_currency != currency:
            raise InvalidRequest(
                f"Le compte Wave est en {wire_currency}, pas en {currency}.",
                f"The Wave account is in {wire_currency}, not {currency}.",
                provider=self.name,
                code="invalid_currency",
            )
        return Balance(
            currency=currency, available=transformers.amount_from_wire(str(raw.get("amount")), currency) or 0
        )

    # -- webhooks ---------------------------------------------------------------------------------------------

    def _verify_callback(self, headers: Mapping[str, str], raw_body: bytes, now: float | None) -> None:
        webhooks.verify([s.get_secret_value() for s in self._webhook_secrets], headers, raw_body, now)

    def _parse_callback(self, headers: Mapping[str, str], raw_body: bytes) -> CallbackEvent:
        return transformers.event_from_wire(raw_body)
