"""``/api/v1/auth`` and ``/api/v1/users/me`` as Kobiri (seed 003) and LokaHome (seed 004) document them.

Both seeds are FastAPI services with the same auth module: register, login with ``username`` (e-mail or phone,
JSON or OAuth 2 form) → ``{access_token, refresh_token, token_type}``, refresh, logout, change/forgot/reset
password, e-mail and phone verification, the caller's profile. :func:`account_routers` builds them for one
surface; registering makes the person a member of that surface's operator with the role its seed gives.
Bodies the seeds leave undocumented (refresh, passwords, codes) are Cauri's own, and the work is identity's:
these routes call its services and its endpoint functions.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, StringConstraints

from cauri.core.i18n import pick
from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router
from cauri.identity import auth_routes, code_routes, service
from cauri.identity.deps import client_ip, settings_of, user_agent
from cauri.identity.models import User
from cauri.identity.registration import register as register_account
from cauri.identity.schemas import (
    PASSWORD_MAX,
    Accepted,
    Code,
    Email,
    ForgotPassword,
    Language,
    Name,
    Password,
    PasswordChange,
    PhoneInput,
    RefreshRequest,
    RegisterRequest,
    ResetPassword,
    TokenPair,
    UserUpdate,
    VerificationConfirm,
    VerificationRequest,
)
from cauri.identity.throttle import THROTTLED
from cauri.surfaces.accounts import join_name, log_in_with_username, operator_role, read_body, split_name
from cauri.surfaces.registry import operator_id

# An API key acts for an organisation, not a person: "my profile" and "my password" answer 400 to one.
PERSON_ONLY: Final[dict[int | str, dict[str, Any]]] = {400: {}}
# Without a code the route sends one (202); with it, it verifies and answers the profile (200).
VERIFY_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    202: {"model": Accepted, "description": "A code was sent"},
    **PERSON_ONLY,
    **THROTTLED,
}


class SeedLogin(BaseModel):
    model_config = ConfigDict(extra="ignore")  # OAuth 2 forms also send grant_type, scope, client_id…
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=254)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=PASSWORD_MAX)]


class SeedRegister(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email
    phone: PhoneInput | None = None
    password: Password
    first_name: Name
    last_name: Name
    language: Language = "fr"


class SeedUser(BaseModel):
    id: uuid.UUID
    email: str | None
    phone: str | None
    first_name: str
    last_name: str
    role: str | None  # the person's role in the operator organisation…
    user_type: str | None  # …under LokaHome's name for it (tenant, landlord, provider)
    is_active: bool
    is_verified: bool
    email_verified: bool
    phone_verified: bool
    created_at: datetime


class SeedUserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    first_name: Name | None = None
    last_name: Name | None = None
    language: Language | None = None


class VerificationCode(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Code | None = None  # none: send a code; a code: confirm with it


class Detail(BaseModel):
    detail: str


def seed_user(user: User, role: str | None) -> SeedUser:
    first_name, last_name = split_name(user)
    return SeedUser(
        id=user.id,
        email=user.email,
        phone=user.phone,
        first_name=first_name,
        last_name=last_name,
        role=role,
        user_type=role,
        is_active=user.is_active,
        is_verified=user.email_verified_at is not None or user.phone_verified_at is not None,
        email_verified=user.email_verified_at is not None,
        phone_verified=user.phone_verified_at is not None,
        created_at=user.created_at,
    )


def profile_change(user: User, data: SeedUserUpdate) -> UserUpdate:
    """First and last names as Cauri's one ``full_name``: the part not sent stays as it was."""
    first_name, last_name = split_name(user)
    changed = data.first_name is not None or data.last_name is not None
    full_name = join_name(data.first_name or first_name, data.last_name or last_name) if changed else None
    return UserUpdate(full_name=full_name, language=data.language)


RegisterBody = type[SeedRegister]
RoleOf = Callable[[SeedRegister], str]


def account_routers(register_body: RegisterBody, role_of: RoleOf) -> tuple[APIRouter, APIRouter]:
    """(public, guarded) routers of one surface's auth and ``users/me`` routes."""
    public = api_router(prefix="/api/v1")
    guarded = api_router(prefix="/api/v1")

    async def profile(session: SessionDep, request: Request, user: User) -> SeedUser:
        return seed_user(user, await operator_role(session, request, user.id))

    @public.post(
        "/auth/register",
        status_code=status.HTTP_201_CREATED,
        response_model=SeedUser,
        summary="Sign up: the account joins the operator organisation",
        openapi_extra={"requestBody": {"content": {"application/json": {"schema": register_body.model_json_schema()}}}},
    )
    async def register(request: Request, session: SessionDep) -> SeedUser:
        body = await read_body(request, register_body)
        result = await register_account(
            session,
            settings_of(request),
            RegisterRequest(
                email=body.email,
                phone=body.phone,
                password=body.password,
                full_name=join_name(body.first_name, body.last_name),
                language=body.language,
            ),
            ip=client_ip(request),
            user_agent=user_agent(request),
            join=(operator_id(request), role_of(body)),
        )
        user = await session.get(User, result.user.id)
        assert user is not None, "just created"
        return await profile(session, request, user)

    @public.post(
        "/auth/login", summary="Log in: username (e-mail or phone) and password, JSON or form", responses=THROTTLED
    )
    async def login(request: Request) -> TokenPair:
        body = await read_body(request, SeedLogin)
        return await log_in_with_username(request, body.username, body.password)

    @public.post("/auth/refresh", summary="New tokens for a refresh token (which is spent: rotation)")
    async def refresh(body: RefreshRequest, request: Request) -> TokenPair:
        return await auth_routes.refresh(body, request)

    @public.post(
        "/auth/forgot-password", status_code=status.HTTP_202_ACCEPTED, summary="Send a reset code", responses=THROTTLED
    )
    async def forgot_password(body: ForgotPassword, request: Request, session: SessionDep) -> Accepted:
        return await code_routes.forgot_password(body, request, session)

    @public.post("/auth/reset-password", summary="A new password with the reset code", responses=THROTTLED)
    async def reset_password(body: ResetPassword, request: Request) -> Detail:
        await code_routes.reset_password(body, request)
        return Detail(detail=pick("Mot de passe changé.", "Password changed."))

    @guarded.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, summary="End this session")
    async def logout(principal: CurrentPrincipal, request: Request, session: SessionDep) -> Response:
        return await auth_routes.logout(principal, request, session)

    @guarded.post(
        "/auth/change-password",
        summary="Change my password (ends my other sessions)",
        responses={**PERSON_ONLY, **THROTTLED},
    )
    async def change_password(
        body: PasswordChange, principal: CurrentPrincipal, request: Request, session: SessionDep
    ) -> Detail:
        await auth_routes.change_password(body, principal, request, session)
        return Detail(detail=pick("Mot de passe changé.", "Password changed."))

    async def verify(
        channel: Literal["email", "phone"],
        body: VerificationCode,
        *,
        principal: CurrentPrincipal,
        request: Request,
        session: SessionDep,
        response: Response,
    ) -> SeedUser | Accepted:
        if body.code is None:
            response.status_code = status.HTTP_202_ACCEPTED
            return await code_routes.send_verification_code(
                VerificationRequest(channel=channel), principal, request, session
            )
        await code_routes.confirm_verification_code(
            VerificationConfirm(channel=channel, code=body.code), principal, request
        )
        return await profile(session, request, await service.current_user(session, principal))

    @guarded.post(
        "/auth/verify-email",
        summary="Without a code: send one to my e-mail; with it: verify",
        responses=VERIFY_RESPONSES,
    )
    async def verify_email(
        body: VerificationCode, principal: CurrentPrincipal, request: Request, session: SessionDep, response: Response
    ) -> SeedUser | Accepted:
        return await verify("email", body, principal=principal, request=request, session=session, response=response)

    @guarded.post(
        "/auth/verify-phone",
        summary="Without a code: send one by SMS; with it: verify my phone",
        responses=VERIFY_RESPONSES,
    )
    async def verify_phone(
        body: VerificationCode, principal: CurrentPrincipal, request: Request, session: SessionDep, response: Response
    ) -> SeedUser | Accepted:
        return await verify("phone", body, principal=principal, request=request, session=session, response=response)

    @guarded.get("/auth/me", summary="My profile (Kobiri's path)", responses=PERSON_ONLY)
    async def auth_me(principal: CurrentPrincipal, request: Request, session: SessionDep) -> SeedUser:
        return await profile(session, request, await service.current_user(session, principal))

    @guarded.get("/users/me", summary="My profile", responses=PERSON_ONLY)
    async def users_me(principal: CurrentPrincipal, request: Request, session: SessionDep) -> SeedUser:
        return await auth_me(principal, request, session)

    @guarded.put("/users/me", summary="Change my names or language", responses=PERSON_ONLY)
    async def update_me(
        body: SeedUserUpdate, principal: CurrentPrincipal, request: Request, session: SessionDep
    ) -> SeedUser:
        user = await service.current_user(session, principal)
        return await profile(session, request, await service.update_user(session, user, profile_change(user, body)))

    return public, guarded
