"""HTTP routes of tontines: ``/api/v1/tontines…`` (docs/tontines.md). HTTP only: each route finds the tontine as
the caller may see it (``service.access``: not theirs is a 404) and calls one service function."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request, Response, status

from cauri.core.deps import SettingsDep, StorageDep
from cauri.core.errors import field_error
from cauri.core.pagination import Page, PageParams, page_params
from cauri.core.principal import Principal
from cauri.core.routing import SessionDep, api_router
from cauri.identity.permissions import Perm, require, require_org
from cauri.tontines import (
    calendar,
    contributions,
    passages,
    rotation_routes,
    savings_routes,
    service,
    sessions,
    statements,
)
from cauri.tontines.errors import NotAManager
from cauri.tontines.forms import (
    CASH_FORM,
    CASH_RESPONSES,
    CSV_RESPONSES,
    PDF_RESPONSES,
    PROOF_RESPONSES,
    record_cash_from_form,
)
from cauri.tontines.schemas import (
    CalendarRead,
    ContributionRead,
    Correction,
    DrawRead,
    Handover,
    JoinPreview,
    JoinRequest,
    MemberAdd,
    MemberRead,
    MemberRejection,
    MobileContribution,
    MovementRead,
    PassageGenerate,
    PassageRead,
    SessionCreate,
    SessionDetail,
    SessionRead,
    SessionStats,
    Settlement,
    TontineCreate,
    TontineRead,
    TontineUpdate,
    Validation,
    Waiver,
)
from cauri.tontines.views import (
    contribution_read,
    due_read,
    member_read,
    passage_read,
    session_read,
    tontine_read,
)

router = api_router(prefix="/tontines", tags=["tontines"])

User = Annotated[Principal, Depends(require(Perm.TONTINES_USE))]
Paging = Annotated[PageParams, Depends(page_params)]


async def _access(session: SessionDep, principal: Principal, tontine_id: uuid.UUID) -> service.Access:
    return await service.access(
        session, principal=principal, organization_id=require_org(principal), tontine_id=tontine_id
    )


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a tontine (its creator is its président)")
async def create_tontine(
    body: TontineCreate, response: Response, session: SessionDep, principal: User, settings: SettingsDep
) -> TontineRead:
    seen = await service.create_tontine(session, principal=principal, organization_id=require_org(principal), body=body)
    response.headers["Location"] = f"/api/v1/tontines/{seen.tontine.id}"
    return await tontine_read(session, seen, settings)


@router.get("", summary="My tontines (every one for the operator's admins), newest first")
async def list_tontines(
    session: SessionDep, principal: User, params: Paging, settings: SettingsDep
) -> Page[TontineRead]:
    organization_id = require_org(principal)
    rows, cursor = await service.list_tontines(
        session, principal=principal, organization_id=organization_id, params=params
    )
    items = [
        await tontine_read(
            session,
            await service.access(session, principal=principal, organization_id=organization_id, tontine_id=row.id),
            settings,
        )
        for row in rows
    ]
    return Page[TontineRead](items=items, next_cursor=cursor)


@router.post("/join", summary="Join a tontine by its code")
async def join_tontine(body: JoinRequest, session: SessionDep, principal: User) -> MemberRead:
    seen = await service.join(session, principal=principal, organization_id=require_org(principal), code=body.code)
    assert seen.member is not None
    return member_read(seen.member)


@router.get("/join/{code}", summary="The shareable link: what the tontine is, before joining it")
async def join_preview(code: str, session: SessionDep, principal: User) -> JoinPreview:
    tontine = await service.by_code(session, organization_id=require_org(principal), code=code)
    return JoinPreview(
        code=tontine.join_code,
        name=tontine.name,
        description=tontine.description,
        type=tontine.type,
        frequency=tontine.frequency,
        contribution_amount=tontine.contribution_amount,
        currency=tontine.currency,
        members=await service.member_count(session, tontine.id),
        max_members=tontine.max_members,
        approval_required=tontine.approval_required,
    )


@router.get("/{tontine_id}", summary="A tontine (its members only)")
async def get_tontine(
    tontine_id: uuid.UUID, session: SessionDep, principal: User, settings: SettingsDep
) -> TontineRead:
    return await tontine_read(session, await _access(session, principal, tontine_id), settings)


@router.put("/{tontine_id}", summary="Change a tontine's name, description or rules (président)")
async def update_tontine(
    tontine_id: uuid.UUID, body: TontineUpdate, session: SessionDep, principal: User, settings: SettingsDep
) -> TontineRead:
    seen = await _access(session, principal, tontine_id)
    await service.update_tontine(session, seen, body)
    return await tontine_read(session, seen, settings)


@router.delete("/{tontine_id}", summary="Deactivate a tontine (président)")
async def deactivate_tontine(
    tontine_id: uuid.UUID, session: SessionDep, principal: User, settings: SettingsDep
) -> TontineRead:
    seen = await _access(session, principal, tontine_id)
    await service.deactivate_tontine(session, seen)
    return await tontine_read(session, seen, settings)


@router.get("/{tontine_id}/calendar", summary="The due dates the tontine's frequency generates")
async def tontine_calendar(
    tontine_id: uuid.UUID, session: SessionDep, principal: User, count: Annotated[int, Query(ge=1, le=366)] = 12
) -> CalendarRead:
    tontine = (await _access(session, principal, tontine_id)).tontine
    return CalendarRead(frequency=tontine.frequency, dates=calendar.dates(tontine.start_date, tontine.frequency, count))


# --- members ------------------------------------------------------------------------------------------------------


@router.post("/{tontine_id}/members", status_code=status.HTTP_201_CREATED, summary="Add a member (président)")
async def add_member(tontine_id: uuid.UUID, body: MemberAdd, session: SessionDep, principal: User) -> MemberRead:
    seen = await _access(session, principal, tontine_id)
    return member_read(await service.add_member(session, seen, user_id=body.user_id, role=body.role))


@router.get("/{tontine_id}/members", summary="The tontine's members")
async def list_members(tontine_id: uuid.UUID, session: SessionDep, principal: User) -> list[MemberRead]:
    seen = await _access(session, principal, tontine_id)
    return [member_read(m) for m in await service.list_members(session, seen)]


@router.post("/{tontine_id}/members/{member_id}/approve", summary="Approve a member who asked to join (président)")
async def approve_member(
    tontine_id: uuid.UUID, member_id: uuid.UUID, session: SessionDep, principal: User
) -> MemberRead:
    seen = await _access(session, principal, tontine_id)
    return member_read(await service.approve_member(session, seen, member_id))


@router.post("/{tontine_id}/members/{member_id}/reject", summary="Refuse a request to join, with a reason (président)")
async def reject_member(
    tontine_id: uuid.UUID, member_id: uuid.UUID, body: MemberRejection, session: SessionDep, principal: User
) -> MemberRead:
    seen = await _access(session, principal, tontine_id)
    return member_read(await service.reject_member(session, seen, member_id, body.reason))


@router.post("/{tontine_id}/leave", summary="Leave the tontine, settled by what one paid against what one received")
async def leave_tontine(tontine_id: uuid.UUID, session: SessionDep, principal: User) -> Settlement:
    return await statements.leave(session, await _access(session, principal, tontine_id))


@router.post("/{tontine_id}/handover", summary="Hand the président's or trésorier's role over")
async def handover(tontine_id: uuid.UUID, body: Handover, session: SessionDep, principal: User) -> MemberRead:
    seen = await _access(session, principal, tontine_id)
    return member_read(await service.handover(session, seen, role=body.role, member_id=body.member_id))


async def _member_for_statement(session: SessionDep, seen: service.Access, member_id: uuid.UUID) -> Any:
    member = await service.get_member(session, seen.tontine, member_id)
    if not seen.is_manager and (seen.member is None or seen.member.id != member.id):
        raise NotAManager("Chacun ne voit que son propre relevé.", "Each member sees only their own statement.")
    return member


@router.get(
    "/{tontine_id}/members/{member_id}/statement.csv",
    summary="A member's statement (CSV)",
    response_class=Response,
    responses=CSV_RESPONSES,
)
async def member_statement(
    tontine_id: uuid.UUID, member_id: uuid.UUID, session: SessionDep, principal: User
) -> Response:
    seen = await _access(session, principal, tontine_id)
    member = await _member_for_statement(session, seen, member_id)
    body = await statements.statement_csv(session, seen, member)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="releve-{member.id}.csv"'},
    )


@router.get(
    "/{tontine_id}/members/{member_id}/statement.pdf",
    summary="A member's statement (PDF, in the caller's language)",
    response_class=Response,
    responses=PDF_RESPONSES,
)
async def member_statement_pdf(
    tontine_id: uuid.UUID, member_id: uuid.UUID, session: SessionDep, principal: User
) -> Response:
    seen = await _access(session, principal, tontine_id)
    member = await _member_for_statement(session, seen, member_id)
    body = await statements.statement_pdf(session, seen, member)
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="releve-{member.id}.pdf"'},
    )


@router.get("/{tontine_id}/members/{member_id}/settlement", summary="What a member paid and received this cycle")
async def member_settlement(
    tontine_id: uuid.UUID, member_id: uuid.UUID, session: SessionDep, principal: User
) -> Settlement:
    seen = await _access(session, principal, tontine_id)
    return await statements.settlement_of(session, seen, await _member_for_statement(session, seen, member_id))


@router.get("/{tontine_id}/movements", summary="Every movement of the pot, newest first (every member sees them)")
async def pot_movements(  # noqa: PLR0917 - FastAPI parameters
    tontine_id: uuid.UUID,
    session: SessionDep,
    principal: User,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    fund: Annotated[
        Literal["pot", "social_fund", "loan_fund"],
        Query(description="The pot (default), or a cumulative tontine's social fund or loan fund"),
    ] = "pot",
) -> Page[MovementRead]:
    seen = await _access(session, principal, tontine_id)
    items, next_cursor = await statements.movements(session, seen, limit=limit, cursor=cursor, fund=fund)
    return Page[MovementRead](items=items, next_cursor=next_cursor)


# --- sessions -----------------------------------------------------------------------------------------------------


@router.post("/{tontine_id}/sessions", status_code=status.HTTP_201_CREATED, summary="Plan the next sessions")
async def plan_sessions(
    tontine_id: uuid.UUID, body: SessionCreate, session: SessionDep, principal: User
) -> list[SessionRead]:
    seen = await _access(session, principal, tontine_id)
    return [session_read(row) for row in await sessions.plan_sessions(session, seen, body.count)]


@router.get("/{tontine_id}/sessions", summary="The tontine's sessions, in order")
async def list_sessions(tontine_id: uuid.UUID, session: SessionDep, principal: User) -> list[SessionRead]:
    seen = await _access(session, principal, tontine_id)
    return [session_read(row) for row in await sessions.list_sessions(session, seen)]


@router.get("/{tontine_id}/sessions/{session_id}", summary="A session: expected versus received per member")
async def get_session(
    tontine_id: uuid.UUID, session_id: uuid.UUID, session: SessionDep, principal: User
) -> SessionDetail:
    seen = await _access(session, principal, tontine_id)
    row = await sessions.get_session(session, seen.tontine, session_id)
    on = sessions.today()
    dues = [due_read(seen.tontine, row, due, member, on) for due, member in await sessions.dues_of(session, row)]
    return SessionDetail(**session_read(row).model_dump(), dues=dues)


@router.post("/{tontine_id}/sessions/{session_id}/open", summary="Open a session (reminds every member)")
async def open_session(
    tontine_id: uuid.UUID, session_id: uuid.UUID, session: SessionDep, principal: User
) -> SessionRead:
    seen = await _access(session, principal, tontine_id)
    return session_read(await sessions.open_session(session, seen, session_id))


@router.post("/{tontine_id}/sessions/{session_id}/close", summary="Close a session: penalties, late notices")
async def close_session(
    tontine_id: uuid.UUID, session_id: uuid.UUID, session: SessionDep, principal: User
) -> SessionRead:
    seen = await _access(session, principal, tontine_id)
    return session_read(await sessions.close_session(session, seen, session_id))


@router.get("/{tontine_id}/sessions/{session_id}/stats", summary="Collected, missing, late, penalties, rate")
async def session_stats(
    tontine_id: uuid.UUID, session_id: uuid.UUID, session: SessionDep, principal: User
) -> SessionStats:
    seen = await _access(session, principal, tontine_id)
    row = await sessions.get_session(session, seen.tontine, session_id)
    return SessionStats.model_validate(await sessions.stats(session, seen, row))


@router.post("/{tontine_id}/sessions/{session_id}/waivers", summary="Waive a penalty, with a reason (président)")
async def waive_penalty(
    tontine_id: uuid.UUID, session_id: uuid.UUID, body: Waiver, session: SessionDep, principal: User
) -> SessionDetail:
    seen = await _access(session, principal, tontine_id)
    await sessions.waive_penalty(session, seen, session_id, body.member_id, body.reason)
    return await get_session(tontine_id, session_id, session, principal)


# --- contributions ------------------------------------------------------------------------------------------------


@router.post(
    "/{tontine_id}/contributions/cash",
    status_code=status.HTTP_201_CREATED,
    summary="Record a cash payment with its proof (a manager); another manager validates it",
    openapi_extra=CASH_FORM,
    responses=CASH_RESPONSES,
)
async def record_cash(
    tontine_id: uuid.UUID, request: Request, session: SessionDep, principal: User, storage: StorageDep
) -> ContributionRead:
    seen = await _access(session, principal, tontine_id)
    return contribution_read(await record_cash_from_form(request, session, seen, storage))


@router.post(
    "/{tontine_id}/contributions/mobile-money",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Ask a member's phone to pay (the pot is credited when the payment settles)",
)
async def pay_by_mobile_money(
    tontine_id: uuid.UUID, body: MobileContribution, session: SessionDep, principal: User, settings: SettingsDep
) -> ContributionRead:
    seen = await _access(session, principal, tontine_id)
    row = await contributions.initiate_mobile(
        session,
        seen,
        session_id=body.session_id,
        member_id=body.member_id,
        amount=body.amount,
        currency=body.currency,
        phone=body.phone,
        provider=body.provider,
        purpose=body.purpose,
        settings=settings,
    )
    return contribution_read(row)


@router.get("/{tontine_id}/contributions", summary="Contributions, newest first")
async def list_contributions(  # noqa: PLR0917 - FastAPI parameters
    tontine_id: uuid.UUID,
    session: SessionDep,
    principal: User,
    params: Paging,
    session_id: uuid.UUID | None = None,
    member_id: uuid.UUID | None = None,
    status_filter: Annotated[str | None, Query(alias="status", max_length=20)] = None,
) -> Page[ContributionRead]:
    seen = await _access(session, principal, tontine_id)
    rows, cursor = await contributions.list_contributions(
        session, seen, params, session_id=session_id, member_id=member_id, status=status_filter
    )
    return Page[ContributionRead](items=[contribution_read(r) for r in rows], next_cursor=cursor)


@router.get("/{tontine_id}/contributions/{contribution_id}", summary="A contribution")
async def get_contribution(
    tontine_id: uuid.UUID, contribution_id: uuid.UUID, session: SessionDep, principal: User
) -> ContributionRead:
    seen = await _access(session, principal, tontine_id)
    return contribution_read(await contributions.get_contribution(session, seen, contribution_id))


@router.get(
    "/{tontine_id}/contributions/{contribution_id}/proof",
    summary="The proof of a cash payment",
    response_class=Response,
    responses=PROOF_RESPONSES,
)
async def get_proof(
    tontine_id: uuid.UUID, contribution_id: uuid.UUID, session: SessionDep, principal: User, storage: StorageDep
) -> Response:
    seen = await _access(session, principal, tontine_id)
    row = await contributions.get_contribution(session, seen, contribution_id)
    if row.proof_key is None:
        raise field_error("contribution_id", "no_proof", "Ce paiement n'a pas de preuve.", "This payment has no proof.")
    return Response(await storage.get(row.proof_key), media_type=row.proof_content_type or "application/octet-stream")


@router.post("/{tontine_id}/contributions/{contribution_id}/validate", summary="Validate or reject a cash payment")
async def validate_cash(
    tontine_id: uuid.UUID, contribution_id: uuid.UUID, body: Validation, session: SessionDep, principal: User
) -> ContributionRead:
    seen = await _access(session, principal, tontine_id)
    row = await contributions.validate_cash(session, seen, contribution_id, approve=body.approve, reason=body.reason)
    return contribution_read(row)


@router.post(
    "/{tontine_id}/sessions/{session_id}/cash/validate",
    summary="Validate every cash payment of a session awaiting its checker (not one's own), in one ledger batch",
)
async def validate_session_cash(
    tontine_id: uuid.UUID, session_id: uuid.UUID, session: SessionDep, principal: User
) -> list[ContributionRead]:
    seen = await _access(session, principal, tontine_id)
    return [contribution_read(row) for row in await contributions.validate_session_cash(session, seen, session_id)]


@router.post(
    "/{tontine_id}/contributions/{contribution_id}/corrections",
    status_code=status.HTTP_201_CREATED,
    summary="Correct a validated payment by a reversing entry (never an edit)",
)
async def correct_contribution(
    tontine_id: uuid.UUID, contribution_id: uuid.UUID, body: Correction, session: SessionDep, principal: User
) -> ContributionRead:
    seen = await _access(session, principal, tontine_id)
    await contributions.correct(session, seen, contribution_id, body.reason)
    return contribution_read(await contributions.get_contribution(session, seen, contribution_id))


# --- passages -----------------------------------------------------------------------------------------------------


async def _passages(session: SessionDep, seen: service.Access) -> list[PassageRead]:
    return [passage_read(p, m) for p, m in await passages.list_passages(session, seen)]


@router.post("/{tontine_id}/passages/generate", summary="Set the payout order of the cycle (président)")
async def generate_passages(
    tontine_id: uuid.UUID, body: PassageGenerate, session: SessionDep, principal: User
) -> list[PassageRead]:
    seen = await _access(session, principal, tontine_id)
    await passages.generate(session, seen, method=body.method, order=body.order, seed=body.seed)
    return await _passages(session, seen)


@router.get("/{tontine_id}/passages", summary="The payout turns and their schedule")
async def list_passages(tontine_id: uuid.UUID, session: SessionDep, principal: User) -> list[PassageRead]:
    return await _passages(session, await _access(session, principal, tontine_id))


@router.get("/{tontine_id}/passages/draw", summary="How the order was drawn: the seed, to re-check it")
async def passage_draw(tontine_id: uuid.UUID, session: SessionDep, principal: User) -> DrawRead:
    return await passages.draw_of(session, await _access(session, principal, tontine_id))


async def _one_passage(session: SessionDep, seen: service.Access, passage_id: uuid.UUID) -> PassageRead:
    for passage, member in await passages.list_passages(session, seen):
        if passage.id == passage_id:
            return passage_read(passage, member)
    raise AssertionError("passage vanished")  # pragma: no cover


@router.post("/{tontine_id}/cycles", summary="End the cycle and start the next, balances carried over (président)")
async def next_cycle(tontine_id: uuid.UUID, session: SessionDep, principal: User, settings: SettingsDep) -> TontineRead:
    seen = await _access(session, principal, tontine_id)
    await passages.next_cycle(session, seen)
    return await tontine_read(session, seen, settings)


@router.post("/{tontine_id}/passages/{passage_id}/start", summary="Start a turn")
async def start_passage(
    tontine_id: uuid.UUID, passage_id: uuid.UUID, session: SessionDep, principal: User
) -> PassageRead:
    seen = await _access(session, principal, tontine_id)
    await passages.start(session, seen, passage_id)
    return await _one_passage(session, seen, passage_id)


@router.post(
    "/{tontine_id}/passages/{passage_id}/payout",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Pay the pot to this turn's beneficiary (payments API)",
)
async def payout_passage(  # noqa: PLR0917 - FastAPI parameters
    tontine_id: uuid.UUID,
    passage_id: uuid.UUID,
    session: SessionDep,
    principal: User,
    settings: SettingsDep,
    member_id: Annotated[uuid.UUID | None, Query(description="The beneficiary you expect")] = None,
    provider: Annotated[str | None, Query(max_length=40)] = None,
) -> PassageRead:
    seen = await _access(session, principal, tontine_id)
    await passages.payout(session, seen, passage_id, member_id=member_id, provider=provider, settings=settings)
    return await _one_passage(session, seen, passage_id)


@router.post("/{tontine_id}/passages/{passage_id}/confirm", summary="The beneficiary confirms receipt")
async def confirm_passage(
    tontine_id: uuid.UUID, passage_id: uuid.UUID, session: SessionDep, principal: User
) -> PassageRead:
    seen = await _access(session, principal, tontine_id)
    await passages.confirm(session, seen, passage_id)
    return await _one_passage(session, seen, passage_id)


# Auctions, swaps and protection; cumulative money (their own files, same prefix and unit of work).
router.include_router(rotation_routes.router)
router.include_router(savings_routes.router)
