"""``MojaloopClient``: Mojaloop without the server, async or blocking.

    from cauri.connectors.mobile_money.mojaloop import MojaloopClient
    from cauri.connectors.base import PayoutRequest

    async with MojaloopClient(base_url="http://127.0.0.1:4001", payer_id_value="22507000001") as mojaloop:
        party = await mojaloop.lookup_party("+2250700000100")           # Party(name="Awa Diallo", fsp_id=…)
        payment = await mojaloop.transfer(PayoutRequest("pension-001", 25000, "XOF", "+2250700000100"))

    with MojaloopClient(base_url=…, payer_id_value=…).sync() as mojaloop:   # blocking, same code underneath
        payment = mojaloop.transfer_status("pension-001")

Errors are the connector error tree (``Declined(reason)``, ``Timeout(outcome_unknown)``, ``Unavailable``…);
retries, timeouts and the circuit breaker are the framework's (``HttpPolicy``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import SecretStr

from cauri.connectors.base import PayoutRequest, ProviderPayment
from cauri.connectors.mobile_money.mojaloop.connector import (
    BulkItem,
    BulkResult,
    BulkSubmission,
    MojaloopConnector,
    TransferState,
)
from cauri.connectors.mobile_money.mojaloop.transformers import Party
from cauri.kit.http import HttpPolicy
from cauri.kit.standalone import BlockingClient, StandaloneClient, as_secret, blocking, same


class MojaloopClient(StandaloneClient):
    def __init__(
        self,
        *,
        base_url: str,
        payer_id_value: str,
        payer_id_type: str = "MSISDN",
        payer_name: str | None = None,
        api_token: str | SecretStr | None = None,
        callback_token: str | SecretStr | None = None,
        max_fee: int = 0,
        policy: HttpPolicy | None = None,
    ) -> None:
        self.connector = MojaloopConnector(
            base_url=base_url,
            payer_id_value=payer_id_value,
            payer_id_type=payer_id_type,
            payer_name=payer_name,
            api_token=as_secret(api_token),
            callback_token=as_secret(callback_token),
            max_fee=max_fee,
            policy=policy,
        )
        super().__init__(self.connector)

    async def lookup_party(self, party_id: str, id_type: str = "MSISDN") -> Party | None:
        """The holder behind ``party_id`` (E.164 for MSISDN) with the name the scheme gives; None: unknown."""
        return await self.connector.lookup_party(id_type, party_id)

    async def transfer(self, request: PayoutRequest) -> ProviderPayment:
        """Send money, accepting the party and the quote (within ``max_fee``) when the SDK asks."""
        return await self.connector.payout(request)

    async def start_transfer(self, request: PayoutRequest) -> TransferState:
        return await self.connector.start_transfer(request)

    async def accept_party(self, transfer_id: str, accept: bool = True) -> TransferState:
        return await self.connector.accept_party(transfer_id, accept)

    async def accept_quote(self, transfer_id: str, accept: bool = True) -> TransferState:
        return await self.connector.accept_quote(transfer_id, accept)

    async def transfer_status(self, reference: str, transfer_id: str | None = None) -> ProviderPayment:
        return await self.connector.payout_status(reference, transfer_id)

    async def bulk_transfer(
        self,
        reference: str,
        items: Sequence[BulkItem],
        *,
        auto_accept_party: bool = True,
        auto_accept_quote: bool = True,
        expiration: datetime | None = None,
    ) -> BulkSubmission:
        return await self.connector.bulk_transfer(
            reference,
            items,
            auto_accept_party=auto_accept_party,
            auto_accept_quote=auto_accept_quote,
            expiration=expiration,
        )

    async def bulk_status(self, reference: str) -> BulkResult:
        return await self.connector.bulk_status(reference)

    async def bulk_accept_parties(self, bulk_id: str, decisions: Mapping[str, bool]) -> None:
        await self.connector.bulk_accept_parties(bulk_id, decisions)

    async def bulk_accept_quotes(self, bulk_id: str, decisions: Mapping[str, bool]) -> None:
        await self.connector.bulk_accept_quotes(bulk_id, decisions)

    def parse_bulk_callback(self, headers: Mapping[str, str], raw_body: bytes) -> BulkResult:
        """The SDK's ``PUT /bulkTransactions/{id}``; unsigned: confirm with :meth:`bulk_status`."""
        return self.connector.parse_bulk_callback(headers, raw_body)

    def sync(self) -> SyncMojaloopClient:
        """The same client, blocking (use it only through the returned object from then on)."""
        return SyncMojaloopClient(self)


class SyncMojaloopClient(BlockingClient[MojaloopClient]):
    """Blocking :class:`MojaloopClient`: each call runs on the kit's private connector loop."""

    lookup_party = blocking(MojaloopClient.lookup_party)
    transfer = blocking(MojaloopClient.transfer)
    start_transfer = blocking(MojaloopClient.start_transfer)
    accept_party = blocking(MojaloopClient.accept_party)
    accept_quote = blocking(MojaloopClient.accept_quote)
    transfer_status = blocking(MojaloopClient.transfer_status)
    bulk_transfer = blocking(MojaloopClient.bulk_transfer)
    bulk_status = blocking(MojaloopClient.bulk_status)
    parse_bulk_callback = same(MojaloopClient.parse_bulk_callback)
