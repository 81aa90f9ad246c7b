"""The sandbox's wire models (payments, callback events, bulks, balance, account), typed.

Amounts are decimal strings in major units (``"1500"``, ``"12.50"``), read by the transformers with the
currency's exponent. Unknown fields are kept (``extra="allow"``); a missing one makes the answer unreadable.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


class WirePayment(_Wire):
    """A collection, payout or refund: ``state`` PENDING, SUCCESSFUL, FAILED, EXPIRED (anything else: pending)."""

    id: str
    kind: str
    reference: str
    msisdn: str
    amount: str
    currency: str
    fee: str | None = None
    state: str
    failure_code: str | None = None


class WireEvent(_Wire):
    """A callback: ``{id, type: "collection.successful"…, created, data: <payment>}``."""

    id: str
    type: str
    created: int
    data: WirePayment


class WireBulkItem(_Wire):
    """One line of a bulk: a payout of its own (``id``) or refused at once (``failure_code``, no ``id``)."""

    reference: str
    state: str
    id: str | None = None
    failure_code: str | None = None


class WireBulk(_Wire):
    reference: str
    state: str | None = None
    items: list[WireBulkItem]


class WireBalance(_Wire):
    """``GET /v1/balance/{currency}``."""

    currency: str
    available: str


class WireAccount(_Wire):
    """``GET /v1/accounts/{msisdn}``: ``status`` ACTIVE or BLOCKED."""

    status: str
    name: str | None = None
