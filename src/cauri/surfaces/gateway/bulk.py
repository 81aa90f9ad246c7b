"""``/api/bulk-transfers``: create from a CSV and start, status with every transfer, live progress (SSE).

Thin adapters over ``cauri.disbursements``: the upload is the native one (same formats, checks and report),
then the batch is submitted at once, so it starts paying unless the organisation requires a second approver
(maker–checker: it then waits, ``PENDING``, for an approval in the console or the native API).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

from cauri.core.config import Settings
from cauri.core.principal import Principal
from cauri.core.routing import SessionDep, api_router
from cauri.disbursements import service
from cauri.disbursements.callbacks import progress_percent
from cauri.disbursements.models import BatchState, BulkBatch, BulkLine, LineState
from cauri.disbursements.reports import LineFilter, lines_page, progress_updates
from cauri.disbursements.schemas import BulkProgress
from cauri.disbursements.upload_form import create_batch_from_form
from cauri.identity.deps import client_ip
from cauri.identity.permissions import Perm, require
from cauri.surfaces.registry import operator_id

router = api_router(prefix="/api/bulk-transfers")

Creator = Annotated[Principal, Depends(require(Perm.BULK_CREATE))]
Reader = Annotated[Principal, Depends(require(Perm.BULK_READ))]

# The seed's states: PENDING, PROCESSING, COMPLETED, FAILED, PARTIALLY_COMPLETED. Everything before the payouts
# start is PENDING; a cancelled batch paid nothing more, which its front-end can only read as FAILED.
SEED_STATES: dict[str, str] = {
    BatchState.DRAFT: "PENDING",
    BatchState.AWAITING_APPROVAL: "PENDING",
    BatchState.RESERVED: "PENDING",
    BatchState.PROCESSING: "PROCESSING",
    BatchState.COMPLETED: "COMPLETED",
    BatchState.PARTIALLY_COMPLETED: "PARTIALLY_COMPLETED",
    BatchState.FAILED: "FAILED",
    BatchState.CANCELLED: "FAILED",
}
# An individual transfer: PENDING, COMPLETED or FAILED.
SEED_LINE_STATES: dict[str, str] = {
    LineState.PENDING: "PENDING",
    LineState.PROCESSING: "PENDING",
    LineState.COMPLETED: "COMPLETED",
    LineState.FAILED: "FAILED",
    LineState.CANCELLED: "FAILED",
}
SUCCESSFUL_END = frozenset({BatchState.COMPLETED, BatchState.PARTIALLY_COMPLETED})


class BulkTransferCreated(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    bulk_transfer_id: uuid.UUID = Field(serialization_alias="bulkTransferId")
    state: str
    callback_secret: str | None = Field(
        default=None,
        serialization_alias="callbackSecret",
        description="Signs the callbacks to callback_url (Cauri-Signature); shown once",
    )


class IndividualTransfer(BaseModel):
    transfer_id: str = Field(serialization_alias="transferId")
    payee_party_id_type: str
    payee_party_identifier: str
    amount: int
    currency: str
    status: str
    completed_at: datetime | None
    failure_reason: str | None


class BulkTransferStatus(BaseModel):
    bulk_transfer_id: uuid.UUID = Field(serialization_alias="bulkTransferId")
    state: str
    total_amount: int
    currency: str | None
    created_at: datetime
    completed: int
    failed: int
    total: int
    progress_percent: float
    transfers: list[IndividualTransfer]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next transfers")


class SeedProgress(BaseModel):
    state: str
    completed: int
    failed: int
    total: int
    progress_percent: float


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _transfer(line: BulkLine) -> IndividualTransfer:
    return IndividualTransfer(
        transfer_id=line.transfer_id,
        payee_party_id_type=line.party_id_type,
        payee_party_identifier=line.party_identifier,
        amount=line.amount,
        currency=line.currency,
        status=SEED_LINE_STATES[line.state],
        completed_at=line.completed_at,
        failure_reason=line.failure_reason,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=BulkTransferCreated,
    response_model_by_alias=True,
    summary="Create a bulk transfer from a CSV (file, callback_url) and start it",
)
async def create(request: Request, response: Response, session: SessionDep, principal: Creator) -> BulkTransferCreated:
    created, secret = await create_batch_from_form(
        request,
        session,
        principal=principal,
        organization_id=operator_id(request),
        settings=_settings(request),
        ip=client_ip(request),
    )
    batch = await service.submit(
        session,
        organization_id=operator_id(request),
        batch_id=created.id,
        principal=principal,
        settings=_settings(request),
        ip=client_ip(request),
    )
    response.headers["Location"] = f"{request.url.path}/{batch.id}/status"
    return BulkTransferCreated(bulk_transfer_id=batch.id, state=SEED_STATES[batch.state], callback_secret=secret)


@router.get(
    "/{bulk_transfer_id}/status",
    response_model=BulkTransferStatus,
    response_model_by_alias=True,
    summary="The bulk transfer's state and its individual transfers (a page at a time)",
)
async def get_status(
    *,
    request: Request,
    session: SessionDep,
    principal: Reader,
    bulk_transfer_id: uuid.UUID,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> BulkTransferStatus:
    batch = await service.get_batch(session, organization_id=operator_id(request), batch_id=bulk_transfer_id)
    lines, next_cursor = await lines_page(session, batch.id, LineFilter(), limit=limit, cursor=cursor)
    return BulkTransferStatus(
        bulk_transfer_id=batch.id,
        state=SEED_STATES[batch.state],
        total_amount=batch.total_amount,
        currency=batch.currency,
        created_at=batch.created_at,
        completed=batch.completed_lines,
        failed=batch.failed_lines,
        total=batch.valid_lines,
        progress_percent=progress_percent(batch),
        transfers=[_transfer(line) for line in lines],
        next_cursor=next_cursor,
    )


def _event(progress: BulkProgress) -> ServerSentEvent:
    """Unnamed ``message`` events while it runs; the last one is ``done`` (paid, fully or partly) or ``error``."""
    data = SeedProgress(
        state=SEED_STATES[progress.state],
        completed=progress.completed,
        failed=progress.failed,
        total=progress.total,
        progress_percent=progress.progress_percent,
    ).model_dump_json()
    if progress.state in SUCCESSFUL_END:
        return ServerSentEvent(data=data, event="done")
    if progress.state in (BatchState.FAILED, BatchState.CANCELLED):
        return ServerSentEvent(data=data, event="error")
    return ServerSentEvent(data=data)


@router.get(
    "/{bulk_transfer_id}/stream",
    summary="Live progress (SSE): data {state, completed, total, progress_percent}, then a done or error event",
    response_class=EventSourceResponse,
)
async def stream(
    request: Request, session: SessionDep, principal: Reader, bulk_transfer_id: uuid.UUID
) -> EventSourceResponse:
    batch: BulkBatch = await service.get_batch(session, organization_id=operator_id(request), batch_id=bulk_transfer_id)
    interval = _settings(request).bulk_stream_interval_seconds
    updates = progress_updates(request.app.state.read_sessionmaker, batch.id, interval=interval)

    async def events() -> AsyncIterator[ServerSentEvent]:
        async for progress in updates:
            yield _event(progress)

    return EventSourceResponse(events(), ping=15, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
