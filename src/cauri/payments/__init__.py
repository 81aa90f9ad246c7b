"""Payments: collections and payouts, provider callbacks, webhooks to organisations, reconciliation.

Read docs/payments.md; other modules use :mod:`cauri.payments.service`.
"""
