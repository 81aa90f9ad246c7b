"""Accounts and login sessions: register, log in, refresh with rotation, log out, change password.

Functions take the session and never commit. Those whose refusals must be remembered (a failed login, a
replayed refresh token) write what must be kept and then raise: callers run them in
``deps.transaction_kept_on_refusal``.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import RowMapping, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.core.phone import PLATFORM_REGION, mask_phone, normalise_phone
from cauri.core.principal import Principal
from cauri.core.security import dummy_password_hash, hash_password, random_token, verify_password
from cauri.identity import caller_cache, errors
from cauri.identity.audit import record_audit
from cauri.identity.models import LoginSession, Membership, Organization, RefreshToken, User
from cauri.identity.permissions import permissions_of
from cauri.identity.schemas import Me, MembershipSummary, OrganizationSummary, TokenPair, UserRead, UserUpdate
from cauri.identity.throttle import LoginThrottle
from cauri.identity.tokens import issue_access_token, new_refresh_token, secret_digest


@dataclass(frozen=True)
class Identifier:
    """What a person types to say who they are: an e-mail address or an E.164 phone number."""

    field: Literal["email", "phone"]
    value: str

    @property
    def masked(self) -> str:
        """For the audit trail: enough to recognise, not enough to reuse."""
        if self.field == "phone":
            return mask_phone(self.value)
        local, _, domain = self.value.partition("@")
        return f"{local[:1]}***@{domain}"


def identifier_of(email: str | None, phone: str | None, region: str) -> Identifier:
    """Exactly one of ``email`` and ``phone``; the phone number normalised with ``region``."""
    if email and phone:
        raise errors.email_or_phone_not_both()
    if email:
        return Identifier("email", email)
    if phone:
        return Identifier("phone", normalise_phone(phone, region, field="phone", region_reason=PLATFORM_REGION))
    raise errors.email_or_phone_required()


def user_actor(user: User, organization_id: uuid.UUID | None = None) -> Principal:
    return Principal(user_id=user.id, organization_id=organization_id, is_platform_admin=user.is_platform_admin)


async def hash_password_off_loop(password: str) -> str:
    """argon2 takes tens of milliseconds of CPU on purpose: keep the event loop free meanwhile."""
    return await asyncio.to_thread(hash_password, password)


async def verify_password_off_loop(password: str, hashed: str) -> bool:
    return await asyncio.to_thread(verify_password, password, hashed)


async def unusable_password_hash() -> str:
    """For accounts created by invitation: nobody knows this password, they set theirs with a reset code."""
    return await hash_password_off_loop(random_token(32))


async def find_user(session: AsyncSession, identifier: Identifier) -> User | None:
    column = User.email if identifier.field == "email" else User.phone
    return (await session.execute(select(User).where(column == identifier.value))).scalar_one_or_none()


async def ensure_available(session: AsyncSession, *, email: str | None, phone: str | None) -> None:
    if email and await find_user(session, Identifier("email", email)) is not None:
        raise errors.already_taken("email")
    if phone and await find_user(session, Identifier("phone", phone)) is not None:
        raise errors.already_taken("phone")


async def create_user(
    session: AsyncSession,
    *,
    email: str | None,
    phone: str | None,
    password_hash: str,
    full_name: str,
    language: str,
    is_platform_admin: bool = False,
) -> User:
    if not email and not phone:
        raise errors.email_or_phone_required()
    await ensure_available(session, email=email, phone=phone)
    user = User(
        email=email,
        phone=phone,
        password_hash=password_hash,
        full_name=full_name,
        language=language,
        is_platform_admin=is_platform_admin,
    )
    session.add(user)
    await session.flush()
    return user


# --- login sessions ----------------------------------------------------------------------------------------


async def _issue_tokens(
    session: AsyncSession, settings: Settings, *, user_id: uuid.UUID, login_id: uuid.UUID
) -> TokenPair:
    refresh_token = new_refresh_token()
    lifetime = timedelta(days=settings.refresh_token_days)
    session.add(
        RefreshToken(
            session_id=login_id,
            token_digest=secret_digest(settings, refresh_token),
            expires_at=utcnow() + lifetime,
        )
    )
    return TokenPair(
        access_token=issue_access_token(settings, user_id=user_id, session_id=login_id),
        refresh_token=refresh_token,
        expires_in=settings.access_token_minutes * 60,
        refresh_expires_in=int(lifetime.total_seconds()),
    )


async def open_login_session(
    session: AsyncSession, settings: Settings, user: User, *, ip: str | None, user_agent: str | None
) -> TokenPair:
    login = LoginSession(user_id=user.id, ip=ip, user_agent=user_agent)
    session.add(login)
    await session.flush()
    return await _issue_tokens(session, settings, user_id=user.id, login_id=login.id)


async def revoke_login_sessions(
    session: AsyncSession, user_id: uuid.UUID, *, reason: str, keep: uuid.UUID | None = None
) -> None:
    """End every open session of a user (but ``keep``): their refresh and access tokens stop working."""
    statement = (
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    if keep is not None:
        statement = statement.where(LoginSession.id != keep)
    await session.execute(statement)
    caller_cache.forget(session, caller_cache.user_tag(user_id))  # a bulk UPDATE: the ORM hook cannot see it


async def log_in(
    session: AsyncSession,
    settings: Settings,
    throttle: LoginThrottle,
    *,
    identifier: Identifier,
    password: str,
    ip: str | None,
    user_agent: str | None,
) -> TokenPair:
    """Tokens for a correct login; refusals are throttled and audited (run in a transaction kept on refusal)."""
    await throttle.before_attempt("login", identifier.value, ip)
    user = await find_user(session, identifier)
    # An unknown account costs the same argon2 verification as a wrong password: timing tells nothing.
    password_ok = await verify_password_off_loop(password, user.password_hash if user else dummy_password_hash())
    if user is None or not password_ok:
        await throttle.failed("login", identifier.value, ip)
        await record_audit(
            session,
            action="auth.login_failed",
            organization_id=None,
            actor=None,
            target_type="user" if user else None,
            target_id=str(user.id) if user else None,
            changes={"identifier": identifier.masked, "reason": "wrong_password" if user else "unknown_account"},
            ip=ip,
        )
        raise errors.InvalidCredentials()
    await throttle.succeeded("login", identifier.value)
    if not user.is_active:
        await record_audit(
            session,
            action="auth.login_refused",
            organization_id=None,
            actor=user_actor(user),
            target_type="user",
            target_id=str(user.id),
            changes={"reason": "account_disabled"},
            ip=ip,
        )
        raise errors.AccountDisabled()
    tokens = await open_login_session(session, settings, user, ip=ip, user_agent=user_agent)
    await record_audit(
        session,
        action="auth.login",
        organization_id=None,
        actor=user_actor(user),
        target_type="user",
        target_id=str(user.id),
        changes={"identifier": identifier.masked},
        ip=ip,
    )
    return tokens


async def _live_refresh_token(
    session: AsyncSession, settings: Settings, refresh_token: str, ip: str | None
) -> tuple[RefreshToken, LoginSession, User]:
    """The unspent, unexpired refresh token presented, its session and user; a 401 otherwise.

    A spent token presented again means two parties hold it (one of them a thief): the whole family is revoked,
    so even the newest token dies and everyone must log in again. Run in a transaction kept on refusal.
    """
    row = (
        await session.execute(
            select(RefreshToken, LoginSession)
            .join(LoginSession, LoginSession.id == RefreshToken.session_id)
            .where(RefreshToken.token_digest == secret_digest(settings, refresh_token))
            .with_for_update(of=RefreshToken)
        )
    ).one_or_none()
    if row is None:
        raise errors.InvalidRefreshToken()
    token, login = row
    now = utcnow()
    if login.revoked_at is not None or token.expires_at <= now:
        raise errors.InvalidRefreshToken()
    if token.used_at is not None:
        login.revoked_at, login.revoked_reason = now, "refresh_token_reused"
        await record_audit(
            session,
            action="auth.refresh_token_reused",
            organization_id=None,
            actor=None,
            target_type="login_session",
            target_id=str(login.id),
            changes={"user_id": str(login.user_id)},
            ip=ip,
        )
        raise errors.InvalidRefreshToken()
    user = await session.get(User, login.user_id)
    if user is None or not user.is_active:
        raise errors.InvalidRefreshToken()
    return token, login, user


async def refresh(session: AsyncSession, settings: Settings, *, refresh_token: str, ip: str | None) -> TokenPair:
    """Rotate: the presented token is spent and a new one issued in the same family (run in a transaction kept
    on refusal)."""
    token, login, user = await _live_refresh_token(session, settings, refresh_token, ip)
    now = utcnow()
    token.used_at = now
    login.last_refreshed_at = now
    return await _issue_tokens(session, settings, user_id=user.id, login_id=login.id)


async def access_token_without_rotation(
    session: AsyncSession, settings: Settings, *, refresh_token: str, ip: str | None
) -> str:
    """A new access token for a refresh token that stays valid until it expires or its session ends.

    Only for clients built for non-rotating refresh tokens (the pension gateway's front-end keeps its refresh
    token for 7 days): rotating would make their second refresh look like a stolen token and log them out.
    Logging out or changing the password still ends the session, and with it this refresh token."""
    _, login, user = await _live_refresh_token(session, settings, refresh_token, ip)
    login.last_refreshed_at = utcnow()
    return issue_access_token(settings, user_id=user.id, session_id=login.id)


async def log_out(session: AsyncSession, principal: Principal, *, ip: str | None) -> None:
    if principal.session_id is None or principal.user_id is None:
        raise errors.NoLoginSession()
    await session.execute(
        update(LoginSession)
        .where(LoginSession.id == principal.session_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason="logout")
    )
    caller_cache.forget(session, caller_cache.user_tag(principal.user_id))
    await record_audit(
        session,
        action="auth.logout",
        organization_id=None,
        actor=principal,
        target_type="login_session",
        target_id=str(principal.session_id),
        ip=ip,
    )


async def current_user(session: AsyncSession, principal: Principal) -> User:
    if principal.user_id is None or principal.session_id is None:
        raise errors.NoLoginSession()
    user = await session.get(User, principal.user_id)
    assert user is not None, "the resolver only answers for existing users"
    return user


async def change_password(
    session: AsyncSession,
    throttle: LoginThrottle,
    principal: Principal,
    *,
    current_password: str,
    new_password: str,
    ip: str | None,
) -> None:
    """Set a new password and end every other session (a thief holding one is logged out)."""
    user = await current_user(session, principal)
    # A stolen access token must not become a way to guess the password: same lockout as the login.
    await throttle.before_attempt("password", str(user.id), ip)
    if not await verify_password_off_loop(current_password, user.password_hash):
        await throttle.failed("password", str(user.id), ip)
        raise errors.wrong_current_password()
    await throttle.succeeded("password", str(user.id))
    await set_password(session, user, new_password)
    await revoke_login_sessions(session, user.id, reason="password_changed", keep=principal.session_id)
    await record_audit(
        session,
        action="auth.password_changed",
        organization_id=None,
        actor=principal,
        target_type="user",
        target_id=str(user.id),
        ip=ip,
    )


async def set_password(session: AsyncSession, user: User, password: str) -> None:
    user.password_hash = await hash_password_off_loop(password)
    user.password_changed_at = utcnow()
    await session.flush()


async def update_profile(session: AsyncSession, principal: Principal, data: UserUpdate) -> User:
    return await update_user(session, await current_user(session, principal), data)


async def update_user(session: AsyncSession, user: User, data: UserUpdate) -> User:
    """Name and language; the caller checked that whoever asks may change this account."""
    for name, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(user, name, value)
    await session.flush()
    return user


def _labelled(entity: type[User] | type[Organization], fields: tuple[str, ...], prefix: str) -> list[Any]:
    return [getattr(entity, name).label(prefix + name) for name in fields]


_USER_FIELDS = tuple(UserRead.model_fields)
_ORGANIZATION_FIELDS = tuple(OrganizationSummary.model_fields)
# GET /auth/me is the hottest authenticated read: one statement built once (a bound user id), selecting the
# columns the answer shows rather than ORM objects (no identity map, no instance state: docs/performance.md).
_CALLER_DESCRIPTION = (
    select(
        *_labelled(User, _USER_FIELDS, "user_"),
        Membership.role,
        *_labelled(Organization, _ORGANIZATION_FIELDS, "organization_"),
    )
    .outerjoin(Membership, Membership.user_id == User.id)
    .outerjoin(Organization, Organization.id == Membership.organization_id)
    .where(User.id == bindparam("user_id"))
    .order_by(Membership.created_at, Membership.id)
)


def _fields_of(row: RowMapping, fields: tuple[str, ...], prefix: str) -> dict[str, Any]:
    return {name: row[prefix + name] for name in fields}


async def describe_caller(session: AsyncSession, principal: Principal) -> Me:
    """``GET /auth/me``: who the caller is, for which organisation, with which roles and permissions."""
    user: UserRead | None = None
    memberships: list[MembershipSummary] = []
    if principal.user_id is not None:
        # One query: the user and, oldest first, each membership with its organisation.
        rows = (await session.execute(_CALLER_DESCRIPTION, {"user_id": principal.user_id})).mappings().all()
        user = UserRead.model_validate(_fields_of(rows[0], _USER_FIELDS, "user_")) if rows else None
        memberships = [
            MembershipSummary(
                organization=OrganizationSummary.model_validate(_fields_of(row, _ORGANIZATION_FIELDS, "organization_")),
                role=row["role"],
            )
            for row in rows
            if row["organization_id"] is not None
        ]
    return Me(
        user=user,
        api_key_id=principal.api_key_id,
        organization_id=principal.organization_id,
        roles=sorted(principal.roles),
        permissions=sorted(p.value for p in permissions_of(principal)),
        memberships=memberships,
    )
