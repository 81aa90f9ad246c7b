"""``/auth``: sign up, log in and out, tokens, my account and password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response, status

from cauri.core.errors import field_error
from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import Handler, SessionDep, UnitOfWorkRoute, api_router
from cauri.identity import service
from cauri.identity.deps import client_ip, settings_of, transaction_kept_on_refusal, user_agent
from cauri.identity.registration import register as register_account
from cauri.identity.schemas import (
    PASSWORD_MAX,
    LoginRequest,
    Me,
    PasswordChange,
    RefreshRequest,
    RegisterRequest,
    RegisterResult,
    TokenPair,
    UserRead,
    UserUpdate,
    normalise_email,
)
from cauri.identity.throttle import THROTTLED, login_throttle

public_router = api_router(prefix="/auth", tags=["auth"])
router = api_router(prefix="/auth", tags=["auth"])


@public_router.post("/register", status_code=status.HTTP_201_CREATED, summary="Create an account (and organisation)")
async def register(body: RegisterRequest, request: Request, session: SessionDep) -> RegisterResult:
    return await register_account(
        session, settings_of(request), body, ip=client_ip(request), user_agent=user_agent(request)
    )


async def _log_in(request: Request, *, email: str | None, phone: str | None, password: str) -> TokenPair:
    settings = settings_of(request)
    identifier = service.identifier_of(email, phone, settings.default_region)
    async with transaction_kept_on_refusal(request) as session:
        return await service.log_in(
            session,
            settings,
            login_throttle(request.app),
            identifier=identifier,
            password=password,
            ip=client_ip(request),
            user_agent=user_agent(request),
        )


@public_router.post("/login", summary="Log in with e-mail or phone and password", responses=THROTTLED)
async def login(body: LoginRequest, request: Request) -> TokenPair:
    return await _log_in(request, email=body.email, phone=body.phone, password=body.password)


class OAuthTokenRoute(UnitOfWorkRoute):
    """At a token endpoint, ``Authorization: Basic`` authenticates the OAuth *client* (RFC 6749 §2.3.1), not a
    user: Swagger's Authorize form sends one by default, with an empty client id. Cauri has no OAuth clients, so
    it is ignored here, where elsewhere any credential that is not ours is refused as a malformed one."""

    def get_route_handler(self) -> Handler:
        handle = super().get_route_handler()

        async def ignoring_client_authentication(request: Request) -> Response:
            scheme = request.headers.get("Authorization", "").strip().partition(" ")[0]
            if scheme.lower() == "basic":
                request.state.principal = None  # read by optional_principal instead of resolving the header
            return await handle(request)

        return ignoring_client_authentication


token_router = APIRouter(tags=["auth"], route_class=OAuthTokenRoute)


@token_router.post(
    "/token",
    summary="OAuth 2 password grant (form-encoded): username is an e-mail or a phone number",
    responses=THROTTLED,
)
async def token(
    request: Request,
    username: Annotated[str, Form(min_length=1, max_length=254, description="E-mail or phone number")],
    password: Annotated[str, Form(min_length=1, max_length=PASSWORD_MAX)],
    grant_type: Annotated[str, Form(pattern="^password$")] = "password",
) -> TokenPair:
    """The same login as ``/login``, in the shape OAuth 2 clients (and /docs' Authorize button) send."""
    if "@" not in username:
        return await _log_in(request, email=None, phone=username.strip(), password=password)
    try:
        email = normalise_email(username.strip())
    except ValueError:
        raise field_error("username", "invalid_email", "Adresse e-mail invalide.", "Invalid e-mail address.") from None
    return await _log_in(request, email=email, phone=None, password=password)


public_router.include_router(token_router)


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
    "/password/change",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Change my password (ends other sessions)",
    responses=THROTTLED,
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
