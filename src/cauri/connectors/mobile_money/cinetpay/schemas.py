"""CinetPay API wire models (the payment answer, the check answer), typed.

Every answer is ``{code, message, data}``: ``code`` a string (``"201"`` CREATED, ``"00"`` SUCCES…), sometimes
sent as a number; amounts are integers, often sent as strings (``"100"``). Unknown fields are kept
(``extra="allow"``). Notifications are a form (``cpm_*`` fields), read by the transformers.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Answer(_Wire):
    code: str
    message: str = ""

    @field_validator("code", mode="before")
    @classmethod
    def _code_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value


class PaymentData(_Wire):
    payment_token: str
    payment_url: str | None = None


class PaymentAnswer(_Answer):
    """``POST /v2/payment``: ``201 CREATED`` with the token and the URL where the payer pays."""

    data: PaymentData | None = None


class CheckData(_Wire):
    """``data`` of a check: ``status`` ACCEPTED, REFUSED, … (anything else pending)."""

    status: str = ""
    amount: int | None = None  # lax: "100" reads as 100, "cent" or "1.5" are unreadable
    currency: str = ""
    payment_token: str | None = None
    operator_id: str | None = None
    error_code: str | None = None


class CheckAnswer(_Answer):
    """``POST /v2/payment/check``."""

    data: CheckData | None = None
