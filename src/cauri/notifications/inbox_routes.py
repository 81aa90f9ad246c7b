"""A person's in-app notifications: list (unread filter, keyset paging), unread count, mark read, live stream.

Everything is scoped to the caller's own ``user_id``: another person's notification is never listed, counted,
marked or streamed, whatever ids the request names.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sse_starlette.sse import EventSourceResponse

from cauri.core.config import Settings
from cauri.core.deps import settings_of
from cauri.core.errors import field_error
from cauri.core.pagination import PageParams, page_params
from cauri.core.principal import CurrentPrincipal
from cauri.core.responses import event_stream
from cauri.core.routing import SessionDep, api_router
from cauri.notifications import inapp
from cauri.notifications.models import InAppNotification
from cauri.notifications.user_routes import person

router = api_router(tags=["notifications"])


class InAppRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    title: str
    body: str
    object_id: str
    created_at: datetime
    read_at: datetime | None


class InAppPage(BaseModel):
    items: list[InAppRead]
    next_cursor: str | None


class UnreadCount(BaseModel):
    unread: int


class MarkRead(BaseModel):
    ids: list[uuid.UUID] | None = Field(default=None, max_length=500, description="These notifications")
    all: bool = Field(default=False, description="Every unread notification")

    @model_validator(mode="after")
    def _one_of(self) -> MarkRead:
        if (self.ids is None) == (not self.all):
            raise field_error(
                "ids",
                "ids_or_all",
                "Donnez soit « ids », soit « all »: true.",
                "Give either 'ids' or 'all': true.",
            )
        return self


class Marked(BaseModel):
    marked: int
    unread: int


@router.get("/notifications", summary="My in-app notifications, newest first (keyset paging)")
async def list_notifications(
    principal: CurrentPrincipal,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    unread: Annotated[bool, Query(description="Only those not read yet")] = False,
) -> InAppPage:
    rows, next_cursor = await inapp.page_of(session, person(principal), unread=unread, params=params)
    return InAppPage(items=[InAppRead.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.get("/notifications/unread-count", summary="How many of my in-app notifications are unread")
async def count_unread(principal: CurrentPrincipal, session: SessionDep) -> UnreadCount:
    return UnreadCount(unread=await inapp.unread_count(session, person(principal)))


@router.post("/notifications/mark-read", summary="Mark some (ids) or all of my in-app notifications read")
async def mark_read(body: MarkRead, principal: CurrentPrincipal, session: SessionDep) -> Marked:
    user_id = person(principal)
    marked = await inapp.mark_read(session, user_id, None if body.all else body.ids)
    return Marked(marked=marked, unread=await inapp.unread_count(session, user_id))


async def _as_read(rows: AsyncIterator[InAppNotification]) -> AsyncIterator[InAppRead]:
    async for row in rows:
        yield InAppRead.model_validate(row)


@router.get(
    "/notifications/stream",
    summary="My new in-app notifications, live (Server-Sent Events, event `notification`)",
    response_class=EventSourceResponse,
)
async def stream_notifications(request: Request, principal: CurrentPrincipal) -> EventSourceResponse:
    settings: Settings = settings_of(request)
    # Reads in read-only sessions of their own: a long stream holds no transaction and no write lock.
    rows = inapp.live(
        request.app.state.read_sessionmaker,
        request.app.state.pubsub,
        person(principal),
        poll_seconds=settings.notification_stream_poll_seconds,
        max_seconds=settings.notification_stream_max_seconds,
    )
    return event_stream(_as_read(rows), event="notification")
