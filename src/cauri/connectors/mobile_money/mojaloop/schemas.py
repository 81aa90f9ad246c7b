"""Mojaloop SDK scheme-adapter wire models, typed: the transfer state every transfer call answers.

The SDK's transfer state is flat at its top (``transferId``, ``homeTransactionId``, ``currentState``, ``amount``,
``currency``) and carries the switch's messages nested (``quoteResponse``, ``fulfil``, ``lastError``…), each
wrapped as ``{body, headers}`` or not depending on the SDK version: those are read field by field by the
transformers, which never trust them to have a shape. Unknown fields are kept (``extra="allow"``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, StrictInt


class TransferState(BaseModel):
    """``POST /transfers``, ``PUT /transfers/{id}``, ``GET /transfers/{id}``: ``currentState``
    WAITING_FOR_PARTY_ACCEPTANCE, WAITING_FOR_QUOTE_ACCEPTANCE, COMPLETED, ERROR_OCCURRED… (amount: a decimal
    string in major units)."""

    model_config = ConfigDict(extra="allow")

    transferId: str
    amount: str | StrictInt
    currency: str
    homeTransactionId: str | None = None
    currentState: str = ""
