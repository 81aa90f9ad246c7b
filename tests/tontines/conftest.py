"""Tontine tests run the payments tests' app: served over real HTTP on 127.0.0.1 next to the sandbox simulator, on
a fresh database per backend (SQLite and PostgreSQL), so a mobile-money contribution or a payout really goes to
the provider's simulator and comes back as a signed callback and a settlement event."""

from __future__ import annotations

from tests.payments.conftest import app, client, payments_settings, sandbox

__all__ = ["app", "client", "payments_settings", "sandbox"]
