"""Six-digit codes sent by e-mail or SMS: verify an address, reset a forgotten password.

A code is stored as a keyed digest bound to its user and purpose, lives ``verification_code_minutes``, allows
``verification_code_attempts`` tries and then is dead; asking for a new one kills the previous one. Codes
travel through the notification outbox, in the user's language. Checking functions record a wrong try before
raising: run them in ``deps.transaction_kept_on_refusal``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.core.errors import Conflict, ValidationFailed, field_error
from cauri.core.principal import Principal
from cauri.core.security import constant_time_equal, random_digits
from cauri.identity import errors
from cauri.identity.audit import record_audit
from cauri.identity.models import User, VerificationCode
from cauri.identity.service import Identifier, current_user, find_user, revoke_login_sessions, set_password
from cauri.identity.throttle import LoginThrottle
from cauri.identity.tokens import secret_digest
from cauri.notifications.kinds import NotificationKind, register_kind
from cauri.notifications.notify import Recipient, notify


class Purpose(StrEnum):
    VERIFY_EMAIL = "verify_email"
    VERIFY_PHONE = "verify_phone"
    RESET_PASSWORD = "reset_password"  # noqa: S105 (a purpose, not a password)


# Security codes: nobody may turn them off, and they are sent at once, quiet hours or not.
AUTH_CODE = register_kind(
    NotificationKind(
        "auth.code",
        channels=("email", "sms"),
        mandatory=True,
        urgent=True,
        sample={"code": "482913", "minutes": 10, "purpose": "verify_email"},
    )
)


def _code_digest(settings: Settings, user_id: uuid.UUID, purpose: Purpose, code: str) -> str:
    # Bound to user and purpose: a code for one thing can never be replayed for another.
    return secret_digest(settings, f"code:{purpose.value}:{user_id}:{code}")


async def send_code(
    session: AsyncSession, settings: Settings, *, user: User, purpose: Purpose, channel: Literal["email", "sms"]
) -> None:
    destination = user.email if channel == "email" else user.phone
    assert destination is not None, "callers choose a channel the user has"
    now = utcnow()
    await session.execute(
        update(VerificationCode)
        .where(
            VerificationCode.user_id == user.id,
            VerificationCode.purpose == purpose.value,
            VerificationCode.consumed_at.is_(None),
        )
        .values(consumed_at=now)
    )
    code = random_digits(6)
    verification = VerificationCode(
        id=uuid.uuid4(),
        user_id=user.id,
        purpose=purpose.value,
        destination=destination,
        code_digest=_code_digest(settings, user.id, purpose, code),
        expires_at=now + timedelta(minutes=settings.verification_code_minutes),
    )
    session.add(verification)
    # Only the chosen address: the code goes where the user asked, not to every channel of the kind.
    await notify(
        session,
        kind=AUTH_CODE.name,
        recipient=Recipient(
            user.id,
            email=destination if channel == "email" else None,
            phone=destination if channel == "sms" else None,
            language=user.language,
        ),
        context={"code": code, "minutes": settings.verification_code_minutes, "purpose": purpose.value},
        object_id=verification.id,
    )


async def _live_code(session: AsyncSession, user_id: uuid.UUID, purpose: Purpose) -> VerificationCode | None:
    return (
        await session.execute(
            select(VerificationCode)
            .where(
                VerificationCode.user_id == user_id,
                VerificationCode.purpose == purpose.value,
                VerificationCode.consumed_at.is_(None),
            )
            .order_by(VerificationCode.created_at.desc())
            .limit(1)
            .with_for_update()
        )
    ).scalar_one_or_none()


async def use_code(
    session: AsyncSession, settings: Settings, *, user_id: uuid.UUID, purpose: Purpose, code: str
) -> VerificationCode:
    """Spend the live code if ``code`` matches; a wrong try is counted (and kept) before the refusal."""
    live = await _live_code(session, user_id, purpose)
    now = utcnow()
    if live is None or live.expires_at <= now:
        raise errors.code_expired()
    if not constant_time_equal(live.code_digest, _code_digest(settings, user_id, purpose, code)):
        live.attempts += 1
        attempts_left = settings.verification_code_attempts - live.attempts
        if attempts_left <= 0:
            live.consumed_at = now
            raise errors.code_attempts_exhausted()
        raise errors.code_wrong(attempts_left)
    live.consumed_at = now
    return live


# --- address verification (logged in) ----------------------------------------------------------------------


def _verification_target(user: User, channel: Literal["email", "phone"]) -> tuple[Purpose, datetime | None]:
    if getattr(user, channel) is None:
        raise field_error(
            "channel",
            "no_such_address",
            "Votre compte n'a pas cette adresse." if channel == "email" else "Votre compte n'a pas de numéro.",
            "Your account has no such address." if channel == "email" else "Your account has no phone number.",
        )
    if channel == "email":
        return Purpose.VERIFY_EMAIL, user.email_verified_at
    return Purpose.VERIFY_PHONE, user.phone_verified_at


async def request_verification(
    session: AsyncSession,
    settings: Settings,
    throttle: LoginThrottle,
    principal: Principal,
    *,
    channel: Literal["email", "phone"],
    ip: str | None,
) -> None:
    user = await current_user(session, principal)
    purpose, verified_at = _verification_target(user, channel)
    if verified_at is not None:
        raise Conflict("Adresse déjà vérifiée.", "Address already verified.", code="already_verified", field="channel")
    await throttle.before_attempt("code-send", f"{user.id}:{purpose.value}", ip)
    await send_code(session, settings, user=user, purpose=purpose, channel="email" if channel == "email" else "sms")


async def confirm_verification(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    *,
    channel: Literal["email", "phone"],
    code: str,
    ip: str | None,
) -> User:
    user = await current_user(session, principal)
    purpose, _ = _verification_target(user, channel)
    spent = await use_code(session, settings, user_id=user.id, purpose=purpose, code=code)
    if spent.destination != getattr(user, channel):
        raise errors.code_expired()  # the address changed since the code was sent
    now = utcnow()
    if channel == "email":
        user.email_verified_at = now
    else:
        user.phone_verified_at = now
    await record_audit(
        session,
        action=f"user.{channel}_verified",
        organization_id=None,
        actor=principal,
        target_type="user",
        target_id=str(user.id),
        ip=ip,
    )
    await session.flush()
    return user


# --- forgotten password (anonymous) ------------------------------------------------------------------------


async def forgot_password(
    session: AsyncSession, settings: Settings, throttle: LoginThrottle, *, identifier: Identifier, ip: str | None
) -> None:
    """Send a reset code when the account exists; the caller answers the same either way."""
    await throttle.before_attempt("code-send", identifier.value, ip)
    user = await find_user(session, identifier)
    if user is None or not user.is_active:
        return
    channel: Literal["email", "sms"] = "email" if identifier.field == "email" else "sms"
    await send_code(session, settings, user=user, purpose=Purpose.RESET_PASSWORD, channel=channel)


async def reset_password(
    session: AsyncSession,
    settings: Settings,
    throttle: LoginThrottle,
    *,
    identifier: Identifier,
    code: str,
    new_password: str,
    ip: str | None,
) -> None:
    """A new password with a reset code; every session is ended. Wrong tries are kept and throttled."""
    await throttle.before_attempt("reset", identifier.value, ip)
    user = await find_user(session, identifier)
    if user is None or not user.is_active:
        await throttle.failed("reset", identifier.value, ip)
        raise errors.code_expired()  # the same answer as for an account without a live code
    try:
        spent = await use_code(session, settings, user_id=user.id, purpose=Purpose.RESET_PASSWORD, code=code)
    except ValidationFailed:
        await throttle.failed("reset", identifier.value, ip)
        raise
    await throttle.succeeded("reset", identifier.value)
    await set_password(session, user, new_password)
    # Receiving the code proves the address belongs to the account holder.
    if spent.destination == user.email and user.email_verified_at is None:
        user.email_verified_at = utcnow()
    if spent.destination == user.phone and user.phone_verified_at is None:
        user.phone_verified_at = utcnow()
    await revoke_login_sessions(session, user.id, reason="password_reset")
    await record_audit(
        session,
        action="auth.password_reset",
        organization_id=None,
        actor=None,
        target_type="user",
        target_id=str(user.id),
        ip=ip,
    )
    await session.flush()
