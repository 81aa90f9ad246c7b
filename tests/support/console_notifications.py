"""A notification kind shown in the console (in-app and e-mail), and a helper that tells a person, as a module
would (``notify`` in its own transaction)."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import unit_of_work
from cauri.notifications.kinds import NotificationKind, register_kind
from cauri.notifications.notify import Recipient, notify

CONSOLE_NOTICE = register_kind(
    NotificationKind(
        "console.notice",
        channels=("in_app", "email"),
        templates=Path(__file__).parent / "console_kinds",
        sample={"n": 1, "amount": 10000},
    )
)


async def tell(sessionmaker: async_sessionmaker[AsyncSession], user_id: uuid.UUID, n: int) -> None:
    """Store in-app notification ``n`` for the person (its e-mail copy is not wanted: no address given)."""
    async with unit_of_work(sessionmaker) as session:
        await notify(
            session,
            kind=CONSOLE_NOTICE.name,
            recipient=Recipient(user_id),
            context={"n": n, "amount": 10000 * n},
            object_id=f"{user_id}:{n}",
        )
