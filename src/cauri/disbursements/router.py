"""HTTP routes of bulk disbursements: ``/api/v1/bulk-transfers`` (docs/bulk.md, "API").

GESTIONNAIRE (``bulk_create``, ``bulk_approve``) uploads, submits, approves, cancels, retries; SUPERVISEUR
(``bulk_read``) reads. Everything is scoped to the caller's organisation: another organisation's batch is a 404.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse
from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as StarletteUpload

from cauri.core.deps import client_address as _ip
from cauri.core.deps import settings_of as _settings
from cauri.core.errors import field_error
from cauri.core.i18n import Language, current_language, pick
from cauri.core.pagination import Page, PageParams, page_params
from cauri.core.principal import Principal
from cauri.core.routing import SessionDep, api_router
from cauri.disbursements import service
from cauri.disbursements.exports import Cell, XlsxSheet, aiter_csv, issue_table, result_header
from cauri.disbursements.ingest.messages import Issue
from cauri.disbursements.models import FINAL_BATCH_STATES, BatchState, BulkBatch, LineState
from cauri.disbursements.payees import request_payee_check
from cauri.disbursements.reports import LineFilter, counts_by_state, lines_page, result_rows
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
    progress_of,
)
from cauri.disbursements.upload import UploadOptions, create_batch
from cauri.identity.permissions import Perm, require, require_org

router = api_router(prefix="/bulk-transfers", tags=["bulk-transfers"])

Creator = Annotated[Principal, Depends(require(Perm.BULK_CREATE))]
Approver = Annotated[Principal, Depends(require(Perm.BULK_APPROVE))]
Reader = Annotated[Principal, Depends(require(Perm.BULK_READ))]
Paging = Annotated[PageParams, Depends(page_params)]
ExportFormat = Literal["csv", "xlsx"]
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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
_TRUE = frozenset({"1", "true", "on", "yes", "oui"})


def _text_field(form: FormData, name: str, limit: int) -> str | None:
    value = form.get(name)
    if value is None or isinstance(value, StarletteUpload):
        return None
    text = value.strip()
    if len(text) > limit:
        raise field_error(
            name,
            "too_long",
            f"« {name} » dépasse {limit} caractères.",
            f"'{name}' is longer than {limit} characters.",
        )
    return text or None


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=BulkBatchCreated,
    summary="Upload a payment list (CSV or XLSX): validated, stored as a DRAFT batch with its report",
    openapi_extra=_UPLOAD_FORM,
)
async def create_bulk_transfer(
    request: Request, response: Response, session: SessionDep, principal: Creator
) -> BulkBatchCreated:
    """multipart/form-data: ``file``, optional ``callback_url``, ``callback_progress``, ``provider``,
    ``check_payees``. The form is read here rather than declared, so that the idempotency guard may read the raw
    body first (a retried upload with the same ``Idempotency-Key`` gets the first answer); the file is spooled
    to disk beyond 1 MiB and validated as it is read."""
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, StarletteUpload):
            raise field_error(
                "file",
                "missing_file",
                "Joignez le fichier de paiements (champ « file »).",
                "Attach the payment file (field 'file').",
            )
        batch, secret = await create_batch(
            session,
            upload=upload.file,
            options=UploadOptions(
                file_name=upload.filename or "upload",
                provider=_text_field(form, "provider", 40),
                callback_url=_text_field(form, "callback_url", 2000),
                callback_progress=(_text_field(form, "callback_progress", 10) or "").lower() in _TRUE,
                check_payees=(_text_field(form, "check_payees", 10) or "").lower() in _TRUE,
            ),
            principal=principal,
            organization_id=require_org(principal),
            settings=_settings(request),
            sessionmaker=request.app.state.sessionmaker,
            ip=_ip(request),
        )
    response.headers["Location"] = f"/api/v1/bulk-transfers/{batch.id}"
    return batch_created(batch, secret)


@router.get("", response_model=Page[BulkBatchRead], summary="Batches of the organisation, newest first")
async def list_bulk_transfers(
    session: SessionDep,
    principal: Reader,
    params: Paging,
    state: Annotated[BatchState | None, Query()] = None,
) -> Page[BulkBatchRead]:
    rows, cursor = await service.list_batches(
        session, organization_id=require_org(principal), params=params, state=state
    )
    return Page[BulkBatchRead](items=[batch_read(batch) for batch in rows], next_cursor=cursor)


@router.get("/{batch_id}", response_model=BulkBatchDetail, summary="A batch and its validation report")
async def get_bulk_transfer(session: SessionDep, principal: Reader, batch_id: uuid.UUID) -> BulkBatchDetail:
    return batch_detail(await service.get_batch(session, organization_id=require_org(principal), batch_id=batch_id))


@router.get(
    "/{batch_id}/status",
    response_model=BulkStatus,
    summary="Totals, amounts, lines per state, and the lines (paginated, filterable)",
)
async def get_bulk_transfer_status(
    *,
    session: SessionDep,
    principal: Reader,
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
    request: Request, session: SessionDep, principal: Reader, batch_id: uuid.UUID
) -> EventSourceResponse:
    """An event at least every second, read from the database (any API process can serve it); the stream
    closes after the event that shows the batch ended."""
    await service.get_batch(session, organization_id=require_org(principal), batch_id=batch_id)
    sessionmaker = request.app.state.read_sessionmaker  # polls never take SQLite's write lock
    interval = _settings(request).bulk_stream_interval_seconds

    async def events() -> AsyncIterator[ServerSentEvent]:
        sequence = 0
        while True:
            async with sessionmaker() as reader:
                batch = await reader.get(BulkBatch, batch_id)
                progress = progress_of(batch) if batch is not None else None
                await reader.rollback()
            if progress is None:
                return
            sequence += 1
            yield ServerSentEvent(data=progress.model_dump_json(), event="progress", id=str(sequence))
            if progress.state in FINAL_BATCH_STATES:
                return
            await asyncio.sleep(interval)

    return EventSourceResponse(events(), ping=15, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _language(language: Language | None) -> Language:
    return language or current_language.get()


def _xlsx_response(header: list[str], rows: AsyncIterator[list[Cell]], filename: str) -> StreamingResponse:
    """The sheet is built once the route has answered (the request's transaction is over: SQLite has one writer
    lock), page by page in a worker thread (openpyxl is synchronous), spooled, then streamed."""

    async def body() -> AsyncIterator[bytes]:
        sheet = XlsxSheet(header)
        page: list[list[Cell]] = []

        def append(rows_: list[list[Cell]]) -> None:
            for row in rows_:
                sheet.append(row)

        async for row in rows:
            page.append(row)
            if len(page) >= 5000:
                await asyncio.to_thread(append, page)
                page = []
        await asyncio.to_thread(append, page)
        with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
            await asyncio.to_thread(sheet.save, spool)
            spool.seek(0)
            while block := await asyncio.to_thread(spool.read, 1 << 16):
                yield block

    return StreamingResponse(
        body(), media_type=XLSX_MEDIA_TYPE, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


def _download(
    header: list[str], rows: AsyncIterator[list[Cell]], stem: str, format: ExportFormat, delimiter: str
) -> StreamingResponse:
    """An export as an attachment: ``stem.xlsx``, or ``stem.csv`` with the chosen delimiter."""
    if format == "xlsx":
        return _xlsx_response(header, rows, f"{stem}.xlsx")
    return StreamingResponse(
        aiter_csv(header, rows, delimiter=delimiter),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'},
    )


@router.get("/{batch_id}/results", summary="Results export, one row per line (CSV or XLSX, formula-safe)")
async def export_bulk_transfer_results(
    *,
    request: Request,
    session: SessionDep,
    principal: Reader,
    batch_id: uuid.UUID,
    format: Annotated[ExportFormat, Query()] = "csv",
    language: Annotated[Language | None, Query()] = None,
    delimiter: Annotated[Literal[",", ";"], Query(description="; for French Excel (decimal commas)")] = ";",
    state: Annotated[LineState | None, Query()] = None,
) -> StreamingResponse:
    batch = await service.get_batch(session, organization_id=require_org(principal), batch_id=batch_id)
    lang = _language(language)
    header = result_header(lang)
    rows = result_rows(request.app.state.sessionmaker, batch, LineFilter(state=state), lang)
    stem = pick("resultats", "results", lang) + f"-{batch.id}"
    return _download(header, rows, stem, format, delimiter)


@router.get("/{batch_id}/issues", summary="The validation report's issues, to fix the file from (CSV or XLSX)")
async def export_bulk_transfer_issues(
    *,
    session: SessionDep,
    principal: Reader,
    batch_id: uuid.UUID,
    format: Annotated[ExportFormat, Query()] = "csv",
    language: Annotated[Language | None, Query()] = None,
    delimiter: Annotated[Literal[",", ";"], Query()] = ";",
) -> StreamingResponse:
    batch = await service.get_batch(session, organization_id=require_org(principal), batch_id=batch_id)
    lang = _language(language)
    report = batch.report or {}
    issues = [Issue.from_dict(item) for item in (report.get("file_issues") or []) + (report.get("issues") or [])]
    header, rows = issue_table(issues, lang)

    async def all_rows() -> AsyncIterator[list[Cell]]:
        for row in rows:
            yield row

    stem = pick("anomalies", "issues", lang) + f"-{batch.id}"
    return _download(header, all_rows(), stem, format, delimiter)


async def _act(
    action: Callable[..., Awaitable[BulkBatch]],
    request: Request,
    session: AsyncSession,
    principal: Principal,
    batch_id: uuid.UUID,
    **extra: Any,
) -> BulkBatchRead:
    """Submit, approve, cancel or retry: the service's rule for the caller's batch, the batch as it stands after."""
    batch = await action(
        session,
        organization_id=require_org(principal),
        batch_id=batch_id,
        principal=principal,
        settings=_settings(request),
        ip=_ip(request),
        **extra,
    )
    return batch_read(batch)


@router.post("/{batch_id}/submit", response_model=BulkBatchRead, summary="Submit the valid lines of a draft")
async def submit_bulk_transfer(
    request: Request, session: SessionDep, principal: Creator, batch_id: uuid.UUID
) -> BulkBatchRead:
    return await _act(service.submit, request, session, principal, batch_id)


@router.post("/{batch_id}/approve", response_model=BulkBatchRead, summary="Approve (maker–checker): reserve and pay")
async def approve_bulk_transfer(
    request: Request, session: SessionDep, principal: Approver, batch_id: uuid.UUID
) -> BulkBatchRead:
    return await _act(service.approve, request, session, principal, batch_id)


@router.post("/{batch_id}/cancel", response_model=BulkBatchRead, summary="Cancel: release, or stop new lines")
async def cancel_bulk_transfer(
    request: Request, session: SessionDep, principal: Creator, batch_id: uuid.UUID
) -> BulkBatchRead:
    return await _act(service.cancel, request, session, principal, batch_id)


@router.post("/{batch_id}/retry", response_model=BulkBatchRead, summary="Pay the failed lines again")
async def retry_bulk_transfer(
    request: Request,
    session: SessionDep,
    principal: Creator,
    batch_id: uuid.UUID,
    body: BulkRetry | None = None,
) -> BulkBatchRead:
    return await _act(service.retry, request, session, principal, batch_id, lines=body.lines if body else None)


@router.post(
    "/{batch_id}/payee-check",
    response_model=BulkBatchRead,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Look every payee up at the provider (before approval)",
)
async def check_bulk_transfer_payees(
    request: Request, session: SessionDep, principal: Creator, batch_id: uuid.UUID
) -> BulkBatchRead:
    batch = await request_payee_check(
        session, organization_id=require_org(principal), batch_id=batch_id, principal=principal, ip=_ip(request)
    )
    return batch_read(batch)


@router.delete("/{batch_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Discard a draft")
async def discard_bulk_transfer(
    request: Request, session: SessionDep, principal: Creator, batch_id: uuid.UUID
) -> Response:
    await service.discard(
        session, organization_id=require_org(principal), batch_id=batch_id, principal=principal, ip=_ip(request)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
