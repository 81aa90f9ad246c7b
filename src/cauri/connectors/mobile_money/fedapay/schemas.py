"""FedaPay API wire models (transactions, the token answer, webhook events), typed.

FedaPay wraps an object in its type (``{"v1/transaction": {...}}``); :class:`TransactionAnswer` reads that
envelope, or a bare transaction. Field names are FedaPay's own; unknown fields are kept (``extra="allow"``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Currency(_Wire):
    iso: str


class Transaction(_Wire):
    """A transaction: ``status`` pending, approved, declined, canceled, refunded, transferred (or expired);
    ``amount`` an integer in the currency's unit; our reference in ``custom_metadata.cauri_reference``."""

    id: StrictInt | str
    amount: StrictInt
    status: str = ""
    currency: Currency | str | None = None
    fees: StrictInt | None = None
    last_error_code: str | None = None
    merchant_reference: str | None = None
    custom_metadata: dict[str, Any] | None = None

    @property
    def currency_iso(self) -> str:
        if isinstance(self.currency, Currency):
            return self.currency.iso
        return self.currency or "XOF"


class TransactionAnswer(_Wire):
    """``{"v1/transaction": {...}}`` (create, read, refund), or a bare transaction."""

    transaction: Transaction = Field(alias="v1/transaction")

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, data: Any) -> Any:
        if isinstance(data, dict) and "v1/transaction" not in data and "id" in data:
            return {"v1/transaction": data}
        return data


class TokenAnswer(_Wire):
    """``POST /transactions/{id}/token``: ``token`` for the mobile modes, ``url`` for a redirect."""

    token: str
    url: str = ""


class WebhookEvent(_Wire):
    """A webhook: ``{id, name: "transaction.approved"…, object, entity: <transaction>}``."""

    id: StrictInt | str | None = None
    name: str | None = None
    entity: Transaction
