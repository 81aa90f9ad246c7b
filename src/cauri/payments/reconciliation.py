"""Reconciliation: one day of one organisation's payments with one provider, checked against the provider.

For every payment created that day (UTC) we ask the provider for its status by our reference and list what
disagrees: ``missing`` (the provider does not know a payment it should), ``status_differs`` (money moved on one
side and not the other, or one side is settled and the other is not), ``amount_differs``, and ``unreachable``
(the provider did not answer; run it again). Runs are stored, so the report is read without calling anyone.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.base import PaymentConnector
from cauri.core.config import Settings
from cauri.core.db import unit_of_work, utcnow
from cauri.core.errors import NotFound
from cauri.kit.errors import ConnectorError, PaymentNotFound
from cauri.payments.models import Payment, ReconciliationItem, ReconciliationRun
from cauri.payments.settlement import status_of
from cauri.payments.states import OPEN_STATUSES, Status
from cauri.payments.submission import Snapshot, can_query, open_connector, query_status

log = structlog.get_logger(__name__)

RECONCILE_JOB = "payments.reconcile"
_NO_MONEY_MOVED = frozenset({Status.FAILED, Status.EXPIRED, Status.CANCELLED})


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


# Ours after a success the money really made, given back since (by a refund or a reversal: operations of their own).
_MONEY_MOVED = frozenset({Status.SUCCEEDED, Status.PARTIALLY_REFUNDED, Status.REFUNDED, Status.REVERSED})


def statuses_disagree(ours: Status, theirs: Status) -> bool:
    """Money moved on one side only, or one side is settled while the other is still open."""
    if ours is Status.REVERSED:
        # The provider may show the payout as paid or as undone (Wave: ``reversed``, read as cancelled).
        return theirs not in (Status.SUCCEEDED, Status.CANCELLED)
    if (ours in _MONEY_MOVED) != (theirs is Status.SUCCEEDED):
        return True
    ours_open = ours in OPEN_STATUSES
    theirs_open = theirs is Status.PENDING
    return ours_open != theirs_open


def _never_reached_provider(payment: Payment) -> bool:
    """Refused at the create call (or never sent): the provider rightly has no record of it."""
    return Status(payment.status) in _NO_MONEY_MOVED and payment.provider_reference is None


async def start_run(
    session: AsyncSession, *, organization_id: uuid.UUID, provider: str, day: date
) -> ReconciliationRun:
    run = ReconciliationRun(organization_id=organization_id, provider=provider, day=day, state="running")
    session.add(run)
    await session.flush()
    return run


async def latest_run(
    session: AsyncSession, *, organization_id: uuid.UUID, provider: str, day: date
) -> ReconciliationRun:
    run = (
        await session.execute(
            select(ReconciliationRun)
            .where(
                ReconciliationRun.organization_id == organization_id,
                ReconciliationRun.provider == provider,
                ReconciliationRun.day == day,
            )
            .order_by(ReconciliationRun.started_at.desc(), ReconciliationRun.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if run is None:
        raise NotFound(
            "Aucun rapprochement pour ce jour et ce fournisseur : lancez-en un (POST /reconciliation).",
            "No reconciliation for this day and provider: start one (POST /reconciliation).",
            code="reconciliation_not_found",
        )
    return run


async def items_of(session: AsyncSession, run_id: uuid.UUID) -> list[ReconciliationItem]:
    rows = await session.execute(
        select(ReconciliationItem).where(ReconciliationItem.run_id == run_id).order_by(ReconciliationItem.id)
    )
    return list(rows.scalars().all())


def _item(payment: Payment, kind: str, provider_status: str | None, provider_amount: int | None) -> ReconciliationItem:
    return ReconciliationItem(
        payment_id=payment.id,
        kind=kind,
        reference=payment.reference,
        outbound_reference=payment.outbound_reference,
        our_status=payment.status,
        provider_status=provider_status,
        our_amount=payment.amount,
        provider_amount=provider_amount,
        currency=payment.currency,
    )


async def run(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, run_id: uuid.UUID) -> None:
    """The ``payments.reconcile`` job: compare, then store the items and close the run."""
    async with sessionmaker() as session:
        found = await session.get(ReconciliationRun, run_id)
        if found is None or found.state != "running":
            return
        start, end = day_bounds(found.day)
        payments = list(
            (
                await session.execute(
                    select(Payment)
                    .where(
                        Payment.organization_id == found.organization_id,
                        Payment.provider == found.provider,
                        Payment.created_at >= start,
                        Payment.created_at < end,
                    )
                    .order_by(Payment.created_at, Payment.id)
                )
            )
            .scalars()
            .all()
        )
    items: list[ReconciliationItem] = []
    error: str | None = None
    if payments:
        connector: PaymentConnector | None = None
        try:
            connector = await open_connector(sessionmaker, settings, Snapshot.of(payments[0]))
        except ConnectorError as exc:
            error = exc.code
        if connector is not None:
            async with connector:
                for payment in payments:
                    items.extend(await _compare(connector, payment))
    async with unit_of_work(sessionmaker) as session:
        current = await session.get(ReconciliationRun, run_id, with_for_update=True, populate_existing=True)
        if current is None or current.state != "running":
            return
        for item in items:
            item.run_id = run_id
            session.add(item)
        current.checked = len(payments) if error is None else 0
        current.mismatches = len(items)
        current.error = error
        current.state = "failed" if error else "completed"
        current.finished_at = utcnow()


async def _compare(connector: PaymentConnector, payment: Payment) -> list[ReconciliationItem]:
    snapshot = Snapshot.of(payment)
    if not can_query(connector, snapshot):
        return [] if _never_reached_provider(payment) else [_item(payment, "unreachable", None, None)]
    try:
        theirs = await query_status(connector, snapshot)
    except PaymentNotFound:
        return [] if _never_reached_provider(payment) else [_item(payment, "missing", None, None)]
    except ConnectorError as exc:
        log.info("reconciliation_unreachable", payment_id=str(payment.id), error=exc.code)
        return [_item(payment, "unreachable", None, None)]
    items = []
    word = theirs.provider_status or theirs.status.value
    if statuses_disagree(Status(payment.status), status_of(theirs.status)):
        items.append(_item(payment, "status_differs", word, theirs.amount))
    if theirs.amount != payment.amount or theirs.currency != payment.currency:
        items.append(_item(payment, "amount_differs", word, theirs.amount))
    return items


async def pairs_to_reconcile(session: AsyncSession, day: date) -> list[tuple[uuid.UUID, str]]:
    """(organisation, provider) pairs with payments on ``day`` and no completed run for it yet."""
    start, end = day_bounds(day)
    active = (
        await session.execute(
            select(Payment.organization_id, Payment.provider)
            .where(Payment.created_at >= start, Payment.created_at < end)
            .distinct()
        )
    ).all()
    done = set(
        (
            await session.execute(
                select(ReconciliationRun.organization_id, ReconciliationRun.provider).where(
                    ReconciliationRun.day == day, ReconciliationRun.state.in_(("running", "completed"))
                )
            )
        ).all()
    )
    return [(org, provider) for org, provider in active if (org, provider) not in done]
