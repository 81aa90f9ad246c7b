"""``FedaPayClient``: FedaPay without the server, async or blocking.

from cauri.connectors.mobile_money.fedapay import FedaPayClient
from cauri.connectors.base import CollectRequest

async with FedaPayClient(api_key="sk_sandbox_…", webhook_secret="wh_sandbox_…") as fedapay:
    payment = await fedapay.collect(CollectRequest("order-42", 5000, "XOF", "+2290197000100"))
    payment = await fedapay.status(payment.provider_reference)
    payout = await fedapay.payout(PayoutRequest("pay-7", 2000, "XOF", "+22879000100"))
    print((await fedapay.balance("XOF")).available)

event = fedapay.verify_webhook(request.headers, raw_body)   # raises InvalidSignature; then a CallbackEvent
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import SecretStr

from cauri.connectors.base import Balance, CallbackEvent, CollectRequest, PayoutRequest, ProviderPayment, RefundRequest
from cauri.connectors.mobile_money.fedapay.connector import FedaPayConnector
from cauri.kit.http import HttpPolicy
from cauri.kit.standalone import BlockingClient, StandaloneClient, blocking, same


class FedaPayClient(StandaloneClient):
    def __init__(
        self,
        *,
        api_key: str | SecretStr,
        webhook_secret: str | SecretStr = "",
        environment: str = "sandbox",
        base_url: str | None = None,
        default_mode: str | None = None,
        policy: HttpPolicy | None = None,
    ) -> None:
        key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        secret = webhook_secret if isinstance(webhook_secret, SecretStr) else SecretStr(webhook_secret)
        self.connector = FedaPayConnector(
            api_key=key,
            webhook_secrets=[secret],
            environment=environment,
            base_url=base_url,
            default_mode=default_mode,
            policy=policy,
        )
        super().__init__(self.connector)

    async def collect(self, request: CollectRequest) -> ProviderPayment:
        """Create the transaction and push it to the payer's phone (mode from the number's operator)."""
        return await self.connector.collect(request)

    async def create_transaction(self, request: CollectRequest) -> ProviderPayment:
        return await self.connector.create_transaction(request)

    async def payment_url(self, transaction_id: str) -> str:
        """The FedaPay checkout URL to redirect the payer to."""
        return (await self.connector.payment_url(transaction_id))[1]

    async def status(self, transaction_id: str, reference: str = "") -> ProviderPayment:
        return await self.connector.collect_status(reference, transaction_id)

    async def refund(self, request: RefundRequest) -> ProviderPayment:
        return await self.connector.refund(request)

    async def payout(self, request: PayoutRequest) -> ProviderPayment:
        """Create the payout and start it (``POST /v1/payouts``, ``PUT /v1/payouts/start``)."""
        return await self.connector.payout(request)

    async def payout_status(self, payout_id: str, reference: str = "") -> ProviderPayment:
        return await self.connector.payout_status(reference, payout_id)

    async def balance(self, currency: str = "XOF") -> Balance:
        return await self.connector.balance(currency)

    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes, now: float | None = None) -> CallbackEvent:
        """Check ``X-FEDAPAY-SIGNATURE`` over the raw bytes (300 s tolerance), then parse the event."""
        self.connector.verify_callback(headers, raw_body, now)
        return self.connector.parse_callback(headers, raw_body)

    def sync(self) -> SyncFedaPayClient:
        return SyncFedaPayClient(self)


class SyncFedaPayClient(BlockingClient[FedaPayClient]):
    """Blocking :class:`FedaPayClient` (the kit's private connector loop runs the same code)."""

    collect = blocking(FedaPayClient.collect)
    create_transaction = blocking(FedaPayClient.create_transaction)
    payment_url = blocking(FedaPayClient.payment_url)
    status = blocking(FedaPayClient.status)
    refund = blocking(FedaPayClient.refund)
    payout = blocking(FedaPayClient.payout)
    payout_status = blocking(FedaPayClient.payout_status)
    balance = blocking(FedaPayClient.balance)
    verify_webhook = same(FedaPayClient.verify_webhook)
