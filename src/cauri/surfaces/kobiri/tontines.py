"""Kobiri's ``/api/v1/tontines`` (seed 003): thin adapters over ``cauri.tontines``, for the operator organisation.
Lists are JSON lists with ``skip``/``limit`` as the seed's other lists; bodies and answers are the native ones
(the seed documents paths, not shapes)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request, status

from cauri.core.deps import SettingsDep
from cauri.core.pagination import PageParams
from cauri.core.principal import CurrentPrincipal, Principal
from cauri.core.routing import SessionDep, api_router
from cauri.surfaces.registry import operator_id
from cauri.tontines import service, statements
from cauri.tontines.schemas import (
    JoinRequest,
    MemberAdd,
    MemberRead,
    Settlement,
    TontineCreate,
    TontineRead,
    TontineUpdate,
)
from cauri.tontines.views import member_read, tontine_read

router = api_router(prefix="/api/v1/tontines")


async def seen(request: Request, session: SessionDep, principal: Principal, tontine_id: uuid.UUID) -> service.Access:
    return await service.access(
        session, principal=principal, organization_id=operator_id(request), tontine_id=tontine_id
    )


@router.post("", status_code=status.HTTP_201_CREATED, summary="Créer tontine")
async def create_tontine(
    body: TontineCreate, request: Request, session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep
) -> TontineRead:
    created = await service.create_tontine(
        session, principal=principal, organization_id=operator_id(request), body=body
    )
    return await tontine_read(session, created, settings)


@router.get("", summary="Liste tontines (mine), skip/limit")
async def list_tontines(
    *,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    skip: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[TontineRead]:
    rows, _ = await service.list_tontines(
        session, principal=principal, organization_id=operator_id(request), params=PageParams(limit=skip + limit)
    )
    return [
        await tontine_read(session, await seen(request, session, principal, row.id), settings) for row in rows[skip:]
    ]


@router.post("/join", summary="Rejoindre par code")
async def join_tontine(
    body: JoinRequest, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> MemberRead:
    joined = await service.join(session, principal=principal, organization_id=operator_id(request), code=body.code)
    assert joined.member is not None
    return member_read(joined.member)


@router.get("/{tontine_id}", summary="Détails tontine")
async def get_tontine(
    tontine_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep
) -> TontineRead:
    return await tontine_read(session, await seen(request, session, principal, tontine_id), settings)


@router.put("/{tontine_id}", summary="Modifier tontine")
async def update_tontine(
    *,
    tontine_id: uuid.UUID,
    body: TontineUpdate,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> TontineRead:
    found = await seen(request, session, principal, tontine_id)
    await service.update_tontine(session, found, body)
    return await tontine_read(session, found, settings)


@router.delete("/{tontine_id}", summary="Désactiver tontine")
async def deactivate_tontine(
    tontine_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep
) -> TontineRead:
    found = await seen(request, session, principal, tontine_id)
    await service.deactivate_tontine(session, found)
    return await tontine_read(session, found, settings)


@router.post("/{tontine_id}/members", status_code=status.HTTP_201_CREATED, summary="Ajouter membre")
async def add_member(
    tontine_id: uuid.UUID, body: MemberAdd, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> MemberRead:
    found = await seen(request, session, principal, tontine_id)
    return member_read(await service.add_member(session, found, user_id=body.user_id, role=body.role))


@router.get("/{tontine_id}/members", summary="Liste membres")
async def list_members(
    tontine_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> list[MemberRead]:
    found = await seen(request, session, principal, tontine_id)
    return [member_read(m) for m in await service.list_members(session, found)]


@router.post("/{tontine_id}/leave", summary="Quitter tontine")
async def leave_tontine(
    tontine_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> Settlement:
    return await statements.leave(session, await seen(request, session, principal, tontine_id))
