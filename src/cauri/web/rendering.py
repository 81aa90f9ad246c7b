"""Rendering console pages: templates, formats, static files, security headers and errors as pages.

Every console route is a :class:`ConsoleRoute`: one unit of work like the API's (committed once after a
successful response), plus what a browser needs: an ``AppError`` becomes a page in the reader's language (a
401 becomes a redirect to the login page), cookies the request asked for are set, and every answer carries
a strict Content-Security-Policy (scripts and styles from this site only: no inline script can run).
Clients that do not ask for HTML (``Accept`` without ``text/html``: scripts, ``EventSource``, ``fetch``) get
the API's ``application/problem+json`` instead.
"""

from __future__ import annotations

import gzip
import hashlib
import uuid
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_decimal
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from cauri.core.errors import AppError, ValidationFailed, translate_validation_errors
from cauri.core.i18n import Language, pick
from cauri.core.money import Money, format_money
from cauri.core.routing import Handler, UnitOfWorkRoute
from cauri.identity.permissions import permissions_of
from cauri.web.auth import ConsoleSession, apply_session_cookies, csrf_token, forget_session
from cauri.web.i18n import page_language, translate, translator

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_PREFIX = "/console/static"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

# Times are shown in the organisation's country; the console's markets span two time zones.
_WEST_AFRICA = ZoneInfo("Africa/Abidjan")  # UTC+0: UEMOA countries, Guinea
_CENTRAL_AFRICA = ZoneInfo("Africa/Lagos")  # UTC+1: CEMAC countries, Kinshasa
_CENTRAL_REGIONS = frozenset({"CM", "GA", "CG", "TD", "CF", "GQ", "CD", "NG"})
# Organisations outside Africa (the restaurant hub's Le Vieux Moulin is in France).
_OTHER_ZONES = {"FR": ZoneInfo("Europe/Paris"), "BE": ZoneInfo("Europe/Brussels")}


def time_zone(region: str | None) -> ZoneInfo:
    if region in _OTHER_ZONES:
        return _OTHER_ZONES[region]
    return _CENTRAL_AFRICA if region in _CENTRAL_REGIONS else _WEST_AFRICA


def money(amount: int | None, currency: str | None) -> str:
    """The francophone way, whatever the page language: "62 500 F CFA"."""
    if amount is None or currency is None:
        return "—"
    return format_money(Money(int(amount), currency))


def number(value: int, language: Language) -> str:
    return format_decimal(value, locale="fr_SN" if language == "fr" else "en")


def when(moment: datetime | None, language: Language, region: str | None) -> str:
    if moment is None:
        return "—"
    return format_datetime(moment, "short", tzinfo=time_zone(region), locale="fr_FR" if language == "fr" else "en_GB")


@cache
def static_version(name: str) -> str:
    """A short hash of a static file: its URL changes with its content, so browsers may cache it for a year."""
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    return f"{STATIC_PREFIX}/{name}?v={static_version(name)}"


class ConsoleStaticFiles(StaticFiles):
    """Static files with a year of caching when the URL carries their content hash (``static_url``)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200 and b"v=" in scope.get("query_string", b""):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        else:
            response.headers.setdefault("Cache-Control", "no-cache")
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static_url"] = static_url
    env.globals["money"] = money
    return env


def console_of(request: Request) -> ConsoleSession | None:
    console: ConsoleSession | None = getattr(request.state, "console", None)
    return console


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A page in the reader's language, with the frame's context (user, organisation, CSRF token…)."""
    language = page_language(request)
    console = console_of(request)
    region = console.organization.default_region if console and console.organization else None
    values: dict[str, Any] = {
        "lang": language,
        "t": translator(language),
        "console": console,
        "csrf_token": csrf_token(request, console.session_id if console else None),
        "path": request.url.path,
        "current_url": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        "when": lambda moment: when(moment, language, region),
        "number": lambda value: number(value, language),
        "pick": lambda fr, en: pick(fr, en, language),
        "perms": {perm.value for perm in permissions_of(console.principal)} if console else set(),
        "error": None,
        "notice": None,
    }
    values.update(context)
    html = environment().get_template(template).render(values)
    return HTMLResponse(html, status_code=status)


COMPRESS_FROM_BYTES = 1024


def compress(request: Request, response: Response) -> None:
    """Gzip a rendered page for clients that accept it: a results page shrinks about eightfold on a slow line."""
    if not isinstance(response, HTMLResponse) or len(response.body) < COMPRESS_FROM_BYTES:
        return
    response.headers["Vary"] = "Accept-Encoding"
    if "gzip" not in request.headers.get("accept-encoding", ""):
        return
    response.body = gzip.compress(bytes(response.body), compresslevel=6)
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Content-Length"] = str(len(response.body))


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def login_redirect(request: Request, reason: str | None = "expired") -> RedirectResponse:
    target = "/console/login"
    query = []
    if request.method == "GET" and request.url.path != "/console/login":
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        query.append(f"next={quote(here, safe='')}")
    if reason:
        query.append(f"reason={reason}")
    if query:
        target += "?" + "&".join(query)
    return RedirectResponse(target, status_code=303)


def error_page(request: Request, exc: AppError) -> Response:
    if exc.status == 401:
        forget_session(request)
        had_cookie = bool(request.cookies.get("cauri_console"))
        return login_redirect(request, "expired" if had_cookie else None)
    language = page_language(request)
    return render(
        request,
        "error.html",
        status=exc.status,
        title=translate(language, "error.title"),
        message=pick(exc.message_fr, exc.message_en, language),
        code=exc.code,
    )


class ConsoleRoute(UnitOfWorkRoute):
    def get_route_handler(self) -> Handler:
        handle = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                response = await handle(request)
            except AppError as exc:
                if not wants_html(request):
                    raise
                response = error_page(request, exc)
            except RequestValidationError as exc:
                failed = ValidationFailed(errors=translate_validation_errors(list(exc.errors())))
                if not wants_html(request):
                    raise failed from exc
                response = error_page(request, failed)
            apply_session_cookies(request, response)
            compress(request, response)
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        return console_handler


def parse_uuid(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None
