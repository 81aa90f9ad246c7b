"""``notify``: the one function modules call to tell a person that something happened.

The caller passes the kind, the recipient (identity sits above notifications: the caller knows the addresses,
language and time zone) and the template context; one message is queued per channel of the kind the recipient
has an address for and has not turned off (preferences.py), in the caller's transaction; outside urgent kinds, a
message written during the recipient's quiet hours is delivered when they end. The same (kind, object,
recipient) queues nothing the second time, so a retried job or a replayed request never tells anyone twice.
A kind with ``fallback`` goes out on its first such channel only, the others held in order (fallback.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.notifications import inapp
from cauri.notifications.kinds import kind_named, language_of, render
from cauri.notifications.models import Notification
from cauri.notifications.preferences import accepted_channels, send_after, zone
from cauri.notifications.service import queue_message


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: uuid.UUID | None
    email: str | None = None
    phone: str | None = None  # E.164
    language: str = "fr"
    timezone: str = "UTC"

    def address(self, channel: str) -> str | None:
        if channel == inapp.CHANNEL:
            return str(self.user_id) if self.user_id is not None else None  # in-app: only a known person
        return self.email if channel == "email" else self.phone

    @property
    def key(self) -> str:
        """Who this is, for idempotency: the user when known, else the addresses."""
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return f"address:{self.email or ''}|{self.phone or ''}"


def dedupe_key(kind: str, object_id: str | uuid.UUID, recipient: Recipient) -> str:
    return f"{kind}:{object_id}:{recipient.key}"


async def notify(
    session: AsyncSession,
    *,
    kind: str,
    recipient: Recipient,
    context: Mapping[str, Any],
    object_id: str | uuid.UUID,
    organization_id: uuid.UUID | None = None,
) -> list[Notification]:
    """Queue ``kind`` for ``recipient`` on each of its channels they can receive; [] when already notified.

    The outbox messages (e-mail, SMS) are returned; an in-app notification is stored alongside (inapp.py).

    Every template is rendered before anything is written: a template that fails leaves nothing half-queued.
    """
    definition = kind_named(kind)
    key = dedupe_key(kind, object_id, recipient)
    already = await session.scalar(select(Notification.id).where(Notification.dedupe_key == key).limit(1))
    if already is not None or await inapp.is_stored(session, key):
        return []
    language = language_of(recipient.language)
    zone(recipient.timezone, field="recipient.timezone")
    channels = await accepted_channels(session, recipient.user_id, definition)
    planned = [
        (channel, address, render(definition, channel, context, language=language, timezone=recipient.timezone))
        for channel in channels
        if (address := recipient.address(channel))
    ]
    run_after = await send_after(session, recipient.user_id, definition, recipient.timezone)
    outbox = [(channel, address, rendered) for channel, address, rendered in planned if channel != inapp.CHANNEL]
    for channel, _address, rendered in planned:
        if channel == inapp.CHANNEL and recipient.user_id is not None:
            await inapp.store(
                session,
                user_id=recipient.user_id,
                organization_id=organization_id,
                kind=kind,
                title=rendered.subject,
                body=rendered.body,
                object_id=str(object_id),
                dedupe_key=key,
            )
    # In-app is stored at once and never fails: the fallback order (fallback.py) is among the outbox channels.
    return [
        await queue_message(
            session,
            channel="email" if channel == "email" else "sms",
            recipient=address,
            subject=rendered.subject,
            body=rendered.body,
            language=language,
            organization_id=organization_id,
            kind=kind,
            user_id=recipient.user_id,
            dedupe_key=key,
            run_after=run_after,
            fallback_rank=rank if definition.fallback else None,
        )
        for rank, (channel, address, rendered) in enumerate(outbox)
    ]
