"""Cursor pagination with one envelope shape: ``{"items": [...], "next_cursor": "…" | null}``.

Keyset pagination on ``(created_at, id)``, newest first: stable under inserts and fast at any depth.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from cauri.core.errors import field_error

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


# async, though it awaits nothing: FastAPI runs a plain ``def`` dependency in a worker thread (a thread hand-off
# per request per dependency, ~0.1 ms of CPU under load); a dependency that does no I/O is an ``async def``.
async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=500, description="`next_cursor` of the previous page")] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(created), uuid.UUID(row_id)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise field_error(
            "cursor", "invalid_cursor", "Curseur de pagination invalide.", "Invalid pagination cursor."
        ) from None


async def paginate(
    session: AsyncSession,
    statement: Select[Any],
    params: PageParams,
    *,
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[uuid.UUID],
) -> tuple[list[Any], str | None]:
    """Rows of ``statement``, newest first, and the cursor of the next page.

    One entity selected gives ORM objects; columns give lightweight rows (what a hot list should select: no
    identity map, no attribute instrumentation), which must include ``created_at`` and ``row_id``."""
    if params.cursor:
        at, last_id = decode_cursor(params.cursor)
        statement = statement.where(or_(created_at < at, and_(created_at == at, row_id < last_id)))
    statement = statement.order_by(created_at.desc(), row_id.desc()).limit(params.limit + 1)
    result = await session.execute(statement)
    rows = list(result.scalars().all() if len(statement.column_descriptions) == 1 else result.all())
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last = rows[-1]
        next_cursor = encode_cursor(getattr(last, created_at.key), getattr(last, row_id.key))
    return rows, next_cursor
