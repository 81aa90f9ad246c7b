"""Tontine pages: a member's tontines, next due and "pay now" (mobile money), their statement and the pot's
movements; a manager's session board (who paid, who is late, cash recorded in one tap with its proof, another
manager's record validated or rejected) and the payout schedule.

What one may do inside a tontine is the tontine's own role (membre, président, trésorier: ``service.Access``), the
same checks as ``/api/v1/tontines``: handlers call the module's service functions (``service``, ``sessions``,
``contributions``, ``statements``, ``passages``, ``board``) in the request's unit of work. A tontine the caller
does not belong to is a 404, like another organisation's. Buttons shown are display only; the services refuse a
forged form anyway, and a refusal re-renders the page with the reason (nothing written).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from cauri.core.db import rollback
from cauri.core.errors import AppError, Forbidden, NotFound, field_error
from cauri.core.i18n import Language, pick
from cauri.core.pagination import PageParams
from cauri.core.routing import SessionDep
from cauri.identity.permissions import Perm, has_permission
from cauri.tontines import board, contributions, passages, service, sessions, statements
from cauri.tontines.models import MemberStatus, SessionStatus
from cauri.tontines.views import tontine_read
from cauri.web.auth import Console, ConsoleSession, require_console, verify_csrf
from cauri.web.i18n import TEXTS, page_language, translate
from cauri.web.rendering import ConsoleRoute, render

MOVEMENTS_SHOWN = 20
TONTINES_SHOWN = 50
PROOF_MAX_BYTES = 5 * 1024 * 1024

router = APIRouter(
    prefix="/console/tontines",
    route_class=ConsoleRoute,
    include_in_schema=False,
    dependencies=[Depends(require_console)],
)

CsrfChecked = Annotated[None, Depends(verify_csrf)]


def _organization(console: ConsoleSession) -> uuid.UUID:
    if console.organization is None or not has_permission(console.principal, Perm.TONTINES_USE):
        raise Forbidden(
            "Votre rôle ne donne pas accès aux tontines.", "Your role gives no access to tontines.", code="forbidden"
        )
    return console.organization.id


async def _seen(session: SessionDep, console: ConsoleSession, tontine_id: uuid.UUID) -> service.Access:
    return await service.access(
        session, principal=console.principal, organization_id=_organization(console), tontine_id=tontine_id
    )


def kind_label(language: Language, kind: str) -> str:
    """A pot movement's kind in words (``tontine.kind.<code>``), else its code."""
    key = "tontine.kind." + kind.replace("tontine.", "")
    return translate(language, key) if key in TEXTS else kind


def role_label(language: Language, role: str | None) -> str:
    return translate(language, f"tontine.role.{role}") if role else "—"


def _message(request: Request, exc: AppError) -> str:
    return pick(exc.message_fr, exc.message_en, page_language(request))


# --- my tontines --------------------------------------------------------------------------------------------------


@router.get("")
async def my_tontines(request: Request, console: Console, session: SessionDep) -> Response:
    organization_id = _organization(console)
    rows, _ = await service.list_tontines(
        session, principal=console.principal, organization_id=organization_id, params=PageParams(limit=TONTINES_SHOWN)
    )
    cards = []
    for row in rows:
        seen = await service.access(
            session, principal=console.principal, organization_id=organization_id, tontine_id=row.id
        )
        cards.append({"read": await tontine_read(session, seen, None), "next": await board.next_due(session, seen)})
    language = page_language(request)
    return render(
        request,
        "tontines.html",
        title=translate(language, "tontine.list_title"),
        cards=cards,
        role_label=lambda role: role_label(language, role),
    )


# --- one tontine: next due, pay now, my statement, the pot's movements, sessions, payout schedule ------------------


async def _tontine_page(
    request: Request,
    console: ConsoleSession,
    session: SessionDep,
    seen: service.Access,
    *,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> Response:
    language = page_language(request)
    members = {m.id: m for m in await service.list_members(session, seen)}
    moves, _ = await statements.movements(session, seen, limit=MOVEMENTS_SHOWN, cursor=None)
    mine = seen.member if seen.member is not None and seen.member.status == MemberStatus.ACTIVE else None
    return render(
        request,
        "tontine.html",
        status=status,
        title=seen.tontine.name,
        error=error,
        notice=notice,
        tontine=await tontine_read(session, seen, None),
        manager=seen.is_manager,
        me=mine,
        phone=(mine.phone if mine is not None else None) or "",
        next_due=await board.next_due(session, seen),
        statement=await statements.member_rows(session, mine) if mine is not None else [],
        movements=moves,
        names={member_id: m.display_name for member_id, m in members.items()},
        sessions=[row for row in await sessions.list_sessions(session, seen) if row.status != SessionStatus.PLANNED],
        schedule=await passages.list_passages(session, seen),
        kind_label=lambda kind: kind_label(language, kind),
        role_label=lambda role: role_label(language, role),
    )


@router.get("/{tontine_id}")
async def tontine_page(request: Request, tontine_id: uuid.UUID, console: Console, session: SessionDep) -> Response:
    seen = await _seen(session, console, tontine_id)
    asked = request.query_params.get("asked")
    notice = translate(page_language(request), "tontine.pay_asked") if asked else None
    return await _tontine_page(request, console, session, seen, notice=notice)


def _form_amount(raw: object) -> int:
    text = str(raw or "").replace(" ", "").replace("\u202f", "").strip()
    if not text.isdigit() or int(text) <= 0:
        raise field_error(
            "amount", "int_parsing", "Un montant entier positif est attendu.", "A positive whole amount is expected."
        )
    return int(text)


def _form_uuid(raw: object, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw or ""))
    except ValueError:
        raise field_error(field, "uuid_parsing", "Identifiant invalide.", "Invalid identifier.") from None


@router.post("/{tontine_id}/pay")
async def pay_now(
    request: Request, tontine_id: uuid.UUID, console: Console, session: SessionDep, _csrf: CsrfChecked
) -> Response:
    """Mobile money asked of the member's phone (``contributions.initiate_mobile``); the pot is credited only when
    the payment settles (its settlement event), never by this page."""
    seen = await _seen(session, console, tontine_id)
    form = await request.form()
    try:
        phone = str(form.get("phone") or "").strip() or None
        await contributions.initiate_mobile(
            session,
            seen,
            session_id=_form_uuid(form.get("session_id"), "session_id"),
            member_id=None,
            amount=_form_amount(form.get("amount")),
            currency=seen.tontine.currency,
            phone=phone,
            provider=None,
            purpose="contribution",
            settings=request.app.state.settings,
        )
    except AppError as exc:
        await rollback(session)
        return await _tontine_page(
            request, console, session, await _seen(session, console, tontine_id), status=exc.status,
            error=_message(request, exc),
        )  # fmt: skip
    return RedirectResponse(f"/console/tontines/{tontine_id}?asked=1", status_code=303)


@router.get("/{tontine_id}/statement.csv")
async def my_statement(tontine_id: uuid.UUID, console: Console, session: SessionDep) -> Response:
    seen = await _seen(session, console, tontine_id)
    member = seen.require_active_member()
    body = await statements.statement_csv(session, seen, member)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="releve-{member.id}.csv"'},
    )


# --- the session board --------------------------------------------------------------------------------------------


async def _board_page(
    request: Request,
    console: ConsoleSession,
    session: SessionDep,
    seen: service.Access,
    session_id: uuid.UUID,
    *,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> Response:
    row = await sessions.get_session(session, seen.tontine, session_id)
    language = page_language(request)
    return render(
        request,
        "tontine_board.html",
        status=status,
        title=translate(language, "tontine.board_title", number=row.number),
        error=error,
        notice=notice,
        tontine=seen.tontine,
        row=row,
        lines=await board.session_board(session, seen, row),
        stats=await sessions.stats(session, seen, row),
        manager=seen.is_manager,
        me=seen.member.user_id if seen.member is not None else None,
    )


@router.get("/{tontine_id}/sessions/{session_id}")
async def session_board(
    request: Request, tontine_id: uuid.UUID, session_id: uuid.UUID, console: Console, session: SessionDep
) -> Response:
    seen = await _seen(session, console, tontine_id)
    done = request.query_params.get("done")
    notices = {
        "recorded": "tontine.cash_recorded",
        "validated": "tontine.cash_validated",
        "rejected": "tontine.cash_rejected",
    }
    notice = translate(page_language(request), notices[done]) if done in notices else None
    return await _board_page(request, console, session, seen, session_id, notice=notice)


async def _refused(
    request: Request,
    console: ConsoleSession,
    session: SessionDep,
    ids: tuple[uuid.UUID, uuid.UUID],
    exc: AppError,
) -> Response:
    """A refusal: nothing written (rolled back), the board shown again with the service's reason."""
    await rollback(session)
    tontine_id, session_id = ids
    seen = await _seen(session, console, tontine_id)
    message = _message(request, exc)
    return await _board_page(request, console, session, seen, session_id, status=exc.status, error=message)


async def _proof_of(upload: Any) -> bytes | None:
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    data = await upload.read(PROOF_MAX_BYTES + 1)
    return data or None


@router.post("/{tontine_id}/sessions/{session_id}/cash")
async def record_cash(
    request: Request,
    tontine_id: uuid.UUID,
    session_id: uuid.UUID,
    console: Console,
    session: SessionDep,
    _csrf: CsrfChecked,
) -> Response:
    """Cash handed to the treasurer, recorded with its proof (photo or receipt); another manager validates it."""
    seen = await _seen(session, console, tontine_id)
    try:
        async with request.form(max_files=1, max_fields=10) as form:
            proof = await _proof_of(form.get("proof"))
            await contributions.record_cash(
                session,
                seen,
                request.app.state.storage,
                session_id=session_id,
                member_id=_form_uuid(form.get("member_id"), "member_id"),
                amount=_form_amount(form.get("amount")),
                currency=seen.tontine.currency,
                purpose="contribution",
                proof=proof,
            )
    except AppError as exc:
        return await _refused(request, console, session, (tontine_id, session_id), exc)
    return RedirectResponse(f"/console/tontines/{tontine_id}/sessions/{session_id}?done=recorded", status_code=303)


@router.post("/{tontine_id}/contributions/{contribution_id}/check")
async def check_cash(
    request: Request,
    tontine_id: uuid.UUID,
    contribution_id: uuid.UUID,
    console: Console,
    session: SessionDep,
    _csrf: CsrfChecked,
) -> Response:
    """Another manager validates (``member cash → pot``) or rejects, with a reason, a recorded cash payment."""
    seen = await _seen(session, console, tontine_id)
    row = await contributions.get_contribution(session, seen, contribution_id)
    session_id = row.session_id
    form = await request.form()
    decision = str(form.get("decision") or "")
    if decision not in ("validate", "reject"):
        raise field_error("decision", "literal_error", "Valider ou rejeter ?", "Validate or reject?")
    approve = decision == "validate"
    reason = str(form.get("reason") or "").strip()[:500] or None
    try:
        await contributions.validate_cash(session, seen, contribution_id, approve=approve, reason=reason)
    except AppError as exc:
        return await _refused(request, console, session, (tontine_id, session_id), exc)
    done = "validated" if approve else "rejected"
    return RedirectResponse(f"/console/tontines/{tontine_id}/sessions/{session_id}?done={done}", status_code=303)


@router.get("/{tontine_id}/contributions/{contribution_id}/proof")
async def proof(
    tontine_id: uuid.UUID, contribution_id: uuid.UUID, console: Console, session: SessionDep, request: Request
) -> Response:
    seen = await _seen(session, console, tontine_id)
    row = await contributions.get_contribution(session, seen, contribution_id)
    if row.proof_key is None:
        raise NotFound("Ce paiement n'a pas de preuve.", "This payment has no proof.", code="no_proof")
    data = await request.app.state.storage.get(row.proof_key)
    return Response(data, media_type=row.proof_content_type or "application/octet-stream")
