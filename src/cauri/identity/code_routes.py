"""``/auth`` routes built on one-time codes: forgotten password, e-mail and phone verification."""

from __future__ import annotations

from fastapi import Request, Response, status

from cauri.core.i18n import pick
from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router
from cauri.identity import codes, service
from cauri.identity.deps import client_ip, settings_of, transaction_kept_on_refusal
from cauri.identity.schemas import (
    Accepted,
    ForgotPassword,
    ResetPassword,
    UserRead,
    VerificationConfirm,
    VerificationRequest,
)
from cauri.identity.throttle import THROTTLED, login_throttle

public_router = api_router(prefix="/auth", tags=["auth"])
router = api_router(prefix="/auth", tags=["auth"])


@public_router.post(
    "/password/forgot",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a password reset code",
    responses=THROTTLED,
)
async def forgot_password(body: ForgotPassword, request: Request, session: SessionDep) -> Accepted:
    settings = settings_of(request)
    identifier = service.identifier_of(body.email, body.phone, settings.default_region)
    await codes.forgot_password(
        session, settings, login_throttle(request.app), identifier=identifier, ip=client_ip(request)
    )
    # The same answer whether or not the account exists.
    return Accepted(
        detail=pick(
            "Si un compte correspond, un code vient de lui être envoyé.",
            "If an account matches, a code has just been sent to it.",
        )
    )


@public_router.post(
    "/password/reset",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Choose a new password with a reset code",
    responses=THROTTLED,
)
async def reset_password(body: ResetPassword, request: Request) -> Response:
    settings = settings_of(request)
    identifier = service.identifier_of(body.email, body.phone, settings.default_region)
    async with transaction_kept_on_refusal(request) as session:
        await codes.reset_password(
            session,
            settings,
            login_throttle(request.app),
            identifier=identifier,
            code=body.code,
            new_password=body.new_password,
            ip=client_ip(request),
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/verification/send",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a code to verify my e-mail or phone",
    responses=THROTTLED,
)
async def send_verification_code(
    body: VerificationRequest, principal: CurrentPrincipal, request: Request, session: SessionDep
) -> Accepted:
    await codes.request_verification(
        session,
        settings_of(request),
        login_throttle(request.app),
        principal,
        channel=body.channel,
        ip=client_ip(request),
    )
    return Accepted(detail=pick("Code envoyé.", "Code sent."))


@router.post("/verification/confirm", summary="Verify my e-mail or phone with the code received")
async def confirm_verification_code(
    body: VerificationConfirm, principal: CurrentPrincipal, request: Request
) -> UserRead:
    async with transaction_kept_on_refusal(request) as session:
        user = await codes.confirm_verification(
            session, settings_of(request), principal, channel=body.channel, code=body.code, ip=client_ip(request)
        )
        return UserRead.model_validate(user)
