"""``/organizations``: create, read, update, members and roles; the platform's list of every organisation.

An organisation in the path must be the one the caller acts for (``X-Organization-ID``, or their only or
oldest membership): any other answers 404, whether or not it exists.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request, Response, status

from cauri.core.pagination import Page, PageParams, page_params
from cauri.core.principal import CurrentPrincipal, Principal
from cauri.core.routing import SessionDep, api_router
from cauri.identity import organizations
from cauri.identity.deps import client_ip, settings_of
from cauri.identity.permissions import Perm, require
from cauri.identity.schemas import (
    MemberAdd,
    MemberRead,
    MemberUpdate,
    OrganizationCreate,
    OrganizationRead,
    OrganizationUpdate,
)
from cauri.identity.service import current_user

router = api_router(prefix="/organizations", tags=["organizations"])
admin_router = api_router(prefix="/admin/organizations", tags=["organizations"])


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create an organisation; you become its owner")
async def create_organization(
    body: OrganizationCreate, principal: CurrentPrincipal, request: Request, session: SessionDep
) -> OrganizationRead:
    owner = await current_user(session, principal)
    organization = await organizations.create_organization(
        session, settings_of(request), owner=owner, data=body, actor=principal, ip=client_ip(request)
    )
    return OrganizationRead.model_validate(organization)


@router.get("", summary="The organisations I belong to, newest first")
async def list_my_organizations(
    principal: CurrentPrincipal, session: SessionDep, params: PageParams = Depends(page_params)
) -> Page[OrganizationRead]:
    if principal.user_id is None:  # an API key belongs to exactly one organisation
        assert principal.organization_id is not None
        own = await organizations.get_organization(session, principal, principal.organization_id)
        return Page[OrganizationRead](items=[OrganizationRead.model_validate(own)])
    rows, cursor = await organizations.organizations_page(session, principal.user_id, params)
    return Page[OrganizationRead](items=[OrganizationRead.model_validate(r) for r in rows], next_cursor=cursor)


@router.get("/{organization_id}", summary="An organisation")
async def get_organization(
    organization_id: uuid.UUID,
    principal: Annotated[Principal, Depends(require(Perm.ORG_READ))],
    session: SessionDep,
) -> OrganizationRead:
    return OrganizationRead.model_validate(await organizations.get_organization(session, principal, organization_id))


@router.patch("/{organization_id}", summary="Change an organisation's settings")
async def update_organization(
    organization_id: uuid.UUID,
    body: OrganizationUpdate,
    principal: Annotated[Principal, Depends(require(Perm.ORG_MANAGE))],
    request: Request,
    session: SessionDep,
) -> OrganizationRead:
    organization = await organizations.get_organization(session, principal, organization_id)
    updated = await organizations.update_organization(
        session, organization, body, actor=principal, ip=client_ip(request)
    )
    return OrganizationRead.model_validate(updated)


@router.get("/{organization_id}/members", summary="Members and their roles, newest first")
async def list_members(
    organization_id: uuid.UUID,
    principal: Annotated[Principal, Depends(require(Perm.ORG_READ))],
    session: SessionDep,
    params: PageParams = Depends(page_params),
) -> Page[MemberRead]:
    organization = await organizations.get_organization(session, principal, organization_id)
    members, cursor = await organizations.list_members(session, organization.id, params)
    return Page[MemberRead](items=members, next_cursor=cursor)


@router.post(
    "/{organization_id}/members",
    status_code=status.HTTP_201_CREATED,
    summary="Add a member: an existing account, or a new one (invitation)",
)
async def add_member(
    organization_id: uuid.UUID,
    body: MemberAdd,
    principal: Annotated[Principal, Depends(require(Perm.MEMBERS_MANAGE))],
    request: Request,
    session: SessionDep,
) -> MemberRead:
    organization = await organizations.lock_organization(session, principal, organization_id)
    member, _created = await organizations.add_member(
        session, settings_of(request), organization, body, actor=principal, ip=client_ip(request)
    )
    return member


@router.patch("/{organization_id}/members/{membership_id}", summary="Change a member's role")
async def change_member_role(
    *,
    organization_id: uuid.UUID,
    membership_id: uuid.UUID,
    body: MemberUpdate,
    principal: Annotated[Principal, Depends(require(Perm.MEMBERS_MANAGE))],
    request: Request,
    session: SessionDep,
) -> MemberRead:
    organization = await organizations.lock_organization(session, principal, organization_id)
    return await organizations.change_role(
        session, organization, membership_id, body.role, actor=principal, ip=client_ip(request)
    )


@router.delete(
    "/{organization_id}/members/{membership_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member",
)
async def remove_member(
    organization_id: uuid.UUID,
    membership_id: uuid.UUID,
    principal: Annotated[Principal, Depends(require(Perm.MEMBERS_MANAGE))],
    request: Request,
    session: SessionDep,
) -> Response:
    organization = await organizations.lock_organization(session, principal, organization_id)
    await organizations.remove_member(session, organization, membership_id, actor=principal, ip=client_ip(request))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@admin_router.get("", summary="Every organisation (platform admins)")
async def list_all_organizations(
    _principal: Annotated[Principal, Depends(require(Perm.PLATFORM_ADMIN))],
    session: SessionDep,
    params: PageParams = Depends(page_params),
) -> Page[OrganizationRead]:
    rows, cursor = await organizations.all_organizations(session, params)
    return Page[OrganizationRead](items=[OrganizationRead.model_validate(r) for r in rows], next_cursor=cursor)
