"""MTN MoMo without the Cauri server: a typed client for the collection and disbursement products.

    from cauri.connectors.mobile_money.mtn_momo import MtnMomoClient, Party, RequestToPay

    async with MtnMomoClient(api_user="…", api_key="…", collection_key="…") as momo:
        reference_id = await momo.request_to_pay(
            RequestToPay(amount="5", currency="EUR", external_id="order-42", payer=Party(party_id="46733123454"))
        )
        status = await momo.wait(reference_id)                    # PENDING -> SUCCESSFUL / FAILED

    with MtnMomoClient.blocking(api_user="…", api_key="…", collection_key="…") as momo:   # no asyncio
        momo.is_active("46733123454")

Tokens per product are fetched and cached by Cauri's HTTP layer; creates are retried safely because the
``X-Reference-Id`` is chosen once, before the first attempt, and a 409 ``RESOURCE_ALREADY_EXIST`` is read as "MTN
already has it". Errors are the connector error tree (:class:`AuthError`, :class:`Timeout` with
``outcome_unknown``, :class:`PaymentNotFound`…). MTN does not sign callbacks: :meth:`MtnMomoClient.confirm_callback`
asks MTN for the transaction instead of trusting the body.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from pydantic import SecretStr

from cauri.connectors.mobile_money.mtn_momo import transformers, webhooks
from cauri.connectors.mobile_money.mtn_momo.client import (
    PAYOUT_PATHS,
    SANDBOX_URL,
    WITHDRAW_STATUS_PATH,
    MtnProvisioning,
)
from cauri.connectors.mobile_money.mtn_momo.connector import MtnMomoConnector
from cauri.connectors.mobile_money.mtn_momo.schemas import (
    AccountBalance,
    AccountHolderIdType,
    ActiveResult,
    ApiKey,
    BasicUserInfo,
    DeliveryNotification,
    PayoutOperation,
    Product,
    RequestToPay,
    RequestToWithdraw,
    TransactionStatus,
    Transfer,
)
from cauri.kit.errors import InvalidRequest
from cauri.kit.http import HttpPolicy
from cauri.kit.standalone import BlockingClient, StandaloneClient, as_secret, blocking

FINAL_STATUSES = frozenset({"SUCCESSFUL", "FAILED", "REJECTED", "EXPIRED"})


class MtnMomoClient(StandaloneClient):
    """Async MTN MoMo client. Give the subscription key of each product you use (collection, disbursement)."""

    def __init__(
        self,
        *,
        api_user: str,
        api_key: str | SecretStr,
        collection_key: str | SecretStr | None = None,
        disbursement_key: str | SecretStr | None = None,
        base_url: str = SANDBOX_URL,
        target_environment: str = "sandbox",
        policy: HttpPolicy | None = None,
    ) -> None:
        secret = as_secret(api_key)
        assert secret is not None
        self.target_environment = target_environment
        self.connector = MtnMomoConnector(
            api_user=api_user,
            api_key=secret,
            collection_key=as_secret(collection_key),
            disbursement_key=as_secret(disbursement_key),
            base_url=base_url,
            target_environment=target_environment,
            policy=policy,
        )
        super().__init__(self.connector)

    @classmethod
    def blocking(
        cls,
        *,
        api_user: str,
        api_key: str | SecretStr,
        collection_key: str | SecretStr | None = None,
        disbursement_key: str | SecretStr | None = None,
        base_url: str = SANDBOX_URL,
        target_environment: str = "sandbox",
        policy: HttpPolicy | None = None,
    ) -> SyncMtnMomoClient:
        return SyncMtnMomoClient(
            cls(
                api_user=api_user,
                api_key=api_key,
                collection_key=collection_key,
                disbursement_key=disbursement_key,
                base_url=base_url,
                target_environment=target_environment,
                policy=policy,
            )
        )

    @staticmethod
    async def provision_sandbox_user(
        *,
        subscription_key: str | SecretStr,
        callback_host: str,
        base_url: str = SANDBOX_URL,
        user_id: str | None = None,
        policy: HttpPolicy | None = None,
    ) -> tuple[str, str]:
        """Create a sandbox API user and its key (MTN's provisioning API): ``(api_user, api_key)``."""
        key = as_secret(subscription_key)
        assert key is not None
        provisioning = MtnProvisioning(base_url=base_url, subscription_key=key, policy=policy)
        user = user_id or str(uuid.uuid4())
        try:
            await provisioning.create_user(user, callback_host)
            api_key = ApiKey.model_validate(await provisioning.create_key(user)).api_key
        finally:
            await provisioning.aclose()
        return user, api_key

    async def _create(
        self,
        product: Product,
        body: RequestToPay | Transfer | RequestToWithdraw,
        reference_id: str | None,
        callback_url: str | None,
        path: str | None = None,
    ) -> str:
        chosen = reference_id or str(uuid.uuid4())  # chosen once: every retry sends the same id
        response = await self.connector.client.create(
            product,
            body.model_dump(by_alias=True, exclude_none=True),
            reference_id=chosen,
            environment=self.target_environment,
            callback_url=callback_url,
            path=path,
        )
        if response.status_code == 409 and transformers.error_code(response) != transformers.ALREADY_EXISTS:
            raise transformers.error_from_response(response) or InvalidRequest(provider=transformers.PROVIDER)
        return chosen  # 202, or 409 RESOURCE_ALREADY_EXIST: MTN already has this very request

    async def request_to_pay(
        self, body: RequestToPay, *, reference_id: str | None = None, callback_url: str | None = None
    ) -> str:
        """``POST /collection/v1_0/requesttopay``; returns the ``X-Reference-Id`` to query with."""
        return await self._create(Product.COLLECTION, body, reference_id, callback_url)

    async def transfer(
        self, body: Transfer, *, reference_id: str | None = None, callback_url: str | None = None
    ) -> str:
        """``POST /disbursement/v1_0/transfer``; returns the ``X-Reference-Id`` to query with."""
        return await self._create(Product.DISBURSEMENT, body, reference_id, callback_url)

    async def deposit(
        self,
        body: Transfer,
        *,
        version: str = "v2_0",
        reference_id: str | None = None,
        callback_url: str | None = None,
    ) -> str:
        """``POST /disbursement/{v1_0|v2_0}/deposit`` (the body of a transfer); returns the ``X-Reference-Id``."""
        operation = PayoutOperation.DEPOSIT_V2 if version == "v2_0" else PayoutOperation.DEPOSIT_V1
        return await self._create(Product.DISBURSEMENT, body, reference_id, callback_url, PAYOUT_PATHS[operation][0])

    async def request_to_withdraw(
        self,
        body: RequestToWithdraw,
        *,
        version: str = "v1_0",
        reference_id: str | None = None,
        callback_url: str | None = None,
    ) -> str:
        """``POST /collection/{v1_0|v2_0}/requesttowithdraw``: the payer approves a cash-out to the merchant."""
        path = f"/collection/{'v2_0' if version == 'v2_0' else 'v1_0'}/requesttowithdraw"
        return await self._create(Product.COLLECTION, body, reference_id, callback_url, path)

    async def notify_payer(self, reference_id: str, message: str, *, language: str | None = None) -> None:
        """``POST /collection/v1_0/requesttopay/{id}/deliverynotification``: a note (≤ 160 characters) to the payer."""
        note = DeliveryNotification(notification_message=message)
        await self.connector.client.delivery_notification(
            reference_id, note.notification_message, environment=self.target_environment, language=language
        )

    async def _status(self, product: Product, reference_id: str, path: str | None = None) -> TransactionStatus:
        raw = await self.connector.client.status(product, reference_id, environment=self.target_environment, path=path)
        return transformers.status_from_json(raw)

    async def get_deposit(self, reference_id: str) -> TransactionStatus:
        """``GET /disbursement/v1_0/deposit/{id}`` (a deposit of either version)."""
        return await self._status(Product.DISBURSEMENT, reference_id, PAYOUT_PATHS[PayoutOperation.DEPOSIT_V1][1])

    async def get_request_to_withdraw(self, reference_id: str) -> TransactionStatus:
        """``GET /collection/v1_0/requesttowithdraw/{id}`` (either version)."""
        return await self._status(Product.COLLECTION, reference_id, WITHDRAW_STATUS_PATH)

    async def get_request_to_pay(self, reference_id: str) -> TransactionStatus:
        return await self._status(Product.COLLECTION, reference_id)

    async def get_transfer(self, reference_id: str) -> TransactionStatus:
        return await self._status(Product.DISBURSEMENT, reference_id)

    async def wait(
        self,
        reference_id: str,
        *,
        product: Product = Product.COLLECTION,
        within: float = 120.0,
        interval: float = 2.0,
    ) -> TransactionStatus:
        """Poll until a final status (or ``within`` seconds: then the last answer)."""
        deadline = time.monotonic() + within
        while True:
            status = await self._status(product, reference_id)
            if status.status.upper() in FINAL_STATUSES or time.monotonic() >= deadline:
                return status
            await asyncio.sleep(interval)

    async def balance(self, product: Product = Product.DISBURSEMENT, currency: str | None = None) -> AccountBalance:
        """``…/account/balance``, or ``…/account/balance/{currency}`` when ``currency`` is given."""
        raw = await self.connector.client.balance(product, environment=self.target_environment, currency=currency)
        return transformers.balance_from_json(raw)

    async def is_active(
        self,
        holder: str,
        product: Product = Product.COLLECTION,
        id_type: AccountHolderIdType | str = AccountHolderIdType.MSISDN,
    ) -> bool:
        """Registered and active? ``holder`` is a number (``+`` optional), an e-mail or a party code (``id_type``)."""
        kind = AccountHolderIdType(id_type)
        holder_id = holder.removeprefix("+") if kind is AccountHolderIdType.MSISDN else holder
        raw = await self.connector.client.account_active(
            product, holder_id, environment=self.target_environment, id_type=kind
        )
        return raw is not None and ActiveResult.model_validate(raw).result

    async def basic_user_info(self, msisdn: str, product: Product = Product.COLLECTION) -> BasicUserInfo | None:
        raw = await self.connector.client.basic_user_info(
            product, msisdn.removeprefix("+"), environment=self.target_environment
        )
        return BasicUserInfo.model_validate(raw) if raw is not None else None

    @staticmethod
    def parse_callback(raw_body: bytes) -> TransactionStatus:
        """The callback as MTN sent it: *unverified* (MTN does not sign); see :meth:`confirm_callback`."""
        webhooks.check_confirmable(raw_body)
        return transformers.status_from_json(transformers.event_from_wire(raw_body).raw)

    async def confirm_callback(self, raw_body: bytes, reference_id: str) -> TransactionStatus:
        """MTN's own answer for the transaction a callback is about (MTN's body does not name the reference id)."""
        product = Product.DISBURSEMENT if self.parse_callback(raw_body).payee is not None else Product.COLLECTION
        return await self._status(product, reference_id)


class SyncMtnMomoClient(BlockingClient[MtnMomoClient]):
    """:class:`MtnMomoClient`, blocking (the connector's private event loop runs the same async code)."""

    request_to_pay = blocking(MtnMomoClient.request_to_pay)
    transfer = blocking(MtnMomoClient.transfer)
    deposit = blocking(MtnMomoClient.deposit)
    request_to_withdraw = blocking(MtnMomoClient.request_to_withdraw)
    notify_payer = blocking(MtnMomoClient.notify_payer)
    get_deposit = blocking(MtnMomoClient.get_deposit)
    get_request_to_withdraw = blocking(MtnMomoClient.get_request_to_withdraw)
    get_request_to_pay = blocking(MtnMomoClient.get_request_to_pay)
    get_transfer = blocking(MtnMomoClient.get_transfer)
    wait = blocking(MtnMomoClient.wait)
    balance = blocking(MtnMomoClient.balance)
    is_active = blocking(MtnMomoClient.is_active)
    basic_user_info = blocking(MtnMomoClient.basic_user_info)
    parse_callback = staticmethod(MtnMomoClient.parse_callback)
    confirm_callback = blocking(MtnMomoClient.confirm_callback)
