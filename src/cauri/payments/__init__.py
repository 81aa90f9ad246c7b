"""Payments: collections and payouts, provider callbacks, webhooks to organisations, reconciliation.

Read docs/payments.md. Business modules use :mod:`cauri.payments.public` (re-exported here): ``collect``,
``payout``, ``cancel``, ``get``, ``refund``, ``refunds_of`` and ``on_settled`` settlement events.
"""

from cauri.payments.public import (
    Counterparty,
    PaymentView,
    PhoneCounterparty,
    SettlementEvent,
    cancel,
    collect,
    get,
    on_settled,
    payout,
    record_settlement_event,
    refund,
    refunds_of,
)

__all__ = [
    "Counterparty",
    "PaymentView",
    "PhoneCounterparty",
    "SettlementEvent",
    "cancel",
    "collect",
    "get",
    "on_settled",
    "payout",
    "record_settlement_event",
    "refund",
    "refunds_of",
]
