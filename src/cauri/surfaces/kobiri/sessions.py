"""Kobiri's ``/api/v1/sessions`` (seed 003) over ``cauri.tontines.sessions``."""

from __future__ import annotations

import uuid

from fastapi import Request, status
from pydantic import BaseModel, ConfigDict, Field

from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router
from cauri.surfaces.kobiri.tontines import seen
from cauri.surfaces.registry import operator_id
from cauri.tontines import sessions
from cauri.tontines.schemas import SessionDetail, SessionRead, SessionStats
from cauri.tontines.views import due_read, session_read

router = api_router(prefix="/api/v1/sessions")


class KobiriSessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tontine_id: uuid.UUID
    count: int = Field(default=1, ge=1, le=366)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Créer session (the next ones of the calendar)")
async def create_session(
    body: KobiriSessionCreate, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> list[SessionRead]:
    found = await seen(request, session, principal, body.tontine_id)
    return [session_read(row) for row in await sessions.plan_sessions(session, found, body.count)]


@router.get("/tontine/{tontine_id}", summary="Sessions d'une tontine")
async def tontine_sessions(
    tontine_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> list[SessionRead]:
    found = await seen(request, session, principal, tontine_id)
    return [session_read(row) for row in await sessions.list_sessions(session, found)]


@router.get("/{session_id}", summary="Détails session")
async def get_session(
    session_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> SessionDetail:
    tontine_id = await sessions.tontine_of_session(session, operator_id(request), session_id)
    found = await seen(request, session, principal, tontine_id)
    row = await sessions.get_session(session, found.tontine, session_id)
    on = sessions.today()
    dues = [due_read(found.tontine, row, due, member, on) for due, member in await sessions.dues_of(session, row)]
    return SessionDetail(**session_read(row).model_dump(), dues=dues)


@router.post("/{session_id}/open", summary="Ouvrir session")
async def open_session(
    session_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> SessionRead:
    tontine_id = await sessions.tontine_of_session(session, operator_id(request), session_id)
    found = await seen(request, session, principal, tontine_id)
    return session_read(await sessions.open_session(session, found, session_id))


@router.post("/{session_id}/close", summary="Fermer session")
async def close_session(
    session_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> SessionRead:
    tontine_id = await sessions.tontine_of_session(session, operator_id(request), session_id)
    found = await seen(request, session, principal, tontine_id)
    return session_read(await sessions.close_session(session, found, session_id))


@router.get("/{session_id}/stats", summary="Statistiques")
async def session_stats(
    session_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> SessionStats:
    tontine_id = await sessions.tontine_of_session(session, operator_id(request), session_id)
    found = await seen(request, session, principal, tontine_id)
    row = await sessions.get_session(session, found.tontine, session_id)
    return SessionStats.model_validate(await sessions.stats(session, found, row))
