"""Addresses not to write to: turned off by their owner for one kind (an unsubscribe link), or refused for good
by their mail server (a 5xx to ``RCPT TO``). A message to either is not sent: it is recorded as suppressed."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.notifications.models import EmailOptOut, UndeliverableAddress

UNSUBSCRIBED = "unsubscribed"
UNDELIVERABLE = "undeliverable"


async def opt_out(session: AsyncSession, *, address: str, kind: str) -> None:
    """Turn ``kind`` off for ``address`` (twice is once)."""
    address = address.lower()
    found = await session.scalar(select(EmailOptOut.id).where(EmailOptOut.address == address, EmailOptOut.kind == kind))
    if found is None:
        session.add(EmailOptOut(id=uuid.uuid4(), address=address, kind=kind))
        await session.flush()


async def mark_undeliverable(session: AsyncSession, *, address: str, reason: str) -> None:
    address = address.lower()
    found = await session.scalar(select(UndeliverableAddress).where(UndeliverableAddress.address == address))
    if found is None:
        session.add(UndeliverableAddress(id=uuid.uuid4(), address=address, reason=reason[:200]))
    else:
        found.reason = reason[:200]  # the latest refusal is the one worth reading
    await session.flush()


async def suppression_reason(session: AsyncSession, *, address: str, kind: str | None) -> str | None:
    """Why a message to ``address`` must not be sent (``undeliverable``, ``unsubscribed``), or None."""
    address = address.lower()
    if await session.scalar(select(UndeliverableAddress.id).where(UndeliverableAddress.address == address)):
        return UNDELIVERABLE
    if kind is not None:
        opted = select(EmailOptOut.id).where(EmailOptOut.address == address, EmailOptOut.kind == kind)
        if await session.scalar(opted):
            return UNSUBSCRIBED
    return None
