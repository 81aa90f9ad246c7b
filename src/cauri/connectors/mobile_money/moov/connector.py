"""Moov Money / Flooz (Benin, Togo) through its SOAP merchant API. **Polling only**: Moov sends no callback.

* ``collect``: ``PushWithPending(token, msisdn, message, amount, externaldata1=<our reference>, externaldata2,
  fee)`` -> status ``100`` (pending: the payer confirms on the USSD prompt) or a final code.
* ``collect_status`` / ``payout_status``: the status operation by reference; our reference is accepted, so a
  payment is found after a timeout on its create.
* ``payout``: ``transferFlooz(token, destination, amount, referenceid=<our reference>, walletid, extendeddata)``.
* ``balance`` and ``account_holder`` (the mobile account status).

Configurable because not public (docs/providers/moov.md): ``base_url`` and ``service_path`` (the WSDL's
``…/com.tlc.merchant.api/UssdPush``), the ``token`` (the merchant credentials AES-encrypted with the key Moov issues:
stored as given, since the exact encryption is not public), the operation names other than ``PushWithPending``
(``operations``), the final status codes other than ``0``/``100`` (``transformers.FAILURE_CODES``; unknown codes
stay pending), ``walletid`` for transfers. Moov does not deduplicate: a push or transfer is never resent once it
may have arrived (``idempotent_creates = False``); reads are retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import SecretStr

from cauri.connectors.base import (
    AccountHolder,
    AmountLimits,
    Balance,
    Capability,
    CollectRequest,
    PaymentConnector,
    PaymentKind,
    PayoutRequest,
    ProviderPayment,
)
from cauri.connectors.mobile_money.moov import transformers
from cauri.connectors.mobile_money.moov.client import SERVICE_PATH, MoovSoap
from cauri.connectors.mobile_money.moov.simulator import MOOV_CURRENCIES
from cauri.kit.errors import PaymentNotFound
from cauri.kit.http import HttpPolicy


class MoovConnector(PaymentConnector):
    name = "moov"
    capabilities = frozenset(
        {
            Capability.COLLECT,
            Capability.PAYOUT,
            Capability.COLLECT_STATUS,
            Capability.PAYOUT_STATUS,
            Capability.BALANCE,
            Capability.ACCOUNT_HOLDER,
        }
    )
    currencies = MOOV_CURRENCIES
    amount_limits: ClassVar[Mapping[str, AmountLimits]] = {"XOF": AmountLimits(100, None)}
    callbacks_signed = False
    idempotent_creates = False
    status_by_reference = True

    def __init__(
        self,
        *,
        base_url: str,
        token: SecretStr,
        service_path: str = SERVICE_PATH,
        operations: Mapping[str, str] | None = None,
        wallet_id: str = "0",
        policy: HttpPolicy | None = None,
    ) -> None:
        self.client = MoovSoap(base_url=base_url, token=token, service_path=service_path, policy=policy)
        self._token = token
        self.operations = {**transformers.DEFAULT_OPERATIONS, **dict(operations or {})}
        self.wallet_id = wallet_id

    async def aclose(self) -> None:
        await self.client.aclose()

    def _call_params(self, **params: object) -> dict[str, object]:
        return {"token": self._token.get_secret_value(), **params}

    async def _create(
        self,
        kind: PaymentKind,
        operation: str,
        params: dict[str, object],
        *,
        reference: str,
        amount: int,
        currency: str,
    ) -> ProviderPayment:
        result = await self.client.call(self.operations[operation], params, label=operation)
        refusal = transformers.refusal_at_creation(result, kind)
        if refusal is not None:
            raise refusal
        return transformers.payment_from_result(
            result, reference=reference, amount=amount, currency=currency, kind=kind
        )

    async def _collect(self, request: CollectRequest) -> ProviderPayment:
        params = self._call_params(
            msisdn=transformers.msisdn_to_wire(request.payer_phone),
            message=(request.description or f"Paiement {request.reference}")[:100],
            amount=request.amount,
            externaldata1=request.reference,
            externaldata2=request.metadata.get("externaldata2", ""),
            fee=0,
        )
        return await self._create(
            PaymentKind.COLLECTION,
            "push",
            params,
            reference=request.reference,
            amount=request.amount,
            currency=request.currency,
        )

    async def _payout(self, request: PayoutRequest) -> ProviderPayment:
        params = self._call_params(
            destination=transformers.msisdn_to_wire(request.payee_phone),
            amount=request.amount,
            referenceid=request.reference,
            walletid=self.wallet_id,
            extendeddata=(request.description or "")[:100],
        )
        return await self._create(
            PaymentKind.PAYOUT,
            "transfer",
            params,
            reference=request.reference,
            amount=request.amount,
            currency=request.currency,
        )

    async def _status(self, kind: PaymentKind, reference: str, provider_reference: str | None) -> ProviderPayment:
        result = await self.client.call(
            self.operations["status"],
            self._call_params(referenceid=provider_reference or reference),
            label="status",
            idempotent=True,
        )
        if result.get("status") == "404":
            raise PaymentNotFound(provider=self.name, provider_code="404")
        return transformers.payment_from_result(result, reference=reference, amount=0, currency="XOF", kind=kind)

    async def _collect_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        return await self._status(PaymentKind.COLLECTION, reference, provider_reference)

    async def _payout_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        return await self._status(PaymentKind.PAYOUT, reference, provider_reference)

    async def _balance(self, currency: str) -> Balance:
        result = await self.client.call(
            self.operations["balance"], self._call_params(), label="balance", idempotent=True
        )
        return Balance(currency=currency, available=transformers.balance_from_result(result))

    async def _account_holder(self, phone: str) -> AccountHolder:
        result = await self.client.call(
            self.operations["account"],
            self._call_params(msisdn=transformers.msisdn_to_wire(phone)),
            label="account_holder",
            idempotent=True,
        )
        return transformers.account_from_result(result)
