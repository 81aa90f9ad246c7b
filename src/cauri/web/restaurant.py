"""The restaurant hub's console pages (issue 14): connections and their health (connect through the provider's
OAuth flow, disconnect), sync activity per connection and object kind, stock alerts with the draft supplier orders
to approve (maker ≠ checker, enforced by the service) and the day's reservation book per service.

Handlers call the restaurant module's services (``connections``, ``sync``, ``kitchen``, ``bookings``) and, for the
two reads they lack, ``restaurant.console_queries``, in the request's unit of work; everything is scoped to the
caller's organisation. Reading needs ``org_read`` (as ``/api/v1/restaurant``), connecting and syncing
``connectors_manage``, changing or approving an order ``org_manage``. A refusal re-renders the page with the
service's reason (nothing written).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import rollback, utcnow
from cauri.core.deps import client_address
from cauri.core.errors import AppError, Forbidden, field_error
from cauri.core.i18n import Language, pick
from cauri.core.jobs import enqueue
from cauri.core.routing import SessionDep
from cauri.identity.audit import record_audit
from cauri.identity.permissions import Perm, has_permission
from cauri.restaurant import bookings, connections, console_queries, kitchen, sync
from cauri.restaurant.jobs import SYNC_JOB
from cauri.restaurant.models import ConnectionStatus, DiningService, OrderStatus, RestaurantConnection
from cauri.restaurant.providers import PROVIDERS
from cauri.web.auth import Console, ConsoleSession, require_console, verify_csrf
from cauri.web.i18n import page_language, translate
from cauri.web.rendering import ConsoleRoute, render

BASE = "/console/restaurant"
RECENT_ORDERS = 20
DEFAULT_TIMEZONE = "Europe/Paris"
MILLI = 1000

router = APIRouter(
    prefix=BASE, route_class=ConsoleRoute, include_in_schema=False, dependencies=[Depends(require_console)]
)

CsrfChecked = Annotated[None, Depends(verify_csrf)]


def _organization(console: ConsoleSession, perm: Perm = Perm.ORG_READ) -> uuid.UUID:
    if console.organization is None or not has_permission(console.principal, perm):
        raise Forbidden(
            "Votre rôle ne permet pas cette action sur le restaurant.",
            "Your role does not allow this on the restaurant.",
            code="forbidden",
        )
    return console.organization.id


def _message(request: Request, exc: AppError) -> str:
    language = page_language(request)
    return translate(language, "resto.refused", reason=pick(exc.message_fr, exc.message_en, language))


def display_name(provider: str) -> str:
    spec = PROVIDERS.get(provider)
    return spec.display_name if spec is not None else provider.replace("_", " ").title()


def quantity(milli: int, language: Language) -> str:
    """A quantity kept in thousandths, in the reader's way: 2500 → "2,5" (fr), "2.5" (en)."""
    return format_decimal(Decimal(milli) / MILLI, format="#,##0.###", locale="fr_FR" if language == "fr" else "en")


# --- the hub's entry ------------------------------------------------------------------------------------------


@router.get("")
async def hub(console: Console) -> Response:
    _organization(console)
    return RedirectResponse(f"{BASE}/connections", status_code=303)


# --- connections ----------------------------------------------------------------------------------------------


async def _connections_page(
    request: Request,
    console: ConsoleSession,
    session: AsyncSession,
    *,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> Response:
    organization_id = _organization(console)
    rows = await connections.list_connections(session, organization_id=organization_id)
    live = {row.provider for row in rows if row.status != ConnectionStatus.REVOKED.value}
    return render(
        request,
        "restaurant_connections.html",
        status=status,
        title=translate(page_language(request), "resto.connections_title"),
        error=error,
        notice=notice,
        rows=rows,
        oauth=set(PROVIDERS),
        to_connect=[(name, spec.display_name) for name, spec in PROVIDERS.items() if name not in live],
        can_manage=has_permission(console.principal, Perm.CONNECTORS_MANAGE),
        display_name=display_name,
    )


@router.get("/connections")
async def connections_page(request: Request, console: Console, session: SessionDep) -> Response:
    gone = request.query_params.get("disconnected")
    notice = None
    if gone in PROVIDERS:
        notice = translate(page_language(request), "resto.disconnected", provider=display_name(gone))
    return await _connections_page(request, console, session, notice=notice)


@router.post("/connections/{provider}/connect")
async def connect(
    request: Request, provider: str, console: Console, session: SessionDep, _csrf: CsrfChecked
) -> Response:
    """A fresh ``state`` and PKCE pair (``connections.start_connect``), then a page with the provider's link: a
    link the manager follows, since the console's forms may only post to this site."""
    organization_id = _organization(console, Perm.CONNECTORS_MANAGE)
    try:
        url = await connections.start_connect(
            session,
            settings=request.app.state.settings,
            organization_id=organization_id,
            provider=provider,
            user_id=console.principal.person_id,
        )
    except AppError as exc:
        await rollback(session)
        return await _connections_page(request, console, session, status=exc.status, error=_message(request, exc))
    await record_audit(
        session,
        action="restaurant.connection.started",
        organization_id=organization_id,
        actor=console.principal,
        target_type="restaurant_connection",
        target_id=provider,
        ip=client_address(request),
    )
    name = display_name(provider)
    return render(
        request,
        "restaurant_authorize.html",
        title=translate(page_language(request), "resto.authorize_title", provider=name),
        provider=name,
        authorize_url=url,
    )


@router.post("/connections/{provider}/disconnect")
async def disconnect(
    request: Request, provider: str, console: Console, session: SessionDep, _csrf: CsrfChecked
) -> Response:
    """Revoke at the provider and forget the tokens (``connections.revoke``)."""
    organization_id = _organization(console, Perm.CONNECTORS_MANAGE)
    try:
        row = await connections.get_connection(session, organization_id=organization_id, provider=provider)
        await connections.revoke(session, settings=request.app.state.settings, connection=row)
    except AppError as exc:
        await rollback(session)
        return await _connections_page(request, console, session, status=exc.status, error=_message(request, exc))
    await record_audit(
        session,
        action="restaurant.connection.revoked",
        organization_id=organization_id,
        actor=console.principal,
        target_type="restaurant_connection",
        target_id=provider,
        ip=client_address(request),
    )
    return RedirectResponse(f"{BASE}/connections?disconnected={provider}", status_code=303)


# --- sync activity --------------------------------------------------------------------------------------------


async def _sync_page(
    request: Request,
    console: ConsoleSession,
    session: AsyncSession,
    *,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> Response:
    organization_id = _organization(console)
    rows = await connections.list_connections(session, organization_id=organization_id)
    activity: list[tuple[RestaurantConnection, list[object]]] = [
        (row, list(await sync.checkpoints(session, row.id))) for row in rows if row.provider in PROVIDERS
    ]
    return render(
        request,
        "restaurant_sync.html",
        status=status,
        title=translate(page_language(request), "resto.sync_title"),
        error=error,
        notice=notice,
        activity=activity,
        kinds=sync.KINDS,
        can_manage=has_permission(console.principal, Perm.CONNECTORS_MANAGE),
        display_name=display_name,
    )


@router.get("/sync")
async def sync_page(request: Request, console: Console, session: SessionDep) -> Response:
    queued = request.query_params.get("queued")
    notice = translate(page_language(request), "resto.sync_queued") if queued else None
    return await _sync_page(request, console, session, notice=notice)


@router.post("/connections/{provider}/sync/{kind}")
async def sync_now(
    request: Request, provider: str, kind: str, console: Console, session: SessionDep, _csrf: CsrfChecked
) -> Response:
    """One incremental sync of ``kind`` queued (the job the API's ``…/sync/{kind}`` queues)."""
    organization_id = _organization(console, Perm.CONNECTORS_MANAGE)
    if kind not in sync.KINDS:
        raise field_error("kind", "unknown_sync_kind", "Type d'objet inconnu.", "Unknown object kind.")
    try:
        row = await connections.get_connection(session, organization_id=organization_id, provider=provider)
    except AppError as exc:
        await rollback(session)
        return await _sync_page(request, console, session, status=exc.status, error=_message(request, exc))
    await enqueue(session, SYNC_JOB, {"connection_id": str(row.id), "kind": kind})
    return RedirectResponse(f"{BASE}/sync?queued=1", status_code=303)


# --- stock alerts and orders ----------------------------------------------------------------------------------


async def _stock_page(
    request: Request,
    console: ConsoleSession,
    session: AsyncSession,
    *,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> Response:
    organization_id = _organization(console)
    alerts = await kitchen.open_alerts(session, organization_id)
    drafts = await console_queries.orders(session, organization_id, statuses=[OrderStatus.DRAFT.value])
    others = [s.value for s in OrderStatus if s != OrderStatus.DRAFT]
    recent = await console_queries.orders(session, organization_id, statuses=others, limit=RECENT_ORDERS)
    names = await console_queries.people_names(
        session, [order.drafted_by for order in drafts] + [order.approved_by for order in recent]
    )
    return render(
        request,
        "restaurant_stock.html",
        status=status,
        title=translate(page_language(request), "resto.stock_title"),
        error=error,
        notice=notice,
        alerts=alerts,
        drafts=drafts,
        recent=recent,
        names=names,
        me=console.principal.person_id,
        can_manage=has_permission(console.principal, Perm.ORG_MANAGE),
        quantity=lambda milli: quantity(milli, page_language(request)),
        display_name=display_name,
    )


@router.get("/stock")
async def stock_page(request: Request, console: Console, session: SessionDep) -> Response:
    organization_id = _organization(console)
    language = page_language(request)
    notice = None
    approved = request.query_params.get("approved")
    if approved:
        try:
            order = await kitchen.get_order(session, organization_id, uuid.UUID(approved))
            notice = translate(language, "resto.approved", reference=order.reference)
        except (ValueError, AppError):
            notice = None
    elif request.query_params.get("changed"):
        notice = translate(language, "resto.packs_changed")
    return await _stock_page(request, console, session, notice=notice)


def _packs(raw: object) -> int:
    text = str(raw or "").strip()
    if not text.isdigit() or not 1 <= int(text) <= 9999:
        raise field_error(
            "packs", "int_parsing", "Un nombre de colis entre 1 et 9999 est attendu.",
            "A number of packs between 1 and 9999 is expected.",
        )  # fmt: skip
    return int(text)


@router.post("/orders/{order_id}/packs")
async def change_packs(
    request: Request, order_id: uuid.UUID, console: Console, session: SessionDep, _csrf: CsrfChecked
) -> Response:
    """A manager changes a draft's quantity and so becomes its maker: someone else approves it."""
    organization_id = _organization(console, Perm.ORG_MANAGE)
    form = await request.form()
    try:
        await kitchen.change_packs(
            session,
            organization_id=organization_id,
            order_id=order_id,
            sku=str(form.get("sku") or ""),
            packs=_packs(form.get("packs")),
            editor=console.principal.person_id,
        )
    except AppError as exc:
        await rollback(session)
        return await _stock_page(request, console, session, status=exc.status, error=_message(request, exc))
    return RedirectResponse(f"{BASE}/stock?changed=1", status_code=303)


@router.post("/orders/{order_id}/approve")
async def approve(
    request: Request, order_id: uuid.UUID, console: Console, session: SessionDep, _csrf: CsrfChecked
) -> Response:
    """Maker ≠ checker (``kitchen.approve``): the person who prepared or changed the order is refused, with why."""
    organization_id = _organization(console, Perm.ORG_MANAGE)
    try:
        order = await kitchen.approve(
            session, organization_id=organization_id, order_id=order_id, approver=console.principal.person_id
        )
    except AppError as exc:
        await rollback(session)
        return await _stock_page(request, console, session, status=exc.status, error=_message(request, exc))
    await record_audit(
        session,
        action="restaurant.order.approved",
        organization_id=organization_id,
        actor=console.principal,
        target_type="restaurant_order",
        target_id=str(order.id),
        changes={"total": order.total, "currency": order.currency, "supplier": order.supplier},
        ip=client_address(request),
    )
    return RedirectResponse(f"{BASE}/stock?approved={order.id}", status_code=303)


# --- today's reservations -------------------------------------------------------------------------------------


def restaurant_today(services: list[DiningService]) -> date:
    """Today where the restaurant is (its services' time zone), not in UTC."""
    zone = ZoneInfo(services[0].timezone if services else DEFAULT_TIMEZONE)
    return utcnow().astimezone(zone).date()


CHANNELS = {"thefork": "TheFork", "opentable": "OpenTable"}


def channel_label(language: Language, channel: str) -> str:
    if channel == bookings.DIRECT:
        return translate(language, "resto.channel_direct")
    return CHANNELS.get(channel, channel)


def local_time(moment: datetime, timezone: str) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(timezone)).strftime("%H:%M")


@router.get("/reservations")
async def reservations_page(
    request: Request, console: Console, session: SessionDep, day: date | None = None
) -> Response:
    organization_id = _organization(console)
    services = await bookings.list_services(session, organization_id)
    shown = day or restaurant_today(services)
    book = await bookings.day_book(session, organization_id, shown)
    zone = services[0].timezone if services else DEFAULT_TIMEZONE
    blocks = []
    for service in services:
        booked = await bookings.booked_covers(session, organization_id, service.name, shown)
        rows = [row for row in book if row.service_name == service.name]
        blocks.append({"service": service, "booked": booked, "left": max(service.capacity - booked, 0), "rows": rows})
    names = {service.name for service in services}
    stray = [row for row in book if row.service_name not in names]
    language = page_language(request)
    day_words = format_date(shown, "full", locale="fr_FR" if language == "fr" else "en_GB")
    return render(
        request,
        "restaurant_reservations.html",
        title=translate(language, "resto.reservations_title", day=day_words),
        day=day_words,
        services=services,
        blocks=blocks,
        stray=stray,
        time_of=lambda moment: local_time(moment, zone),
        channel_label=lambda channel: channel_label(language, channel),
    )
