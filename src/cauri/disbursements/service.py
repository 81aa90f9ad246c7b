"""The life of a batch: submit, approve, cancel, retry, discard; reading and listing (no HTTP, never a commit).

``DRAFT → AWAITING_APPROVAL`` (maker–checker) ``→ RESERVED → PROCESSING → COMPLETED | PARTIALLY_COMPLETED |
FAILED``, and ``CANCELLED`` from any state before the end. Every operator action locks the batch row first
(``SELECT … FOR UPDATE``; SQLite serialises writers), so it never races a worker's settlement, and is audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.core.pagination import PageParams, paginate
from cauri.core.principal import Principal
from cauri.disbursements import reservation
from cauri.disbursements.errors import (
    BatchNotFound,
    MakerCheckerViolation,
    NothingToPay,
    NothingToRetry,
    WrongState,
    transfer_ids_already_used,
)
from cauri.disbursements.models import BatchState, BulkBatch, BulkLine, LineState
from cauri.disbursements.parsing import FileFormat
from cauri.disbursements.processing import enqueue_workers, finalize_if_done
from cauri.identity.audit import record_audit
from cauri.identity.models import ApiKey, Organization

TARGET = "bulk_batch"


async def lock_batch(session: AsyncSession, batch_id: uuid.UUID) -> BulkBatch | None:
    statement = (
        select(BulkBatch).where(BulkBatch.id == batch_id).with_for_update().execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def get_batch(session: AsyncSession, *, organization_id: uuid.UUID, batch_id: uuid.UUID) -> BulkBatch:
    """The batch, if it belongs to the organisation (another organisation's batch is a 404)."""
    batch = (
        await session.execute(
            select(BulkBatch).where(BulkBatch.id == batch_id, BulkBatch.organization_id == organization_id)
        )
    ).scalar_one_or_none()
    if batch is None:
        raise BatchNotFound()
    return batch


async def _locked(session: AsyncSession, organization_id: uuid.UUID, batch_id: uuid.UUID) -> BulkBatch:
    batch = await lock_batch(session, batch_id)
    if batch is None or batch.organization_id != organization_id:
        raise BatchNotFound()
    return batch


async def list_batches(
    session: AsyncSession, *, organization_id: uuid.UUID, params: PageParams, state: BatchState | None = None
) -> tuple[list[BulkBatch], str | None]:
    statement: Select[Any] = select(BulkBatch).where(BulkBatch.organization_id == organization_id)
    if state is not None:
        statement = statement.where(BulkBatch.state == state.value)
    return await paginate(session, statement, params, created_at=BulkBatch.created_at, row_id=BulkBatch.id)


async def _audit(
    session: AsyncSession,
    action: str,
    batch: BulkBatch,
    principal: Principal | None,
    ip: str | None,
    **changes: Any,
) -> None:
    await record_audit(
        session,
        action=f"bulk.{action}",
        organization_id=batch.organization_id,
        actor=principal,
        target_type=TARGET,
        target_id=str(batch.id),
        changes={"state": batch.state, **changes},
        ip=ip,
    )


async def _person_of(
    session: AsyncSession, user_id: uuid.UUID | None, api_key_id: uuid.UUID | None
) -> uuid.UUID | None:
    """The person who made a step: the user of a session, else the creator of the API key that made it."""
    if user_id is not None or api_key_id is None:
        return user_id
    creator: uuid.UUID | None = await session.scalar(select(ApiKey.created_by_user_id).where(ApiKey.id == api_key_id))
    return creator


async def _is_maker(session: AsyncSession, principal: Principal, batch: BulkBatch) -> bool:
    """Whether the caller created or submitted the batch, in person or through any of their API keys.

    Comparing credentials is not enough: one person holding a session and two API keys would be maker and checker
    at once. A key nobody is known to have created (made from the CLI) is only ever the same actor as itself."""
    steps = ((batch.created_by, batch.created_by_api_key_id), (batch.submitted_by, batch.submitted_by_api_key_id))
    if principal.api_key_id is not None and any(key == principal.api_key_id for _, key in steps):
        return True
    person = principal.person_id
    if person is None:
        return False
    makers = [await _person_of(session, user_id, key) for user_id, key in steps]
    return person in makers


async def _ids_used_elsewhere(session: AsyncSession, batch: BulkBatch) -> list[str]:
    """Caller-chosen transfer ids of this batch that a batch submitted since the upload already holds."""
    if batch.file_format != FileFormat.STANDARD.value:
        return []  # generated ids derive from the batch id: never shared
    other = aliased(BulkLine)
    other_batch = aliased(BulkBatch)
    rows = await session.execute(
        select(BulkLine.transfer_id)
        .join(
            other,
            and_(
                other.organization_id == BulkLine.organization_id,
                other.transfer_id == BulkLine.transfer_id,
                other.chosen_id.is_(True),
                other.batch_id != BulkLine.batch_id,
            ),
        )
        .join(other_batch, other_batch.id == other.batch_id)
        .where(BulkLine.batch_id == batch.id, other_batch.state != BatchState.DRAFT.value)
        .order_by(BulkLine.transfer_id)
        .limit(5)
    )
    return list(rows.scalars())


async def _start(session: AsyncSession, batch: BulkBatch, settings: Settings) -> None:
    """Hold the batch total on the ledger (a 422 and nothing held when short) and wake the workers."""
    await reservation.reserve(session, batch, batch.total_amount)
    batch.state = BatchState.RESERVED.value
    batch.run += 1
    batch.heartbeat_at = utcnow()
    await enqueue_workers(session, batch, settings)


async def submit(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    batch_id: uuid.UUID,
    principal: Principal,
    settings: Settings,
    ip: str | None = None,
) -> BulkBatch:
    """Submit the valid lines of a draft: to approval under maker–checker, else straight to the reservation."""
    batch = await _locked(session, organization_id, batch_id)
    if batch.state != BatchState.DRAFT:
        raise WrongState(batch.state, "soumettre", "submit")
    if batch.valid_lines == 0:
        raise NothingToPay()
    used = await _ids_used_elsewhere(session, batch)
    if used:
        raise transfer_ids_already_used(used)
    batch.submitted_by = principal.user_id
    batch.submitted_by_api_key_id = principal.api_key_id
    batch.submitted_at = utcnow()
    organization = await session.get(Organization, organization_id)
    if organization is not None and organization.require_maker_checker:
        batch.state = BatchState.AWAITING_APPROVAL.value
    else:
        await _start(session, batch, settings)
    await _audit(session, "submit", batch, principal, ip, total_amount=batch.total_amount, lines=batch.valid_lines)
    return batch


async def approve(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    batch_id: uuid.UUID,
    principal: Principal,
    settings: Settings,
    ip: str | None = None,
) -> BulkBatch:
    """The second person's approval: reserve the total and start paying. Never by the batch's maker."""
    batch = await _locked(session, organization_id, batch_id)
    if batch.state != BatchState.AWAITING_APPROVAL:
        raise WrongState(batch.state, "approuver", "approve")
    if await _is_maker(session, principal, batch):
        raise MakerCheckerViolation()
    used = await _ids_used_elsewhere(session, batch)
    if used:
        raise transfer_ids_already_used(used)
    batch.approved_by = principal.user_id
    batch.approved_by_api_key_id = principal.api_key_id
    batch.approved_at = utcnow()
    await _start(session, batch, settings)
    await _audit(session, "approve", batch, principal, ip, total_amount=batch.total_amount)
    return batch


async def _cancel_pending_lines(session: AsyncSession, batch: BulkBatch) -> tuple[int, int]:
    """Lines not claimed yet will never be sent; how many, and their amount.

    Counted from the rows the UPDATE itself changed: a worker may claim lines between a count and the update
    (claims lock lines, not the batch), and those are recorded by the worker, not here."""
    amounts = (
        (
            await session.execute(
                update(BulkLine)
                .where(BulkLine.batch_id == batch.id, BulkLine.state == LineState.PENDING.value)
                .values(state=LineState.CANCELLED.value, failure_reason="cancelled", updated_at=utcnow())
                .returning(BulkLine.amount)
                .execution_options(synchronize_session=False)
            )
        )
        .scalars()
        .all()
    )
    batch.cancelled_lines += len(amounts)
    return len(amounts), sum(amounts)


async def cancel(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    batch_id: uuid.UUID,
    principal: Principal,
    settings: Settings,
    ip: str | None = None,
) -> BulkBatch:
    """Before processing: release the reservation, nothing is paid. During: no new line is sent; the lines
    already at the provider finish, then the rest of the reservation is released."""
    batch = await _locked(session, organization_id, batch_id)
    state = BatchState(batch.state)
    if state not in (BatchState.DRAFT, BatchState.AWAITING_APPROVAL, BatchState.RESERVED, BatchState.PROCESSING):
        raise WrongState(batch.state, "annuler", "cancel")
    now = utcnow()
    batch.cancel_requested = True
    count, amount = await _cancel_pending_lines(session, batch)
    released = 0
    if state is BatchState.PROCESSING:
        if await finalize_if_done(session, batch, settings):
            released = amount
    else:
        released = await reservation.release(session, batch)
        batch.state = BatchState.CANCELLED.value
        batch.finished_at = now
    batch.cancelled_at = now
    await _audit(session, "cancel", batch, principal, ip, cancelled_lines=count, released_amount=released)
    return batch


async def retry(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    batch_id: uuid.UUID,
    principal: Principal,
    settings: Settings,
    lines: Sequence[int] | None = None,
    ip: str | None = None,
) -> BulkBatch:
    """Pay the failed lines again (all, or those listed): a new reservation of their total, a new attempt each
    (a new provider reference). A completed line is never sent again."""
    batch = await _locked(session, organization_id, batch_id)
    if batch.state not in (BatchState.PARTIALLY_COMPLETED, BatchState.FAILED):
        raise WrongState(batch.state, "relancer", "retry")
    selection = [BulkLine.batch_id == batch.id, BulkLine.state == LineState.FAILED.value]
    if lines is not None:
        selection.append(BulkLine.line_number.in_(list(lines)))
    totals = (
        await session.execute(select(func.count(), func.coalesce(func.sum(BulkLine.amount), 0)).where(*selection))
    ).one()
    count, amount = int(totals[0]), int(totals[1])
    if count == 0:
        raise NothingToRetry()
    await reservation.reserve(session, batch, amount)  # 422 when short: nothing changes
    await session.execute(
        update(BulkLine)
        .where(*selection)
        .values(
            state=LineState.PENDING.value,
            failure_reason=None,
            provider_reference=None,
            provider_payment_id=None,
            provider_status=None,
            submitted_at=None,
            polls=0,
            lease_until=None,
            lease_token=None,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    batch.failed_lines -= count
    batch.failed_amount -= amount
    batch.state = BatchState.RESERVED.value
    batch.finished_at = None
    batch.run += 1
    batch.heartbeat_at = utcnow()
    await enqueue_workers(session, batch, settings)
    await _audit(session, "retry", batch, principal, ip, lines=count, amount=amount)
    return batch


async def discard(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    batch_id: uuid.UUID,
    principal: Principal,
    ip: str | None = None,
) -> None:
    """Delete a draft and its lines (the operator fixes the file and uploads it again)."""
    batch = await _locked(session, organization_id, batch_id)
    if batch.state != BatchState.DRAFT:
        raise WrongState(batch.state, "supprimer", "discard")
    await _audit(session, "discard", batch, principal, ip, file_name=batch.file_name)
    await session.delete(batch)
    await session.flush()
