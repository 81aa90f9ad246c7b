"""Orange Money wire models: WebPay (payment URL) and the Cameroon "omcoreapis" USSD push, typed.

Field names are Orange's own; unknown fields are kept (``extra="allow"``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


# -- WebPay ---------------------------------------------------------------------------------------------------


class WebPaymentRequest(_Wire):
    """``POST /orange-money-webpay/{cc}/v1/webpayment`` (``cc``: ``dev`` in the sandbox, else the country)."""

    merchant_key: str
    currency: str  # "OUV" in dev
    order_id: str = Field(max_length=30)
    amount: int
    return_url: str
    cancel_url: str
    notif_url: str = Field(max_length=120)
    lang: str = "fr"
    reference: str = ""


class WebPayment(_Wire):
    """201: the payer finishes on ``payment_url``; ``notif_token`` will come back in the notification."""

    status: int | None = None
    message: str | None = None
    pay_token: str
    payment_url: str
    notif_token: str


class TransactionStatusRequest(_Wire):
    order_id: str
    amount: int
    pay_token: str


class WebPayStatus(_Wire):
    """``status``: INITIATED, PENDING, EXPIRED, SUCCESS or FAILED; ``txnid`` once paid."""

    status: str
    order_id: str | None = None
    txnid: str | None = None


class WebPayNotification(_Wire):
    """The notification POSTed to ``notif_url``: no HMAC; ``notif_token`` must be the one from the init."""

    status: str
    notif_token: str
    txnid: str | None = None


# -- Cameroon USSD push (omcoreapis) ---------------------------------------------------------------------------


class PayToken(_Wire):
    pay_token: str = Field(alias="payToken")


class InitAnswer(_Wire):
    """``POST /omcoreapis/1.0.2/mp/init`` -> ``{message, data: {payToken}}``."""

    message: str | None = None
    data: PayToken


class UssdPayRequest(_Wire):
    """``POST /omcoreapis/1.0.2/mp/pay``: Orange pushes a USSD prompt to ``subscriberMsisdn``."""

    notif_url: str = Field(alias="notifUrl")
    channel_user_msisdn: str = Field(alias="channelUserMsisdn")
    amount: str
    subscriber_msisdn: str = Field(alias="subscriberMsisdn")
    pin: str
    order_id: str = Field(alias="orderId")
    description: str = ""
    pay_token: str = Field(alias="payToken")


class UssdPayment(_Wire):
    """The ``data`` of ``mp/pay``, ``mp/paymentstatus/{payToken}`` and ``mp/push/{payToken}``.

    ``status``: PENDING, SUCCESSFULL (sic), FAILED or EXPIRED; ``inittxnstatus`` carries Orange's code
    (``60019``: insufficient funds).
    """

    pay_token: str | None = Field(default=None, alias="payToken")
    status: str | None = None
    amount: str | int | float | None = None
    subscriber_msisdn: str | None = Field(default=None, alias="subscriberMsisdn")
    order_id: str | None = Field(default=None, alias="orderId")
    txnid: str | None = None
    inittxnstatus: str | None = None
    inittxnmessage: str | None = None
    confirmtxnstatus: str | None = None
    confirmtxnmessage: str | None = None


class UssdAnswer(_Wire):
    message: str | None = None
    data: UssdPayment
