"""``/api/auth``: the gateway's JWT login as its front-end calls it (``{username, password}`` →
``{access, refresh}``; ``{refresh}`` → ``{access}``), logout and the profile of the logged-in person."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Request
from pydantic import BaseModel, ConfigDict, StringConstraints

from cauri.core.i18n import pick
from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router
from cauri.identity import organizations, service
from cauri.identity.deps import client_ip, settings_of, transaction_kept_on_refusal
from cauri.identity.schemas import PASSWORD_MAX
from cauri.identity.throttle import THROTTLED
from cauri.surfaces.account_routes import PERSON_ONLY
from cauri.surfaces.accounts import log_in_with_username, operator_role, split_name
from cauri.surfaces.registry import operator_id

public_router = api_router(prefix="/api/auth")
router = api_router(prefix="/api/auth")

Token = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class GatewayLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=254)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=PASSWORD_MAX)]


class GatewayTokens(BaseModel):
    access: str
    refresh: str


class GatewayRefresh(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh: Token


class GatewayAccess(BaseModel):
    access: str


class GatewayLogout(BaseModel):
    refresh: Token | None = None


class GatewayOrganization(BaseModel):
    id: uuid.UUID
    name: str


class GatewayProfile(BaseModel):
    id: uuid.UUID
    username: str
    email: str | None
    phone: str | None
    first_name: str
    last_name: str
    role: str | None  # GESTIONNAIRE, SUPERVISEUR… as the seed spells them
    organization: GatewayOrganization


class Detail(BaseModel):
    detail: str


@public_router.post(
    "/login", summary="Log in: {username (e-mail or phone), password} → {access, refresh}", responses=THROTTLED
)
async def login(body: GatewayLogin, request: Request) -> GatewayTokens:
    tokens = await log_in_with_username(request, body.username, body.password)
    return GatewayTokens(access=tokens.access_token, refresh=tokens.refresh_token)


@public_router.post("/refresh", summary="A new access token; the refresh token stays valid (7 days)")
async def refresh(body: GatewayRefresh, request: Request) -> GatewayAccess:
    async with transaction_kept_on_refusal(request) as session:
        access = await service.access_token_without_rotation(
            session, settings_of(request), refresh_token=body.refresh, ip=client_ip(request)
        )
    return GatewayAccess(access=access)


@router.post("/logout", summary="Log out: the session and its refresh token stop working")
async def logout(body: GatewayLogout, principal: CurrentPrincipal, request: Request, session: SessionDep) -> Detail:
    await service.log_out(session, principal, ip=client_ip(request))
    return Detail(detail=pick("Déconnecté.", "Logged out."))


@router.get("/me", summary="The logged-in person, their role and organisation", responses=PERSON_ONLY)
async def me(principal: CurrentPrincipal, request: Request, session: SessionDep) -> GatewayProfile:
    user = await service.current_user(session, principal)
    organization = await organizations.get_organization(session, principal, operator_id(request))
    role = await operator_role(session, request, user.id)
    first_name, last_name = split_name(user)
    return GatewayProfile(
        id=user.id,
        username=user.email or user.phone or str(user.id),
        email=user.email,
        phone=user.phone,
        first_name=first_name,
        last_name=last_name,
        role=role.upper() if role else None,
        organization=GatewayOrganization(id=organization.id, name=organization.name),
    )
