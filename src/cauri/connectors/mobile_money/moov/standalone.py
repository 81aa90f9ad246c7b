"""``MoovClient``: Moov Money / Flooz without the server, async or blocking (polling only: no webhooks).

from cauri.connectors.mobile_money.moov import MoovClient
from cauri.connectors.base import CollectRequest

with MoovClient(base_url="http://127.0.0.1:8093", token="moov-merchant-token").sync() as moov:
    payment = moov.push(CollectRequest("order-42", 5000, "XOF", "+2290195000100"))
    payment = moov.status("order-42")            # poll until final
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import SecretStr

from cauri.connectors.base import AccountHolder, Balance, CollectRequest, PayoutRequest, ProviderPayment
from cauri.connectors.mobile_money.moov.client import SERVICE_PATH
from cauri.connectors.mobile_money.moov.connector import MoovConnector
from cauri.kit.http import HttpPolicy
from cauri.kit.standalone import BlockingClient, StandaloneClient, blocking


class MoovClient(StandaloneClient):
    def __init__(
        self,
        *,
        base_url: str,
        token: str | SecretStr,
        service_path: str = SERVICE_PATH,
        operations: Mapping[str, str] | None = None,
        policy: HttpPolicy | None = None,
    ) -> None:
        secret = token if isinstance(token, SecretStr) else SecretStr(token)
        self.connector = MoovConnector(
            base_url=base_url, token=secret, service_path=service_path, operations=operations, policy=policy
        )
        super().__init__(self.connector)

    async def push(self, request: CollectRequest) -> ProviderPayment:
        """``PushWithPending``: the payer confirms on the USSD prompt; poll :meth:`status`."""
        return await self.connector.collect(request)

    async def transfer(self, request: PayoutRequest) -> ProviderPayment:
        return await self.connector.payout(request)

    async def status(self, reference: str, provider_reference: str | None = None) -> ProviderPayment:
        return await self.connector.collect_status(reference, provider_reference)

    async def transfer_status(self, reference: str, provider_reference: str | None = None) -> ProviderPayment:
        return await self.connector.payout_status(reference, provider_reference)

    async def balance(self) -> Balance:
        return await self.connector.balance("XOF")

    async def mobile_status(self, phone: str) -> AccountHolder:
        return await self.connector.account_holder(phone)

    def sync(self) -> SyncMoovClient:
        return SyncMoovClient(self)


class SyncMoovClient(BlockingClient[MoovClient]):
    """Blocking :class:`MoovClient` (the kit's private connector loop runs the same code)."""

    push = blocking(MoovClient.push)
    transfer = blocking(MoovClient.transfer)
    status = blocking(MoovClient.status)
    transfer_status = blocking(MoovClient.transfer_status)
    balance = blocking(MoovClient.balance)
    mobile_status = blocking(MoovClient.mobile_status)
