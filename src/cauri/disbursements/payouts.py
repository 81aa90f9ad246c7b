"""Paying one line through its provider: the only place where disbursements talks to a payment connector.

Why not through :mod:`cauri.payments`? Its service creates a *payment* with its own ledger reservation and its own
submission job; a batch already holds one reservation for all its lines, and a 100,000-line batch needs its
lines claimed, sent and recorded by the thousand, not one payment row, one job and one ledger hold per line.
So this module is the small, explicit exception to "only payments talks to payment connectors": it builds the
organisation's connector through the connector registry (the same credentials, HTTP policy, breaker and
rate limit as payments) and follows the payments module's rules for the outbound call (docs/payments.md,
"Crash safety of the outbound call"):

* the reference the provider sees is ours, derived from the line's transfer id and attempt number
  (:func:`provider_reference`), stored before any call: a re-send after a crash carries the same reference;
* a line that may already have reached the provider is re-sent only to providers that deduplicate creates;
  other providers are first asked for its status by our reference, and only sent it if they do not know it;
* an error after which the provider may have the payment (timeout, 5xx after sending) leaves the line
  *pending*, settled later by a status query — never failed, never re-sent under a new reference.

Concurrency is bounded per provider and credential in each process (:func:`gate_for`), shared by every batch
and worker job of that process.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.connectors.base import AccountHolder, Capability, PaymentConnector, PaymentStatus, PayoutRequest
from cauri.connectors.credentials import ProviderCredential
from cauri.connectors.errors import (
    AuthError,
    ConnectorError,
    Declined,
    InvalidRequest,
    PaymentNotFound,
    RateLimited,
    Unavailable,
    Unsupported,
)
from cauri.connectors.registry import registry
from cauri.core.config import Settings
from cauri.core.db import utcnow

log = structlog.get_logger(__name__)

_REFERENCE_NAMESPACE = uuid.UUID("5d0c3f6e-8a41-4f7b-b2a8-3c9e7d1f2a64")
# A provider that still does not know an acknowledged payment this long after it was sent never got it.
UNKNOWN_AT_PROVIDER_GRACE = timedelta(minutes=10)


def provider_reference(batch_id: uuid.UUID, transfer_id: str, attempt: int) -> str:
    """Our reference for one payment attempt of one line: the same for every send of that attempt, by any
    process; a retry of a failed line (a new attempt) gets a new one. A UUID, which every provider accepts."""
    return str(uuid.uuid5(_REFERENCE_NAMESPACE, f"{batch_id}:{transfer_id}:{attempt}"))


class Verdict(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    PENDING = "pending"  # sent (or maybe sent): ask again later
    RETRY = "retry"  # not sent (rate limit, provider unreachable before sending): send again later
    NOT_SENT = "not_sent"  # the batch was cancelled and the provider never got this line


@dataclass(frozen=True, slots=True)
class LineOutcome:
    verdict: Verdict
    provider_payment_id: str | None = None
    provider_status: str | None = None
    reason: str | None = None  # FailureReason value (or one of ours) when failed
    acknowledged: bool = False  # the provider answered about this very payment
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class LineOrder:
    """What the provider calls about one line need, read from its row when it was claimed."""

    line_number: int
    reference: str
    amount: int
    currency: str
    phone: str
    payee_name: str | None
    provider_payment_id: str | None
    submitted_at: datetime | None  # the provider acknowledged this attempt
    maybe_sent: bool  # an earlier claim of this attempt may have reached the provider


@dataclass
class ProviderLink:
    """An organisation's connector for one provider, and the concurrency gate of its credential."""

    provider: str
    connector: PaymentConnector
    gate: asyncio.Semaphore

    async def aclose(self) -> None:
        await self.connector.aclose()


_gates: dict[tuple[int, str, str], asyncio.Semaphore] = {}


def gate_for(provider: str, credential: str, size: int) -> asyncio.Semaphore:
    """The process-wide limit of concurrent calls for one provider and credential (per event loop)."""
    key = (id(asyncio.get_running_loop()), provider, credential)
    gate = _gates.get(key)
    if gate is None:
        if len(_gates) > 1000:  # loops of finished test runs or CLI calls
            _gates.clear()
        gate = _gates[key] = asyncio.Semaphore(size)
    return gate


def policy_overrides(settings: Settings, provider: str) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if settings.payments_provider_read_timeout_seconds is not None:
        overrides["read_timeout"] = settings.payments_provider_read_timeout_seconds
    limit = settings.bulk_provider_rate_limits.get(provider)
    if limit is not None:
        overrides["rate_limit"] = None if limit.lower() in ("", "none", "off") else limit
    return overrides


async def open_link(
    session: AsyncSession, *, organization_id: uuid.UUID, provider: str, settings: Settings
) -> ProviderLink:
    """The organisation's connector for ``provider`` (stored credentials, else the development ones)."""
    credential_id = (
        await session.execute(
            select(ProviderCredential.id).where(
                ProviderCredential.organization_id == organization_id, ProviderCredential.provider == provider
            )
        )
    ).scalar_one_or_none()
    connector = await registry.connector_for(
        session,
        organization_id=organization_id,
        provider=provider,
        app_settings=settings,
        policy_overrides=policy_overrides(settings, provider),
    )
    credential = str(credential_id) if credential_id is not None else "application"
    return ProviderLink(provider, connector, gate_for(provider, credential, settings.bulk_provider_concurrency))


def _of_provider(
    status: PaymentStatus, payment_id: str, provider_status: str | None, reason: str | None
) -> LineOutcome:
    if status is PaymentStatus.SUCCEEDED:
        return LineOutcome(Verdict.COMPLETED, payment_id or None, provider_status, acknowledged=True)
    if status is PaymentStatus.PENDING:
        return LineOutcome(Verdict.PENDING, payment_id or None, provider_status, acknowledged=True)
    return LineOutcome(Verdict.FAILED, payment_id or None, provider_status, reason or status.value, acknowledged=True)


def _refused(exc: ConnectorError, reason: str) -> LineOutcome:
    return LineOutcome(Verdict.FAILED, provider_status=exc.provider_code, reason=reason)


async def pay_line(  # noqa: PLR0911 - one answer per kind of provider error
    link: ProviderLink,
    order: LineOrder,
    *,
    cancelled: Callable[[], bool],
    description: str,
    metadata: Mapping[str, str],
) -> LineOutcome:
    """Send the payout of a line not yet acknowledged by the provider (or find out that an earlier send did).

    ``cancelled`` is asked once a call slot is free, right before sending: a batch cancelled while the line waited
    for its turn never sends it."""
    connector = link.connector
    try:
        async with link.gate:
            stop = cancelled()
            if order.maybe_sent and (stop or not connector.idempotent_creates):
                if not connector.status_by_reference:
                    # It may be there and we cannot ask: pending until the provider's word or the expiry.
                    return LineOutcome(Verdict.PENDING, provider_status="unknown")
                try:
                    found = await connector.payout_status(order.reference, None)
                    return _of_provider(
                        found.status,
                        found.provider_reference,
                        found.provider_status,
                        found.failure.value if found.failure else None,
                    )
                except PaymentNotFound:
                    pass  # it never arrived
            if stop:
                return LineOutcome(Verdict.NOT_SENT)
            answer = await connector.payout(
                PayoutRequest(
                    reference=order.reference,
                    amount=order.amount,
                    currency=order.currency,
                    payee_phone=order.phone,
                    description=description,
                    payee_name=order.payee_name,
                    metadata=metadata,
                )
            )
        return _of_provider(
            answer.status,
            answer.provider_reference,
            answer.provider_status,
            answer.failure.value if answer.failure else None,
        )
    except Declined as exc:
        return _refused(exc, exc.reason.value)
    except InvalidRequest as exc:
        return _refused(exc, exc.reason.value if exc.reason else "invalid_request")
    except Unsupported as exc:
        return _refused(exc, "unsupported")
    except AuthError as exc:
        log.error("bulk_provider_auth_failed", provider=link.provider, code=exc.code)
        return _refused(exc, "provider_auth_failed")
    except (RateLimited, Unavailable) as exc:
        if exc.outcome_unknown:
            return LineOutcome(Verdict.PENDING, provider_status="unknown")
        return LineOutcome(Verdict.RETRY, provider_status=exc.code, retry_after=getattr(exc, "retry_after", None))
    except ConnectorError as exc:
        # A timeout after sending, or an answer we could not read: the provider may have it.
        log.info("bulk_payout_outcome_unknown", provider=link.provider, error=exc.code)
        return LineOutcome(Verdict.PENDING, provider_status="unknown")


async def check_line(link: ProviderLink, order: LineOrder) -> LineOutcome:
    """Ask the provider about a line it acknowledged."""
    connector = link.connector
    try:
        async with link.gate:
            found = await connector.payout_status(order.reference, order.provider_payment_id)
    except PaymentNotFound:
        sent_long_ago = order.submitted_at is not None and utcnow() - order.submitted_at > UNKNOWN_AT_PROVIDER_GRACE
        if sent_long_ago:
            return LineOutcome(Verdict.FAILED, order.provider_payment_id, "not_found", "provider_error")
        return LineOutcome(Verdict.PENDING, order.provider_payment_id, "not_found")
    except Unsupported:
        return LineOutcome(Verdict.PENDING, order.provider_payment_id, "unknown")
    except ConnectorError as exc:
        log.info("bulk_payout_status_unavailable", provider=link.provider, error=exc.code)
        return LineOutcome(Verdict.PENDING, order.provider_payment_id, "unknown")
    return _of_provider(
        found.status, found.provider_reference, found.provider_status, found.failure.value if found.failure else None
    )


async def look_up_payee(link: ProviderLink, phone: str) -> AccountHolder | None:
    """The provider's account-holder check; None when the provider did not answer."""
    async with link.gate:
        try:
            return await link.connector.account_holder(phone)
        except ConnectorError as exc:
            log.info("bulk_payee_lookup_failed", provider=link.provider, error=exc.code)
            return None


def can_look_up_payees(link: ProviderLink) -> bool:
    return link.connector.supports(Capability.ACCOUNT_HOLDER)
