"""Messaging over REST: conversations with unread counts, messages keyset paged, send, read receipts. The live
side is the ``/ws/messages`` WebSocket (:mod:`cauri.rentals.routes.live`)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status

from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router
from cauri.rentals import messaging
from cauri.rentals.routes.common import MemberMarketplace, Paging
from cauri.rentals.schemas import (
    ConversationPage,
    MessageCreate,
    MessagePage,
    MessageRead,
    MessageReply,
    ReadReceipt,
    UnreadCount,
)

router: APIRouter = api_router()


@router.get("/conversations", summary="My conversations, the latest active first, with their unread counts")
async def list_conversations(
    session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace, paging: Paging
) -> ConversationPage:
    items, cursor = await messaging.conversations(
        session, organization_id=organization_id, principal=principal, params=paging
    )
    return ConversationPage(items=items, next_cursor=cursor)


@router.get("/conversations/{conversation_id}/messages", summary="A conversation's messages, newest first")
async def list_messages(
    conversation_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
    paging: Paging,
) -> MessagePage:
    rows, cursor = await messaging.messages(
        session, organization_id=organization_id, principal=principal, conversation_id=conversation_id, params=paging
    )
    return MessagePage(items=[messaging.message_read(m) for m in rows], next_cursor=cursor)


@router.post(
    "/messages",
    status_code=status.HTTP_201_CREATED,
    summary="Write to someone a booking (about its listing) or a service request links me with",
    responses={429: {}},
)
async def send_message(
    body: MessageCreate,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> MessageRead:
    message = await messaging.send_message(
        session,
        organization_id=organization_id,
        principal=principal,
        content=body.content,
        pubsub=request.app.state.pubsub,
        recipient_id=body.recipient_id,
        property_id=body.property_id,
        booking_id=body.booking_id,
        service_request_id=body.service_request_id,
    )
    return messaging.message_read(message)


@router.post(
    "/conversations/{conversation_id}/messages",
    status_code=status.HTTP_201_CREATED,
    summary="Reply in a conversation",
    responses={429: {}},
)
async def reply(
    *,
    conversation_id: uuid.UUID,
    body: MessageReply,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> MessageRead:
    message = await messaging.send_message(
        session,
        organization_id=organization_id,
        principal=principal,
        content=body.content,
        pubsub=request.app.state.pubsub,
        conversation_id=conversation_id,
    )
    return messaging.message_read(message)


@router.post("/conversations/{conversation_id}/read", summary="Mark what I received in a conversation read")
async def mark_read(
    conversation_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> ReadReceipt:
    marked = await messaging.mark_conversation_read(
        session,
        organization_id=organization_id,
        principal=principal,
        conversation_id=conversation_id,
        pubsub=request.app.state.pubsub,
    )
    unread = await messaging.unread_total(session, organization_id=organization_id, principal=principal)
    return ReadReceipt(marked=marked, unread=unread)


@router.get("/messages/unread", summary="How many messages I have not read yet")
async def unread(session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace) -> UnreadCount:
    return UnreadCount(
        unread=await messaging.unread_total(session, organization_id=organization_id, principal=principal)
    )


@router.post("/messages/{message_id}/read", summary="Mark one message I received read")
async def mark_message_read(
    message_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> MessageRead:
    message = await messaging.mark_message_read(
        session,
        organization_id=organization_id,
        principal=principal,
        message_id=message_id,
        pubsub=request.app.state.pubsub,
    )
    return messaging.message_read(message)
