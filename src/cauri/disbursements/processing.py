"""Paying a batch: workers claim lines, call the provider, and record what they learnt with the ledger posting.

Convention 6: the database is the source of truth, the job is a doorbell. A worker (:func:`run_worker`, run by the
``disbursements.process`` job; several per batch, in any number of processes):

1. **claims** lines in one short transaction: ``PENDING`` lines, and ``PROCESSING`` lines whose lease expired
   (their worker died, or their next status query is due), ``FOR UPDATE SKIP LOCKED`` on PostgreSQL. A pending
   line starts a new attempt with its own provider reference (:func:`payouts.provider_reference`); the claim,
   its lease and a fencing token are committed **before** any provider call;
2. **calls** the provider with no transaction open, at most ``bulk_provider_concurrency`` calls at once per
   provider and credential in the process: a send for a line never acknowledged (re-sent with the same
   reference, or first looked up by it: :func:`payouts.pay_line`), a status query for an acknowledged one;
3. **records** outcomes every half second: under the batch row lock, only lines still leased with its token,
   marking them COMPLETED / FAILED / CANCELLED or scheduling their next status query, **posting the sum of the
   newly completed lines from the reservation in the same transaction** (:func:`reservation.settle`) and moving
   the batch's counters. So ledger, lines and counters agree at every commit.

A worker killed at any moment leaves claimed lines whose lease runs out; another worker (the job's retry, a
continuation, or the periodic sweeper's) re-claims them and, since the reference is the same, the provider pays
each line at most once. When no line is left to pay, the last worker **finalizes**: the unused reservation is
voided and the batch ends COMPLETED, PARTIALLY_COMPLETED, FAILED or CANCELLED.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings
from cauri.core.db import unit_of_work, utcnow
from cauri.core.jobs import enqueue
from cauri.disbursements import reservation
from cauri.disbursements.callbacks import enqueue_final_callback, enqueue_progress_callbacks
from cauri.disbursements.models import (
    FINAL_BATCH_STATES,
    RUNNING_BATCH_STATES,
    BatchState,
    BulkBatch,
    BulkLine,
    LineState,
)
from cauri.disbursements.notices import notify_operators_of_end
from cauri.disbursements.payouts import (
    LineOrder,
    LineOutcome,
    ProviderLink,
    Verdict,
    bulk_size,
    check_group,
    check_line,
    open_link,
    pay_group,
    pay_line,
    provider_reference,
)

log = structlog.get_logger(__name__)

WORK_JOB = "disbursements.process"
RECORD_EVERY_SECONDS = 0.5
RECORD_EVERY_LINES = 500
WORKER_BUDGET_SECONDS = 30.0  # then hand over to a continuation job (clean shutdowns, fair sharing)
WAIT_FOR_DUE_SECONDS = 3.0  # a worker waits this long for the next due status query rather than leave
IN_TASK_POLLS = 3  # status queries right after an acknowledged send, before handing the line back to the table

_lines = cast(Table, BulkLine.__table__)


# -- starting and ending -----------------------------------------------------------------------------------------


async def enqueue_workers(session: AsyncSession, batch: BulkBatch, settings: Settings) -> None:
    """Ring for the batch's workers (in the caller's transaction): one job per slot and run."""
    for slot in range(settings.bulk_workers_per_batch):
        await enqueue(
            session,
            WORK_JOB,
            {"batch_id": str(batch.id), "run": batch.run, "slot": slot},
            dedupe_key=f"{WORK_JOB}:{batch.id}:{batch.run}:{slot}",
        )


def remaining_lines(batch: BulkBatch) -> int:
    return batch.valid_lines - batch.completed_lines - batch.failed_lines - batch.cancelled_lines


def final_state(batch: BulkBatch) -> BatchState:
    if batch.cancel_requested:
        return BatchState.CANCELLED
    if batch.failed_lines == 0 and batch.completed_lines > 0:
        return BatchState.COMPLETED
    if batch.completed_lines == 0:
        return BatchState.FAILED
    return BatchState.PARTIALLY_COMPLETED


async def finalize_if_done(session: AsyncSession, batch: BulkBatch, settings: Settings) -> bool:
    """End a running batch whose lines are all settled (the caller holds its lock); True when it ended now."""
    if batch.state not in RUNNING_BATCH_STATES or remaining_lines(batch) > 0:
        return False
    await reservation.release(session, batch)
    batch.state = final_state(batch).value
    batch.finished_at = utcnow()
    await enqueue_final_callback(session, batch, settings)
    await notify_operators_of_end(session, batch)
    log.info(
        "bulk_batch_finished",
        batch_id=str(batch.id),
        state=batch.state,
        completed=batch.completed_lines,
        failed=batch.failed_lines,
        cancelled=batch.cancelled_lines,
    )
    return True


async def _lock(session: AsyncSession, batch_id: uuid.UUID) -> BulkBatch | None:
    statement = (
        select(BulkBatch).where(BulkBatch.id == batch_id).with_for_update().execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


# -- claiming ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchInfo:
    id: uuid.UUID
    organization_id: uuid.UUID
    provider: str
    cancelled: bool
    description: str


@dataclass(frozen=True)
class Claim:
    token: uuid.UUID
    orders: list[LineOrder]
    group: str | None = None  # the bulk reference, for providers with a bulk API


_CLAIM_COLUMNS = (
    BulkLine.line_number,
    BulkLine.transfer_id,
    BulkLine.amount,
    BulkLine.currency,
    BulkLine.party_identifier,
    BulkLine.payee_name,
    BulkLine.state,
    BulkLine.attempts,
    BulkLine.provider_reference,
    BulkLine.provider_payment_id,
    BulkLine.submitted_at,
    BulkLine.provider_group,
)


async def read_batch(sessionmaker: async_sessionmaker[AsyncSession], batch_id: uuid.UUID) -> BatchInfo | None:
    """The running batch, flipped from RESERVED to PROCESSING by its first worker; None when not running."""
    async with unit_of_work(sessionmaker) as session:
        batch = await session.get(BulkBatch, batch_id)
        if batch is None or batch.state not in RUNNING_BATCH_STATES:
            return None
        if batch.state == BatchState.RESERVED:
            batch = await _lock(session, batch_id)
            if batch is None or batch.state not in RUNNING_BATCH_STATES:
                return None
            if batch.state == BatchState.RESERVED:
                batch.state = BatchState.PROCESSING.value
                batch.started_at = batch.started_at or utcnow()
        return BatchInfo(
            id=batch.id,
            organization_id=batch.organization_id,
            provider=batch.provider,
            cancelled=batch.cancel_requested,
            description=f"Cauri {batch.file_name}"[:100],
        )


def _lease_rows(rows: list[Any], batch_id: uuid.UUID) -> tuple[list[LineOrder], list[dict[str, Any]]]:
    """Orders for claimed rows (a pending line starts a new attempt, with its own reference) and their updates."""
    orders: list[LineOrder] = []
    values: list[dict[str, Any]] = []
    for row in rows:
        fresh = row.state == LineState.PENDING.value
        attempt = row.attempts + 1 if fresh else row.attempts
        reference = (
            provider_reference(batch_id, row.transfer_id, attempt)
            if fresh or not row.provider_reference
            else row.provider_reference
        )
        orders.append(
            LineOrder(
                line_number=row.line_number,
                reference=reference,
                amount=row.amount,
                currency=row.currency,
                phone=row.party_identifier,
                payee_name=row.payee_name,
                provider_payment_id=None if fresh else row.provider_payment_id,
                submitted_at=None if fresh else row.submitted_at,
                maybe_sent=not fresh,
            )
        )
        values.append({"b_line": row.line_number, "b_attempts": attempt, "b_reference": reference})
    return orders, values


async def _take(
    session: AsyncSession,
    batch_id: uuid.UUID,
    values: list[dict[str, Any]],
    *,
    token: uuid.UUID,
    lease_until: datetime,
    group: str | None,
) -> None:
    await session.execute(
        update(_lines)
        .where(_lines.c.batch_id == batch_id, _lines.c.line_number == bindparam("b_line"))
        .values(
            state=LineState.PROCESSING.value,
            attempts=bindparam("b_attempts"),
            provider_reference=bindparam("b_reference"),
            provider_group=group,
            lease_until=lease_until,
            lease_token=token,
            updated_at=utcnow(),
        ),
        values,
    )


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    batch_id: uuid.UUID,
    info: BatchInfo,
    *,
    limit: int,
    settings: Settings,
) -> Claim:
    """Lines to work on now, leased to a new token (committed before any provider call)."""
    token = uuid.uuid4()
    if limit <= 0:
        return Claim(token, [])
    now = utcnow()
    due = (BulkLine.state == LineState.PROCESSING.value) & (BulkLine.lease_until < now)
    # After a cancel, no new line is sent: only lines that may be at the provider are looked at again.
    wanted = due if info.cancelled else or_(BulkLine.state == LineState.PENDING.value, due)
    async with unit_of_work(sessionmaker) as session:
        query = select(*_CLAIM_COLUMNS).where(BulkLine.batch_id == batch_id, wanted).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list((await session.execute(query)).all())
        if not rows:
            return Claim(token, [])
        orders, values = _lease_rows(rows, batch_id)
        lease_until = now + timedelta(seconds=settings.bulk_line_lease_seconds)
        await _take(session, batch_id, values, token=token, lease_until=lease_until, group=None)
    return Claim(token, orders)


async def claim_group(
    sessionmaker: async_sessionmaker[AsyncSession],
    batch_id: uuid.UUID,
    info: BatchInfo,
    *,
    size: int,
    settings: Settings,
) -> Claim:
    """A group of lines for a bulk API: a group whose lease ran out (its worker died, or its next status query is
    due), else up to ``size`` new lines under a new bulk reference, stored with them before any call."""
    token = uuid.uuid4()
    now = utcnow()
    async with unit_of_work(sessionmaker) as session:
        group = (
            await session.execute(
                select(BulkLine.provider_group)
                .where(
                    BulkLine.batch_id == batch_id,
                    BulkLine.state == LineState.PROCESSING.value,
                    BulkLine.lease_until < now,
                    BulkLine.provider_group.is_not(None),
                )
                .limit(1)
            )
        ).scalar_one_or_none()
        if group is not None:
            query = (
                select(*_CLAIM_COLUMNS)
                .where(
                    BulkLine.batch_id == batch_id,
                    BulkLine.provider_group == group,
                    BulkLine.state == LineState.PROCESSING.value,
                )
                .order_by(BulkLine.line_number)
            )
        elif not info.cancelled:
            group = str(uuid.uuid4())
            query = (
                select(*_CLAIM_COLUMNS)
                .where(BulkLine.batch_id == batch_id, BulkLine.state == LineState.PENDING.value)
                .order_by(BulkLine.line_number)
                .limit(size)
            )
        else:
            return Claim(token, [])
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list((await session.execute(query)).all())
        if not rows:
            return Claim(token, [])
        orders, values = _lease_rows(rows, batch_id)
        lease_until = now + timedelta(seconds=settings.bulk_line_lease_seconds)
        await _take(session, batch_id, values, token=token, lease_until=lease_until, group=group)
    return Claim(token, orders, group)


# -- calling the provider ----------------------------------------------------------------------------------------


def poll_delay(settings: Settings, polls: int) -> float:
    delay: float = settings.bulk_poll_initial_seconds * 2.0 ** min(polls, 30)
    return min(delay, settings.bulk_poll_max_seconds)


@dataclass(frozen=True)
class Result:
    token: uuid.UUID
    order: LineOrder
    outcome: LineOutcome
    polls: int  # status queries made in this round


async def work_on(
    link: ProviderLink,
    info: BatchInfo,
    token: uuid.UUID,
    order: LineOrder,
    *,
    settings: Settings,
    stop: asyncio.Event,
) -> Result:
    """One line, one round: send it or ask about it, then ask a few more times while the provider settles it."""
    polls = 0
    try:
        if order.submitted_at is None:
            outcome = await pay_line(
                link,
                order,
                cancelled=stop.is_set,
                description=info.description,
                metadata={"cauri_bulk_batch": str(info.id), "cauri_line": str(order.line_number)},
            )
        else:
            outcome = await check_line(link, order)
            polls = 1
        current = order
        while outcome.verdict is Verdict.PENDING and outcome.acknowledged and polls < IN_TASK_POLLS:
            await asyncio.sleep(poll_delay(settings, polls))
            current = dataclasses.replace(
                current,
                provider_payment_id=outcome.provider_payment_id or current.provider_payment_id,
                submitted_at=current.submitted_at or utcnow(),
            )
            outcome = await check_line(link, current)
            polls += 1
    except Exception:
        # A bug or an unforeseen answer: the provider may have the payment, so it is pending, never failed.
        log.exception("bulk_line_round_failed", batch_id=str(info.id), line=order.line_number)
        outcome = LineOutcome(Verdict.PENDING, provider_status="error")
    return Result(token, order, outcome, polls)


async def work_on_group(
    link: ProviderLink, info: BatchInfo, claimed: Claim, *, settings: Settings, stop: asyncio.Event
) -> list[Result]:
    """One group, one round, through the provider's bulk API: send it (or ask about it), then ask a few more
    times while the provider settles it."""
    orders = claimed.orders
    assert claimed.group is not None
    polls = 0
    try:
        if all(order.submitted_at is not None for order in orders):
            outcomes = await check_group(link, claimed.group, orders)
            polls = 1
        else:
            maybe_sent = any(order.maybe_sent for order in orders)
            outcomes = await pay_group(link, claimed.group, orders, cancelled=stop.is_set, maybe_sent=maybe_sent)
        while polls < IN_TASK_POLLS:
            waiting = [order for order in orders if _settling(outcomes[order.line_number])]
            if not waiting:
                break
            await asyncio.sleep(poll_delay(settings, polls))
            outcomes.update(await check_group(link, claimed.group, waiting))
            polls += 1
    except Exception:
        log.exception("bulk_group_round_failed", batch_id=str(info.id), group=claimed.group)
        outcomes = {order.line_number: LineOutcome(Verdict.PENDING, provider_status="error") for order in orders}
    return [Result(claimed.token, order, outcomes[order.line_number], polls) for order in orders]


def _settling(outcome: LineOutcome) -> bool:
    return outcome.verdict is Verdict.PENDING and outcome.acknowledged


# -- recording ---------------------------------------------------------------------------------------------------


@dataclass
class _Round:
    """A round of outcomes sorted into the rows to write (values keyed for executemany)."""

    completed: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    failed: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    cancelled: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    waiting: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    paid: int = 0
    failed_amount: int = 0


def _sort(results: list[Result], owned: dict[int, Any], now: datetime, settings: Settings) -> _Round:
    sorted_ = _Round()
    expiry = timedelta(seconds=settings.bulk_line_expiry_seconds)
    for result in results:
        row = owned.get(result.order.line_number)
        if row is None or row.lease_token != result.token:
            continue  # re-claimed by another worker meanwhile: its outcome will be recorded there
        outcome = result.outcome
        common = {
            "b_line": row.line_number,
            "b_payment": outcome.provider_payment_id or result.order.provider_payment_id,
            "b_status": (outcome.provider_status or "")[:64] or None,
        }
        verdict = outcome.verdict
        submitted_at = row.submitted_at or (now if verdict is Verdict.PENDING else None)
        if verdict is Verdict.PENDING and submitted_at is not None and now - submitted_at > expiry:
            verdict, outcome = Verdict.FAILED, dataclasses.replace(outcome, reason="expired")
        if verdict is Verdict.COMPLETED:
            sorted_.paid += row.amount
            sorted_.completed.append(common)
        elif verdict is Verdict.FAILED:
            sorted_.failed_amount += row.amount
            sorted_.failed.append({**common, "b_reason": (outcome.reason or "provider_error")[:500]})
        elif verdict is Verdict.NOT_SENT:
            sorted_.cancelled.append(common)
        else:
            polls = row.polls + max(result.polls, 1)
            delay = outcome.retry_after if outcome.retry_after is not None else poll_delay(settings, polls)
            sorted_.waiting.append(
                {
                    **common,
                    "b_submitted": submitted_at if verdict is Verdict.PENDING else row.submitted_at,
                    "b_polls": polls,
                    "b_lease": now + timedelta(seconds=delay),
                }
            )
    return sorted_


async def _write(
    session: AsyncSession, batch_id: uuid.UUID, sorted_: _Round, settlement: int | None, now: datetime
) -> None:
    line_key = (_lines.c.batch_id == batch_id, _lines.c.line_number == bindparam("b_line"))
    settled: dict[str, Any] = {
        "provider_payment_id": bindparam("b_payment"),
        "provider_status": bindparam("b_status"),
        "lease_until": None,
        "lease_token": None,
        "updated_at": now,
    }
    writes: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
        (
            {"state": LineState.COMPLETED.value, "completed_at": now, "settlement": settlement, **settled},
            sorted_.completed,
        ),
        ({"state": LineState.FAILED.value, "failure_reason": bindparam("b_reason"), **settled}, sorted_.failed),
        ({"state": LineState.CANCELLED.value, "failure_reason": "cancelled", **settled}, sorted_.cancelled),
        (
            {
                "provider_payment_id": bindparam("b_payment"),
                "provider_status": bindparam("b_status"),
                "submitted_at": bindparam("b_submitted"),
                "polls": bindparam("b_polls"),
                "lease_until": bindparam("b_lease"),
                "updated_at": now,
            },
            sorted_.waiting,
        ),
    ]
    for values, rows in writes:
        if rows:
            await session.execute(update(_lines).where(*line_key).values(**values), rows)


async def record(
    sessionmaker: async_sessionmaker[AsyncSession], batch_id: uuid.UUID, results: list[Result], settings: Settings
) -> bool:
    """Apply a round of outcomes, fenced by each claim's token, with the ledger posting of what was paid.

    Returns whether the batch is being cancelled (the worker then stops sending lines it holds)."""
    async with unit_of_work(sessionmaker) as session:
        batch = await _lock(session, batch_id)
        if batch is None:
            return True
        query = select(
            BulkLine.line_number, BulkLine.amount, BulkLine.lease_token, BulkLine.submitted_at, BulkLine.polls
        ).where(
            BulkLine.batch_id == batch_id,
            BulkLine.line_number.in_([result.order.line_number for result in results]),
            BulkLine.state == LineState.PROCESSING.value,
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        owned = {row.line_number: row for row in (await session.execute(query)).all()}
        now = utcnow()
        sorted_ = _sort(results, owned, now, settings)
        settlement = await reservation.settle(session, batch, sorted_.paid)
        await _write(session, batch_id, sorted_, settlement, now)
        batch.completed_lines += len(sorted_.completed)
        batch.completed_amount += sorted_.paid
        batch.failed_lines += len(sorted_.failed)
        batch.failed_amount += sorted_.failed_amount
        batch.cancelled_lines += len(sorted_.cancelled)
        batch.heartbeat_at = now
        await enqueue_progress_callbacks(session, batch, settings)
        await finalize_if_done(session, batch, settings)
        return batch.cancel_requested


async def _extend_leases(
    sessionmaker: async_sessionmaker[AsyncSession], batch_id: uuid.UUID, tokens: set[uuid.UUID], settings: Settings
) -> None:
    """The heartbeat of a live worker: its lines stay its own, and the sweeper sees the batch alive."""
    if not tokens:
        return
    now = utcnow()
    async with unit_of_work(sessionmaker) as session:
        # The batch row first, then lines: the lock order of every writer (settlements, cancel).
        await session.execute(
            update(BulkBatch)
            .where(BulkBatch.id == batch_id)
            .values(heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            update(BulkLine)
            .where(
                BulkLine.batch_id == batch_id,
                BulkLine.lease_token.in_(list(tokens)),
                BulkLine.state == LineState.PROCESSING.value,
            )
            .values(lease_until=now + timedelta(seconds=settings.bulk_line_lease_seconds))
            .execution_options(synchronize_session=False)
        )


async def next_due(sessionmaker: async_sessionmaker[AsyncSession], batch_id: uuid.UUID) -> datetime | None:
    """When the next leased line of the batch becomes claimable again (None: no line is in flight)."""
    async with sessionmaker() as session:
        found = await session.execute(
            select(func.min(BulkLine.lease_until)).where(
                BulkLine.batch_id == batch_id, BulkLine.state == LineState.PROCESSING.value
            )
        )
        value: datetime | None = found.scalar_one_or_none()
        await session.rollback()
        return value


# -- the worker --------------------------------------------------------------------------------------------------


class Worker:
    """One worker's round on one batch (see the module docstring)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, batch_id: uuid.UUID) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.batch_id = batch_id
        self.link: ProviderLink | None = None
        self.inflight: dict[asyncio.Task[list[Result]], tuple[uuid.UUID, int]] = {}  # token, lines
        self.results: list[Result] = []
        # Finished lines are handed over by a done-callback: waiting on hundreds of tasks with asyncio.wait would
        # cost a callback registration per task for every line that finishes.
        self.finished = asyncio.Event()
        self.last_record = time.monotonic()
        self.last_heartbeat = time.monotonic()
        self.stop = asyncio.Event()  # set once the batch is being cancelled: claimed lines are not sent

    async def _open(self, info: BatchInfo) -> ProviderLink:
        if self.link is None:
            async with self.sessionmaker() as session:
                self.link = await open_link(
                    session, organization_id=info.organization_id, provider=info.provider, settings=self.settings
                )
                await session.rollback()
        return self.link

    def _in_flight(self) -> int:
        return sum(lines for _, lines in self.inflight.values())

    async def _claim_more(self) -> bool:
        """Top up the lines in flight; False when nothing could be claimed (or the batch stopped running)."""
        room = 2 * self.settings.bulk_claim_size - self._in_flight()
        if room < self.settings.bulk_claim_size:
            return True
        info = await read_batch(self.sessionmaker, self.batch_id)
        if info is not None and info.cancelled:
            self.stop.set()
        if info is None:
            return False
        link = await self._open(info)
        task: asyncio.Task[list[Result]]
        group_size = 0 if info.provider in self.settings.bulk_line_by_line_providers else bulk_size(link)
        if group_size:
            claimed = await claim_group(self.sessionmaker, self.batch_id, info, size=group_size, settings=self.settings)
            if not claimed.orders:
                return False
            task = asyncio.create_task(work_on_group(link, info, claimed, settings=self.settings, stop=self.stop))
            self._follow(task, claimed.token, len(claimed.orders))
            return True
        claimed = await claim(self.sessionmaker, self.batch_id, info, limit=room, settings=self.settings)
        if not claimed.orders:
            return False
        for order in claimed.orders:
            task = asyncio.create_task(self._one(link, info, claimed.token, order))
            self._follow(task, claimed.token, 1)
        return True

    async def _one(self, link: ProviderLink, info: BatchInfo, token: uuid.UUID, order: LineOrder) -> list[Result]:
        return [await work_on(link, info, token, order, settings=self.settings, stop=self.stop)]

    def _follow(self, task: asyncio.Task[list[Result]], token: uuid.UUID, lines: int) -> None:
        self.inflight[task] = (token, lines)
        task.add_done_callback(self._collect)

    def _collect(self, task: asyncio.Task[list[Result]]) -> None:
        if self.inflight.pop(task, None) is None or task.cancelled():
            return
        self.results.extend(task.result())  # work_on and work_on_group turn every failure into an outcome
        self.finished.set()

    async def _record(self, *, force: bool = False) -> None:
        due = time.monotonic() - self.last_record >= RECORD_EVERY_SECONDS or len(self.results) >= RECORD_EVERY_LINES
        if self.results and (force or due):
            results, self.results = self.results, []
            if await record(self.sessionmaker, self.batch_id, results, self.settings):
                self.stop.set()
            self.last_record = time.monotonic()

    async def _heartbeat(self) -> None:
        if time.monotonic() - self.last_heartbeat >= self.settings.bulk_line_lease_seconds / 3:
            self.last_heartbeat = time.monotonic()
            tokens = {token for token, _ in self.inflight.values()}
            await _extend_leases(self.sessionmaker, self.batch_id, tokens, self.settings)

    async def run(self) -> float | None:
        """Work until nothing is left to do now; seconds until a continuation should look again, or None."""
        started = time.monotonic()
        try:
            while True:
                claiming = time.monotonic() - started < WORKER_BUDGET_SECONDS
                while claiming:
                    if not await self._claim_more():
                        break
                    if self._in_flight() >= self.settings.bulk_claim_size:
                        break
                if self.inflight:
                    self.finished.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.finished.wait(), RECORD_EVERY_SECONDS)
                    await self._record(force=not self.inflight)
                    await self._heartbeat()
                    continue
                await self._record(force=True)
                if not claiming:
                    return 0.0
                wait = await self._wait_for_due(started)
                if wait is None:
                    return await self._finish()
                if wait > 0:
                    return wait
        finally:
            await self._abandon()

    async def _wait_for_due(self, started: float) -> float | None:
        """Nothing claimable now: None when no line is in flight anywhere, 0 to go on after a short wait for the
        next due line, or how long a continuation should wait."""
        due = await next_due(self.sessionmaker, self.batch_id)
        if due is None:
            return None
        seconds = max((due - utcnow()).total_seconds(), 0.0)
        if seconds <= WAIT_FOR_DUE_SECONDS and time.monotonic() - started + seconds < WORKER_BUDGET_SECONDS:
            await asyncio.sleep(seconds + 0.05)
            return 0.0
        return max(seconds, 0.1)

    async def _finish(self) -> float | None:
        async with unit_of_work(self.sessionmaker) as session:
            batch = await _lock(session, self.batch_id)
            if batch is None or batch.state in FINAL_BATCH_STATES:
                return None
            if await finalize_if_done(session, batch, self.settings):
                return None
            if batch.state not in RUNNING_BATCH_STATES:
                return None
        # Counters say lines remain but none is claimable or in flight: look again shortly.
        return self.settings.bulk_poll_initial_seconds

    async def _abandon(self) -> None:
        """On the way out (normal or not): stop tasks still running; their lines' leases run out."""
        tasks = list(self.inflight)
        self.inflight.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.link = None  # shared by the process: other workers go on using it


async def run_worker(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, batch_id: uuid.UUID
) -> float | None:
    """One worker round (the ``disbursements.process`` job); seconds until a continuation, or None when done."""
    return await Worker(sessionmaker, settings, batch_id).run()
