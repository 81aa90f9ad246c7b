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


# -- the current API (``api_version: v1``): flat answers ``{code, status, …}`` (cinetpay-python ``types/``) ----------


class _V1Answer(_Wire):
    """``code`` numeric (200 OK, 100 SUCCESS, 2001 INITIATED…), ``status`` its word."""

    code: int | None = None
    status: str = ""

    @field_validator("code", mode="before")
    @classmethod
    def _code_as_number(cls, value: object) -> object:
        if isinstance(value, str) and value.lstrip("-").isdigit():
            return int(value)
        return value


class V1PaymentDetails(_Wire):
    code: int | None = None
    status: str = ""
    message: str = ""
    must_be_redirected: bool = False


class V1PaymentAnswer(_V1Answer):
    """``POST /v1/payment``: where the payer pays, and the ``notify_token`` its notification will carry."""

    payment_token: str
    notify_token: str
    transaction_id: str
    merchant_transaction_id: str
    payment_url: str | None = None
    details: V1PaymentDetails | None = None


class V1User(_Wire):
    name: str = ""
    email: str = ""
    phone_number: str = ""


class V1StatusAnswer(_V1Answer):
    """``GET /v1/payment/{id}`` and ``GET /v1/transfer/{id}``. The SDK's payment status has no amount; the
    transfer status has ``amount`` and ``fee_amount`` as strings. Read when present."""

    merchant_transaction_id: str = ""
    transaction_id: str = ""
    amount: int | None = None  # lax: "2500" reads as 2500
    fee_amount: int | None = None
    currency: str | None = None
    user: V1User | None = None


class V1TransferAnswer(V1StatusAnswer):
    """``POST /v1/transfer``: the transfer's first status and its ``notify_token``."""

    notify_token: str = ""


class V1BalanceAnswer(_V1Answer):
    available_balance: int  # lax: "663" reads as 663
    currency: str


class V1Notification(_Wire):
    """A notification POSTed as JSON to ``notify_url``: ``notify_token`` (compare it with the one the init gave),
    ``merchant_transaction_id``, ``transaction_id``, ``user``."""

    notify_token: str
    transaction_id: str
    merchant_transaction_id: str = ""
    user: V1User | None = None
