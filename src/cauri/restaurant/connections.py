"""Connections: OAuth2 authorisation code with PKCE (connect, callback, state check), tokens encrypted at rest,
refreshed before expiry by one process at a time, revocation and re-connection, health.

Two steps must persist even when the request that makes them fails, so they use short transactions of their own
(like an idempotency claim's release): consuming a callback's ``state`` (a replay must find it used, whatever
happened next) and recording a provider's refusal on the connection's health.

The refresh lease is a conditional UPDATE, committed: across API processes and workers exactly one caller refreshes;
the others wait for it and reread the token. A provider that answers a refresh without ``refresh_token`` keeps the
one we hold (Square's code flow returns the same one; PKCE rotates it).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from prometheus_client import Counter
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.restaurant.pos.square.connector import PkcePair
from cauri.core.config import Settings
from cauri.core.db import unit_of_work, utcnow
from cauri.core.security import Encryptor
from cauri.kit.errors import AuthError, ConnectorError
from cauri.restaurant import errors
from cauri.restaurant.models import ConnectionStatus, OAuthState, RestaurantConnection
from cauri.restaurant.providers import provider as provider_named

log = structlog.get_logger(__name__)

STATE_LIFETIME = timedelta(minutes=10)
REFRESH_LEASE = timedelta(seconds=30)
REFRESH_WAIT_SECONDS = 35.0
OAUTH_REFUSALS = Counter(
    "cauri_restaurant_oauth_refusals_total", "OAuth callbacks refused, by reason", ["provider", "reason"]
)
TOKEN_REFRESHES = Counter(
    "cauri_restaurant_token_refreshes_total", "Token refreshes, by outcome", ["provider", "outcome"]
)


def encryptor_for(settings: Settings) -> Encryptor:
    return Encryptor(settings.encryption_key_list)


def callback_path(provider: str) -> str:
    return f"/api/v1/restaurant/connections/{provider}/callback"


def redirect_uri(settings: Settings, provider: str) -> str:
    return settings.public_base_url.rstrip("/") + callback_path(provider)


def _hash_state(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


@dataclass(frozen=True)
class Tokens:
    access_token: SecretStr
    refresh_token: SecretStr | None

    def seal(self, encryptor: Encryptor) -> str:
        plain = {
            "access_token": self.access_token.get_secret_value(),
            "refresh_token": self.refresh_token.get_secret_value() if self.refresh_token else None,
        }
        return encryptor.encrypt(json.dumps(plain))

    @classmethod
    def open(cls, encryptor: Encryptor, ciphertext: str) -> Tokens:
        plain = json.loads(encryptor.decrypt(ciphertext))
        refresh = plain.get("refresh_token")
        return cls(SecretStr(plain["access_token"]), SecretStr(refresh) if refresh else None)


async def start_connect(
    session: AsyncSession,
    *,
    settings: Settings,
    organization_id: uuid.UUID,
    provider: str,
    user_id: uuid.UUID | None,
) -> str:
    """The provider's authorisation URL to send the manager to (a fresh ``state`` and PKCE pair each time)."""
    spec = provider_named(provider)
    oauth = spec.oauth(settings)
    state = secrets.token_urlsafe(32)
    pkce = PkcePair.new()
    uri = redirect_uri(settings, provider)
    session.add(
        OAuthState(
            state_hash=_hash_state(state),
            organization_id=organization_id,
            provider=provider,
            verifier_ciphertext=encryptor_for(settings).encrypt(pkce.verifier),
            redirect_uri=uri,
            scopes=list(spec.scopes),
            created_by=user_id,
            expires_at=utcnow() + STATE_LIFETIME,
        )
    )
    return oauth.authorize_url(state=state, scopes=spec.scopes, redirect_uri=uri, code_challenge=pkce.challenge)


@dataclass(frozen=True)
class _Authorisation:
    organization_id: uuid.UUID
    verifier: str
    redirect_uri: str
    scopes: list[str]


async def _consume_state(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, provider: str, state: str
) -> _Authorisation:
    """Mark the state used, in a transaction of its own; refuse an unknown, used or expired one (recorded)."""
    refusal: Exception | None = None
    async with unit_of_work(sessionmaker) as session:
        row = (
            await session.execute(
                select(OAuthState)
                .where(OAuthState.state_hash == _hash_state(state), OAuthState.provider == provider)
                .with_for_update()
            )
        ).scalar_one_or_none()
        if row is None:
            reason, refusal = "unknown", errors.state_invalid()
        elif row.used_at is not None:
            reason, refusal = "replayed", errors.state_replayed()
        elif row.expires_at <= utcnow():
            reason, refusal = "expired", errors.state_expired()
        else:
            row.used_at = utcnow()
            return _Authorisation(
                row.organization_id,
                encryptor_for(settings).decrypt(row.verifier_ciphertext),
                row.redirect_uri,
                list(row.scopes),
            )
        OAUTH_REFUSALS.labels(provider, reason).inc()
        log.warning("restaurant_oauth_callback_refused", provider=provider, reason=reason)
        if row is not None:
            await _record_error(
                session, row.organization_id, provider, f"oauth_state_{reason}", "OAuth callback refused"
            )
    raise refusal


async def _record_error(
    session: AsyncSession, organization_id: uuid.UUID, provider: str, code: str, message: str
) -> None:
    connection = await find_connection(session, organization_id=organization_id, provider=provider)
    if connection is not None:
        connection.last_error_at = utcnow()
        connection.last_error_code = code[:60]
        connection.last_error_message = message[:500]


async def record_failure(
    sessionmaker: async_sessionmaker[AsyncSession], connection_id: uuid.UUID, error: ConnectorError
) -> None:
    """A provider call failed: the connection's health says so (in its own transaction, kept whatever follows)."""
    async with unit_of_work(sessionmaker) as session:
        connection = await session.get(RestaurantConnection, connection_id)
        if connection is None:
            return
        connection.last_error_at = utcnow()
        connection.last_error_code = error.code[:60]
        connection.last_error_message = error.message_en[:500]
        if isinstance(error, AuthError):
            connection.status = ConnectionStatus.REAUTHORIZE.value
        elif connection.status == ConnectionStatus.CONNECTED.value:
            connection.status = ConnectionStatus.ERROR.value


async def record_success(session: AsyncSession, connection: RestaurantConnection) -> None:
    connection.last_success_at = utcnow()
    if connection.status == ConnectionStatus.ERROR.value:
        connection.status = ConnectionStatus.CONNECTED.value


async def complete_connect(
    session: AsyncSession,
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    provider: str,
    code: str | None,
    state: str | None,
    error: str | None = None,
) -> RestaurantConnection:
    """The callback: check and consume ``state``, exchange the code with the PKCE verifier, store the tokens."""
    spec = provider_named(provider)
    if not state:
        OAUTH_REFUSALS.labels(provider, "missing").inc()
        raise errors.state_invalid()
    authorisation = await _consume_state(sessionmaker, settings, provider, state)
    if error or not code:
        async with unit_of_work(sessionmaker) as own:
            await _record_error(own, authorisation.organization_id, provider, "oauth_denied", error or "no code")
        raise errors.authorization_denied(error or "no code")
    oauth = spec.oauth(settings)
    try:
        token = await oauth.exchange_code(
            code,
            redirect_uri=authorisation.redirect_uri,
            code_verifier=authorisation.verifier,
            scopes=authorisation.scopes,
        )
    except ConnectorError as exc:
        async with unit_of_work(sessionmaker) as own:
            await _record_error(own, authorisation.organization_id, provider, exc.code, exc.message_en)
        raise exc.to_app_error() from exc
    finally:
        await oauth.aclose()
    connection = await find_connection(session, organization_id=authorisation.organization_id, provider=provider)
    if connection is None:
        connection = RestaurantConnection(
            organization_id=authorisation.organization_id, provider=provider, kind=spec.kind.value
        )
        session.add(connection)
    now = utcnow()
    connection.status = ConnectionStatus.CONNECTED.value
    connection.token_ciphertext = Tokens(token.access_token, token.refresh_token).seal(encryptor_for(settings))
    connection.pkce = True
    connection.expires_at = token.expires_at
    connection.refreshed_at = now
    connection.connected_at = now
    connection.scopes = list(token.scopes)
    connection.merchant_id = token.merchant_id
    connection.last_success_at = now
    connection.refreshable = token.refresh_token is not None
    if token.refresh_token is None:
        # Usable until it expires, but nobody can renew it: say so where a manager looks.
        connection.last_error_at = now
        connection.last_error_code = "refresh_token_missing"
        connection.last_error_message = "The provider gave no refresh token: connect again before the token expires."
        log.warning("restaurant_token_without_refresh", provider=provider)
    else:
        connection.last_error_at = connection.last_error_code = connection.last_error_message = None
    await session.flush()
    return connection


async def find_connection(
    session: AsyncSession, *, organization_id: uuid.UUID, provider: str
) -> RestaurantConnection | None:
    return (
        await session.execute(
            select(RestaurantConnection).where(
                RestaurantConnection.organization_id == organization_id, RestaurantConnection.provider == provider
            )
        )
    ).scalar_one_or_none()


async def get_connection(session: AsyncSession, *, organization_id: uuid.UUID, provider: str) -> RestaurantConnection:
    provider_named(provider)
    connection = await find_connection(session, organization_id=organization_id, provider=provider)
    if connection is None:
        raise errors.not_connected(provider)
    return connection


async def list_connections(session: AsyncSession, *, organization_id: uuid.UUID) -> list[RestaurantConnection]:
    rows = await session.execute(
        select(RestaurantConnection)
        .where(RestaurantConnection.organization_id == organization_id)
        .order_by(RestaurantConnection.provider)
    )
    return list(rows.scalars())


def _needs_refresh(connection: RestaurantConnection, settings: Settings, now: datetime) -> bool:
    if connection.expires_at is None:
        return False
    return connection.expires_at - now <= provider_named(connection.provider).refresh_margin(settings)


async def access_token(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, connection_id: uuid.UUID
) -> SecretStr:
    """The connection's access token, refreshed first when it is due, by one caller at a time (a lease)."""
    encryptor = encryptor_for(settings)
    me = uuid.uuid4().hex
    deadline = time.monotonic() + REFRESH_WAIT_SECONDS
    while True:
        async with unit_of_work(sessionmaker) as session:
            connection = await session.get(RestaurantConnection, connection_id, populate_existing=True)
            if connection is None or connection.token_ciphertext is None:
                raise errors.not_connected("?" if connection is None else connection.provider)
            provider = connection.provider
            if connection.status in (ConnectionStatus.REAUTHORIZE.value, ConnectionStatus.REVOKED.value):
                raise errors.reauthorization_required(provider)
            now = utcnow()
            tokens = Tokens.open(encryptor, connection.token_ciphertext)
            if not _needs_refresh(connection, settings, now) or not connection.refreshable:
                return tokens.access_token  # an unrefreshable token serves until it expires (health says so)
            claimed = await session.execute(
                update(RestaurantConnection)
                .where(
                    RestaurantConnection.id == connection_id,
                    # Still the tokens we read: a caller that read them before another one's refresh committed
                    # must not refresh again with a refresh token the provider has since rotated away.
                    RestaurantConnection.token_ciphertext == connection.token_ciphertext,
                    (RestaurantConnection.refresh_lease_until.is_(None))
                    | (RestaurantConnection.refresh_lease_until < now),
                )
                .values(refresh_lease_until=now + REFRESH_LEASE, refresh_lease_owner=me)
                .execution_options(synchronize_session=False)
            )
            mine = claimed.rowcount == 1  # type: ignore[attr-defined]
            pkce = connection.pkce
        if mine:
            return await _refresh(sessionmaker, settings, connection_id, provider, tokens, pkce=pkce, owner=me)
        if time.monotonic() > deadline:
            raise errors.refresh_busy(provider)
        await asyncio.sleep(0.05)  # another process is refreshing: reread when it is done


async def _refresh(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    connection_id: uuid.UUID,
    provider: str,
    tokens: Tokens,
    *,
    pkce: bool,
    owner: str,
) -> SecretStr:
    spec = provider_named(provider)
    oauth = spec.oauth(settings)
    failure: ConnectorError | None = None
    try:
        if tokens.refresh_token is None:
            raise AuthError(provider=provider, provider_code="no_refresh_token")
        fresh = await oauth.refresh(tokens.refresh_token, pkce=pkce)
    except ConnectorError as exc:
        failure = exc
    finally:
        await oauth.aclose()
    async with unit_of_work(sessionmaker) as session:
        connection = await session.get(RestaurantConnection, connection_id, populate_existing=True)
        if connection is None:
            raise errors.not_connected(provider)
        if connection.refresh_lease_owner == owner:
            connection.refresh_lease_until = None
            connection.refresh_lease_owner = None
        if failure is None:
            kept = fresh.refresh_token or tokens.refresh_token  # a provider that omits it: keep ours
            connection.token_ciphertext = Tokens(fresh.access_token, kept).seal(encryptor_for(settings))
            connection.expires_at = fresh.expires_at
            connection.refreshed_at = utcnow()
            connection.last_success_at = utcnow()
            TOKEN_REFRESHES.labels(provider, "refreshed").inc()
            return fresh.access_token
        connection.last_error_at = utcnow()
        connection.last_error_code = failure.code[:60]
        connection.last_error_message = failure.message_en[:500]
        if isinstance(failure, AuthError):
            connection.status = ConnectionStatus.REAUTHORIZE.value
        TOKEN_REFRESHES.labels(provider, "failed").inc()
    if isinstance(failure, AuthError):
        raise errors.reauthorization_required(provider) from failure
    raise failure.to_app_error() from failure


async def revoke(session: AsyncSession, *, settings: Settings, connection: RestaurantConnection) -> None:
    """Revoke at the provider (best effort: a token it no longer knows is already revoked), forget the tokens."""
    spec = provider_named(connection.provider)
    if connection.token_ciphertext is not None:
        tokens = Tokens.open(encryptor_for(settings), connection.token_ciphertext)
        oauth = spec.oauth(settings)
        try:
            await oauth.revoke(tokens.access_token)
        except ConnectorError as exc:
            if not isinstance(exc, AuthError) and exc.code != "provider_object_not_found":
                raise exc.to_app_error() from exc
        finally:
            await oauth.aclose()
    connection.token_ciphertext = None
    connection.status = ConnectionStatus.REVOKED.value
    connection.expires_at = None
    connection.refreshable = False
