"""Who is calling: ``Authorization: Bearer <access JWT>`` or ``X-API-Key: <key>``, and for which organisation.

The resolver uses its own short database session, never the request's: on SQLite every transaction is
``BEGIN IMMEDIATE``, and the idempotency guard opens its own session right after us, so keeping a
transaction open here would make the request wait for itself.

A credential that is present but invalid (bad signature, expired, revoked, unknown key…) is always a 401, even
on a public route: a client sending a broken credential wants to know, and a public route never needs one.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.core.errors import Forbidden, Unauthenticated, field_error
from cauri.core.principal import Principal
from cauri.core.security import constant_time_equal
from cauri.identity.models import ApiKey, LoginSession, Membership, Organization, User
from cauri.identity.tokens import api_key_prefix, read_access_token, secret_digest

ORGANIZATION_HEADER = "X-Organization-ID"
API_KEY_HEADER = "X-API-Key"
# Recording every use of a busy key would turn each API call into a write; once a minute is precise enough.
LAST_USED_PRECISION = timedelta(minutes=1)


def _session_revoked() -> Unauthenticated:
    return Unauthenticated(
        "Session terminée. Reconnectez-vous.", "Session ended. Please log in again.", code="session_revoked"
    )


def _invalid_api_key() -> Unauthenticated:
    return Unauthenticated("Clé d'API invalide ou révoquée.", "Invalid or revoked API key.", code="invalid_api_key")


def _not_a_member() -> Forbidden:
    return Forbidden(
        "Vous n'êtes pas membre de cette organisation.",
        "You are not a member of this organisation.",
        code="not_a_member",
    )


def requested_organization(request: Request) -> uuid.UUID | None:
    raw = request.headers.get(ORGANIZATION_HEADER)
    if raw is None or not raw.strip():
        return None
    try:
        return uuid.UUID(raw.strip())
    except ValueError:
        raise field_error(
            ORGANIZATION_HEADER,
            "uuid_parsing",
            "Identifiant d'organisation invalide.",
            "Invalid organisation identifier.",
        ) from None


def bearer_token(authorization: str) -> str:
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(
            "En-tête Authorization attendu : « Bearer <jeton> ».",
            "Expected an Authorization header of the form 'Bearer <token>'.",
            code="invalid_token",
        )
    return token.strip()


async def organization_context(
    session: AsyncSession, user: User, requested: uuid.UUID | None
) -> tuple[uuid.UUID | None, frozenset[str]]:
    """The organisation a user acts for and their role there: the one asked for, else their oldest membership."""
    statement = select(Membership).where(Membership.user_id == user.id)
    if requested is not None:
        statement = statement.where(Membership.organization_id == requested)
    membership = (
        await session.execute(statement.order_by(Membership.created_at, Membership.id).limit(1))
    ).scalar_one_or_none()
    if membership is not None:
        return membership.organization_id, frozenset({membership.role})
    if requested is None:
        return None, frozenset()
    # Platform admins may act for any organisation (support); they hold every permission without a role.
    if user.is_platform_admin and await session.get(Organization, requested) is not None:
        return requested, frozenset()
    raise _not_a_member()


async def principal_from_access_token(
    session: AsyncSession, settings: Settings, token: str, requested: uuid.UUID | None
) -> Principal:
    claims = read_access_token(settings, token)
    row = (
        await session.execute(
            select(User, LoginSession)
            .join(LoginSession, LoginSession.user_id == User.id)
            .where(User.id == claims.user_id, LoginSession.id == claims.session_id)
        )
    ).one_or_none()
    if row is None:
        raise _session_revoked()
    user, login_session = row
    if login_session.revoked_at is not None or not user.is_active:
        raise _session_revoked()
    organization_id, roles = await organization_context(session, user, requested)
    return Principal(
        user_id=user.id,
        organization_id=organization_id,
        session_id=login_session.id,
        is_platform_admin=user.is_platform_admin,
        roles=roles,
        language=user.language,
    )


async def principal_from_api_key(
    session: AsyncSession, settings: Settings, raw_key: str, requested: uuid.UUID | None
) -> Principal:
    prefix = api_key_prefix(raw_key.strip())
    if prefix is None:
        raise _invalid_api_key()
    key = (await session.execute(select(ApiKey).where(ApiKey.prefix == prefix))).scalar_one_or_none()
    if key is None or key.revoked_at is not None:
        raise _invalid_api_key()
    if not constant_time_equal(key.key_digest, secret_digest(settings, raw_key.strip())):
        raise _invalid_api_key()
    if requested is not None and requested != key.organization_id:
        raise _not_a_member()
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_PRECISION:
        key.last_used_at = now
    return Principal(
        user_id=None,
        organization_id=key.organization_id,
        api_key_id=key.id,
        key_creator_id=key.created_by_user_id,
        roles=frozenset({key.role}),
    )


async def resolve_principal(request: Request, organization_id: uuid.UUID | None = None) -> Principal | None:
    """The caller of ``request``, None when it carries no credential, a 401 when the credential is bad.

    ``organization_id`` overrides the ``X-Organization-ID`` header: a seed's surface acts for its operator only."""
    authorization = request.headers.get("Authorization")
    api_key = request.headers.get(API_KEY_HEADER)
    if authorization is None and api_key is None:
        return None
    if authorization is not None and api_key is not None:
        raise Unauthenticated(
            "Envoyez un jeton ou une clé d'API, pas les deux.",
            "Send either a token or an API key, not both.",
            code="ambiguous_credentials",
        )
    settings: Settings = request.app.state.settings
    requested = organization_id or requested_organization(request)
    async with request.app.state.sessionmaker() as session:
        if authorization is not None:
            principal = await principal_from_access_token(session, settings, bearer_token(authorization), requested)
        else:
            assert api_key is not None
            principal = await principal_from_api_key(session, settings, api_key, requested)
        await session.commit()  # last_used_at of an API key; a no-op otherwise
    return principal
