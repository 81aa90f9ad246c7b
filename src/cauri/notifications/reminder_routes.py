"""Manual reminders (``POST /api/v1/notifications/send-reminder``) and their audit
(``GET /api/v1/notifications/manual-sends``, for those who read the organisation's audit)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from cauri.core.pagination import PageParams, page_params, paginate
from cauri.core.principal import CurrentPrincipal, Principal
from cauri.core.routing import SessionDep, api_router
from cauri.notifications.access import AUDIT_READ, require_permission
from cauri.notifications.models import ManualSend
from cauri.notifications.reminders import send_manual_reminder

router = api_router(tags=["notifications"])

AuditReader = Annotated[Principal, Depends(require_permission(AUDIT_READ))]


class ReminderRequest(BaseModel):
    target: str = Field(min_length=1, max_length=40, description="What the object is: `tontine_session`…")
    object_id: str = Field(min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=500, description="A few words from the sender")
    user_ids: list[uuid.UUID] | None = Field(
        default=None, min_length=1, max_length=500, description="Only these of the people concerned"
    )
    remind_at: datetime | None = Field(default=None, description="Later, at this time (with its zone); else now")


class ManualSendRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    target: str
    object_id: str
    kind: str
    actor_user_id: uuid.UUID | None
    actor_api_key_id: uuid.UUID | None
    recipients: list[Any]
    note: str | None
    remind_at: datetime | None
    reminder_id: uuid.UUID | None
    created_at: datetime


class ManualSendPage(BaseModel):
    items: list[ManualSendRead]
    next_cursor: str | None


@router.post("/notifications/send-reminder", status_code=201, summary="Send a reminder about an object now")
async def send_reminder(body: ReminderRequest, principal: CurrentPrincipal, session: SessionDep) -> ManualSendRead:
    sent = await send_manual_reminder(
        session,
        principal=principal,
        target=body.target,
        object_id=body.object_id,
        note=body.note,
        user_ids=body.user_ids,
        remind_at=body.remind_at,
    )
    return ManualSendRead.model_validate(sent)


@router.get("/notifications/manual-sends", summary="The audit of manual sends: who sent what to whom, when")
async def list_manual_sends(
    principal: AuditReader, session: SessionDep, params: Annotated[PageParams, Depends(page_params)]
) -> ManualSendPage:
    statement = select(ManualSend).where(ManualSend.organization_id == principal.organization_id)
    rows, next_cursor = await paginate(
        session, statement, params, created_at=ManualSend.created_at, row_id=ManualSend.id
    )
    return ManualSendPage(items=[ManualSendRead.model_validate(row) for row in rows], next_cursor=next_cursor)
