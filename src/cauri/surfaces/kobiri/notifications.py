"""Kobiri's ``/api/v1/notifications`` (seed 003): a member's in-app notifications (``skip``/``limit`` list, unread
count, mark read) and ``send-reminder``, over notifications' services. A contribution reminder names the session
(``session_id``: the ``tontine_session`` reminder target the tontines module registers); any other registered
target can be named with ``target`` and ``object_id``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field

from cauri.core.errors import Forbidden, field_error
from cauri.core.i18n import pick
from cauri.core.principal import CurrentPrincipal, Principal
from cauri.core.routing import SessionDep, api_router
from cauri.notifications import inapp
from cauri.notifications.models import InAppNotification
from cauri.notifications.reminders import send_manual_reminder, target_named

router = api_router(prefix="/api/v1/notifications")

SESSION_TARGET = "tontine_session"


def _person(principal: Principal) -> uuid.UUID:
    if principal.user_id is None:
        raise Forbidden(
            "Les notifications appartiennent à une personne connectée, pas à une clé d'API.",
            "Notifications belong to a signed-in person, not to an API key.",
            code="person_required",
        )
    return principal.user_id


class KobiriNotification(BaseModel):
    id: uuid.UUID
    type: str  # the kind: tontine.due_soon…
    title: str
    message: str
    object_id: str
    is_read: bool
    read_at: datetime | None
    created_at: datetime


def _seed_notification(row: InAppNotification) -> KobiriNotification:
    return KobiriNotification(
        id=row.id,
        type=row.kind,
        title=row.title,
        message=row.body,
        object_id=row.object_id,
        is_read=row.read_at is not None,
        read_at=row.read_at,
        created_at=row.created_at,
    )


@router.get("", summary="Mes notifications (skip/limit)")
async def my_notifications(
    principal: CurrentPrincipal,
    session: SessionDep,
    skip: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    unread_only: Annotated[bool, Query()] = False,
) -> list[KobiriNotification]:
    rows = await inapp.slice_of(session, _person(principal), unread=unread_only, offset=skip, limit=limit)
    return [_seed_notification(row) for row in rows]


class UnreadCount(BaseModel):
    count: int


@router.get("/unread-count", summary="Nombre non lues")
async def unread_count(principal: CurrentPrincipal, session: SessionDep) -> UnreadCount:
    return UnreadCount(count=await inapp.unread_count(session, _person(principal)))


class MarkRead(BaseModel):
    notification_ids: list[uuid.UUID] | None = Field(default=None, max_length=500, description="None: all of them")


class Marked(BaseModel):
    detail: str
    marked: int
    unread: int


@router.post("/mark-read", summary="Marquer comme lues (toutes sans notification_ids)")
async def mark_read(principal: CurrentPrincipal, session: SessionDep, body: MarkRead | None = None) -> Marked:
    user_id = _person(principal)
    marked = await inapp.mark_read(session, user_id, body.notification_ids if body else None)
    return Marked(
        detail=pick("Notifications marquées comme lues.", "Notifications marked as read."),
        marked=marked,
        unread=await inapp.unread_count(session, user_id),
    )


class SendReminder(BaseModel):
    session_id: str | None = Field(default=None, max_length=100, description="The contribution session")
    target: str | None = Field(default=None, max_length=40, description="Another reminder target")
    object_id: str | None = Field(default=None, max_length=100)
    member_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=500)
    message: str | None = Field(default=None, max_length=500)
    remind_at: datetime | None = None


class ReminderSent(BaseModel):
    detail: str
    id: uuid.UUID
    type: str
    recipients: int
    remind_at: datetime | None


@router.post("/send-reminder", status_code=201, summary="Envoyer rappel")
async def send_reminder(body: SendReminder, principal: CurrentPrincipal, session: SessionDep) -> ReminderSent:
    if body.session_id is not None:
        target_named(SESSION_TARGET, field="session_id")  # the tontines module registers it
        target, object_id = SESSION_TARGET, body.session_id
    elif body.target is not None and body.object_id is not None:
        target, object_id = body.target, body.object_id
    else:
        raise field_error(
            "session_id",
            "missing",
            "Indiquez la session (« session_id ») ou « target » et « object_id ».",
            "Give the session ('session_id') or 'target' and 'object_id'.",
        )
    sent = await send_manual_reminder(
        session,
        principal=principal,
        target=target,
        object_id=object_id,
        note=body.message,
        user_ids=body.member_ids,
        remind_at=body.remind_at,
        user_ids_field="member_ids",
    )
    return ReminderSent(
        detail=pick(
            "Rappel programmé." if sent.remind_at else "Rappel envoyé.",
            "Reminder scheduled." if sent.remind_at else "Reminder sent.",
        ),
        id=sent.id,
        type=sent.kind,
        recipients=len(sent.recipients),
        remind_at=sent.remind_at,
    )
