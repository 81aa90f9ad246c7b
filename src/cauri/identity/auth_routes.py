"""``/auth``: sign up, log in and out, tokens, my account and password."""

from __future__ import annotations

from fastapi import Request, Response, status

from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router
from cauri.identity import service
from cauri.identity.deps import client_ip, settings_of, transaction_kept_on_refusal, user_agent
from cauri.identity.registration import register as register_account
from cauri.identity.schemas import (
    LoginRequest,
    Me,
    PasswordChange,
    RefreshRequest,
    RegisterRequest,
    RegisterResult,
    TokenPair,
    UserRead,
    UserUpdate,
)
from cauri.identity.throttle import login_throttle

public_router = api_router(prefix="/auth", tags=["auth"])
router = api_router(prefix="/auth", tags=["auth"])


@public_router.post("/register", status_code=status.HTTP_201_CREATED, summary="Create an account (and organisation)")
async def register(body: RegisterRequest, request: Request, session: SessionDep) -> RegisterResult:
    return await register_account(
        session, settings_of(request), body, ip=client_ip(request), user_agent=user_agent(request)
    )


@public_router.post("/login", summary="Log in with e-mail or phone and password")
async def login(body: LoginRequest, request: Request) -> TokenPair:
    settings = settings_of(request)
    identifier = service.identifier_of(body.email, body.phone, settings.default_region)
    async with transaction_kept_on_refusal(request) as session:
        return await service.log_in(
            session,
            settings,
            login_throttle(request.app),
            identifier=identifier,
            password=body.password,
            ip=client_ip(request),
            user_agent=user_agent(request),
        )


@public_router.post("/refresh", summary="Exchange a refresh token for new tokens (rotation)")
async def refresh(body: RefreshRequest, request: Request) -> TokenPair:
    async with transaction_kept_on_refusal(request) as session:
        return await service.refresh(
            session, settings_of(request), refresh_token=body.refresh_token, ip=client_ip(request)
        )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="End this session")
async def logout(principal: CurrentPrincipal, request: Request, session: SessionDep) -> Response:
    await service.log_out(session, principal, ip=client_ip(request))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", summary="Who am I: account, organisation, roles and permissions")
async def get_me(principal: CurrentPrincipal, session: SessionDep) -> Me:
    return await service.describe_caller(session, principal)


@router.patch("/me", summary="Change my name or language")
async def update_me(body: UserUpdate, principal: CurrentPrincipal, session: SessionDep) -> UserRead:
    return UserRead.model_validate(await service.update_profile(session, principal, body))


@router.post(
    "/password/change", status_code=status.HTTP_204_NO_CONTENT, summary="Change my password (ends other sessions)"
)
async def change_password(
    body: PasswordChange, principal: CurrentPrincipal, request: Request, session: SessionDep
) -> Response:
    await service.change_password(
        session,
        login_throttle(request.app),
        principal,
        current_password=body.current_password,
        new_password=body.new_password,
        ip=client_ip(request),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
