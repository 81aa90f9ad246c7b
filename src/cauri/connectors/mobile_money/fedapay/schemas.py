"""FedaPay API wire models (transactions, payouts, balances, currencies, the token answer, webhook events), typed.

FedaPay wraps an object in its type (``{"v1/transaction": {...}}``, ``{"v1/payout": {...}}``, a list as
``{"v1/balances": [...]}``); each object names its type in ``klass``. The fields are those of FedaPay's SDK
fixtures (fedapay-node ``test/TransactionTest.ts``, ``test/PayoutTest.ts``, ``test/BalanceTest.ts``); unknown
fields are kept (``extra="allow"``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

# FedaPay's currency ids (``GET /v1/currencies``): an answer without ``include=currency`` names only the id.
CURRENCY_IDS: dict[int, str] = {1: "XOF"}


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Currency(_Wire):
    iso: str
    id: StrictInt | None = None


class _Money(_Wire):
    """What transactions and payouts share: ``amount`` an integer in the currency's unit, the currency embedded
    (``include=currency``) or as ``currency_id``, our reference in ``merchant_reference`` and ``custom_metadata``."""

    id: StrictInt | str
    amount: StrictInt
    status: str = ""
    klass: str | None = None
    reference: str | None = None
    mode: str | None = None
    currency: Currency | str | None = None
    currency_id: StrictInt | None = None
    customer_id: StrictInt | None = None
    last_error_code: str | None = None
    merchant_reference: str | None = None
    custom_metadata: dict[str, Any] | None = None

    @property
    def currency_iso(self) -> str:
        if isinstance(self.currency, Currency):
            return self.currency.iso
        if isinstance(self.currency, str) and self.currency:
            return self.currency
        return CURRENCY_IDS.get(self.currency_id or 1, "XOF")


class Transaction(_Money):
    """A transaction: ``status`` pending, approved, declined, canceled, refunded, transferred (or expired,
    ``approved_partially_refunded``…); ``fees`` and ``commission`` FedaPay's cut."""

    fees: StrictInt | None = None
    commission: float | int | None = None
    transaction_key: str | None = None
    approved_at: str | None = None
    declined_at: str | None = None
    canceled_at: str | None = None
    refunded_at: str | None = None
    transferred_at: str | None = None


class Payout(_Money):
    """A payout: ``status`` pending, scheduled, started, processing, sent, failed (``last_error_message`` why)."""

    last_error_message: str | None = None
    scheduled_at: str | None = None
    started_at: str | None = None
    sent_at: str | None = None
    failed_at: str | None = None


class TransactionAnswer(_Wire):
    """``{"v1/transaction": {...}}`` (create, read, refund), or a bare transaction."""

    transaction: Transaction = Field(alias="v1/transaction")

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, data: Any) -> Any:
        if isinstance(data, dict) and "v1/transaction" not in data and "id" in data:
            return {"v1/transaction": data}
        return data


class PayoutAnswer(_Wire):
    """``{"v1/payout": {...}}`` (create, read)."""

    payout: Payout = Field(alias="v1/payout")


class PayoutsAnswer(_Wire):
    """``PUT /v1/payouts/start``: ``{"v1/payouts": [...]}``, the payouts started."""

    payouts: list[Payout] = Field(alias="v1/payouts")


class Balance(_Wire):
    id: StrictInt | None = None
    amount: StrictInt
    currency_id: StrictInt | None = None
    mode: str | None = None


class BalancesAnswer(_Wire):
    balances: list[Balance] = Field(alias="v1/balances")


class CurrenciesAnswer(_Wire):
    currencies: list[Currency] = Field(alias="v1/currencies")


class TokenAnswer(_Wire):
    """``POST /v1/transactions/{id}/token``: ``token`` for the mobile modes, ``url`` for a redirect."""

    token: str
    url: str = ""


class WebhookEvent(_Wire):
    """A webhook: ``{id, name: "transaction.approved"|"payout.sent"…, object, entity: <transaction|payout>}``."""

    id: StrictInt | str | None = None
    name: str | None = None
    object: str | None = None
    entity: Transaction
