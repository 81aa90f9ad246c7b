"""FreeMoPay v2 without the Cauri server: a typed client, async and blocking.

    from cauri.connectors.mobile_money.freemopay import FreeMoPayClient

    async with FreeMoPayClient(app_key="…", secret_key="…") as freemopay:
        init = await freemopay.deposit(payer="+237670000100", amount=1500, external_id="order-42")
        details = await freemopay.wait(init.reference)          # PENDING -> SUCCESS or FAILED

    with FreeMoPayClient.blocking(app_key="…", secret_key="…") as freemopay:   # no asyncio needed
        details = freemopay.payment(init.reference)

Calls go through Cauri's HTTP layer (timeouts, safe retries, the 100 requests/min limit, masked logs) and fail
with the connector error tree (:class:`AuthError` for ``BAD_API_CREDENTIALS``, :class:`RateLimited`,
:class:`Declined` when FreeMoPay refuses a payment at once, :class:`Timeout` with ``outcome_unknown``…).
FreeMoPay does not sign its callbacks: :meth:`FreeMoPayClient.confirm_callback` parses one and asks FreeMoPay
for the payment's real status, which is the only trustworthy answer.
"""

from __future__ import annotations

import asyncio
import time

from pydantic import SecretStr

from cauri.connectors.base import PaymentKind
from cauri.connectors.mobile_money.freemopay import transformers, webhooks
from cauri.connectors.mobile_money.freemopay.client import DEFAULT_BASE_URL, AuthMode
from cauri.connectors.mobile_money.freemopay.connector import FreeMoPayConnector
from cauri.connectors.mobile_money.freemopay.schemas import (
    CallbackNotification,
    DepositRequest,
    PaymentDetails,
    PaymentInit,
    WithdrawRequest,
)
from cauri.kit.errors import InvalidRequest
from cauri.kit.http import HttpPolicy
from cauri.kit.standalone import BlockingClient, StandaloneClient, blocking

FINAL_STATUSES = frozenset({"SUCCESS", "FAILED"})


def _msisdn(number: str, field: str) -> str:
    digits = number.strip().removeprefix("+")
    if not digits.isdigit() or not 8 <= len(digits) <= 15:
        raise InvalidRequest(
            f"Numéro {field} invalide : 2376XXXXXXXX ou +2376XXXXXXXX attendu.",
            f"Invalid {field} number: 2376XXXXXXXX or +2376XXXXXXXX expected.",
            provider=transformers.PROVIDER,
            code="invalid_phone",
        )
    return digits


def _amount(amount: int) -> str:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise InvalidRequest(
            "Le montant doit être un entier positif de XAF.",
            "The amount must be a positive integer of XAF.",
            provider=transformers.PROVIDER,
            code="invalid_amount",
        )
    return transformers.amount_to_wire(amount)


class FreeMoPayClient(StandaloneClient):
    """Async FreeMoPay v2 client. ``auth_mode``: ``"token"`` (bearer, cached) or ``"basic"`` (every call)."""

    def __init__(
        self,
        *,
        app_key: str,
        secret_key: str | SecretStr,
        base_url: str = DEFAULT_BASE_URL,
        auth_mode: AuthMode | str = AuthMode.TOKEN,
        policy: HttpPolicy | None = None,
    ) -> None:
        secret = secret_key if isinstance(secret_key, SecretStr) else SecretStr(secret_key)
        self.connector = FreeMoPayConnector(
            app_key=app_key, secret_key=secret, base_url=base_url, auth_mode=auth_mode, policy=policy
        )
        super().__init__(self.connector)

    @classmethod
    def blocking(
        cls,
        *,
        app_key: str,
        secret_key: str | SecretStr,
        base_url: str = DEFAULT_BASE_URL,
        auth_mode: AuthMode | str = AuthMode.TOKEN,
        policy: HttpPolicy | None = None,
    ) -> SyncFreeMoPayClient:
        """The same client for code without asyncio."""
        client = cls(app_key=app_key, secret_key=secret_key, base_url=base_url, auth_mode=auth_mode, policy=policy)
        return SyncFreeMoPayClient(client)

    async def deposit(
        self, *, payer: str, amount: int, external_id: str, description: str = "", callback: str | None = None
    ) -> PaymentInit:
        """Ask ``payer`` to pay ``amount`` XAF. Accepted (pending) or :class:`Declined` when refused at once."""
        request = DepositRequest(
            payer=_msisdn(payer, "payer"),
            amount=_amount(amount),
            external_id=external_id,
            description=description or external_id,
            callback=callback,
        )
        raw = await self.connector.client.create_payment(transformers.to_wire_json(request))
        return self._accepted(raw, external_id, amount, PaymentKind.COLLECTION)

    async def withdraw(
        self, *, receiver: str, amount: int, external_id: str, callback: str | None = None
    ) -> PaymentInit:
        """Send ``amount`` XAF from the merchant account to ``receiver`` (direct withdraw)."""
        request = WithdrawRequest(
            receiver=_msisdn(receiver, "receiver"), amount=_amount(amount), external_id=external_id, callback=callback
        )
        raw = await self.connector.client.direct_withdraw(transformers.to_wire_json(request))
        return self._accepted(raw, external_id, amount, PaymentKind.PAYOUT)

    @staticmethod
    def _accepted(raw: dict[str, object], external_id: str, amount: int, kind: PaymentKind) -> PaymentInit:
        init = transformers.init_from_wire(raw)
        # Raises Declined for FAILED; CREATED/SUCCESS/INITIALIZATION_SUCCESS only mean "accepted".
        transformers.accepted_payment(
            init, reference=external_id, amount=amount, currency=transformers.CURRENCY, kind=kind, raw=raw
        )
        return init

    async def payment(self, reference: str) -> PaymentDetails:
        """``GET /api/v2/payment/{reference}``: PENDING, SUCCESS or FAILED (with ``reason``)."""
        return transformers.details_from_wire(await self.connector.client.get_payment(reference))

    async def wait(self, reference: str, *, within: float = 120.0, interval: float = 2.0) -> PaymentDetails:
        """Poll until SUCCESS or FAILED (or ``within`` seconds: then the last, pending, answer)."""
        deadline = time.monotonic() + within
        while True:
            details = await self.payment(reference)
            if details.status.upper() in FINAL_STATUSES or time.monotonic() >= deadline:
                return details
            await asyncio.sleep(interval)

    @staticmethod
    def parse_callback(raw_body: bytes) -> CallbackNotification:
        """The callback as FreeMoPay sent it: *unverified* (FreeMoPay does not sign); see :meth:`confirm_callback`."""
        webhooks.check_confirmable(raw_body)
        return transformers.notification_from_wire(raw_body)[0]

    async def confirm_callback(self, raw_body: bytes) -> PaymentDetails:
        """The webhook check for an unsigned provider: FreeMoPay's own answer about the payment the callback names."""
        return await self.payment(self.parse_callback(raw_body).reference)


class SyncFreeMoPayClient(BlockingClient[FreeMoPayClient]):
    """:class:`FreeMoPayClient`, blocking (the connector's private event loop runs the same async code)."""

    deposit = blocking(FreeMoPayClient.deposit)
    withdraw = blocking(FreeMoPayClient.withdraw)
    payment = blocking(FreeMoPayClient.payment)
    wait = blocking(FreeMoPayClient.wait)
    parse_callback = staticmethod(FreeMoPayClient.parse_callback)
    confirm_callback = blocking(FreeMoPayClient.confirm_callback)
