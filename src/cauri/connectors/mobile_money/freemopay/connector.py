"""The FreeMoPay v2 connector (Cameroon: an aggregator of MTN MoMo and Orange Money, XAF).

* Collect: ``POST /api/v2/payment``; payout: ``POST /api/v2/payment/direct-withdraw``; status of both:
  ``GET /api/v2/payment/{reference}`` (FreeMoPay's reference: there is no lookup by our ``externalId``).
* The first status of a create answer (``CREATED``, ``SUCCESS`` or ``INITIALIZATION_SUCCESS``, by auth mode) means
  *accepted, waiting*: the payment is pending; ``FAILED`` is refused at once (:class:`Declined`).
* Creates are **not idempotent** (no key, no deduplication documented): the HTTP layer never resends one that may
  have arrived; after a timeout or a 5xx the outcome is unknown and the callback (which carries our
  ``externalId``) tells it. A 429 was not processed and is retried after ``Retry-After``.
* Callbacks are unsigned: ``callbacks_signed = False``; every callback is confirmed by a status query.
* 100 requests a minute per merchant: ``DEFAULT_POLICY.rate_limit`` (kept under any policy override).

Not public, hence configurable or assumed ("?" in providers.md): which auth mode answers which first status
(all are read as pending), the wording of failure reasons (matched by keywords, unknown -> ``provider_error``),
the withdrawal callback's ``transactionType`` (anything but ``DEPOSIT`` is read as a payout), amount limits
(Cauri's defaults: 100 to 1 000 000 XAF), the base URL (setting ``base_url``) and the auth mode (``auth_mode``).
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
    PaymentKind,
    PayoutRequest,
    ProviderPayment,
)
from cauri.connectors.mobile_money.freemopay import transformers, webhooks
from cauri.connectors.mobile_money.freemopay.client import (
    DEFAULT_BASE_URL,
    DEFAULT_POLICY,
    AuthMode,
    FreeMoPayHttp,
    auth_for,
)
from cauri.kit.errors import PaymentNotFound
from cauri.kit.http import HttpPolicy

FREEMOPAY_LIMITS: dict[str, tuple[int, int]] = {"XAF": (100, 1_000_000)}


class FreeMoPayConnector(PaymentConnector):
    name = "freemopay"
    capabilities = frozenset(
        {
            Capability.COLLECT,
            Capability.PAYOUT,
            Capability.COLLECT_STATUS,
            Capability.PAYOUT_STATUS,
            Capability.CALLBACKS,
        }
    )
    currencies = frozenset(FREEMOPAY_LIMITS)
    amount_limits: ClassVar[Mapping[str, AmountLimits]] = {
        currency: AmountLimits(low, high) for currency, (low, high) in FREEMOPAY_LIMITS.items()
    }
    callbacks_signed = False
    idempotent_creates = False
    status_by_reference = False

    def __init__(
        self,
        *,
        app_key: str,
        secret_key: SecretStr,
        base_url: str = DEFAULT_BASE_URL,
        auth_mode: AuthMode | str = AuthMode.TOKEN,
        policy: HttpPolicy | None = None,
    ) -> None:
        self.auth_mode = AuthMode(auth_mode)
        self.client = FreeMoPayHttp(
            base_url=base_url,
            auth=auth_for(base_url, app_key, secret_key, self.auth_mode),
            policy=policy or DEFAULT_POLICY,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _collect(self, request: CollectRequest) -> ProviderPayment:
        raw = await self.client.create_payment(transformers.to_wire_json(transformers.deposit_to_wire(request)))
        return transformers.accepted_payment(
            transformers.init_from_wire(raw),
            reference=request.reference,
            amount=request.amount,
            currency=request.currency,
            kind=PaymentKind.COLLECTION,
            raw=raw,
        )

    async def _payout(self, request: PayoutRequest) -> ProviderPayment:
        raw = await self.client.direct_withdraw(transformers.to_wire_json(transformers.withdraw_to_wire(request)))
        return transformers.accepted_payment(
            transformers.init_from_wire(raw),
            reference=request.reference,
            amount=request.amount,
            currency=request.currency,
            kind=PaymentKind.PAYOUT,
            raw=raw,
        )

    async def _status(self, kind: PaymentKind, reference: str, provider_reference: str | None) -> ProviderPayment:
        if not provider_reference:
            raise PaymentNotFound(
                "FreeMoPay ne retrouve un paiement que par sa propre référence.",
                "FreeMoPay finds a payment by its own reference only.",
                provider=self.name,
                code="provider_reference_required",
            )
        raw = await self.client.get_payment(provider_reference)
        return transformers.payment_from_details(
            transformers.details_from_wire(raw), reference=reference, kind=kind, raw=raw
        )

    async def _collect_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        return await self._status(PaymentKind.COLLECTION, reference, provider_reference)

    async def _payout_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        return await self._status(PaymentKind.PAYOUT, reference, provider_reference)

    def _verify_callback(self, headers: Mapping[str, str], raw_body: bytes, now: float | None) -> None:
        webhooks.check_confirmable(raw_body)

    def _parse_callback(self, headers: Mapping[str, str], raw_body: bytes) -> CallbackEvent:
        return transformers.event_from_wire(raw_body)
