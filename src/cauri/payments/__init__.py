"""Payments: collections and payouts, provider callbacks, webhooks to organisations, reconciliation.

Read docs/payments.md. Business modules use :mod:`cauri.payments.public`, re-exported here: ``collect``,
``payout``, ``cancel``, ``refund``, ``refunds_of``, ``get`` and ``on_settled`` settlement events.
"""

from cauri.payments import public
from cauri.payments.public import *  # noqa: F403 - the public API is exactly public.__all__

__all__ = public.__all__
