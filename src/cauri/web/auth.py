"""Console sessions in a cookie, and CSRF protection of every form.

**Session.** Logging in goes through the identity service (same throttling, audit and login session as the API).
The browser then holds one cookie, ``cauri_console``: a JWT signed with the application's secret key, of type
``console``, naming the user (``sub``), the identity login session (``sid``) and the organisation chosen
(``org``). It is ``HttpOnly``, ``SameSite=Lax``, ``Path=/console`` and ``Secure`` over HTTPS. Every request
checks the login session in the database, so logging out (here or through the API), a password change or a
replayed refresh token ends the console session at once. It expires after ``IDLE_LIFETIME`` without a request
and is re-issued as the user moves around (at most every ``RENEW_AFTER``); it never outlives the identity
session's own limit (``refresh_token_days`` after login). The console never hands out refresh tokens, so two
tabs refreshing at once cannot trip the refresh-token reuse detection and log the user out.

**CSRF.** Two independent checks on every form POST, both required:

* a signed double-submit token: the ``cauri_csrf`` cookie holds a random value; forms carry
  ``HMAC(secret, value | login session)``, compared in constant time. A page from another site can neither
  read the cookie nor compute the token, and the token dies with the login session (so a token stolen
  before login is useless after it);
* the ``Origin`` header (or, when a browser omits it, the ``Referer``) must be this site.

``SameSite=Lax`` on both cookies is a third layer, not relied upon alone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.core.deps import settings_of as _settings
from cauri.core.errors import Forbidden, Unauthenticated
from cauri.core.principal import Principal, require_principal
from cauri.core.security import constant_time_equal, decode_jwt, encode_jwt, keyed_digest, random_token
from cauri.identity.models import LoginSession, Membership, Organization, User
from cauri.notifications import inapp

SESSION_COOKIE = "cauri_console"
CSRF_COOKIE = "cauri_csrf"
COOKIE_PATH = "/console"
CSRF_FIELD = "csrf_token"
CONSOLE_TOKEN_TYPE = "console"  # noqa: S105 (a claim value, not a secret)
IDLE_LIFETIME = timedelta(hours=2)
RENEW_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class OrganizationChoice:
    id: uuid.UUID
    name: str
    role: str
    default_region: str
    require_maker_checker: bool


@dataclass(frozen=True)
class ConsoleSession:
    """Who is using the console, for which organisation, and what else they could choose."""

    principal: Principal
    user_id: uuid.UUID
    session_id: uuid.UUID
    full_name: str
    login_name: str  # e-mail, else phone: what they typed to log in
    organization: OrganizationChoice | None
    memberships: tuple[OrganizationChoice, ...]
    unread_notifications: int = 0  # the bell in the header (web/notifications.py keeps it live)

    @property
    def organization_id(self) -> uuid.UUID | None:
        return self.organization.id if self.organization else None


def _secret(request: Request) -> str:
    return _settings(request).secret_key.get_secret_value()


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, *, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, httponly=True, samesite="lax", secure=is_https(request))


# --- the session cookie ----------------------------------------------------------------------------------------


def issue_session_token(
    request: Request, *, user_id: uuid.UUID, session_id: uuid.UUID, organization_id: uuid.UUID | None
) -> str:
    claims: dict[str, Any] = {"sub": str(user_id), "sid": str(session_id), "typ": CONSOLE_TOKEN_TYPE}
    if organization_id is not None:
        claims["org"] = str(organization_id)
    return encode_jwt(_secret(request), claims, IDLE_LIFETIME)


def remember_session(request: Request, token: str) -> None:
    """Ask :class:`~cauri.web.rendering.ConsoleRoute` to set this session cookie on the response."""
    request.state.console_cookie = token


def forget_session(request: Request) -> None:
    """Ask :class:`~cauri.web.rendering.ConsoleRoute` to delete the session cookie."""
    request.state.console_cookie = ""


def apply_session_cookies(request: Request, response: Response) -> None:
    """Set or delete the cookies the request asked for (a renewed session, a new CSRF secret)."""
    token: str | None = getattr(request.state, "console_cookie", None)
    if token == "":
        clear_cookie(response, request, SESSION_COOKIE)
    elif token is not None:
        set_cookie(response, request, SESSION_COOKIE, token, max_age=int(IDLE_LIFETIME.total_seconds()))
    csrf: str | None = getattr(request.state, "new_csrf_secret", None)
    if csrf is not None:
        set_cookie(response, request, CSRF_COOKIE, csrf, max_age=None)


@dataclass(frozen=True)
class _Claims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    organization_id: uuid.UUID | None
    issued_at: datetime


def _read_claims(request: Request, token: str) -> _Claims | None:
    try:
        claims = decode_jwt(_secret(request), token, token_type=CONSOLE_TOKEN_TYPE)
        organization = claims.get("org")
        return _Claims(
            user_id=uuid.UUID(str(claims["sub"])),
            session_id=uuid.UUID(str(claims["sid"])),
            organization_id=uuid.UUID(str(organization)) if organization else None,
            issued_at=datetime.fromtimestamp(int(claims["iat"]), UTC),
        )
    except (Unauthenticated, KeyError, ValueError, TypeError):
        return None


async def _memberships(session: AsyncSession, user_id: uuid.UUID) -> tuple[OrganizationChoice, ...]:
    rows = await session.execute(
        select(Membership.role, Organization)
        .join(Organization, Organization.id == Membership.organization_id)
        .where(Membership.user_id == user_id)
        .order_by(Membership.created_at, Membership.id)
    )
    return tuple(
        OrganizationChoice(
            id=organization.id,
            name=organization.name,
            role=role,
            default_region=organization.default_region,
            require_maker_checker=organization.require_maker_checker,
        )
        for role, organization in rows
    )


def _choose(memberships: tuple[OrganizationChoice, ...], wanted: uuid.UUID | None) -> OrganizationChoice | None:
    """The organisation asked for if the user still belongs to it, else their oldest membership."""
    for choice in memberships:
        if choice.id == wanted:
            return choice
    return memberships[0] if memberships else None


async def _open_session(
    maker: async_sessionmaker[AsyncSession], settings: Settings, claims: _Claims
) -> ConsoleSession | None:
    # Our own short reading session, as the identity resolver does: it never waits for the write lock.
    async with maker() as session:
        row = (
            await session.execute(
                select(User, LoginSession)
                .join(LoginSession, LoginSession.user_id == User.id)
                .where(User.id == claims.user_id, LoginSession.id == claims.session_id)
            )
        ).one_or_none()
        if row is None:
            return None
        user, login = row
        if login.revoked_at is not None or not user.is_active:
            return None
        if utcnow() - login.created_at > timedelta(days=settings.refresh_token_days):
            return None
        memberships = await _memberships(session, user.id)
        unread = await inapp.unread_count(session, user.id)
    organization = _choose(memberships, claims.organization_id)
    principal = Principal(
        user_id=user.id,
        organization_id=organization.id if organization else None,
        session_id=login.id,
        is_platform_admin=user.is_platform_admin,
        roles=frozenset({organization.role}) if organization else frozenset(),
        language=user.language,
    )
    return ConsoleSession(
        principal=principal,
        user_id=user.id,
        session_id=login.id,
        full_name=user.full_name,
        login_name=user.email or user.phone or "",
        organization=organization,
        memberships=memberships,
        unread_notifications=unread,
    )


async def load_console_session(request: Request) -> ConsoleSession | None:
    """The console session of the cookie, or None; a dead cookie is deleted with the response.

    Also sets ``request.state.principal``: the console authenticates by its cookie only, never by an
    ``Authorization`` header, so :func:`~cauri.core.principal.require_principal` sees exactly this.
    """
    cached: ConsoleSession | None = getattr(request.state, "console", None)
    if cached is not None:
        return cached
    request.state.principal = None
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    claims = _read_claims(request, token)
    if claims is None:
        forget_session(request)
        return None
    console = await _open_session(request.app.state.read_sessionmaker, _settings(request), claims)
    if console is None:
        forget_session(request)
        return None
    request.state.principal = console.principal
    request.state.console = console
    if datetime.now(UTC) - claims.issued_at > RENEW_AFTER or console.organization_id != claims.organization_id:
        remember_session(
            request,
            issue_session_token(
                request, user_id=console.user_id, session_id=console.session_id, organization_id=console.organization_id
            ),
        )
    return console


OptionalConsole = Annotated[ConsoleSession | None, Depends(load_console_session)]


async def require_console(
    console: OptionalConsole, principal: Annotated[Principal, Depends(require_principal)]
) -> ConsoleSession:
    """A logged-in console user (a 401 otherwise, which the console turns into a redirect to the login page)."""
    assert console is not None and console.principal is principal
    return console


Console = Annotated[ConsoleSession, Depends(require_console)]


# --- CSRF ----------------------------------------------------------------------------------------------------


def csrf_secret(request: Request) -> str:
    """The browser's CSRF secret (its cookie), created on first use and set on the response."""
    secret = getattr(request.state, "new_csrf_secret", None) or request.cookies.get(CSRF_COOKIE)
    if not secret or len(secret) < 32:
        secret = random_token(32)
        request.state.new_csrf_secret = secret
    return str(secret)


def renew_csrf_secret(request: Request) -> None:
    """A new secret at login and logout: tokens of the previous session stop working."""
    request.state.new_csrf_secret = random_token(32)


def csrf_token(request: Request, session_id: uuid.UUID | None) -> str:
    """The token forms carry: bound to the browser's secret and to the login session (none before login)."""
    binding = f"console-csrf|{csrf_secret(request)}|{session_id or ''}"
    return keyed_digest(_secret(request), binding)


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def _trusted_origins(request: Request) -> set[str]:
    origins = {f"{request.url.scheme}://{request.url.netloc}".lower()}
    public = _origin(_settings(request).public_base_url)
    if public is not None:
        origins.add(public)
    return origins


def same_origin(request: Request) -> bool:
    """The request comes from a page of this site, by ``Origin`` or else ``Referer``.

    Without either header (old browsers, privacy settings) the signed token alone decides.
    """
    claimed = request.headers.get("origin")
    if claimed is None:
        referer = request.headers.get("referer")
        if referer is None:
            return True
        claimed = _origin(referer) or "null"
    return claimed.lower() in _trusted_origins(request)


def csrf_refused() -> Forbidden:
    return Forbidden(
        "Formulaire expiré ou envoyé depuis un autre site. Rechargez la page et réessayez.",
        "Form expired or sent from another site. Reload the page and try again.",
        code="csrf_failed",
    )


async def verify_csrf(request: Request, console: OptionalConsole) -> None:
    """Refuse a form POST that does not carry this browser's token or comes from another site."""
    if not same_origin(request):
        raise csrf_refused()
    secret = request.cookies.get(CSRF_COOKIE)
    content_type = request.headers.get("content-type", "")
    if not secret or not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        raise csrf_refused()
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = keyed_digest(_secret(request), f"console-csrf|{secret}|{console.session_id if console else ''}")
    if not isinstance(sent, str) or not constant_time_equal(sent, expected):
        raise csrf_refused()


def safe_next(target: str | None, default: str = "/console") -> str:
    """Where to go after logging in: a console path only, never another site (``//evil``, ``/\\evil``)."""
    if not target or not target.startswith("/console") or target.startswith(("//", "/\\")):
        return default
    if any(ch in target for ch in "\\\r\n\t") or urlsplit(target).netloc:
        return default
    return target
