"""Wave without the Cauri server: a typed client for checkout sessions, payouts, refunds and webhooks.

    from cauri.connectors.mobile_money.wave import CheckoutSessionCreate, PayoutCreate, WaveClient

    async with WaveClient(api_key="wave_sn_prod_…", webhook_secret="wave_sn_WHS_…") as wave:
        session = await wave.create_checkout_session(CheckoutSessionCreate(
            amount="1000", currency="XOF", success_url="https://…/ok", error_url="https://…/ko",
            client_reference="order-42", restrict_payer_mobile="+221770000100"))
        print(session.wave_launch_url)                       # send the payer there
        payout = await wave.create_payout(PayoutCreate(receive_amount="500", mobile="+221770000100"))
        event = wave.verify_webhook(request_headers, raw_body)  # raises InvalidSignature if forged

    with WaveClient.blocking(api_key="…") as wave:           # no asyncio needed
        print(wave.balance().amount)

Calls go through Cauri's HTTP layer (timeouts, retries only where safe, masked logs): every create carries an
``idempotency-key`` chosen once before the first attempt, so a retry returns the first answer. Errors are the
connector error tree (:class:`AuthError`, :class:`PaymentNotFound`, :class:`Timeout` with ``outcome_unknown``…).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError

from cauri.connectors.mobile_money.wave import transformers, webhooks
from cauri.connectors.mobile_money.wave.client import DEFAULT_BASE_URL
from cauri.connectors.mobile_money.wave.connector import WaveConnector
from cauri.connectors.mobile_money.wave.schemas import (
    CheckoutSession,
    CheckoutSessionCreate,
    Payout,
    PayoutBatch,
    PayoutBatchCreate,
    PayoutCreate,
    TransactionPage,
    WaveBalance,
    WaveTransaction,
    WebhookEvent,
)
from cauri.kit.errors import unreadable_answer
from cauri.kit.http import HttpPolicy
from cauri.kit.standalone import BlockingClient, StandaloneClient, blocking, same

_Model = TypeVar("_Model", bound=BaseModel)


def _valid(model: type[_Model], raw: dict[str, Any]) -> _Model:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise unreadable_answer(transformers.PROVIDER, exc) from None


def _secrets(value: str | SecretStr | list[str] | list[SecretStr] | None) -> list[SecretStr]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [item if isinstance(item, SecretStr) else SecretStr(item) for item in items]


class WaveClient(StandaloneClient):
    """Async Wave client. ``webhook_secret`` may list several secrets while one is rotated."""

    def __init__(
        self,
        *,
        api_key: str | SecretStr,
        webhook_secret: str | SecretStr | list[str] | list[SecretStr] | None = None,
        base_url: str = DEFAULT_BASE_URL,
        success_url: str | None = None,
        error_url: str | None = None,
        policy: HttpPolicy | None = None,
    ) -> None:
        key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self.webhook_secrets = _secrets(webhook_secret)
        self.connector = WaveConnector(
            api_key=key,
            webhook_secrets=self.webhook_secrets,
            success_url=success_url,
            error_url=error_url,
            base_url=base_url,
            policy=policy,
        )
        self.http = self.connector.client
        super().__init__(self.connector)

    @classmethod
    def blocking(
        cls,
        *,
        api_key: str | SecretStr,
        webhook_secret: str | SecretStr | list[str] | list[SecretStr] | None = None,
        base_url: str = DEFAULT_BASE_URL,
        success_url: str | None = None,
        error_url: str | None = None,
        policy: HttpPolicy | None = None,
    ) -> SyncWaveClient:
        return SyncWaveClient(
            cls(
                api_key=api_key,
                webhook_secret=webhook_secret,
                base_url=base_url,
                success_url=success_url,
                error_url=error_url,
                policy=policy,
            )
        )

    # -- checkout sessions -------------------------------------------------------------------------------

    async def create_checkout_session(
        self, body: CheckoutSessionCreate, *, idempotency_key: str | None = None
    ) -> CheckoutSession:
        key = idempotency_key or f"checkout-{uuid.uuid4()}"  # chosen once: every retry sends the same key
        raw = await self.http.create_checkout_session(transformers.wire_json(body), idempotency_key=key)
        return transformers.session_from_json(raw)

    async def get_checkout_session(self, session_id: str) -> CheckoutSession:
        return transformers.session_from_json(await self.http.get_checkout_session(session_id))

    async def checkout_session_by_transaction(self, transaction_id: str) -> CheckoutSession:
        return transformers.session_from_json(await self.http.checkout_session_by_transaction(transaction_id))

    async def search_checkout_sessions(self, client_reference: str) -> list[CheckoutSession]:
        found = transformers.search_results(await self.http.search_checkout_sessions(client_reference))
        return [transformers.session_from_json(item) for item in found]

    async def expire_checkout_session(self, session_id: str) -> CheckoutSession:
        await self.http.expire_checkout_session(session_id)
        return await self.get_checkout_session(session_id)

    async def refund_checkout_session(self, session_id: str, *, idempotency_key: str | None = None) -> None:
        key = idempotency_key or f"refund-{uuid.uuid4()}"
        await self.http.refund_checkout_session(session_id, idempotency_key=key)

    # -- payouts and balance -------------------------------------------------------------------------------

    async def create_payout(self, body: PayoutCreate, *, idempotency_key: str | None = None) -> Payout:
        key = idempotency_key or f"payout-{uuid.uuid4()}"
        raw = await self.http.create_payout(transformers.wire_json(body), idempotency_key=key)
        return transformers.payout_from_json(raw)

    async def get_payout(self, payout_id: str) -> Payout:
        return transformers.payout_from_json(await self.http.get_payout(payout_id))

    async def search_payouts(self, client_reference: str) -> list[Payout]:
        found = transformers.search_results(await self.http.search_payouts(client_reference))
        return [transformers.payout_from_json(item) for item in found]

    async def create_payout_batch(self, payouts: list[PayoutCreate], *, idempotency_key: str | None = None) -> str:
        """``POST /v1/payout-batch``; returns the batch id (``pb-…``) to follow with :meth:`get_payout_batch`.

        The key is chosen once, before the first attempt: a retry after a timeout gets the same batch back.
        """
        body = PayoutBatchCreate(payouts=payouts).model_dump(exclude_none=True)
        key = idempotency_key or f"payout-batch-{uuid.uuid4()}"
        answer = await self.http.create_payout_batch(body, idempotency_key=key)
        batch_id = answer.get("id")
        if not isinstance(batch_id, str) or not batch_id:
            raise unreadable_answer(transformers.PROVIDER, ValueError("no batch id"))
        return batch_id

    async def get_payout_batch(self, batch_id: str) -> PayoutBatch:
        return _valid(PayoutBatch, await self.http.get_payout_batch(batch_id))

    async def list_transactions(self, day: str | None = None, *, after: str | None = None) -> TransactionPage:
        """One page of the wallet's movements on ``day`` (YYYY-MM-DD, today by default)."""
        return _valid(TransactionPage, await self.http.list_transactions(day=day, after=after))

    async def all_transactions(self, day: str | None = None) -> list[WaveTransaction]:
        """Every movement of ``day``, following the cursor page after page (for a daily reconciliation)."""
        items: list[WaveTransaction] = []
        after: str | None = None
        while True:
            page = await self.list_transactions(day, after=after)
            items.extend(page.items)
            if not page.page_info.has_next_page or not page.page_info.end_cursor:
                return items
            after = page.page_info.end_cursor

    async def balance(self) -> WaveBalance:
        raw = await self.http.balance()
        try:
            return WaveBalance.model_validate(raw)
        except ValidationError:
            return WaveBalance(amount=str(raw.get("amount", "")), currency=str(raw.get("currency", "")))

    # -- webhooks --------------------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes, now: float | None = None) -> WebhookEvent:
        """Check ``Wave-Signature`` over the raw bytes (raises :class:`InvalidSignature`), then parse the event."""
        webhooks.verify([s.get_secret_value() for s in self.webhook_secrets], headers, raw_body, now)
        return WebhookEvent.model_validate_json(raw_body)


class SyncWaveClient(BlockingClient[WaveClient]):
    """:class:`WaveClient`, blocking (the connector's private event loop runs the same async code)."""

    create_checkout_session = blocking(WaveClient.create_checkout_session)
    get_checkout_session = blocking(WaveClient.get_checkout_session)
    checkout_session_by_transaction = blocking(WaveClient.checkout_session_by_transaction)
    search_checkout_sessions = blocking(WaveClient.search_checkout_sessions)
    expire_checkout_session = blocking(WaveClient.expire_checkout_session)
    refund_checkout_session = blocking(WaveClient.refund_checkout_session)
    create_payout = blocking(WaveClient.create_payout)
    get_payout = blocking(WaveClient.get_payout)
    search_payouts = blocking(WaveClient.search_payouts)
    create_payout_batch = blocking(WaveClient.create_payout_batch)
    get_payout_batch = blocking(WaveClient.get_payout_batch)
    list_transactions = blocking(WaveClient.list_transactions)
    all_transactions = blocking(WaveClient.all_transactions)
    balance = blocking(WaveClient.balance)
    verify_webhook = same(WaveClient.verify_webhook)
