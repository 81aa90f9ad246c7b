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

Concurrency is bounded per provider and credential in each process (:class:`ProviderLink`, built once and
shared by every batch and worker job of that process).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.connectors.base import (
    AccountHolder,
    BulkPayoutLine,
    BulkPayoutResult,
    Capability,
    PaymentConnector,
    PaymentStatus,
    PayoutRequest,
)
from cauri.connectors.credentials import ProviderCredential
from cauri.connectors.registry import registry
from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.kit.errors import ConnectorError, FailureReason, InvalidRequest, PaymentNotFound
from cauri.payments.outcomes import UNKNOWN, CallOutcome, of_send_error, of_status, of_status_error
from cauri.payments.outcomes import Verdict as CallVerdict

log = structlog.get_logger(__name__)

_REFERENCE_NAMESPACE = uuid.UUID("5d0c3f6e-8a41-4f7b-b2a8-3c9e7d1f2a64")


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


LANE_SIZE = 16  # calls at once per connector: httpx keeps 20 connections alive per client, so none is re-opened


@dataclass
class Lane:
    connector: PaymentConnector
    busy: int = 0


@dataclass
class ProviderLink:
    """An organisation's connectors for one provider, shared by every batch and worker of the process.

    At most ``concurrency`` calls run at once (the bound per provider and credential), spread over lanes of one
    connector each, so that every HTTP client keeps its connections alive instead of opening new ones.
    """

    provider: str
    lanes: list[Lane]
    gate: asyncio.Semaphore
    version: str = ""  # of the stored credential it was built from

    @property
    def connector(self) -> PaymentConnector:
        return self.lanes[0].connector

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[PaymentConnector]:
        async with self.gate:
            lane = min(self.lanes, key=lambda candidate: candidate.busy)
            lane.busy += 1
            try:
                yield lane.connector
            finally:
                lane.busy -= 1

    async def aclose(self) -> None:
        for lane in self.lanes:
            with contextlib.suppress(Exception):
                await lane.connector.aclose()


# Keyed by event loop, application settings (two apps in one process — tests, an embedded CLI — may point the same
# provider's development credential at different places), provider and credential.
LinkKey = tuple[int, int, str, str]
_links: dict[LinkKey, ProviderLink] = {}
_building: dict[LinkKey, asyncio.Lock] = {}


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
    """The process's link to ``provider`` for this organisation's credential (stored, else the development one):
    built once per credential version and event loop, then shared."""
    stored = (
        await session.execute(
            select(ProviderCredential.id, ProviderCredential.updated_at).where(
                ProviderCredential.organization_id == organization_id, ProviderCredential.provider == provider
            )
        )
    ).one_or_none()
    credential = str(stored.id) if stored is not None else "application"
    version = stored.updated_at.isoformat() if stored is not None else ""
    key = (id(asyncio.get_running_loop()), id(settings), provider, credential)
    link = _links.get(key)
    if link is not None and link.version == version:
        return link
    async with _building.setdefault(key, asyncio.Lock()):  # two workers starting together build one link
        link = _links.get(key)
        if link is not None and link.version == version:
            return link
        return await _build_link(
            session,
            key=key,
            organization_id=organization_id,
            provider=provider,
            settings=settings,
            version=version,
            stale=link,
        )


async def _build_link(
    session: AsyncSession,
    *,
    key: LinkKey,
    organization_id: uuid.UUID,
    provider: str,
    settings: Settings,
    version: str,
    stale: ProviderLink | None,
) -> ProviderLink:
    concurrency = settings.bulk_provider_concurrency
    lanes = [
        Lane(
            await registry.connector_for(
                session,
                organization_id=organization_id,
                provider=provider,
                app_settings=settings,
                policy_overrides=policy_overrides(settings, provider),
            )
        )
        for _ in range(math.ceil(concurrency / LANE_SIZE))
    ]
    if stale is not None:  # the credential changed: the old connectors are closed once idle
        task = asyncio.get_running_loop().create_task(_close_when_idle(stale))
        _closing.add(task)
        task.add_done_callback(_closing.discard)
    if len(_links) > 1000:  # links of event loops that are gone (test runs, CLI calls)
        _links.clear()
        _building.clear()
    link = _links[key] = ProviderLink(provider, lanes, asyncio.Semaphore(concurrency), version)
    return link


_closing: set[asyncio.Task[None]] = set()


STALE_LINK_GRACE_SECONDS = 300  # longer than any call in flight (timeouts and retries included)


async def _close_when_idle(link: ProviderLink) -> None:
    await asyncio.sleep(STALE_LINK_GRACE_SECONDS)
    await link.aclose()


_LINE_VERDICT: dict[CallVerdict, Verdict] = {
    CallVerdict.SUCCEEDED: Verdict.COMPLETED,
    CallVerdict.FAILED: Verdict.FAILED,
    CallVerdict.PENDING: Verdict.PENDING,
    CallVerdict.RETRY: Verdict.RETRY,
}


def _line(outcome: CallOutcome, payment_id: str | None = None, *, acknowledged: bool = False) -> LineOutcome:
    """A line's record of an outcome read by the shared table (:mod:`cauri.payments.outcomes`)."""
    return LineOutcome(
        _LINE_VERDICT[outcome.verdict],
        payment_id or None,
        outcome.provider_status,
        outcome.reason,
        acknowledged=acknowledged,
        retry_after=outcome.retry_after,
    )


def _of_provider(
    status: PaymentStatus, payment_id: str, provider_status: str | None, failure: FailureReason | None
) -> LineOutcome:
    return _line(of_status(status, provider_status, failure), payment_id, acknowledged=True)


def _sent_for(submitted_at: datetime | None) -> timedelta | None:
    return None if submitted_at is None else utcnow() - submitted_at


async def pay_line(
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
    try:
        async with link.slot() as connector:
            stop = cancelled()
            if order.maybe_sent and (stop or not connector.idempotent_creates):
                if not connector.status_by_reference:
                    # It may be there and we cannot ask: pending until the provider's word or the expiry.
                    return LineOutcome(Verdict.PENDING, provider_status=UNKNOWN)
                try:
                    found = await connector.payout_status(order.reference, None)
                    return _of_provider(found.status, found.provider_reference, found.provider_status, found.failure)
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
        return _of_provider(answer.status, answer.provider_reference, answer.provider_status, answer.failure)
    except ConnectorError as exc:
        outcome = of_send_error(exc)
        if outcome.unknown:
            log.info("bulk_payout_outcome_unknown", provider=link.provider, error=exc.code)
        return _line(outcome)


async def check_line(link: ProviderLink, order: LineOrder) -> LineOutcome:
    """Ask the provider about a line it acknowledged."""
    try:
        async with link.slot() as connector:
            found = await connector.payout_status(order.reference, order.provider_payment_id)
    except ConnectorError as exc:
        if not isinstance(exc, PaymentNotFound):
            log.info("bulk_payout_status_unavailable", provider=link.provider, error=exc.code)
        return _line(of_status_error(exc, sent_for=_sent_for(order.submitted_at)), order.provider_payment_id)
    return _of_provider(found.status, found.provider_reference, found.provider_status, found.failure)


async def look_up_payee(link: ProviderLink, phone: str) -> AccountHolder | None:
    """The provider's account-holder check; None when the provider did not answer."""
    async with link.slot() as connector:
        try:
            return await connector.account_holder(phone)
        except ConnectorError as exc:
            log.info("bulk_payee_lookup_failed", provider=link.provider, error=exc.code)
            return None


def can_look_up_payees(link: ProviderLink) -> bool:
    return link.connector.supports(Capability.ACCOUNT_HOLDER)


# -- providers with a bulk API of their own (Capability.BULK_PAYOUT: Mojaloop's bulkTransactions, the sandbox) ---


def bulk_size(link: ProviderLink) -> int:
    """Lines per call when the provider takes many payouts in one (one exchange per thousand lines, not per
    line); 0 when it takes them one by one."""
    connector = link.connector
    return connector.max_bulk_lines if connector.supports(Capability.BULK_PAYOUT) else 0


def _group_outcomes(result: BulkPayoutResult, orders: list[LineOrder]) -> dict[int, LineOutcome]:
    """Each line's outcome in a bulk result (items matched by our reference); a line not listed yet is pending."""
    items = {item.reference: item for item in result.items}
    outcomes: dict[int, LineOutcome] = {}
    for order in orders:
        item = items.get(order.reference)
        if item is None:
            outcomes[order.line_number] = LineOutcome(Verdict.PENDING, provider_status=result.state, acknowledged=True)
            continue
        outcomes[order.line_number] = _of_provider(
            item.status, item.provider_reference or "", item.provider_status, item.failure
        )
    return outcomes


def _every(orders: list[LineOrder], outcome: LineOutcome) -> dict[int, LineOutcome]:
    return {order.line_number: outcome for order in orders}


def _bulk_lines(orders: list[LineOrder]) -> tuple[list[BulkPayoutLine], dict[int, LineOutcome]]:
    """The bulk's lines; a line that cannot be sent at all fails alone, the others go."""
    lines: list[BulkPayoutLine] = []
    outcomes: dict[int, LineOutcome] = {}
    for order in orders:
        try:
            lines.append(BulkPayoutLine(order.reference, order.amount, order.currency, order.phone, order.payee_name))
        except InvalidRequest as exc:
            outcomes[order.line_number] = _line(of_send_error(exc))
    return lines, outcomes


async def pay_group(  # noqa: PLR0911 - one answer per way a bulk send ends
    link: ProviderLink,
    reference: str,
    orders: list[LineOrder],
    *,
    cancelled: Callable[[], bool],
    maybe_sent: bool,
) -> dict[int, LineOutcome]:
    """Send a group of lines as one bulk under ``reference`` (stored with the lines before this call).

    A group that may already be at the provider is first looked up by its reference: the provider answers for
    it, or does not know it (then it is sent; a resend of the same bulk is recognised by the provider anyway)."""
    lines, outcomes = _bulk_lines(orders)
    sendable = [order for order in orders if order.line_number not in outcomes]
    if not sendable:
        return outcomes
    try:
        async with link.slot() as connector:
            stop = cancelled()
            if maybe_sent or stop:
                try:
                    return outcomes | _group_outcomes(await connector.bulk_payout_status(reference), sendable)
                except PaymentNotFound:
                    pass  # it never arrived
            if stop:
                return outcomes | _every(sendable, LineOutcome(Verdict.NOT_SENT))
            await connector.bulk_payout(reference, lines)
        return outcomes | _every(sendable, LineOutcome(Verdict.PENDING, provider_status="RECEIVED", acknowledged=True))
    except InvalidRequest as exc:
        if maybe_sent:  # e.g. "modified request": an earlier send of this bulk did arrive; ask again later
            return outcomes | _every(sendable, LineOutcome(Verdict.PENDING, provider_status=UNKNOWN))
        return outcomes | _every(sendable, _line(of_send_error(exc)))
    except ConnectorError as exc:
        outcome = of_send_error(exc)
        if outcome.unknown:
            log.info("bulk_group_outcome_unknown", provider=link.provider, error=exc.code)
        return outcomes | _every(sendable, _line(outcome))


async def check_group(link: ProviderLink, reference: str, orders: list[LineOrder]) -> dict[int, LineOutcome]:
    """Ask the provider about a bulk it acknowledged (or may have): each line's outcome."""
    try:
        async with link.slot() as connector:
            return _group_outcomes(await connector.bulk_payout_status(reference), orders)
    except ConnectorError as exc:
        if not isinstance(exc, PaymentNotFound):
            log.info("bulk_group_status_unavailable", provider=link.provider, error=exc.code)
        submitted = [order.submitted_at for order in orders if order.submitted_at is not None]
        sent_for = _sent_for(min(submitted)) if submitted else None
        return _every(orders, _line(of_status_error(exc, sent_for=sent_for)))
