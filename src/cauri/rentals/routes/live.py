"""``/ws/messages``: a person's messages and read receipts, live, and sending without a round trip per message.

Authenticated by an access token (``?token=…``, or ``Authorization: Bearer …``): a missing, bad or expired token,
or a person who is not a member of the marketplace, closes the socket with code 4401 (4403 for a non-member) and
a reason, French or English per ``Accept-Language``; the socket also closes (4401) when the token expires. Events
reach the socket through the person's ``core.pubsub`` channel, so a message sent to any API process arrives on a
socket held by any other (Redis). The database stays the truth: a client that reconnects reads what it missed
from the REST lists.

Frames the client sends (JSON): ``{"type": "send", "content", "conversation_id" | "booking_id" | "property_id" |
"service_request_id", "recipient_id"?, "ref"?}``, ``{"type": "read", "conversation_id", "ref"?}``,
``{"type": "ping"}``. The server answers ``ready`` once subscribed, ``ack`` (with the ``ref``) or ``error`` (code,
message, field) per frame, and pushes ``message`` and ``read`` events.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Final

import jwt
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.exc import DBAPIError

from cauri.core.config import Settings
from cauri.core.db import commit, rollback
from cauri.core.errors import AppError
from cauri.core.i18n import Language, negotiate, pick
from cauri.core.principal import Principal
from cauri.identity.organizations import find_organization
from cauri.identity.resolver import principal_from_access_token
from cauri.identity.tokens import read_access_token
from cauri.rentals import messaging
from cauri.rentals.schemas import MessageText

CLOSE_UNAUTHENTICATED: Final = 4401
CLOSE_FORBIDDEN: Final = 4403
CLOSE_UNAVAILABLE: Final = 1013  # "try again later"


class SendFrame(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str
    content: MessageText
    conversation_id: uuid.UUID | None = None
    recipient_id: uuid.UUID | None = None
    property_id: uuid.UUID | None = None
    booking_id: uuid.UUID | None = None
    service_request_id: uuid.UUID | None = None
    ref: str | None = None


class ReadFrame(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str
    conversation_id: uuid.UUID
    ref: str | None = None


class Refused(Exception):
    def __init__(self, code: int, reason_fr: str, reason_en: str) -> None:
        super().__init__(reason_en)
        self.code = code
        self.reason_fr = reason_fr
        self.reason_en = reason_en


def _token(websocket: WebSocket) -> str:
    token = websocket.query_params.get("token")
    if token:
        return token
    scheme, _, value = (websocket.headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    raise Refused(CLOSE_UNAUTHENTICATED, "Jeton d'accès manquant.", "Missing access token.")


async def _operator(app: FastAPI, slug_or_id: str | None) -> uuid.UUID | None:
    if not slug_or_id:
        return None
    async with app.state.read_sessionmaker() as session:
        organization = await find_organization(session, slug_or_id)
        organization_id = organization.id if organization is not None else None
        await session.rollback()
    if organization_id is None:
        raise Refused(CLOSE_FORBIDDEN, "Place de marché introuvable.", "Marketplace not found.")
    return organization_id


async def authenticate(websocket: WebSocket, operator: str | None) -> tuple[Principal, float]:
    """The caller and when their token expires (Unix time), or :class:`Refused`."""
    app: FastAPI = websocket.app
    settings: Settings = app.state.settings
    token = _token(websocket)
    requested = await _operator(app, operator or websocket.query_params.get("organization_id"))
    try:
        claims = read_access_token(settings, token)
        async with app.state.read_sessionmaker() as session:
            principal = await principal_from_access_token(session, claims, requested)
            await session.rollback()
    except AppError as exc:
        raise Refused(CLOSE_UNAUTHENTICATED, exc.message_fr, exc.message_en) from None
    if principal.organization_id is None or principal.person_id is None:
        raise Refused(
            CLOSE_FORBIDDEN, "Vous n'êtes pas membre de la place de marché.", "You are not a member of the marketplace."
        )
    expires = float(jwt.decode(token, options={"verify_signature": False}).get("exp", time.time() + 3600))
    return principal, expires


def _reason(text: str) -> str:
    """A close reason fits in 123 bytes of UTF-8."""
    encoded = text.encode()
    return text if len(encoded) <= 123 else encoded[:120].decode(errors="ignore") + "…"


async def _forward(websocket: WebSocket, events: AsyncIterator[str]) -> None:
    async for event in events:
        await websocket.send_text(event)


def _error_frame(exc: AppError, language: Language, ref: str | None) -> dict[str, Any]:
    return {
        "type": "error",
        "ref": ref,
        "code": exc.code,
        "status": exc.status,
        "message": pick(exc.message_fr, exc.message_en, language),
        "field": exc.field,
    }


async def _handle(app: FastAPI, principal: Principal, frame: dict[str, Any]) -> dict[str, Any]:
    """One client frame, in a unit of work of its own: committed once, or rolled back entirely."""
    organization_id = principal.organization_id
    assert organization_id is not None
    kind = frame.get("type")
    if kind == "ping":
        return {"type": "pong"}
    if kind not in ("send", "read"):
        raise AppError("Type de trame inconnu.", "Unknown frame type.", code="unknown_frame", field="type")
    async with app.state.sessionmaker() as session:
        try:
            if kind == "send":
                send = SendFrame.model_validate(frame)
                message = await messaging.send_message(
                    session,
                    organization_id=organization_id,
                    principal=principal,
                    content=send.content,
                    pubsub=app.state.pubsub,
                    conversation_id=send.conversation_id,
                    recipient_id=send.recipient_id,
                    property_id=send.property_id,
                    booking_id=send.booking_id,
                    service_request_id=send.service_request_id,
                )
                answer: dict[str, Any] = {
                    "type": "ack",
                    "ref": send.ref,
                    "message": messaging.message_read(message).model_dump(mode="json"),
                }
            else:
                read = ReadFrame.model_validate(frame)
                marked = await messaging.mark_conversation_read(
                    session,
                    organization_id=organization_id,
                    principal=principal,
                    conversation_id=read.conversation_id,
                    pubsub=app.state.pubsub,
                )
                answer = {"type": "ack", "ref": read.ref, "marked": marked}
            await commit(session)
            return answer
        except BaseException:
            await rollback(session)
            raise


async def _receive(websocket: WebSocket, principal: Principal, language: Language) -> None:
    while True:
        try:
            frame = await websocket.receive_json()
        except (ValueError, KeyError):
            frame = None
        ref = frame.get("ref") if isinstance(frame, dict) else None
        try:
            if not isinstance(frame, dict):
                raise AppError("Trame JSON attendue.", "A JSON object frame is expected.", code="invalid_frame")
            answer = await _handle(websocket.app, principal, frame)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or None
            invalid = AppError("Trame invalide.", "Invalid frame.", code="validation_error", status=422, field=field)
            answer = _error_frame(invalid, language, ref)
        except AppError as exc:
            answer = _error_frame(exc, language, ref if isinstance(ref, str) else None)
        except DBAPIError:
            busy = AppError("Réessayez dans un instant.", "Please retry in a moment.", code="database_busy", status=503)
            answer = _error_frame(busy, language, ref if isinstance(ref, str) else None)
        await websocket.send_json(answer)


async def _expire(seconds: float) -> None:
    await asyncio.sleep(max(0.0, seconds))


async def serve(websocket: WebSocket, *, operator: str | None = None) -> None:
    """Authenticate, subscribe to the person's channel, then forward events and handle frames until either side
    stops (or the token expires)."""
    language = negotiate(websocket.headers.get("accept-language"))
    await websocket.accept()
    try:
        principal, expires = await authenticate(websocket, operator)
    except Refused as refused:
        await websocket.close(refused.code, _reason(pick(refused.reason_fr, refused.reason_en, language)))
        return
    person = principal.person_id
    assert person is not None
    pubsub = websocket.app.state.pubsub
    async with pubsub.subscribe(messaging.channel_of(person)) as events:
        await websocket.send_json({"type": "ready", "user_id": str(person)})
        tasks = {
            asyncio.create_task(_forward(websocket, events)),
            asyncio.create_task(_receive(websocket, principal, language)),
        }
        expiry = asyncio.create_task(_expire(expires - time.time()))
        done, pending = await asyncio.wait({*tasks, expiry}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task
        for task in done:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                task.result()
        if expiry in done:
            reason = pick("Jeton d'accès expiré.", "Access token expired.", language)
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await websocket.close(CLOSE_UNAUTHENTICATED, reason)


def install(app: FastAPI, *, api_prefix: str) -> None:
    """The native socket, and the seed's on the LokaHome surface (``/lokahome/ws/messages``, and ``/ws/messages``
    when LokaHome is served at the root) bound to its operator organisation."""
    settings: Settings = app.state.settings

    async def native(websocket: WebSocket) -> None:
        await serve(websocket)

    async def lokahome(websocket: WebSocket) -> None:
        configured = settings.lokahome_organization
        if configured is None:
            await websocket.accept()
            await websocket.close(CLOSE_UNAVAILABLE, "LokaHome is not enabled on this server.")
            return
        await serve(websocket, operator=configured)

    app.add_api_websocket_route(f"{api_prefix}/rentals/ws/messages", native, name="rentals_messages_socket")
    app.add_api_websocket_route("/lokahome/ws/messages", lokahome, name="lokahome_messages_socket")
    if settings.root_surface == "lokahome":
        app.add_api_websocket_route("/ws/messages", lokahome, name="lokahome_root_messages_socket")
