"""Wave API wire models (checkout sessions, payouts, balance, webhook events), typed.

Field names are Wave's own (snake_case); unknown fields are kept (``extra="allow"``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


class CheckoutSessionCreate(_Wire):
    """``POST /v1/checkout/sessions``. ``restrict_payer_mobile`` (E.164) lets only that Wave account pay."""

    amount: str
    currency: str = "XOF"
    success_url: str
    error_url: str
    client_reference: str | None = None
    restrict_payer_mobile: str | None = None


class PaymentError(_Wire):
    code: str | None = None
    message: str | None = None


class CheckoutSession(_Wire):
    """A checkout session: ``checkout_status`` open, complete or expired; ``payment_status`` processing,
    cancelled or succeeded; the payer pays on ``wave_launch_url`` (the Wave app or web page)."""

    id: str
    amount: str
    currency: str
    checkout_status: str
    payment_status: str
    wave_launch_url: str | None = None
    client_reference: str | None = None
    transaction_id: str | None = None
    when_created: str | None = None
    when_expires: str | None = None
    last_payment_error: PaymentError | None = None


class PayoutCreate(_Wire):
    """``POST /v1/payout`` (with the ``idempotency-key`` header). ``mobile`` is E.164."""

    currency: str = "XOF"
    receive_amount: str
    mobile: str
    name: str | None = None
    national_id: str | None = None
    client_reference: str | None = None
    payment_reason: str | None = None


class PayoutError(_Wire):
    error_code: str | None = None
    error_message: str | None = None


class Payout(_Wire):
    """A payout: ``status`` processing, succeeded, failed or reversed."""

    id: str
    currency: str
    receive_amount: str
    fee: str | None = None
    mobile: str | None = None
    name: str | None = None
    client_reference: str | None = None
    status: str
    timestamp: str | None = None
    payout_error: PayoutError | None = None


class PayoutBatchCreate(_Wire):
    """``POST /v1/payout-batch`` (with ``idempotency-key``): each item is a payout request of its own."""

    payouts: list[PayoutCreate]


class PayoutBatch(_Wire):
    """``GET /v1/payout-batch/{id}``: ``status`` processing or complete (complete: every payout was made; each
    one's own ``status`` and ``payout_error`` tell how it went -- a batch has no success or failure of its own)."""

    id: str
    status: str
    payouts: list[Payout] = []


class WaveTransaction(_Wire):
    """One movement of the wallet (``GET /v1/transactions``): ``amount`` signed (negative when money leaves)."""

    timestamp: str
    transaction_id: str
    transaction_type: str | None = None
    amount: str
    fee: str | None = None
    balance: str | None = None
    currency: str
    is_reversal: bool | None = None
    counterparty_name: str | None = None
    counterparty_mobile: str | None = None
    client_reference: str | None = None
    payment_reason: str | None = None
    checkout_api_session_id: str | None = None
    batch_id: str | None = None


class PageInfo(_Wire):
    start_cursor: str | None = None
    end_cursor: str | None = None
    has_next_page: bool = False


class TransactionPage(_Wire):
    """One page of a day's movements; ask again with ``after=page_info.end_cursor`` while ``has_next_page``."""

    page_info: PageInfo
    date: str | None = None
    items: list[WaveTransaction]


class WaveBalance(_Wire):
    amount: str
    currency: str


class WebhookEvent(_Wire):
    """``{id: "EV_…", type, data}``; ``data`` is the object the event is about (a checkout session…)."""

    id: str
    type: str
    data: dict[str, Any]
