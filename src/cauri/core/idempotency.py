"""``Idempotency-Key`` on every mutating request.

A retry with the same key and body returns the first answer; the same key with another body is a 422; the
same key while the first request is still running is a 409. The key is registered (``in_progress``) in its
own short transaction before the endpoint runs, and marked ``completed`` with the response **in the same
transaction as the endpoint's work** (see ``core.routing``): so either both the work and the stored answer
exist, or neither does. A request that died mid-way leaves an ``in_progress`` row whose lease expires, after
which a retry may take it over; the owner token makes sure only one of them can ever complete it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response
from sqlalchemy import Integer, LargeBinary, String, UniqueConstraint, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from cauri.core.db import Base, IdMixin, utcnow
from cauri.core.errors import Conflict, ValidationFailed, field_error
from cauri.core.principal import OptionalPrincipal
from cauri.core.security import Encryptor

HEADER = "Idempotency-Key"
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IN_PROGRESS_LEASE = timedelta(seconds=60)
REPLAYED_HEADERS = ("content-type", "location", "content-language")


class IdempotencyRecord(IdMixin, Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    scope: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20), default="in_progress")
    owner_token: Mapped[str] = mapped_column(String(64))
    locked_at: Mapped[datetime] = mapped_column(default=utcnow)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[str | None] = mapped_column(String)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    completed_at: Mapped[datetime | None]


@dataclass(frozen=True)
class Claim:
    record_id: uuid.UUID
    owner_token: str


class ReplayStoredResponse(Exception):
    """Raised by the guard; the route turns it into the first request's stored response."""

    def __init__(self, record: IdempotencyRecord, encryptor: Encryptor) -> None:
        self.status = record.response_status or 200
        self.headers: dict[str, str] = json.loads(record.response_headers or "{}")
        self.body = encryptor.decrypt_bytes(record.response_body) if record.response_body else b""
        super().__init__("idempotent replay")

    def to_response(self) -> Response:
        return Response(
            content=self.body, status_code=self.status, headers={**self.headers, "Idempotent-Replayed": "true"}
        )


def request_fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _reused_key_error() -> ValidationFailed:
    return field_error(
        HEADER,
        "idempotency_key_reused",
        "Cette clé d'idempotence a déjà servi pour une autre requête.",
        "This idempotency key was already used for a different request.",
    )


def _in_progress_error() -> Conflict:
    return Conflict(
        "Une requête avec cette clé d'idempotence est encore en cours.",
        "A request with this idempotency key is still in progress.",
        code="idempotency_in_progress",
        headers={"Retry-After": "1"},
    )


async def _claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    encryptor: Encryptor,
    *,
    scope: str,
    key: str,
    method: str,
    path: str,
    fingerprint: str,
) -> Claim:
    owner = uuid.uuid4().hex
    async with sessionmaker() as session:
        record = (
            await session.execute(
                select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
            )
        ).scalar_one_or_none()
        if record is None:
            record = IdempotencyRecord(
                scope=scope, key=key, method=method, path=path, request_hash=fingerprint, owner_token=owner
            )
            session.add(record)
            try:
                await session.commit()
            except IntegrityError:
                # Another request registered the same key between our read and our write.
                await session.rollback()
                raise _in_progress_error() from None
            return Claim(record.id, owner)
        if record.request_hash != fingerprint:
            raise _reused_key_error()
        if record.state == "completed":
            raise ReplayStoredResponse(record, encryptor)
        if record.locked_at > utcnow() - IN_PROGRESS_LEASE:
            raise _in_progress_error()
        # The first attempt died without completing (its work was rolled back with it): take over.
        taken = await session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.id == record.id, IdempotencyRecord.owner_token == record.owner_token)
            .values(owner_token=owner, locked_at=utcnow())
        )
        await session.commit()
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            raise _in_progress_error()
        return Claim(record.id, owner)


async def _request_body(request: Request) -> bytes:
    """The bytes to fingerprint: the raw body, or, when FastAPI already parsed a declared form (it streams the body
    into the form and keeps only the form), the form's fields and each file's content."""
    try:
        return await request.body()
    except RuntimeError:  # Starlette's "Stream consumed": the form was parsed before this guard ran
        form = await request.form()  # the parsed form, kept by the request
    digest = hashlib.sha256()
    for name, value in form.multi_items():
        digest.update(name.encode() + b"\0")
        if isinstance(value, str):
            digest.update(value.encode() + b"\0")
            continue
        digest.update((value.filename or "").encode() + b"\0")
        while chunk := await value.read(1 << 16):
            digest.update(chunk)
        await value.seek(0)  # the endpoint reads the file after us
        digest.update(b"\0")
    return digest.digest()


async def idempotency_guard(request: Request, principal: OptionalPrincipal) -> None:
    """Route dependency installed on every API route; a no-op without the header or on reads."""
    if request.method not in MUTATING_METHODS:
        return
    key = request.headers.get(HEADER)
    if key is None:
        return
    key = key.strip()
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise field_error(
            HEADER,
            "invalid_idempotency_key",
            "La clé d'idempotence doit faire de 1 à 255 caractères imprimables.",
            "The idempotency key must be 1 to 255 printable characters.",
        )
    body = await _request_body(request)
    fingerprint = request_fingerprint(request.method, request.url.path, request.url.query, body)
    scope = principal.scope_key if principal else "anonymous"
    request.state.idempotency_claim = await _claim(
        request.app.state.sessionmaker,
        response_encryptor(request),
        scope=scope,
        key=key,
        method=request.method,
        path=request.url.path,
        fingerprint=fingerprint,
    )


IdempotencyGuard = Annotated[None, Depends(idempotency_guard)]


def _stored_headers(response: Response) -> str:
    kept = {k: v for k, v in response.headers.items() if k.lower() in REPLAYED_HEADERS}
    return json.dumps(kept)


def response_encryptor(request: Request) -> Encryptor:
    """Stored answers can hold tokens or a new API key: they are encrypted at rest like every secret."""
    encryptor: Encryptor | None = getattr(request.app.state, "idempotency_encryptor", None)
    if encryptor is None:
        encryptor = Encryptor(request.app.state.settings.encryption_key_list)
        request.app.state.idempotency_encryptor = encryptor
    return encryptor


async def complete_claim(session: AsyncSession, claim: Claim, response: Response, encryptor: Encryptor) -> None:
    """Store the answer in the caller's transaction; refuse if another attempt took the key over."""
    body = encryptor.encrypt_bytes(bytes(getattr(response, "body", b"")))
    result = await session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.id == claim.record_id,
            IdempotencyRecord.owner_token == claim.owner_token,
            IdempotencyRecord.state == "in_progress",
        )
        .values(
            state="completed",
            response_status=response.status_code,
            response_headers=_stored_headers(response),
            response_body=body,
            completed_at=utcnow(),
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise _in_progress_error()


async def release_claim(sessionmaker: async_sessionmaker[AsyncSession], claim: Claim) -> None:
    """The request failed and its work was rolled back: free the key so a corrected retry can use it."""
    async with sessionmaker() as session:
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.id == claim.record_id,
                IdempotencyRecord.owner_token == claim.owner_token,
                IdempotencyRecord.state == "in_progress",
            )
        )
        await session.commit()


async def purge_expired(session: AsyncSession, older_than: timedelta = timedelta(days=1)) -> int:
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - older_than)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
