"""Notification pages: the bell's list (unread filter, mark read, mark all read), its live count, and a person's
preferences (per kind and channel, mandatory kinds locked, quiet hours).

Handlers call :mod:`cauri.notifications.inapp` and :mod:`cauri.notifications.preferences` — the functions behind
``/api/v1/notifications…`` — in the request's unit of work; the console imports no API router and runs no query of
its own. The header's count comes with the console session (``web/auth.py``); ``console.js`` keeps it live from
``/console/notifications/stream``, which is the API's stream (``inapp.live``: pub/sub signals, database re-reads)
behind the console's cookie.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from sse_starlette.sse import EventSourceResponse

from cauri.core.db import rollback
from cauri.core.errors import AppError
from cauri.core.i18n import Language, pick
from cauri.core.pagination import PageParams
from cauri.core.responses import event_stream
from cauri.core.routing import SessionDep
from cauri.notifications import inapp, preferences
from cauri.notifications.kinds import registered_kinds
from cauri.web.auth import Console, ConsoleSession, require_console, verify_csrf
from cauri.web.i18n import TEXTS, page_language, translate
from cauri.web.rendering import ConsoleRoute, parse_uuid, render, time_zone

PER_PAGE = 20
MARK_AT_ONCE = 100
DEFAULT_QUIET = ("22:00", "07:00")

router = APIRouter(
    prefix="/console/notifications",
    route_class=ConsoleRoute,
    include_in_schema=False,
    dependencies=[Depends(require_console)],
)

CsrfChecked = Annotated[None, Depends(verify_csrf)]


def kind_label(language: Language, kind: str) -> str:
    """A kind's name in words when a module gave one (``notif.kind.<kind>``), else its code."""
    key = f"notif.kind.{kind}"
    return translate(language, key) if key in TEXTS else kind


def quiet_zone(console: ConsoleSession) -> str:
    """The time zone quiet hours are read in: the organisation's country's (``rendering.time_zone``)."""
    return time_zone(console.organization.default_region if console.organization else None).key


# --- the list ----------------------------------------------------------------------------------------------------


@router.get("")
async def notification_list(request: Request, console: Console, session: SessionDep) -> Response:
    language = page_language(request)
    unread_only = request.query_params.get("unread") in ("1", "true")
    cursor = request.query_params.get("cursor") or None
    rows, next_cursor = await inapp.page_of(
        session, console.user_id, unread=unread_only, params=PageParams(limit=PER_PAGE, cursor=cursor)
    )
    unread = await inapp.unread_count(session, console.user_id)
    marked = request.query_params.get("marked")
    return render(
        request,
        "notifications.html",
        title=translate(language, "notif.title"),
        items=rows,
        unread=unread,
        unread_only=unread_only,
        next_cursor=next_cursor,
        kind_label=lambda kind: kind_label(language, kind),
        notice=translate(language, "notif.marked", count=int(marked)) if marked and marked.isdigit() else None,
    )


@router.post("/mark-read")
async def mark_read(request: Request, console: Console, session: SessionDep, _csrf: CsrfChecked) -> Response:
    """``all=1``: every unread notification; otherwise the ``id`` fields (someone else's ids change nothing)."""
    form = await request.form()
    if form.get("all"):
        ids: list[uuid.UUID] | None = None
    else:
        ids = [parsed for raw in form.getlist("id")[:MARK_AT_ONCE] if (parsed := parse_uuid(str(raw))) is not None]
    marked = await inapp.mark_read(session, console.user_id, ids) if ids is None or ids else 0
    back = "?unread=1&" if form.get("unread") else "?"
    return RedirectResponse(f"/console/notifications{back}marked={marked}", status_code=303)


@router.get("/unread-count")
async def unread_count(console: Console, session: SessionDep) -> JSONResponse:
    return JSONResponse({"unread": await inapp.unread_count(session, console.user_id)})


class NewNotification(BaseModel):
    id: uuid.UUID
    kind: str
    title: str
    created_at: datetime


async def _arrivals(request: Request, user_id: uuid.UUID) -> AsyncIterator[NewNotification]:
    settings = request.app.state.settings
    async for row in inapp.live(
        request.app.state.read_sessionmaker,
        request.app.state.pubsub,
        user_id,
        poll_seconds=settings.notification_stream_poll_seconds,
        max_seconds=settings.notification_stream_max_seconds,
    ):
        yield NewNotification(id=row.id, kind=row.kind, title=row.title, created_at=row.created_at)


@router.get("/stream")
async def stream(request: Request, console: Console) -> EventSourceResponse:
    """Each notification stored for this person from now on (event ``notification``); the script then asks
    ``…/unread-count``, so marks made in another tab are counted too."""
    return event_stream(_arrivals(request, console.user_id), event="notification")


# --- preferences -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelChoice:
    channel: str
    enabled: bool


@dataclass(frozen=True)
class KindRow:
    kind: str
    label: str
    mandatory: bool
    urgent: bool
    channels: list[ChannelChoice]


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(raw: str) -> int | None:
    try:
        moment = time.fromisoformat(raw.strip())
    except ValueError:
        return None
    return moment.hour * 60 + moment.minute


async def _preferences_page(
    request: Request, console: Console, session: SessionDep, *, status: int = 200, error: str | None = None
) -> Response:
    language = page_language(request)
    choices = await preferences.stored_choices(session, console.user_id)
    window = await preferences.quiet_window(session, console.user_id)
    rows = [
        KindRow(
            kind=kind.name,
            label=kind_label(language, kind.name),
            mandatory=kind.mandatory,
            urgent=kind.urgent,
            channels=[ChannelChoice(channel, preferences.is_on(kind, channel, choices)) for channel in kind.channels],
        )
        for kind in registered_kinds()
    ]
    return render(
        request,
        "notification_preferences.html",
        status=status,
        title=translate(language, "prefs.title"),
        kinds=rows,
        quiet_on=window is not None,
        quiet_start=_hhmm(window.start) if window else DEFAULT_QUIET[0],
        quiet_end=_hhmm(window.end) if window else DEFAULT_QUIET[1],
        zone=quiet_zone(console),
        error=error,
        notice=translate(language, "prefs.saved") if request.query_params.get("saved") and not error else None,
    )


@router.get("/preferences")
async def preferences_form(request: Request, console: Console, session: SessionDep) -> Response:
    return await _preferences_page(request, console, session)


@router.post("/preferences")
async def preferences_submit(request: Request, console: Console, session: SessionDep, _csrf: CsrfChecked) -> Response:
    """A checkbox per (kind, channel) the page showed: ticked is on, absent is off. Mandatory kinds are shown
    locked and left out: nothing here can turn them off (the service would refuse it anyway)."""
    form = await request.form()
    language = page_language(request)
    ticked = {str(value) for value in form.getlist("on")}
    changes = [
        preferences.Choice(kind.name, channel, f"{kind.name}|{channel}" in ticked)
        for kind in registered_kinds()
        if not kind.mandatory
        for channel in kind.channels
    ]
    window: preferences.Window | None = None
    if form.get("quiet"):
        start, end = _minutes(str(form.get("quiet_start") or "")), _minutes(str(form.get("quiet_end") or ""))
        if start is None or end is None:
            return await _preferences_page(
                request, console, session, status=422, error=translate(language, "prefs.bad_time")
            )
        window = preferences.Window(start, end)
    try:
        await preferences.save_choices(session, console.user_id, changes)
        await preferences.save_quiet_hours(session, console.user_id, window)
    except AppError as exc:
        await rollback(session)
        message = pick(exc.message_fr, exc.message_en, language)
        return await _preferences_page(request, console, session, status=exc.status, error=message)
    return RedirectResponse("/console/notifications/preferences?saved=1", status_code=303)
