"""The optional payee check before approval: is there an active account behind each number, and whose?

Each line's number is looked up with the provider's account-holder check (the sandbox's ``/v1/accounts``,
Mojaloop's party lookup, MTN's ``accountholder … /active``) at ``bulk_payee_checks_per_second``. A number without
an active account is flagged (``payee_status``: ``inactive``), with the name the provider gives when it gives
one; ``unavailable`` when the provider did not answer. The ``disbursements.check_payees`` job works through the
unchecked lines in order and records each chunk, so a crash resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, cast

import structlog
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings
from cauri.core.db import unit_of_work, utcnow
from cauri.core.jobs import enqueue
from cauri.core.principal import Principal
from cauri.disbursements import service
from cauri.disbursements.errors import WrongState
from cauri.disbursements.models import BatchState, BulkBatch, BulkLine, PayeeCheck, PayeeStatus
from cauri.disbursements.payouts import ProviderLink, can_look_up_payees, look_up_payee, open_link
from cauri.identity.audit import record_audit

log = structlog.get_logger(__name__)

CHECK_JOB = "disbursements.check_payees"
CHUNK = 100
FLAGGED = (PayeeStatus.INACTIVE.value, PayeeStatus.UNAVAILABLE.value)
CHECKABLE_STATES = frozenset({BatchState.DRAFT, BatchState.AWAITING_APPROVAL})
_lines = cast(Table, BulkLine.__table__)


async def start_payee_check(session: AsyncSession, batch: BulkBatch) -> None:
    """Mark the batch as being checked (from scratch) and ring the job, in the caller's transaction."""
    if batch.payee_check != PayeeCheck.NOT_REQUESTED:
        await session.execute(
            update(BulkLine)
            .where(BulkLine.batch_id == batch.id)
            .values(payee_status=None, payee_provider_name=None)
            .execution_options(synchronize_session=False)
        )
    batch.payee_check = PayeeCheck.RUNNING.value
    batch.payees_checked = 0
    batch.payees_flagged = 0
    await enqueue(session, CHECK_JOB, {"batch_id": str(batch.id)})


async def request_payee_check(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    batch_id: uuid.UUID,
    principal: Principal,
    ip: str | None = None,
) -> BulkBatch:
    """Someone asks for the payee check of a batch not yet approved (``POST /bulk-transfers/{id}/payee-check``,
    the console's button): the batch is locked, its state checked, the check started (from scratch) and audited
    (``bulk.payee_check``), in the caller's transaction. Another organisation's batch is a 404, an approved one a
    409 (:class:`WrongState`)."""
    batch = await service.get_batch(session, organization_id=organization_id, batch_id=batch_id)
    locked = await service.lock_batch(session, batch.id)
    assert locked is not None
    if BatchState(locked.state) not in CHECKABLE_STATES:
        raise WrongState(locked.state, "vérifier les bénéficiaires pour", "check the payees of")
    await start_payee_check(session, locked)
    await record_audit(
        session,
        action="bulk.payee_check",
        organization_id=organization_id,
        actor=principal,
        target_type=service.TARGET,
        target_id=str(locked.id),
        ip=ip,
    )
    return locked


class Pacer:
    """At most ``rate`` starts per second, spread evenly (the provider's lookups are often rate-limited)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_at = time.monotonic()
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self.lock:
            now = time.monotonic()
            if self.next_at > now:
                await asyncio.sleep(self.next_at - now)
            self.next_at = max(self.next_at, now) + self.interval


async def _check_one(link: ProviderLink, pacer: Pacer, phone: str) -> tuple[str, str | None]:
    await pacer.wait()
    holder = await look_up_payee(link, phone)
    if holder is None:
        return PayeeStatus.UNAVAILABLE.value, None
    status = PayeeStatus.ACTIVE if holder.active else PayeeStatus.INACTIVE
    return status.value, (holder.name or None) and str(holder.name)[:140]


async def _record(
    sessionmaker: async_sessionmaker[AsyncSession], batch_id: uuid.UUID, values: list[dict[str, Any]]
) -> None:
    async with unit_of_work(sessionmaker) as session:
        await session.execute(
            update(_lines)
            .where(_lines.c.batch_id == batch_id, _lines.c.line_number == bindparam("b_line"))
            .values(payee_status=bindparam("b_status"), payee_provider_name=bindparam("b_name")),
            values,
        )
        flagged = sum(1 for value in values if value["b_status"] in FLAGGED)
        batch = await session.get(BulkBatch, batch_id, with_for_update=True, populate_existing=True)
        if batch is not None:
            batch.payees_checked += len(values)
            batch.payees_flagged += flagged


async def check_payees(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, batch_id: uuid.UUID) -> None:
    """The ``disbursements.check_payees`` job: look up every unchecked line of the batch."""
    async with sessionmaker() as session:
        batch = await session.get(BulkBatch, batch_id)
        if batch is None or batch.payee_check != PayeeCheck.RUNNING:
            return
        link = await open_link(
            session, organization_id=batch.organization_id, provider=batch.provider, settings=settings
        )
        await session.rollback()
    pacer = Pacer(settings.bulk_payee_checks_per_second)
    after = 0
    while True:
        async with sessionmaker() as session:
            rows = (
                await session.execute(
                    select(BulkLine.line_number, BulkLine.party_identifier, BulkLine.party_id_type)
                    .where(
                        BulkLine.batch_id == batch_id,
                        BulkLine.line_number > after,
                        BulkLine.payee_status.is_(None),
                    )
                    .order_by(BulkLine.line_number)
                    .limit(CHUNK)
                )
            ).all()
            await session.rollback()
        if not rows:
            break
        after = rows[-1].line_number
        answers: list[tuple[str, str | None]]
        if not can_look_up_payees(link):
            answers = [(PayeeStatus.UNSUPPORTED.value, None)] * len(rows)
        else:
            answers = list(await asyncio.gather(*(_check_one(link, pacer, row.party_identifier) for row in rows)))
        values = [
            {"b_line": row.line_number, "b_status": status, "b_name": name}
            for row, (status, name) in zip(rows, answers, strict=True)
        ]
        await _record(sessionmaker, batch_id, values)
    async with unit_of_work(sessionmaker) as session:
        batch = await session.get(BulkBatch, batch_id, with_for_update=True, populate_existing=True)
        if batch is not None and batch.payee_check == PayeeCheck.RUNNING:
            counted = (
                await session.execute(
                    select(func.count()).where(BulkLine.batch_id == batch_id, BulkLine.payee_status.in_(FLAGGED))
                )
            ).scalar_one()
            batch.payees_flagged = int(counted)
            batch.payee_check = PayeeCheck.DONE.value
            batch.updated_at = utcnow()
    log.info("bulk_payee_check_done", batch_id=str(batch_id))
