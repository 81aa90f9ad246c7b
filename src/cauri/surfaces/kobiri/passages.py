"""Kobiri's ``/api/v1/passages`` (seed 003) over ``cauri.tontines.passages``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request, status

from cauri.core.deps import SettingsDep
from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router
from cauri.surfaces.kobiri.tontines import seen
from cauri.surfaces.registry import operator_id
from cauri.tontines import passages, service
from cauri.tontines.schemas import PassageGenerate, PassageRead
from cauri.tontines.views import passage_read

router = api_router(prefix="/api/v1/passages")


async def _all(session: SessionDep, found: service.Access) -> list[PassageRead]:
    return [passage_read(p, m) for p, m in await passages.list_passages(session, found)]


async def _one(session: SessionDep, found: service.Access, passage_id: uuid.UUID) -> PassageRead:
    return next(p for p in await _all(session, found) if p.id == passage_id)


async def _by_passage(
    request: Request, session: SessionDep, principal: CurrentPrincipal, passage_id: uuid.UUID
) -> service.Access:
    tontine_id = await passages.tontine_of_passage(session, operator_id(request), passage_id)
    return await seen(request, session, principal, tontine_id)


@router.post("/generate/{tontine_id}", summary="Générer ordre")
async def generate(
    tontine_id: uuid.UUID, body: PassageGenerate, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> list[PassageRead]:
    found = await seen(request, session, principal, tontine_id)
    await passages.generate(session, found, method=body.method, order=body.order, seed=body.seed)
    return await _all(session, found)


@router.get("/tontine/{tontine_id}", summary="Liste passages")
async def list_passages(
    tontine_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> list[PassageRead]:
    return await _all(session, await seen(request, session, principal, tontine_id))


@router.get("/tontine/{tontine_id}/schedule", summary="Planning (turns not yet paid, in order)")
async def schedule(
    tontine_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> list[PassageRead]:
    found = await seen(request, session, principal, tontine_id)
    return [p for p in await _all(session, found) if p.cycle == found.tontine.cycle and p.status != "confirmed"]


@router.post("/{passage_id}/start", summary="Démarrer passage")
async def start(
    passage_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> PassageRead:
    found = await _by_passage(request, session, principal, passage_id)
    await passages.start(session, found, passage_id)
    return await _one(session, found, passage_id)


@router.post("/{passage_id}/payout", status_code=status.HTTP_202_ACCEPTED, summary="Effectuer versement")
async def payout(
    *,
    passage_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    member_id: Annotated[uuid.UUID | None, Query()] = None,
) -> PassageRead:
    found = await _by_passage(request, session, principal, passage_id)
    await passages.payout(session, found, passage_id, member_id=member_id, provider=None, settings=settings)
    return await _one(session, found, passage_id)


@router.post("/{passage_id}/confirm", summary="Confirmer réception")
async def confirm(
    passage_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> PassageRead:
    found = await _by_passage(request, session, principal, passage_id)
    await passages.confirm(session, found, passage_id)
    return await _one(session, found, passage_id)
