"""Reads the console's restaurant pages need and the services do not offer (``web/restaurant.py``): purchase
orders by status, newest first, and the names of the people who drafted or approved them. Read only: every
change goes through the services (``kitchen``, ``connections``, ``bookings``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.identity.models import User
from cauri.restaurant.models import PurchaseOrder

ORDERS_SHOWN = 50


async def orders(
    session: AsyncSession, organization_id: uuid.UUID, *, statuses: Iterable[str], limit: int = ORDERS_SHOWN
) -> list[PurchaseOrder]:
    """The organisation's orders in ``statuses``, newest first (at most ``limit``)."""
    rows = await session.scalars(
        select(PurchaseOrder)
        .where(PurchaseOrder.organization_id == organization_id, PurchaseOrder.status.in_(list(statuses)))
        .order_by(PurchaseOrder.created_at.desc(), PurchaseOrder.id)
        .limit(limit)
    )
    return list(rows)


async def people_names(session: AsyncSession, user_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """Full names of the given people (those who drafted or approved an order)."""
    wanted = {user_id for user_id in user_ids if user_id is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.full_name).where(User.id.in_(wanted)))
    return {row.id: row.full_name for row in rows}
