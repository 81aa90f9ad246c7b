"""Kobiri's ``/api/v1/users``: the operator's admins list, read, change and deactivate its people; anyone reads
and changes their own account. People are the operator organisation's members; deactivating one ends their
membership (their Cauri account, which may serve other products, stays)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Request, Response, status

from cauri.core.errors import Forbidden
from cauri.core.principal import CurrentPrincipal, Principal
from cauri.core.routing import SessionDep, api_router
from cauri.identity import organizations, service
from cauri.identity.deps import client_ip
from cauri.identity.models import Membership, User
from cauri.identity.permissions import Perm, has_permission, require
from cauri.surfaces.account_routes import SeedUser, SeedUserUpdate, profile_change, seed_user
from cauri.surfaces.registry import operator_id

router = api_router(prefix="/api/v1/users")

Admin = Annotated[Principal, Depends(require(Perm.MEMBERS_MANAGE))]


async def _person(
    session: SessionDep, request: Request, principal: Principal, user_id: uuid.UUID
) -> tuple[Membership, User]:
    """The member ``user_id`` when the caller is that person or an admin; another's account is a 403."""
    if principal.user_id != user_id and not has_permission(principal, Perm.MEMBERS_MANAGE):
        raise Forbidden(
            "Seuls les administrateurs voient et modifient le compte d'une autre personne.",
            "Only administrators see and change another person's account.",
            code="permission_denied",
        )
    return await organizations.member_by_user(session, operator_id(request), user_id)


@router.get("", summary="The operator's people (admin), skip/limit")
async def list_users(
    request: Request,
    session: SessionDep,
    principal: Admin,
    skip: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[SeedUser]:
    rows = await organizations.members_slice(session, operator_id(request), offset=skip, limit=limit)
    return [seed_user(user, membership.role) for membership, user in rows]


@router.get("/{user_id}", summary="A person (themselves, or anyone for an admin)")
async def get_user(user_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal) -> SeedUser:
    membership, user = await _person(session, request, principal, user_id)
    return seed_user(user, membership.role)


@router.put("/{user_id}", summary="Change a person's names or language (themselves, or an admin)")
async def update_user(
    user_id: uuid.UUID, body: SeedUserUpdate, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> SeedUser:
    membership, user = await _person(session, request, principal, user_id)
    return seed_user(await service.update_user(session, user, profile_change(user, body)), membership.role)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Deactivate: end their membership")
async def deactivate_user(user_id: uuid.UUID, request: Request, session: SessionDep, principal: Admin) -> Response:
    membership, _ = await organizations.member_by_user(session, operator_id(request), user_id)
    organization = await organizations.get_organization(session, principal, operator_id(request))
    await organizations.remove_member(session, organization, membership.id, actor=principal, ip=client_ip(request))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
