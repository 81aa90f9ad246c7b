"""Bulk payment pages: list, upload, validation report, submit / approve / cancel / retry, live progress, results.

Handlers call :mod:`cauri.disbursements.service` (and its upload, payee and report functions) in the request's
unit of work, with the permission dependencies of :mod:`cauri.disbursements.permissions`, as
``/api/v1/bulk-transfers`` does. The live stream and the exports are the same report functions the API streams
(:mod:`cauri.disbursements.reports`), so the browser receives exactly what an API client would. The console
imports no API router and runs no query of its own.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from cauri.connectors.credentials import list_credentials
from cauri.connectors.registry import registry
from cauri.core.config import Settings
from cauri.core.db import rollback
from cauri.core.deps import settings_of as _settings
from cauri.core.errors import AppError, field_error
from cauri.core.i18n import pick
from cauri.core.pagination import PageParams
from cauri.core.principal import Principal
from cauri.core.responses import attachment, event_stream
from cauri.core.routing import SessionDep
from cauri.disbursements import reports, service
from cauri.disbursements.errors import InvalidBulkFile
from cauri.disbursements.models import BatchState, BulkBatch, LineState
from cauri.disbursements.payees import request_payee_check
from cauri.disbursements.permissions import BulkApprover, BulkCreator, BulkReader, actor, operation
from cauri.disbursements.reports import (
    ExportFormat,
    LineFilter,
    counts_by_state,
    lines_page,
    progress_updates,
    unsupported_payees,
)
from cauri.disbursements.schemas import progress_of
from cauri.disbursements.upload import UploadOptions, create_batch
from cauri.identity.deps import client_ip
from cauri.identity.permissions import Perm, has_permission, require_org
from cauri.ledger import service as ledger
from cauri.payments.outcomes import failure_message
from cauri.web.auth import Console, ConsoleSession, require_console, verify_csrf
from cauri.web.batch_views import (
    BATCH_STATES,
    LINE_STATES,
    TERMINAL_STATES,
    controls,
    is_running,
    payee_check_view,
    payee_flag,
    provider_name_differs,
    report_view,
    user_names,
)
from cauri.web.i18n import page_language, translate
from cauri.web.rendering import ConsoleRoute, render

LINES_PER_PAGE = 50
BATCHES_PER_PAGE = 20
RECENT_BATCHES = 5
DONE_NOTICES = {
    "uploaded": "batch.done.uploaded",
    "submit": "batch.done.submitted",
    "approve": "batch.done.approved",
    "cancel": "batch.done.cancelled",
    "retry": "batch.done.retried",
    "payee-check": "batch.done.payee_check",
}
CHECKED = frozenset({"1", "on", "true", "yes", "oui"})

router = APIRouter(
    prefix="/console/batches",
    route_class=ConsoleRoute,
    include_in_schema=False,
    dependencies=[Depends(require_console)],
)

CsrfChecked = Annotated[None, Depends(verify_csrf)]


async def recent_batches(session: AsyncSession, console: ConsoleSession) -> list[BulkBatch]:
    """The dashboard's latest batches (none for a role that may not read them)."""
    if console.organization is None or not has_permission(console.principal, Perm.BULK_READ):
        return []
    rows, _ = await service.list_batches(
        session, organization_id=console.organization.id, params=PageParams(limit=RECENT_BATCHES)
    )
    return rows


@router.get("")
async def batch_list(request: Request, console: Console, principal: BulkReader, session: SessionDep) -> Response:
    language = page_language(request)
    raw_state = request.query_params.get("state") or None
    state = BatchState(raw_state) if raw_state in BATCH_STATES else None
    cursor = request.query_params.get("cursor") or None
    rows, next_cursor = await service.list_batches(
        session,
        organization_id=require_org(principal),
        params=PageParams(limit=BATCHES_PER_PAGE, cursor=cursor),
        state=state,
    )
    return render(
        request,
        "batches.html",
        title=translate(language, "batches.title"),
        batches=rows,
        state=state.value if state else "",
        states=BATCH_STATES,
        next_cursor=next_cursor,
        can_create=has_permission(principal, Perm.BULK_CREATE),
    )


# --- upload ----------------------------------------------------------------------------------------------------


async def _providers(session: AsyncSession, organization_id: uuid.UUID, settings: Settings) -> list[tuple[str, str]]:
    """(name, display name) of the providers this organisation can choose; the default first."""
    names = [settings.default_provider]
    names += [item.provider for item in await list_credentials(session, organization_id=organization_id)]
    choices: list[tuple[str, str]] = []
    for name in dict.fromkeys(names):
        try:
            choices.append((name, registry.get(name).display_name))
        except AppError:
            continue  # stored credentials of a provider this build does not ship
    return choices


async def _upload_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    *,
    status: int = 200,
    error: str | None = None,
    refused: dict[str, Any] | None = None,
) -> Response:
    language = page_language(request)
    return render(
        request,
        "batch_new.html",
        status=status,
        title=translate(language, "upload.title"),
        providers=await _providers(session, require_org(principal), _settings(request)),
        error=error,
        refused=report_view(refused, language) if refused is not None else None,
    )


@router.get("/new")
async def upload_form(request: Request, principal: BulkCreator, session: SessionDep) -> Response:
    return await _upload_page(request, session, principal)


@router.post("")
async def upload(request: Request, principal: BulkCreator, session: SessionDep, _csrf: CsrfChecked) -> Response:
    form = await request.form()
    upload = form.get("file")
    provider = str(form.get("provider") or "").strip() or None
    check_payees = str(form.get("check_payees") or "").strip().lower() in CHECKED
    language = page_language(request)
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise field_error("file", "missing", "Choisissez un fichier à charger.", "Choose a file to upload.")
        batch, _secret = await create_batch(
            session,
            upload=upload.file,
            options=UploadOptions(file_name=upload.filename, provider=provider, check_payees=check_payees),
            principal=principal,
            organization_id=require_org(principal),
            settings=_settings(request),
            sessionmaker=request.app.state.sessionmaker,
            ip=client_ip(request),
        )
    except AppError as exc:
        await rollback(session)
        refused = exc.extra.get("report") if isinstance(exc, InvalidBulkFile) else None
        return await _upload_page(
            request,
            session,
            principal,
            status=exc.status,
            error=pick(exc.message_fr, exc.message_en, language),
            refused=refused,
        )
    return RedirectResponse(f"/console/batches/{batch.id}?done=uploaded", status_code=303)


# --- one batch -------------------------------------------------------------------------------------------------


async def _available_balance(session: AsyncSession, batch: BulkBatch) -> int | None:
    if batch.currency is None:
        return None
    for account in await ledger.list_accounts(session, organization_id=batch.organization_id, currency=batch.currency):
        if account.code == ledger.OPERATING:
            return account.balance.available
    return 0


def _line_filter(request: Request) -> tuple[LineState | None, bool]:
    raw = request.query_params.get("state") or ""
    return (LineState(raw) if raw in LINE_STATES else None), request.query_params.get("review") == "1"


def _payee_flagged_only(request: Request) -> bool:
    """``?payee=flagged``: the lines the payee check flagged (the API's own filter)."""
    return request.query_params.get("payee") == "flagged"


async def _batch_page(
    request: Request,
    console: ConsoleSession,
    session: AsyncSession,
    batch_id: uuid.UUID,
    *,
    status: int = 200,
    error: str | None = None,
) -> Response:
    language = page_language(request)
    principal = console.principal
    batch = await service.get_batch(session, organization_id=require_org(principal), batch_id=batch_id)
    line_state, review_only = _line_filter(request)
    flagged_only = _payee_flagged_only(request)
    cursor = request.query_params.get("cursor") or None
    lines, next_cursor = await lines_page(
        session,
        batch.id,
        LineFilter(state=line_state, review=review_only, payee_flagged=flagged_only),
        limit=LINES_PER_PAGE,
        cursor=cursor,
    )
    done = request.query_params.get("done")
    notice = translate(language, DONE_NOTICES[done]) if done in DONE_NOTICES and error is None else None
    return render(
        request,
        "batch.html",
        status=status,
        title=translate(language, "batch.title", name=batch.file_name),
        batch=batch,
        report=report_view(batch.report, language),
        controls=controls(batch, console, language),
        running=is_running(batch),
        terminal_states=TERMINAL_STATES,
        progress=progress_of(batch),
        counts=await counts_by_state(session, batch.id),
        lines=lines,
        failure=lambda reason: failure_message(reason, language),
        next_cursor=next_cursor,
        has_cursor=cursor is not None,
        line_state=line_state.value if line_state else "",
        review_only=review_only,
        flagged_only=flagged_only,
        line_states=LINE_STATES,
        payees=payee_check_view(batch, await unsupported_payees(session, batch)),
        payee_flag=payee_flag,
        provider_name_differs=provider_name_differs,
        names=await user_names(session, [batch.created_by, batch.submitted_by, batch.approved_by]),
        available=await _available_balance(session, batch),
        maker_checker=bool(console.organization and console.organization.require_maker_checker),
        error=error,
        notice=notice,
    )


@router.get("/{batch_id}")
async def batch_detail(
    request: Request, batch_id: uuid.UUID, console: Console, _reader: BulkReader, session: SessionDep
) -> Response:
    return await _batch_page(request, console, session, batch_id)


CreatorAction = Literal["submit", "cancel", "retry", "payee-check", "discard"]  # the batch maker's (bulk_create)
ConsoleAction = CreatorAction | Literal["approve"]


async def _run(
    request: Request, console: ConsoleSession, session: AsyncSession, batch_id: uuid.UUID, action: ConsoleAction
) -> None:
    """The service function of one operator action, called directly."""
    who = actor(console.principal, client_ip(request))
    money = operation(console.principal, client_ip(request), _settings(request))
    match action:
        case "submit":
            await service.submit(session, batch_id=batch_id, **money)
        case "approve":
            await service.approve(session, batch_id=batch_id, **money)
        case "cancel":
            await service.cancel(session, batch_id=batch_id, **money)
        case "retry":
            await service.retry(session, batch_id=batch_id, **money)
        case "payee-check":
            await request_payee_check(session, batch_id=batch_id, **who)
        case "discard":
            await service.discard(session, batch_id=batch_id, **who)


async def _perform(
    request: Request, console: ConsoleSession, session: AsyncSession, batch_id: uuid.UUID, action: ConsoleAction
) -> Response:
    """Run one operator action; on refusal, the batch page with the reason (nothing saved)."""
    try:
        await _run(request, console, session, batch_id, action)
    except AppError as exc:
        await rollback(session)
        message = pick(exc.message_fr, exc.message_en, page_language(request))
        return await _batch_page(request, console, session, batch_id, status=exc.status, error=message)
    if action == "discard":
        return RedirectResponse("/console/batches", status_code=303)
    return RedirectResponse(f"/console/batches/{batch_id}?done={action}", status_code=303)


@router.post("/{batch_id}/approve")
async def approve(
    request: Request,
    batch_id: uuid.UUID,
    console: Console,
    _: BulkApprover,
    session: SessionDep,
    _csrf: CsrfChecked,
) -> Response:
    return await _perform(request, console, session, batch_id, "approve")


@router.post("/{batch_id}/{action}")
async def act(
    request: Request,
    batch_id: uuid.UUID,
    action: CreatorAction,
    console: Console,
    _: BulkCreator,
    session: SessionDep,
    _csrf: CsrfChecked,
) -> Response:
    """Submit, cancel, retry, start the payee check (``payees.request_payee_check``, as ``POST …/payee-check`` of
    the API) or discard: the actions of the batch's maker."""
    return await _perform(request, console, session, batch_id, action)


# --- live progress and exports ---------------------------------------------------------------------------------


@router.get("/{batch_id}/status")
async def batch_status(batch_id: uuid.UUID, principal: BulkReader, session: SessionDep) -> JSONResponse:
    """The stream's event, once: what the page polls every 2 s when ``EventSource`` cannot stay open."""
    batch = await service.get_batch(session, organization_id=require_org(principal), batch_id=batch_id)
    return JSONResponse(progress_of(batch).model_dump(mode="json"))


@router.get("/{batch_id}/payee-check")
async def payee_check_status(batch_id: uuid.UUID, principal: BulkReader, session: SessionDep) -> JSONResponse:
    """The payee check's progress, which the page polls every 2 s while it runs: the batch's own fields
    (``payee_check``, ``payees_checked``, ``payees_flagged``, as the API's batch has them)."""
    batch = await service.get_batch(session, organization_id=require_org(principal), batch_id=batch_id)
    return JSONResponse(
        {
            "payee_check": str(batch.payee_check),
            "payees_checked": batch.payees_checked,
            "payees_flagged": batch.payees_flagged,
        }
    )


@router.get("/{batch_id}/stream")
async def batch_stream(request: Request, batch_id: uuid.UUID, principal: BulkReader, session: SessionDep) -> Response:
    await service.get_batch(session, organization_id=require_org(principal), batch_id=batch_id)
    interval = _settings(request).bulk_stream_interval_seconds
    updates = progress_updates(request.app.state.read_sessionmaker, batch_id, interval=interval)
    return event_stream(updates, event="progress")


def _export_format(request: Request) -> ExportFormat:
    return "xlsx" if request.query_params.get("format") == "xlsx" else "csv"


@router.get("/{batch_id}/results")
async def results_export(request: Request, batch_id: uuid.UUID, principal: BulkReader, session: SessionDep) -> Response:
    batch = await service.get_batch(session, organization_id=require_org(principal), batch_id=batch_id)
    line_state, _ = _line_filter(request)
    sessionmaker = request.app.state.sessionmaker
    download = reports.results_export(
        sessionmaker,
        batch,
        LineFilter(state=line_state),
        language=page_language(request),
        format=_export_format(request),
        delimiter=";",
    )
    return attachment(download)


@router.get("/{batch_id}/issues")
async def issues_export(request: Request, batch_id: uuid.UUID, principal: BulkReader, session: SessionDep) -> Response:
    batch = await service.get_batch(session, organization_id=require_org(principal), batch_id=batch_id)
    language = page_language(request)
    return attachment(reports.issues_export(batch, language=language, format=_export_format(request), delimiter=";"))
