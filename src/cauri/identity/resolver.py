"""Who is calling: ``Authorization: Bearer <access JWT>`` or ``X-API-Key: <key>``, and for which organisation.

The resolver uses its own short *reading* session, never the request's: one query (columns, not ORM objects)
resolves a bearer token or an API key, and on SQLite a reading session never waits for the write lock. An API
key's last use is recorded at most once a minute, in a writing session of its own. With Redis configured,
resolved callers are reused for ``principal_cache_seconds`` from a cache that every change to them clears at
once in every process (``identity.caller_cache``).

A credential that is present but invalid (bad signature, expired, revoked, unknown key…) is always a 401, even
on a public route: a client sending a broken credential wants to know, and a public route never needs one.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from fastapi import Request
from sqlalchemy import Select, and_, literal, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.cache import NearCache
from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.core.errors import Forbidden, Unauthenticated, field_error
from cauri.core.principal import Principal
from cauri.core.routing import get_session, reads_only
from cauri.core.security import constant_time_equal
from cauri.identity.caller_cache import api_key_tag, organization_tag, user_tag
from cauri.identity.models import ApiKey, LoginSession, Membership, Organization, User
from cauri.identity.tokens import AccessClaims, api_key_prefix, read_access_token, secret_digest

log = structlog.get_logger(__name__)

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


def _caller_statement(claims: AccessClaims, requested: uuid.UUID | None) -> Select[Any]:
    """User, login session and the membership that applies, in one query (columns only, no ORM objects)."""
    on_membership = Membership.user_id == User.id
    if requested is not None:
        on_membership = and_(on_membership, Membership.organization_id == requested)
        organization_exists: Any = (
            select(Organization.id).where(Organization.id == requested).exists().label("organization_exists")
        )
    else:
        organization_exists = literal(False).label("organization_exists")
    return (
        select(
            User.is_active,
            User.is_platform_admin,
            User.language,
            LoginSession.revoked_at,
            Membership.organization_id,
            Membership.role,
            organization_exists,
        )
        .join(LoginSession, LoginSession.user_id == User.id)
        .outerjoin(Membership, on_membership)
        .where(User.id == claims.user_id, LoginSession.id == claims.session_id)
        .order_by(Membership.created_at, Membership.id)
        .limit(1)
    )


async def principal_from_access_token(
    session: AsyncSession, claims: AccessClaims, requested: uuid.UUID | None
) -> Principal:
    row = (await session.execute(_caller_statement(claims, requested))).one_or_none()
    if row is None or row.revoked_at is not None or not row.is_active:
        raise _session_revoked()
    if row.organization_id is not None:
        organization_id, roles = row.organization_id, frozenset({row.role})
    elif requested is None:
        organization_id, roles = None, frozenset()
    elif row.is_platform_admin and row.organization_exists:
        # Platform admins may act for any organisation (support); they hold every permission without a role.
        organization_id, roles = requested, frozenset()
    else:
        raise _not_a_member()
    return Principal(
        user_id=claims.user_id,
        organization_id=organization_id,
        session_id=claims.session_id,
        is_platform_admin=row.is_platform_admin,
        roles=roles,
        language=row.language,
    )


@dataclass(frozen=True)
class _KeyCaller:
    principal: Principal
    last_used_at: datetime | None


async def _api_key_caller(
    session: AsyncSession, settings: Settings, raw_key: str, requested: uuid.UUID | None
) -> _KeyCaller:
    prefix = api_key_prefix(raw_key)
    if prefix is None:
        raise _invalid_api_key()
    row = (
        await session.execute(
            select(
                ApiKey.id,
                ApiKey.organization_id,
                ApiKey.role,
                ApiKey.key_digest,
                ApiKey.revoked_at,
                ApiKey.last_used_at,
                ApiKey.created_by_user_id,
            ).where(ApiKey.prefix == prefix)
        )
    ).one_or_none()
    if row is None or row.revoked_at is not None:
        raise _invalid_api_key()
    if not constant_time_equal(row.key_digest, secret_digest(settings, raw_key)):
        raise _invalid_api_key()
    if requested is not None and requested != row.organization_id:
        raise _not_a_member()
    principal = Principal(
        user_id=None,
        organization_id=row.organization_id,
        api_key_id=row.id,
        key_creator_id=row.created_by_user_id,  # the person a key acts for (maker–checker compares persons)
        roles=frozenset({row.role}),
    )
    return _KeyCaller(principal, row.last_used_at)


async def record_key_use(maker: async_sessionmaker[AsyncSession], api_key_id: uuid.UUID) -> None:
    """Set the key's last use, taking the writer explicitly: reads never write, this runs once a minute a key.

    Best effort: the last use is information for people, so a busy database never fails the call it records."""
    now = utcnow()
    try:
        async with maker() as session:
            await session.execute(
                update(ApiKey)
                .where(
                    ApiKey.id == api_key_id,
                    or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_PRECISION),
                )
                .values(last_used_at=now)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
    except DBAPIError:
        log.warning("api_key.last_use_not_recorded", api_key_id=str(api_key_id), exc_info=True)


# Every field of Principal, by name: a field left out of the cache would silently read as its default (a key's
# creator lost here would let one person be maker and checker through a cached key).
_UUID_FIELDS = ("user_id", "organization_id", "api_key_id", "key_creator_id", "session_id")


def _principal_bytes(principal: Principal) -> bytes:
    fields: dict[str, Any] = {name: getattr(principal, name) for name in _UUID_FIELDS}
    fields = {name: str(value) if value is not None else None for name, value in fields.items()}
    fields.update(
        is_platform_admin=principal.is_platform_admin, roles=sorted(principal.roles), language=principal.language
    )
    return json.dumps(fields).encode()


def _principal_of(raw: bytes) -> Principal:
    fields: dict[str, Any] = json.loads(raw)
    return Principal(
        **{name: uuid.UUID(fields[name]) if fields[name] else None for name in _UUID_FIELDS},
        is_platform_admin=bool(fields["is_platform_admin"]),
        roles=frozenset(fields["roles"]),
        language=str(fields["language"]),
    )


def _tags(principal: Principal) -> list[str]:
    tags = []
    if principal.user_id is not None:
        tags.append(user_tag(principal.user_id))
    if principal.api_key_id is not None:
        tags.append(api_key_tag(principal.api_key_id))
    if principal.organization_id is not None:
        tags.append(organization_tag(principal.organization_id))
    return tags


class _KeyUseClock:
    """When this process last recorded each key's use, so a cached key still records it once a minute."""

    def __init__(self) -> None:
        self._recorded: dict[uuid.UUID, datetime] = {}

    def due(self, api_key_id: uuid.UUID, last_used_at: datetime | None) -> bool:
        now = utcnow()
        known = max(filter(None, (last_used_at, self._recorded.get(api_key_id))), default=None)
        if known is not None and now - known <= LAST_USED_PRECISION:
            return False
        self._recorded[api_key_id] = now
        return True


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
    state = request.app.state
    settings: Settings = state.settings
    requested = organization_id if organization_id is not None else requested_organization(request)
    cache: NearCache | None = getattr(state, "caller_cache", None)
    credential: AccessClaims | str
    if authorization is not None:
        # The signature and expiry are checked on every request, cached or not.
        credential = read_access_token(settings, bearer_token(authorization))
        cache_key = f"token:{credential.session_id}:{credential.user_id}:{requested}"
    else:
        assert api_key is not None
        credential = api_key.strip()
        cache_key = f"key:{secret_digest(settings, credential)}:{requested}"
    if cache is not None and (cached := cache.get(cache_key)) is not None:
        principal = _principal_of(cached)
        if principal.api_key_id is not None and _key_use_clock(state).due(principal.api_key_id, None):
            await record_key_use(state.sessionmaker, principal.api_key_id)
        return principal
    epoch = cache.epoch() if cache is not None else 0
    if reads_only(request):
        # A read: the request's own reading session serves us too (one connection, one transaction).
        principal, last_used_at = await _look_up(await get_session(request), settings, credential, requested)
    else:
        # A write: a short reading session of our own, as the request's takes the write lock on SQLite and the
        # idempotency guard opens its own session right after us.
        async with state.read_sessionmaker() as session:
            principal, last_used_at = await _look_up(session, settings, credential, requested)
            await session.rollback()
    if principal.api_key_id is not None and _key_use_clock(state).due(principal.api_key_id, last_used_at):
        await record_key_use(state.sessionmaker, principal.api_key_id)
    if cache is not None:
        ttl = settings.principal_cache_seconds
        cache.set(cache_key, _principal_bytes(principal), ttl=ttl, tags=_tags(principal), epoch=epoch)
    return principal


async def _look_up(
    session: AsyncSession, settings: Settings, credential: AccessClaims | str, requested: uuid.UUID | None
) -> tuple[Principal, datetime | None]:
    """The caller of verified token claims or of a raw API key, and the key's last recorded use."""
    if isinstance(credential, AccessClaims):
        return await principal_from_access_token(session, credential, requested), None
    caller = await _api_key_caller(session, settings, credential, requested)
    return caller.principal, caller.last_used_at


def _key_use_clock(state: Any) -> _KeyUseClock:
    clock: _KeyUseClock | None = getattr(state, "key_use_clock", None)
    if clock is None:
        clock = state.key_use_clock = _KeyUseClock()
    return clock
