"""HTTP routes of bulk disbursements: ``/api/v1/bulk-transfers`` (docs/bulk.md, "API").

Who may call what is :mod:`.permissions`. Everything is scoped to the caller's organisation: another
organisation's batch is a 404. Each route calls its service function directly.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from sse_starlette.sse import EventSourceResponse

from cauri.core.deps import client_address as _ip
from cauri.core.deps import settings_of as _settings
from cauri.core.i18n import Language, current_language
from cauri.core.pagination import Page, PageParams, page_params
from cauri.core.principal import Principal
from cauri.core.responses import attachment, event_stream
from cauri.core.routing import SessionDep, api_router
from cauri.disbursements import service
from cauri.disbursements.models import BatchState, LineState
from cauri.disbursements.payees import request_payee_check
from cauri.disbursements.permissions import BulkApprover, BulkCreator, BulkReader, Operation, actor, operation
from cauri.disbursements.reports import (
    ExportFormat,
    LineFilter,
    counts_by_state,
    issues_export,
    lines_page,
    progress_updates,
    results_export,
)
from cauri.disbursements.schemas import (
    BulkAmounts,
    BulkBatchCreated,
    BulkBatchDetail,
    BulkBatchRead,
    BulkRetry,
    BulkStatus,
    batch_created,
    batch_detail,
    batch_read,
    line_read,
)
from cauri.disbursements.upload_form import create_batch_from_form
from cauri.identity.permissions import require_org

router = api_router(prefix="/bulk-transfers", tags=["bulk-transfers"])

Paging = Annotated[PageParams, Depends(page_params)]


def _operation(request: Request, principal: Principal) -> Operation:
    return operation(principal, _ip(request), _settings(request))


_UPLOAD_FORM: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The payment list: CSV (any separator, UTF-8 or Windows-1252) or .xlsx",
                        },
                        "callback_url": {
                            "type": "string",
                            "maxLength": 2000,
                            "description": "Signed notification at the end (the secret is in the answer, once)",
                        },
                        "callback_progress": {"type": "boolean", "description": "Also notify at 25, 50 and 75 %"},
                        "provider": {"type": "string", "maxLength": 40, "description": "Default: the platform's"},
                        "check_payees": {
                            "type": "boolean",
                            "description": "Look every payee up at the provider before approval",
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=BulkBatchCreated,
    summary="Upload a payment list (CSV or XLSX): validated, stored as a DRAFT batch with its report",
    openapi_extra=_UPLOAD_FORM,
)
async def create_bulk_transfer(
    request: Request, response: Response, session: SessionDep, principal: BulkCreator
) -> BulkBatchCreated:
    """multipart/form-data: ``file``, optional ``callback_url``, ``callback_progress``, ``provider``,
    ``check_payees``. The form is read here rather than declared, so that the idempotency guard may read the raw
    body first (a retried upload with the same ``Idempotency-Key`` gets the first answer); the file is spooled
    to disk beyond 1 MiB and validated as it is read."""
    batch, secret = await create_batch_from_form(
        request,
        session,
        principal=principal,
        organization_id=require_org(principal),
        settings=_settings(request),
        ip=_ip(request),
    )
    response.headers["Location"] = f"/api/v1/bulk-transfers/{batch.id}"
    return batch_created(batch, secret)


@router.get("", response_model=Page[BulkBatchRead], summary="Batches of the organisation, newest first")
async def list_bulk_transfers(
    session: SessionDep,
    principal: BulkReader,
    params: Paging,
    state: Annotated[BatchState | None, Query()] = None,
) -> Page[BulkBatchRead]:
    rows, cursor = await service.list_batches(
        session, organization_id=require_org(principal), params=params, state=state
    )
    return Page[BulkBatchRead](items=[batch_read(batch) for batch in rows], next_cursor=cursor)


@router.get("/{batch_id}", response_model=BulkBatchDetail, summary="A batch and its validation report")
async def get_bulk_transfer(session: SessionDep, principal: BulkReader, batch_id: uuid.UUID) -> BulkBatchDetail:
    return batch_detail(await service.get_batch(session, organization_id=require_org(principal), batch_id=batch_id))


@router.get(
    "/{batch_id}/status",
    response_model=BulkStatus,
    summary="Totals, amounts, lines per state, and the lines (paginated, filterable)",
)
async def get_bulk_transfer_status(
    *,
    session: SessionDep,
    principal: BulkReader,
    batch_id: uuid.UUID,
    state: Annotated[LineState | None, Query(description="Only lines in this state")] = None,
    payee: Annotated[Literal["flagged"] | None, Query(description="flagged: payees the check flagged")] = None,
    review: Annotated[bool, Query(description="Only lines flagged for review at validation")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> BulkStatus:
    batch = await service.get_batch(session, organization_id=require_org(principal), batch_id=batch_id)
    filters = LineFilter(state=state, payee_flagged=payee == "flagged", review=review)
    lines, next_cursor = await lines_page(session, batch.id, filters, limit=limit, cursor=cursor)
    return BulkStatus(
        batch=batch_read(batch),
        counts=await counts_by_state(session, batch.id),
        amounts=BulkAmounts(
            total=batch.total_amount,
            completed=batch.completed_amount,
            failed=batch.failed_amount,
            reserved=batch.reserved_amount,
            currency=batch.currency,
        ),
        lines=[line_read(line) for line in lines],
        next_cursor=next_cursor,
    )


@router.get(
    "/{batch_id}/stream",
    summary="Live progress (Server-Sent Events): {state, completed, failed, total, progress_percent}",
    response_class=EventSourceResponse,
)
async def stream_bulk_transfer(
    request: Request, session: SessionDep, principal: BulkReader, batch_id: uuid.UUID
) -> EventSourceResponse:
    """An event at least every second, read from the database (any API process can serve it); the stream
    closes after the event that shows the batch ended."""
    await service.get_batch(session, organization_id=require_org(principal), batch_id=batch_id)
    interval = _settings(request).bulk_stream_interval_seconds
    # Polls read in read-only sessions: a stream never takes SQLite's write lock.
    updates = progress_updates(request.app.state.read_sessionmaker, batch_id, interval=interval)
    return event_stream(updates, event="progress")


def _language(language: Language | None) -> Language:
    return language or current_language.get()


@router.get("/{batch_id}/results", summary="Results export, one row per line (CSV or XLSX, formula-safe)")
async def export_bulk_transfer_results(
    *,
    request: Request,
    session: SessionDep,
    principal: BulkReader,
    batch_id: uuid.UUID,
    format: Annotated[ExportFormat, Query()] = "csv",
    language: Annotated[Language | None, Query()] = None,
    delimiter: Annotated[Literal[",", ";"], Query(description="; for French Excel (decimal commas)")] = ";",
    state: Annotated[LineState | None, Query()] = None,
) -> StreamingResponse:
    batch = await service.get_batch(session, organization_id=require_org(principal), batch_id=batch_id)
    filters = LineFilter(state=state)
    lang = _language(language)
    sessionmaker = request.app.state.sessionmaker
    download = results_export(sessionmaker, batch, filters, language=lang, format=format, delimiter=delimiter)
    return attachment(download)


@router.get("/{batch_id}/issues", summary="The validation report's issues, to fix the file from (CSV or XLSX)")
async def export_bulk_transfer_issues(
    *,
    session: SessionDep,
    principal: BulkReader,
    batch_id: uuid.UUID,
    format: Annotated[ExportFormat, Query()] = "csv",
    language: Annotated[Language | None, Query()] = None,
    delimiter: Annotated[Literal[",", ";"], Query()] = ";",
) -> StreamingResponse:
    batch = await service.get_batch(session, organization_id=require_org(principal), batch_id=batch_id)
    download = issues_export(batch, language=_language(language), format=format, delimiter=delimiter)
    return attachment(download)


@router.post("/{batch_id}/submit", response_model=BulkBatchRead, summary="Submit the valid lines of a draft")
async def submit_bulk_transfer(
    request: Request, session: SessionDep, principal: BulkCreator, batch_id: uuid.UUID
) -> BulkBatchRead:
    return batch_read(await service.submit(session, batch_id=batch_id, **_operation(request, principal)))


@router.post("/{batch_id}/approve", response_model=BulkBatchRead, summary="Approve (maker–checker): reserve and pay")
async def approve_bulk_transfer(
    request: Request, session: SessionDep, principal: BulkApprover, batch_id: uuid.UUID
) -> BulkBatchRead:
    return batch_read(await service.approve(session, batch_id=batch_id, **_operation(request, principal)))


@router.post("/{batch_id}/cancel", response_model=BulkBatchRead, summary="Cancel: release, or stop new lines")
async def cancel_bulk_transfer(
    request: Request, session: SessionDep, principal: BulkCreator, batch_id: uuid.UUID
) -> BulkBatchRead:
    return batch_read(await service.cancel(session, batch_id=batch_id, **_operation(request, principal)))


@router.post("/{batch_id}/retry", response_model=BulkBatchRead, summary="Pay the failed lines again")
async def retry_bulk_transfer(
    request: Request,
    session: SessionDep,
    principal: BulkCreator,
    batch_id: uuid.UUID,
    body: BulkRetry | None = None,
) -> BulkBatchRead:
    lines = body.lines if body else None
    return batch_read(await service.retry(session, batch_id=batch_id, lines=lines, **_operation(request, principal)))


@router.post(
    "/{batch_id}/payee-check",
    response_model=BulkBatchRead,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Look every payee up at the provider (before approval)",
)
async def check_bulk_transfer_payees(
    request: Request, session: SessionDep, principal: BulkCreator, batch_id: uuid.UUID
) -> BulkBatchRead:
    return batch_read(await request_payee_check(session, batch_id=batch_id, **actor(principal, _ip(request))))


@router.delete("/{batch_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Discard a draft")
async def discard_bulk_transfer(
    request: Request, session: SessionDep, principal: BulkCreator, batch_id: uuid.UUID
) -> Response:
    await service.discard(session, batch_id=batch_id, **actor(principal, _ip(request)))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
