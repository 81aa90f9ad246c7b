"""LokaHome's ``/api/v1/messages`` (seed 004, section 6.7): send, conversations, the conversation with one person,
mark read — the seed's shapes (its ``messages`` table: ``receiver_id``, ``is_read``), bare arrays paged by
``page``/``per_page``. The seed's ``WebSocket /ws/messages`` is served by ``cauri.rentals`` (``/lokahome/ws/messages``).
Thin adapters over :mod:`cauri.rentals.messaging` for the operator organisation this surface serves."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Query, Request, status
from pydantic import BaseModel, ConfigDict

from cauri.core.pagination import PageParams
from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router
from cauri.rentals import messaging
from cauri.rentals.models import Message
from cauri.rentals.schemas import MessageText
from cauri.surfaces.registry import operator_id

router = api_router(prefix="/api/v1/messages")

Page = Annotated[int, Query(ge=1, le=10_000)]
PerPage = Annotated[int, Query(ge=1, le=100)]


class SeedMessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    receiver_id: uuid.UUID
    content: MessageText
    property_id: uuid.UUID | None = None
    booking_id: uuid.UUID | None = None
    service_request_id: uuid.UUID | None = None


class SeedMessage(BaseModel):
    id: uuid.UUID
    sender_id: uuid.UUID
    receiver_id: uuid.UUID
    property_id: uuid.UUID | None
    service_request_id: uuid.UUID | None = None
    conversation_id: uuid.UUID
    content: str
    is_read: bool
    read_at: datetime | None
    created_at: datetime


class SeedConversation(BaseModel):
    conversation_id: uuid.UUID
    user_id: uuid.UUID  # the other person
    property_id: uuid.UUID | None  # None: about a service request
    service_request_id: uuid.UUID | None = None
    booking_id: uuid.UUID | None
    last_message: SeedMessage | None
    last_message_at: datetime
    unread_count: int


def _seed(message: Message, subject: messaging.Subject | None) -> SeedMessage:
    return SeedMessage(
        id=message.id,
        sender_id=message.sender_id,
        receiver_id=message.receiver_id,
        property_id=subject.property_id if subject else None,
        service_request_id=subject.service_request_id if subject else None,
        conversation_id=message.conversation_id,
        content=message.content,
        is_read=message.read_at is not None,
        read_at=message.read_at,
        created_at=message.created_at,
    )


@router.post("", status_code=status.HTTP_201_CREATED, summary="Envoyer message", responses={429: {}})
async def send(
    body: SeedMessageCreate, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> SeedMessage:
    message = await messaging.send_message(
        session,
        organization_id=operator_id(request),
        principal=principal,
        content=body.content,
        pubsub=request.app.state.pubsub,
        recipient_id=body.receiver_id,
        property_id=body.property_id,
        booking_id=body.booking_id,
        service_request_id=body.service_request_id,
    )
    return _seed(message, await messaging.subject_of_message(session, message))


@router.get("/conversations", summary="Liste conversations")
async def conversations(
    request: Request, session: SessionDep, principal: CurrentPrincipal, page: Page = 1, per_page: PerPage = 20
) -> list[SeedConversation]:
    items, _ = await messaging.conversations(
        session,
        organization_id=operator_id(request),
        principal=principal,
        params=PageParams(limit=page * per_page),
    )
    return [
        SeedConversation(
            conversation_id=c.id,
            user_id=c.other_user_id,
            property_id=c.property_id,
            service_request_id=c.service_request_id,
            booking_id=c.booking_id,
            last_message=SeedMessage(
                **c.last_message.model_dump(),
                property_id=c.property_id,
                service_request_id=c.service_request_id,
                is_read=c.last_message.read_at is not None,
            )
            if c.last_message
            else None,
            last_message_at=c.last_message_at,
            unread_count=c.unread,
        )
        for c in items[(page - 1) * per_page :]
    ]


@router.get("/conversation/{user_id}", summary="Conversation avec utilisateur")
async def conversation_with(
    *,
    user_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: Page = 1,
    per_page: PerPage = 50,
) -> list[SeedMessage]:
    rows = await messaging.messages_with(
        session,
        organization_id=operator_id(request),
        principal=principal,
        other_id=user_id,
        offset=(page - 1) * per_page,
        limit=per_page,
    )
    subjects = await messaging.subjects_of_conversations(session, {m.conversation_id for m in rows})
    return [_seed(m, subjects.get(m.conversation_id)) for m in rows]


@router.put("/{message_id}/read", summary="Marquer comme lu")
async def mark_read(
    message_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> SeedMessage:
    message = await messaging.mark_message_read(
        session,
        organization_id=operator_id(request),
        principal=principal,
        message_id=message_id,
        pubsub=request.app.state.pubsub,
    )
    return _seed(message, await messaging.subject_of_message(session, message))
