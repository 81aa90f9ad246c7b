"""``CinetPayClient``: CinetPay without the server, async or blocking.

from cauri.connectors.mobile_money.cinetpay import CinetPayClient
from cauri.connectors.base import CollectRequest

async with CinetPayClient(apikey="…", site_id="105900", secret_key="…") as cinetpay:
    payment = await cinetpay.payment(CollectRequest("order-42", 5000, "XOF", "+2250700000100",
                                                    callback_url="https://shop.example/cinetpay"))
    print(payment.raw["payment_url"])
    payment = await cinetpay.check("order-42")

fields = cinetpay.verify_notification(headers, raw_body)   # raises InvalidSignature on a bad x-token
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import SecretStr

from cauri.connectors.base import Balance, CallbackEvent, CollectRequest, PayoutRequest, ProviderPayment
from cauri.connectors.mobile_money.cinetpay.client import BASE_URL
from cauri.connectors.mobile_money.cinetpay.connector import CinetPayConnector, CinetPayV1Connector
from cauri.kit.http import HttpPolicy
from cauri.kit.standalone import BlockingClient, StandaloneClient, blocking, same


class CinetPayClient(StandaloneClient):
    def __init__(
        self,
        *,
        apikey: str | SecretStr,
        site_id: str,
        secret_key: str | SecretStr = "",
        base_url: str = BASE_URL,
        channels: str = "MOBILE_MONEY",
        policy: HttpPolicy | None = None,
    ) -> None:
        key = apikey if isinstance(apikey, SecretStr) else SecretStr(apikey)
        secret = secret_key if isinstance(secret_key, SecretStr) else SecretStr(secret_key)
        self.connector = CinetPayConnector(
            apikey=key, site_id=site_id, secret_keys=[secret], base_url=base_url, channels=channels, policy=policy
        )
        super().__init__(self.connector)

    async def payment(self, request: CollectRequest) -> ProviderPayment:
        """Open a payment; ``raw["payment_url"]`` is where the payer pays. Amounts: multiples of 5."""
        return await self.connector.collect(request)

    async def check(self, transaction_id: str) -> ProviderPayment:
        return await self.connector.collect_status(transaction_id)

    def verify_notification(self, headers: Mapping[str, str], raw_body: bytes) -> CallbackEvent:
        """Check ``x-token``, then parse (``signed=False``: confirm with :meth:`check` before crediting)."""
        self.connector.verify_callback(headers, raw_body)
        return self.connector.parse_callback(headers, raw_body)

    def sync(self) -> SyncCinetPayClient:
        return SyncCinetPayClient(self)


class SyncCinetPayClient(BlockingClient[CinetPayClient]):
    """Blocking :class:`CinetPayClient` (the kit's private connector loop runs the same code)."""

    payment = blocking(CinetPayClient.payment)
    check = blocking(CinetPayClient.check)
    verify_notification = same(CinetPayClient.verify_notification)


class CinetPayCurrentClient(StandaloneClient):
    """CinetPay's current API (``api_version: v1``) without the server.

    async with CinetPayCurrentClient(api_key="sk_test_…", api_password="…") as cinetpay:
        payment = await cinetpay.payment(CollectRequest("order-42", 5000, "XOF", "+2250700000100",
                                                        callback_url="https://shop.example/cinetpay"))
        keep(payment.callback_token)            # the notify_token its notification will carry
        payment = await cinetpay.status("order-42")
    event = cinetpay.verify_notification(raw_body, expected_notify_token)   # raises InvalidSignature
    """

    def __init__(
        self,
        *,
        api_key: str | SecretStr,
        api_password: str | SecretStr,
        base_url: str | None = None,
        channel: str = "PUSH",
        policy: HttpPolicy | None = None,
    ) -> None:
        key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        password = api_password if isinstance(api_password, SecretStr) else SecretStr(api_password)
        self.connector = CinetPayV1Connector(
            api_key=key, api_password=password, base_url=base_url, channel=channel, policy=policy
        )
        super().__init__(self.connector)

    async def payment(self, request: CollectRequest) -> ProviderPayment:
        """Open a payment (the push to the payer's phone when the operator is known, else ``payment_url``)."""
        return await self.connector.collect(request)

    async def status(self, reference: str) -> ProviderPayment:
        return await self.connector.collect_status(reference)

    async def transfer(self, request: PayoutRequest) -> ProviderPayment:
        return await self.connector.payout(request)

    async def transfer_status(self, reference: str, transaction_id: str | None = None) -> ProviderPayment:
        return await self.connector.payout_status(reference, transaction_id)

    async def balance(self, currency: str) -> Balance:
        return await self.connector.balance(currency)

    def verify_notification(self, raw_body: bytes, expected_notify_token: str) -> CallbackEvent:
        """Compare the notification's ``notify_token`` with the init's (constant time), then parse
        (``signed=False``: confirm with :meth:`status` before crediting)."""
        return self.connector.verify_notify_token(raw_body, expected_notify_token)

    def sync(self) -> SyncCinetPayCurrentClient:
        return SyncCinetPayCurrentClient(self)


class SyncCinetPayCurrentClient(BlockingClient[CinetPayCurrentClient]):
    """Blocking :class:`CinetPayCurrentClient`."""

    payment = blocking(CinetPayCurrentClient.payment)
    status = blocking(CinetPayCurrentClient.status)
    transfer = blocking(CinetPayCurrentClient.transfer)
    transfer_status = blocking(CinetPayCurrentClient.transfer_status)
    balance = blocking(CinetPayCurrentClient.balance)
    verify_notification = same(CinetPayCurrentClient.verify_notification)
