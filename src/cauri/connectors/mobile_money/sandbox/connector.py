"""The sandbox connector: Cauri's built-in provider, used by the embedded default, the demo and the tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from pydantic import SecretStr

from cauri.connectors.base import (
    AccountHolder,
    AmountLimits,
    Balance,
    BulkPayoutLine,
    BulkPayoutResult,
    CallbackEvent,
    Capability,
    CollectRequest,
    PaymentConnector,
    PayoutRequest,
    ProviderPayment,
    RefundRequest,
)
from cauri.connectors.mobile_money.sandbox import transformers, webhooks
from cauri.connectors.mobile_money.sandbox.client import SandboxClient
from cauri.connectors.mobile_money.sandbox.simulator import MAX_BULK_ITEMS, SANDBOX_CURRENCIES, SANDBOX_LIMITS
from cauri.kit.auth import AuthStrategy, BearerToken, OAuth2ClientCredentials
from cauri.kit.errors import AuthError
from cauri.kit.http import HttpPolicy


def idempotency_key(kind: str, reference: str) -> str:
    """Derived from our reference, so a retry from another process or job run is deduplicated as well."""
    return f"cauri-{kind}-{reference}"


class SandboxConnector(PaymentConnector):
    name = "sandbox"
    capabilities = frozenset(
        {
            Capability.COLLECT,
            Capability.PAYOUT,
            Capability.COLLECT_STATUS,
            Capability.PAYOUT_STATUS,
            Capability.BALANCE,
            Capability.ACCOUNT_HOLDER,
            Capability.CALLBACKS,
            Capability.BULK_PAYOUT,
            Capability.REFUND,
        }
    )
    currencies = SANDBOX_CURRENCIES
    amount_limits: ClassVar[Mapping[str, AmountLimits]] = {
        currency: AmountLimits(low, high) for currency, (low, high) in SANDBOX_LIMITS.items()
    }
    callbacks_signed = True
    idempotent_creates = True
    status_by_reference = True
    max_bulk_lines = MAX_BULK_ITEMS

    def __init__(
        self,
        *,
        base_url: str,
        webhook_secrets: list[SecretStr],
        api_key: SecretStr | None = None,
        client_id: str | None = None,
        client_secret: SecretStr | None = None,
        policy: HttpPolicy | None = None,
    ) -> None:
        auth: AuthStrategy
        if client_id and client_secret is not None:
            auth = OAuth2ClientCredentials(
                token_url=f"{base_url.rstrip('/')}/oauth/token", client_id=client_id, client_secret=client_secret
            )
        elif api_key is not None:
            auth = BearerToken(api_key)
        else:
            raise AuthError(
                "Identifiants sandbox manquants : api_key, ou client_id et client_secret.",
                "Missing sandbox credentials: api_key, or client_id and client_secret.",
                provider=self.name,
                code="connector_credentials_missing",
            )
        self.client = SandboxClient(base_url=base_url, auth=auth, policy=policy)
        self._webhook_secrets = webhook_secrets

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _collect(self, request: CollectRequest) -> ProviderPayment:
        raw = await self.client.create(
            "collections",
            transformers.collect_to_wire(request),
            idempotency_key=idempotency_key("collection", request.reference),
        )
        return transformers.payment_from_wire(raw)

    async def _payout(self, request: PayoutRequest) -> ProviderPayment:
        raw = await self.client.create(
            "payouts",
            transformers.payout_to_wire(request),
            idempotency_key=idempotency_key("payout", request.reference),
        )
        return transformers.payment_from_wire(raw)

    async def _collect_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        if provider_reference:
            return transformers.payment_from_wire(await self.client.get("collections", provider_reference))
        return transformers.payment_from_wire(await self.client.get_by_reference("collections", reference))

    async def _payout_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        if provider_reference:
            return transformers.payment_from_wire(await self.client.get("payouts", provider_reference))
        return transformers.payment_from_wire(await self.client.get_by_reference("payouts", reference))

    async def _refund(self, request: RefundRequest) -> ProviderPayment:
        raw = await self.client.create(
            "refunds",
            transformers.refund_to_wire(request),
            idempotency_key=idempotency_key("refund", request.reference),
        )
        return transformers.refund_from_wire(raw)

    async def _refund_status(self, request: RefundRequest, provider_reference: str | None) -> ProviderPayment:
        if provider_reference:
            return transformers.refund_from_wire(await self.client.get("refunds", provider_reference))
        return transformers.refund_from_wire(await self.client.get_by_reference("refunds", request.reference))

    async def _bulk_payout(self, reference: str, lines: Sequence[BulkPayoutLine]) -> None:
        await self.client.create_bulk(
            transformers.bulk_payout_to_wire(reference, lines, description=f"Cauri {reference}"),
            idempotency_key=idempotency_key("bulk", reference),
        )

    async def _bulk_payout_status(self, reference: str) -> BulkPayoutResult:
        return transformers.bulk_from_wire(await self.client.get_bulk(reference))

    async def _balance(self, currency: str) -> Balance:
        return transformers.balance_from_wire(await self.client.balance(currency))

    async def _account_holder(self, phone: str) -> AccountHolder:
        raw = await self.client.account(transformers.msisdn_to_wire(phone))
        return AccountHolder(active=False) if raw is None else transformers.account_from_wire(raw)

    def _verify_callback(self, headers: Mapping[str, str], raw_body: bytes, now: float | None) -> None:
        webhooks.verify([s.get_secret_value() for s in self._webhook_secrets], headers, raw_body, now)

    def _parse_callback(self, headers: Mapping[str, str], raw_body: bytes) -> CallbackEvent:
        return transformers.event_from_wire(raw_body)
