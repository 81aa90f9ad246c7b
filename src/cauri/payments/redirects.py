"""Redirect providers: the payer finishes on a page the provider gives (Wave checkout, Orange WebPay, FedaPay,
CinetPay) instead of a USSD prompt on their phone.

The create call's answer carries that ``payment_url`` (and, when the provider's API says so, until when it works);
it is stored on the payment and shown in the collection's API answer while the payment is open. Orange WebPay also
issues a per-payment ``notif_token`` that its notification echoes, naming nothing else: only its SHA-256 is stored,
so the callback is matched to its payment (:func:`payment_by_callback_token`) without the table holding a secret
that could forge one. A matched notification is still only a doorbell: the provider's answer to a status query
settles the payment (docs/payments.md, "Redirect providers").
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.payments.models import Payment
from cauri.payments.states import OPEN_STATUSES, Status

if TYPE_CHECKING:  # settlement -> webhooks -> views imports this module
    from cauri.payments.settlement import Outcome

PAYMENT_URL_MAX = 1000


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def remember(payment: Payment, outcome: Outcome) -> None:
    """Keep what the create call's answer says about the payer's page and the callback token (first answer wins)."""
    if outcome.payment_url and not payment.payment_url and len(outcome.payment_url) <= PAYMENT_URL_MAX:
        payment.payment_url = outcome.payment_url
        payment.payment_url_expires_at = outcome.payment_url_expires_at
    if outcome.callback_token and not payment.callback_token_hash:
        payment.callback_token_hash = token_hash(outcome.callback_token)


def payment_url_of(payment: Payment | Row[Any]) -> tuple[str | None, datetime | None]:
    """The page to send the payer to and until when: the provider's expiry if it gave one, else the payment's.

    None once the payment is settled: the page no longer takes money, so no client should send a payer there.
    """
    if not payment.payment_url or Status(payment.status) not in OPEN_STATUSES:
        return None, None
    return payment.payment_url, payment.payment_url_expires_at or payment.expires_at


async def payment_by_callback_token(
    session: AsyncSession, *, provider: str, token: str, organization_id: uuid.UUID | None
) -> Payment | None:
    """The payment a token-named callback is about; None for a token we never issued (forged, or another org's)."""
    statement = select(Payment).where(Payment.provider == provider, Payment.callback_token_hash == token_hash(token))
    if organization_id is not None:
        statement = statement.where(Payment.organization_id == organization_id)
    return (await session.execute(statement.limit(1))).scalar_one_or_none()


async def status_for_payer(session: AsyncSession, *, provider: str, outbound_reference: str) -> Status | None:
    """A payment's status for the payer's return page, by the reference we sent the provider (a random 128-bit
    value the payer's page may carry); nothing else about the payment leaves this function."""
    found = await session.execute(
        select(Payment.status).where(Payment.provider == provider, Payment.outbound_reference == outbound_reference)
    )
    status = found.scalar_one_or_none()
    return Status(status) if status is not None else None
