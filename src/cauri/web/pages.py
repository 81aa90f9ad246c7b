"""The console's frame: mounting, logging in and out, language, organisation picker and dashboard.

Page handlers call the modules' service functions directly (never their HTTP API): one origin, one cookie,
pages that work without JavaScript, and the same business rules and permission checks as the API because
they are the same functions. See ``docs/console.md``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from cauri.core.errors import AppError, NotFound
from cauri.core.i18n import pick
from cauri.core.routing import SessionDep, api_router
from cauri.identity import service as identity
from cauri.identity.deps import client_ip, settings_of, transaction_kept_on_refusal, user_agent
from cauri.identity.organizations import organizations_of_user
from cauri.identity.permissions import Perm, has_permission
from cauri.identity.schemas import PASSWORD_MAX, normalise_email
from cauri.identity.throttle import login_throttle
from cauri.identity.tokens import read_access_token
from cauri.ledger import service as ledger
from cauri.web import batches, notifications, rentals, restaurant, return_pages, tontines
from cauri.web.auth import (
    Console,
    OptionalConsole,
    forget_session,
    issue_session_token,
    remember_session,
    renew_csrf_secret,
    require_console,
    safe_next,
    set_cookie,
    verify_csrf,
)
from cauri.web.i18n import LANGUAGE_COOKIE, page_language, translate
from cauri.web.rendering import STATIC_DIR, STATIC_PREFIX, ConsoleRoute, ConsoleStaticFiles, parse_uuid, render

IDENTIFIER_MAX = 320
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600

# Reachable without a login (reviewed in tests/core/test_security_default.py): the login page and the
# language switch, which the login page shows too.
public_router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
router = APIRouter(
    prefix="/console",
    route_class=ConsoleRoute,
    include_in_schema=False,
    dependencies=[Depends(require_console)],
)
root_router = api_router(include_in_schema=False)

CsrfChecked = Annotated[None, Depends(verify_csrf)]


@root_router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/console", status_code=303)


# --- logging in and out ----------------------------------------------------------------------------------------


def _login_page(
    request: Request, *, status: int = 200, error: str | None = None, identifier: str = "", next_url: str = ""
) -> Response:
    language = page_language(request)
    notices = {"logged_out": "login.logged_out", "expired": "login.expired"}
    reason = request.query_params.get("reason")
    notice = translate(language, notices[reason]) if reason in notices and error is None else None
    return render(
        request,
        "login.html",
        status=status,
        title=translate(language, "login.title"),
        error=error,
        notice=notice,
        identifier=identifier,
        next_url=safe_next(next_url or request.query_params.get("next"), default=""),
    )


@public_router.get("/login")
async def login_form(request: Request, console: OptionalConsole) -> Response:
    if console is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return _login_page(request)


@public_router.post("/login")
async def login_submit(request: Request, _csrf: CsrfChecked) -> Response:
    form = await request.form()
    raw_identifier = str(form.get("identifier") or "").strip()
    password = str(form.get("password") or "")
    next_url = str(form.get("next") or "")
    language = page_language(request)
    if not raw_identifier or not password or len(raw_identifier) > IDENTIFIER_MAX or len(password) > PASSWORD_MAX:
        return _login_page(
            request,
            status=422,
            error=translate(language, "login.missing"),
            identifier=raw_identifier[:IDENTIFIER_MAX],
            next_url=next_url,
        )
    settings = settings_of(request)
    try:
        if "@" in raw_identifier:
            try:
                email = normalise_email(raw_identifier)
            except ValueError as exc:
                french, _, english = str(exc).partition("|")
                raise AppError(french, english, code="invalid_email", status=422) from None
            identifier = identity.identifier_of(email, None, settings.default_region)
        else:
            identifier = identity.identifier_of(None, raw_identifier, settings.default_region)
        async with transaction_kept_on_refusal(request) as session:
            tokens = await identity.log_in(
                session,
                settings,
                login_throttle(request.app),
                identifier=identifier,
                password=password,
                ip=client_ip(request),
                user_agent=user_agent(request),
            )
    except AppError as exc:
        response = _login_page(
            request,
            status=exc.status,
            error=pick(exc.message_fr, exc.message_en, language),
            identifier=raw_identifier,
            next_url=next_url,
        )
        if "Retry-After" in exc.headers:
            response.headers["Retry-After"] = exc.headers["Retry-After"]
        return response
    claims = read_access_token(settings, tokens.access_token)
    remember_session(
        request,
        issue_session_token(request, user_id=claims.user_id, session_id=claims.session_id, organization_id=None),
    )
    renew_csrf_secret(request)
    async with request.app.state.sessionmaker() as session:
        several = len(await organizations_of_user(session, claims.user_id)) > 1
    target = safe_next(next_url)
    if several:
        target = "/console/organisations?next=" + target
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
async def logout(request: Request, console: Console, session: SessionDep, _csrf: CsrfChecked) -> Response:
    await identity.log_out(session, console.principal, ip=client_ip(request))
    forget_session(request)
    renew_csrf_secret(request)
    return RedirectResponse("/console/login?reason=logged_out", status_code=303)


@public_router.post("/language")
async def choose_language(request: Request, _csrf: CsrfChecked) -> Response:
    form = await request.form()
    chosen = str(form.get("lang") or "")
    response = RedirectResponse(safe_next(str(form.get("next") or "")), status_code=303)
    if chosen in ("fr", "en"):
        set_cookie(response, request, LANGUAGE_COOKIE, chosen, max_age=LANGUAGE_COOKIE_SECONDS)
    return response


# --- organisation picker and dashboard --------------------------------------------------------------------------


@router.get("/organisations")
async def organisations(request: Request, console: Console) -> Response:
    language = page_language(request)
    return render(
        request,
        "organisations.html",
        title=translate(language, "orgs.title"),
        next_url=safe_next(request.query_params.get("next")),
    )


@router.post("/organisations")
async def choose_organisation(request: Request, console: Console, _csrf: CsrfChecked) -> Response:
    form = await request.form()
    wanted = parse_uuid(str(form.get("organization_id") or ""))
    if wanted is None or all(choice.id != wanted for choice in console.memberships):
        raise NotFound("Organisation introuvable.", "Organisation not found.", code="organization_not_found")
    remember_session(
        request,
        issue_session_token(request, user_id=console.user_id, session_id=console.session_id, organization_id=wanted),
    )
    return RedirectResponse(safe_next(str(form.get("next") or "")), status_code=303)


@router.get("")
async def dashboard(request: Request, console: Console, session: SessionDep) -> Response:
    language = page_language(request)
    principal = console.principal
    balances = []
    if console.organization is not None and has_permission(principal, Perm.LEDGER_READ):
        accounts = await ledger.list_accounts(session, organization_id=console.organization.id)
        balances = [account.balance for account in accounts if account.code == ledger.OPERATING]
    recent = await batches.recent_batches(session, console)
    return render(
        request,
        "dashboard.html",
        title=translate(language, "dashboard.title"),
        balances=balances,
        recent=recent,
        can_create=has_permission(principal, Perm.BULK_CREATE),
    )


def install(app: FastAPI) -> None:
    app.include_router(root_router)
    app.include_router(public_router)
    app.include_router(router)
    app.include_router(batches.router)
    app.include_router(notifications.router)
    app.include_router(return_pages.router)
    app.include_router(tontines.router)
    app.include_router(rentals.public_router)
    app.include_router(rentals.router)
    app.include_router(restaurant.router)
    app.mount(STATIC_PREFIX, ConsoleStaticFiles(directory=STATIC_DIR), name="console-static")
