"""Messages between the marketplace's people, about a listing or a service request (docs/rentals.md, "Messaging").

Two people may write to each other about a listing only when a booking or a booking request of that listing links
them (one is its tenant, the other its landlord); about a service request only when one is its requester and the
other a provider who quoted on it (or the provider chosen); anyone else is refused (403
``rental_message_not_allowed``). A pair and a listing (or a request) make one conversation. Messages are rows (the
truth: lists, unread counts and read receipts are read from the database); once the transaction commits, each new
message and each read receipt is also announced on both people's pub/sub channels (``core.pubsub``: Redis across API
processes when configured), which the ``/ws/messages`` WebSockets forward live. Sending is rate limited per person
with ``core.limits`` (Redis-shared when configured).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Final

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import after_commit, utcnow
from cauri.core.errors import field_error
from cauri.core.limits import limit_store
from cauri.core.pagination import PageParams, paginate
from cauri.core.principal import Principal
from cauri.core.pubsub import PubSub
from cauri.rentals.access import person_of
from cauri.rentals.errors import ConversationNotFound, MessageNotAllowed, MessageNotFound, MessagesRateLimited
from cauri.rentals.models import Booking, Conversation, Message, Property, ServiceQuote, ServiceRequest
from cauri.rentals.schemas import ConversationRead, MessageRead

# At most this many messages per person in any window of SEND_WINDOW_SECONDS (shared by every API process
# through Redis when configured): enough for a conversation, too few to flood anyone.
SEND_LIMIT: Final = 30
SEND_WINDOW_SECONDS: Final = 60.0
MAX_CONTENT: Final = 5000


def channel_of(user_id: uuid.UUID) -> str:
    """The pub/sub channel of one person's live message events."""
    return f"rentals:messages:{user_id}"


def _pair(a: uuid.UUID, b: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    return (a, b) if str(a) < str(b) else (b, a)


def other_side(conversation: Conversation, user_id: uuid.UUID) -> uuid.UUID:
    return conversation.second_user_id if conversation.first_user_id == user_id else conversation.first_user_id


def message_read(message: Message) -> MessageRead:
    return MessageRead.model_validate(message, from_attributes=True)


@dataclass(frozen=True)
class Link:
    """What lets two people talk: a listing and the latest booking (or request) of it between them, or a service
    request one of them made and the other quoted on."""

    property_id: uuid.UUID | None
    booking_id: uuid.UUID | None
    recipient_id: uuid.UUID
    service_request_id: uuid.UUID | None = None


async def _service_link(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    sender_id: uuid.UUID,
    recipient_id: uuid.UUID | None,
    service_request_id: uuid.UUID,
) -> Link:
    """The requester writes to a provider who quoted (the chosen one by default); such a provider to the requester."""
    request = await session.scalar(
        select(ServiceRequest).where(
            ServiceRequest.organization_id == organization_id, ServiceRequest.id == service_request_id
        )
    )
    if request is None:
        raise MessageNotAllowed("service_request_id")
    quoting = set(await session.scalars(select(ServiceQuote.provider_id).where(ServiceQuote.request_id == request.id)))
    if request.provider_id is not None:
        quoting.add(request.provider_id)
    if sender_id == request.requester_id:
        recipient_id = recipient_id or request.provider_id
        if recipient_id is None or recipient_id not in quoting:
            raise MessageNotAllowed()
    elif sender_id in quoting:
        if recipient_id is not None and recipient_id != request.requester_id:
            raise MessageNotAllowed()
        recipient_id = request.requester_id
    else:
        raise MessageNotAllowed("service_request_id")
    return Link(property_id=None, booking_id=None, recipient_id=recipient_id, service_request_id=request.id)


async def _latest_booking_between(
    session: AsyncSession, *, organization_id: uuid.UUID, property_id: uuid.UUID, a: uuid.UUID, b: uuid.UUID
) -> uuid.UUID | None:
    found: uuid.UUID | None = await session.scalar(
        select(Booking.id)
        .where(
            Booking.organization_id == organization_id,
            Booking.property_id == property_id,
            or_(
                and_(Booking.tenant_id == a, Booking.landlord_id == b),
                and_(Booking.tenant_id == b, Booking.landlord_id == a),
            ),
        )
        .order_by(Booking.created_at.desc(), Booking.id.desc())
        .limit(1)
    )
    return found


async def find_link(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    sender_id: uuid.UUID,
    recipient_id: uuid.UUID | None,
    property_id: uuid.UUID | None,
    booking_id: uuid.UUID | None,
    service_request_id: uuid.UUID | None = None,
) -> Link:
    """The booking (or service request) that lets ``sender_id`` write to the recipient, or 403
    ``rental_message_not_allowed``."""
    if service_request_id is not None:
        return await _service_link(
            session,
            organization_id=organization_id,
            sender_id=sender_id,
            recipient_id=recipient_id,
            service_request_id=service_request_id,
        )
    if booking_id is not None:
        booking = await session.scalar(
            select(Booking).where(Booking.organization_id == organization_id, Booking.id == booking_id)
        )
        if booking is None or sender_id not in (booking.tenant_id, booking.landlord_id):
            raise MessageNotAllowed("booking_id")
        other = booking.landlord_id if sender_id == booking.tenant_id else booking.tenant_id
        if recipient_id is not None and recipient_id != other:
            raise MessageNotAllowed()
        return Link(property_id=booking.property_id, booking_id=booking.id, recipient_id=other)
    if property_id is None:
        raise field_error(
            "property_id",
            "missing",
            "Indiquez le logement (property_id) ou la réservation (booking_id) dont il s'agit.",
            "Name the property (property_id) or the booking (booking_id) this is about.",
        )
    if recipient_id is None:
        owner = await session.scalar(
            select(Property.owner_id).where(Property.organization_id == organization_id, Property.id == property_id)
        )
        if owner is None or owner == sender_id:
            raise MessageNotAllowed()
        recipient_id = owner
    if recipient_id == sender_id:
        raise MessageNotAllowed()
    found = await _latest_booking_between(
        session, organization_id=organization_id, property_id=property_id, a=sender_id, b=recipient_id
    )
    if found is None:
        raise MessageNotAllowed()
    return Link(property_id=property_id, booking_id=found, recipient_id=recipient_id)


async def _conversation_for(
    session: AsyncSession, *, organization_id: uuid.UUID, sender_id: uuid.UUID, link: Link
) -> Conversation:
    first, second = _pair(sender_id, link.recipient_id)
    where = (
        Conversation.organization_id == organization_id,
        Conversation.first_user_id == first,
        Conversation.second_user_id == second,
        Conversation.property_id == link.property_id,  # IS NULL for a service request's
        Conversation.service_request_id == link.service_request_id,  # IS NULL for a listing's
    )
    found = await session.scalar(select(Conversation).where(*where).with_for_update())
    if found is not None:
        return found
    conversation = Conversation(
        organization_id=organization_id,
        property_id=link.property_id,
        service_request_id=link.service_request_id,
        booking_id=link.booking_id,
        first_user_id=first,
        second_user_id=second,
    )
    try:
        async with session.begin_nested():  # a racing first message of the same pair: theirs wins, ours joins
            session.add(conversation)
    except IntegrityError:
        raced = await session.scalar(select(Conversation).where(*where))
        if raced is None:
            raise
        return raced
    return conversation


async def conversation_of(
    session: AsyncSession, *, organization_id: uuid.UUID, conversation_id: uuid.UUID, user_id: uuid.UUID
) -> Conversation:
    """One of the caller's conversations (anyone else's is a 404)."""
    found = await session.scalar(
        select(Conversation).where(
            Conversation.organization_id == organization_id,
            Conversation.id == conversation_id,
            or_(Conversation.first_user_id == user_id, Conversation.second_user_id == user_id),
        )
    )
    if found is None:
        raise ConversationNotFound()
    return found


def _clean(content: str) -> str:
    text = content.strip()
    if not text or len(text) > MAX_CONTENT:
        raise field_error(
            "content",
            "invalid_length",
            f"Le message doit compter de 1 à {MAX_CONTENT} caractères.",
            f"A message must be 1 to {MAX_CONTENT} characters long.",
        )
    return text


async def _count_send(sender_id: uuid.UUID) -> None:
    wait = await limit_store().reserve(f"rentals:messages:send:{sender_id}", SEND_LIMIT, SEND_WINDOW_SECONDS)
    if wait:
        raise MessagesRateLimited(wait)


def _announce(
    session: AsyncSession, pubsub: PubSub | None, people: tuple[uuid.UUID, ...], event: Mapping[str, object]
) -> None:
    """Publish ``event`` to each person's channel once the transaction has committed (never for a rollback)."""
    if pubsub is None:
        return
    payload = json.dumps(event, default=str)
    for person in dict.fromkeys(people):
        after_commit(session, partial(pubsub.publish, channel_of(person), payload))


async def send_message(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    content: str,
    pubsub: PubSub | None,
    conversation_id: uuid.UUID | None = None,
    recipient_id: uuid.UUID | None = None,
    property_id: uuid.UUID | None = None,
    booking_id: uuid.UUID | None = None,
    service_request_id: uuid.UUID | None = None,
) -> Message:
    """Write a message in a conversation of the caller's, or to someone a booking or a service request links them
    with."""
    sender_id = person_of(principal)
    text = _clean(content)
    if conversation_id is not None:
        conversation = await conversation_of(
            session, organization_id=organization_id, conversation_id=conversation_id, user_id=sender_id
        )
    else:
        link = await find_link(
            session,
            organization_id=organization_id,
            sender_id=sender_id,
            recipient_id=recipient_id,
            property_id=property_id,
            booking_id=booking_id,
            service_request_id=service_request_id,
        )
        conversation = await _conversation_for(session, organization_id=organization_id, sender_id=sender_id, link=link)
        conversation.booking_id = link.booking_id
    await _count_send(sender_id)
    now = utcnow()
    receiver_id = other_side(conversation, sender_id)
    message = Message(
        organization_id=organization_id,
        conversation_id=conversation.id,
        sender_id=sender_id,
        receiver_id=receiver_id,
        content=text,
        created_at=now,
    )
    session.add(message)
    conversation.last_message_at = now
    await session.flush()
    event = {"type": "message", "message": message_read(message).model_dump(mode="json")}
    _announce(session, pubsub, (receiver_id, sender_id), event)
    return message


async def conversations(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, params: PageParams
) -> tuple[list[ConversationRead], str | None]:
    """The caller's conversations, the latest active first, each with its unread count and last message."""
    me = person_of(principal)
    statement = select(Conversation).where(
        Conversation.organization_id == organization_id,
        or_(Conversation.first_user_id == me, Conversation.second_user_id == me),
    )
    rows, cursor = await paginate(
        session, statement, params, created_at=Conversation.last_message_at, row_id=Conversation.id
    )
    ids = [c.id for c in rows]
    unread: dict[uuid.UUID, int] = {}
    last: dict[uuid.UUID, Message] = {}
    if ids:
        counts = await session.execute(
            select(Message.conversation_id, func.count())
            .where(Message.conversation_id.in_(ids), Message.receiver_id == me, Message.read_at.is_(None))
            .group_by(Message.conversation_id)
        )
        unread = {conversation_id: int(n) for conversation_id, n in counts.all()}
        newest = (
            select(Message.conversation_id, func.max(Message.created_at).label("at"))
            .where(Message.conversation_id.in_(ids))
            .group_by(Message.conversation_id)
            .subquery()
        )
        found = await session.scalars(
            select(Message).join(
                newest, and_(Message.conversation_id == newest.c.conversation_id, Message.created_at == newest.c.at)
            )
        )
        last = {m.conversation_id: m for m in found}
    items = [
        ConversationRead(
            id=c.id,
            property_id=c.property_id,
            service_request_id=c.service_request_id,
            booking_id=c.booking_id,
            other_user_id=other_side(c, me),
            last_message_at=c.last_message_at,
            unread=unread.get(c.id, 0),
            last_message=message_read(last[c.id]) if c.id in last else None,
        )
        for c in rows
    ]
    return items, cursor


async def unread_total(session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Message)
        .where(
            Message.organization_id == organization_id,
            Message.receiver_id == person_of(principal),
            Message.read_at.is_(None),
        )
    )
    return int(count or 0)


async def messages(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    conversation_id: uuid.UUID,
    params: PageParams,
) -> tuple[list[Message], str | None]:
    """A conversation's messages, newest first, keyset paged."""
    conversation = await conversation_of(
        session, organization_id=organization_id, conversation_id=conversation_id, user_id=person_of(principal)
    )
    statement = select(Message).where(Message.conversation_id == conversation.id)
    rows, cursor = await paginate(session, statement, params, created_at=Message.created_at, row_id=Message.id)
    return list(rows), cursor


async def _mark(
    session: AsyncSession,
    *,
    conversation: Conversation,
    reader_id: uuid.UUID,
    pubsub: PubSub | None,
    up_to: datetime | None = None,
    message_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    now = utcnow()
    where = [
        Message.conversation_id == conversation.id,
        Message.receiver_id == reader_id,
        Message.read_at.is_(None),
    ]
    if message_id is not None:
        where.append(Message.id == message_id)
    if up_to is not None:
        where.append(Message.created_at <= up_to)
    marked = list(await session.scalars(select(Message.id).where(*where)))
    if not marked:
        return []
    await session.execute(update(Message).where(Message.id.in_(marked), Message.read_at.is_(None)).values(read_at=now))
    event = {
        "type": "read",
        "conversation_id": str(conversation.id),
        "reader_id": str(reader_id),
        "read_at": now.isoformat(),
        "message_ids": [str(m) for m in marked],
    }
    _announce(session, pubsub, (other_side(conversation, reader_id), reader_id), event)
    return marked


async def mark_conversation_read(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    conversation_id: uuid.UUID,
    pubsub: PubSub | None,
) -> int:
    """Everything the caller received in the conversation is read now; the sender gets the read receipt."""
    reader = person_of(principal)
    conversation = await conversation_of(
        session, organization_id=organization_id, conversation_id=conversation_id, user_id=reader
    )
    return len(await _mark(session, conversation=conversation, reader_id=reader, pubsub=pubsub))


async def mark_message_read(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    message_id: uuid.UUID,
    pubsub: PubSub | None,
) -> Message:
    """One message the caller received, read now (a message the caller sent is answered as it is)."""
    reader = person_of(principal)
    message = await session.scalar(
        select(Message).where(
            Message.organization_id == organization_id,
            Message.id == message_id,
            or_(Message.receiver_id == reader, Message.sender_id == reader),
        )
    )
    if message is None:
        raise MessageNotFound()
    if message.receiver_id == reader and message.read_at is None:
        conversation = await session.get(Conversation, message.conversation_id)
        assert conversation is not None
        await _mark(session, conversation=conversation, reader_id=reader, pubsub=pubsub, message_id=message.id)
        await session.refresh(message)
    return message


async def messages_with(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    other_id: uuid.UUID,
    offset: int,
    limit: int,
) -> list[Message]:
    """Every message between the caller and ``other_id``, whatever the listing, newest first (the seed's page)."""
    me = person_of(principal)
    rows = await session.scalars(
        select(Message)
        .where(
            Message.organization_id == organization_id,
            or_(
                and_(Message.sender_id == me, Message.receiver_id == other_id),
                and_(Message.sender_id == other_id, Message.receiver_id == me),
            ),
        )
        .order_by(Message.created_at.desc(), Message.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows)


@dataclass(frozen=True)
class Subject:
    """What a conversation is about: a listing, or a service request."""

    property_id: uuid.UUID | None
    service_request_id: uuid.UUID | None


async def subjects_of_conversations(
    session: AsyncSession, conversation_ids: set[uuid.UUID]
) -> dict[uuid.UUID, Subject]:
    """The listing or service request each conversation is about."""
    if not conversation_ids:
        return {}
    rows = await session.execute(
        select(Conversation.id, Conversation.property_id, Conversation.service_request_id).where(
            Conversation.id.in_(conversation_ids)
        )
    )
    return {row.id: Subject(row.property_id, row.service_request_id) for row in rows}


async def subject_of_message(session: AsyncSession, message: Message) -> Subject | None:
    return (await subjects_of_conversations(session, {message.conversation_id})).get(message.conversation_id)
