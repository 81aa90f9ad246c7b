"""FreeMoPay v2 wire models: what goes on the wire and what comes back, typed.

Field names are FreeMoPay's own (``merchandRef`` is spelt so by the API); Python names are snake_case with the
wire name as alias. Unknown fields are kept (``extra="allow"``) so nothing the provider adds is lost.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class LocalizedMessage(_Wire):
    """FreeMoPay error messages come in both languages: ``{"en": …, "fr": …}``."""

    en: str = ""
    fr: str = ""


class TokenAnswer(_Wire):
    access_token: str
    expires_in: int = 3600


class DepositRequest(_Wire):
    """``POST /api/v2/payment``: ask ``payer`` (``2376XXXXXXXX``) to pay ``amount`` (a string of XAF)."""

    payer: str
    amount: str
    external_id: str = Field(alias="externalId")
    description: str = ""
    callback: str | None = None


class WithdrawRequest(_Wire):
    """``POST /api/v2/payment/direct-withdraw``: send ``amount`` to ``receiver``."""

    receiver: str
    amount: str
    external_id: str = Field(alias="externalId")
    callback: str | None = None


class PaymentInit(_Wire):
    """The answer to a deposit or a withdrawal. ``status`` CREATED, SUCCESS or INITIALIZATION_SUCCESS all mean
    *accepted, waiting for the customer*; FAILED means refused at once."""

    reference: str
    status: str
    message: str | LocalizedMessage | None = None


class PaymentDetails(_Wire):
    """``GET /api/v2/payment/{reference}``: ``status`` PENDING, SUCCESS or FAILED (``reason`` on failure)."""

    reference: str
    merchant_reference: str | None = Field(default=None, alias="merchandRef")
    amount: str | int | float | None = None
    status: str
    reason: str | None = None


class CallbackNotification(_Wire):
    """The unsigned callback FreeMoPay POSTs: confirm it with :class:`PaymentDetails` before trusting it."""

    status: str
    reference: str
    amount: str | int | float | None = None
    transaction_type: str | None = Field(default=None, alias="transactionType")
    external_id: str | None = Field(default=None, alias="externalId")
    message: str | LocalizedMessage | None = None
