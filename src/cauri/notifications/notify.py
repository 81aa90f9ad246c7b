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
from dataclasses import dataclass, replace
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.notifications import digests, inapp
from cauri.notifications.addresses import check_email, check_number, is_mobile, zone_of_country, zone_of_number
from cauri.notifications.kinds import kind_named, language_of, render
from cauri.notifications.models import Notification
from cauri.notifications.preferences import accepted_channels, send_after, zone
from cauri.notifications.service import queue_message

log = structlog.get_logger("cauri.notifications")


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: uuid.UUID | None
    email: str | None = None
    phone: str | None = None  # E.164
    language: str = "fr"
    # The recipient's time zone (IANA) when the caller knows it (their profile); else that of their phone number's
    # country, else of ``country`` (ISO 3166 alpha-2), else UTC. Quiet hours and dates are in it.
    timezone: str | None = None
    country: str | None = None

    @property
    def zone_name(self) -> str:
        if self.timezone:
            return self.timezone
        from_number = zone_of_number(self.phone) if self.phone else None
        from_country = zone_of_country(self.country) if self.country else None
        return from_number or from_country or "UTC"

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


def _checked(recipient: Recipient) -> Recipient:
    """A malformed address is the caller's error, named, before anything is written. A valid number that is not a
    mobile one (a landline on a profile) is no SMS address: the person is not texted, as without a number."""
    if recipient.email is not None:
        check_email(recipient.email, field="recipient.email")
    if recipient.phone is not None and not is_mobile(check_number(recipient.phone, field="recipient.phone")):
        log.info("notification_not_a_mobile_number", user_id=str(recipient.user_id))
        return replace(recipient, phone=None)
    return recipient


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
    if already is not None or await inapp.is_stored(session, key) or await digests.is_merged(session, key):
        return []
    language = language_of(recipient.language)
    timezone = recipient.zone_name
    zone(timezone, field="recipient.timezone")
    recipient = _checked(recipient)
    channels = await accepted_channels(session, recipient.user_id, definition)
    planned = [
        (channel, address, render(definition, channel, context, language=language, timezone=timezone))
        for channel in channels
        if (address := recipient.address(channel))
    ]
    run_after = await send_after(session, recipient.user_id, definition, timezone)
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
    queued: list[Notification] = []
    for rank, (channel, address, rendered) in enumerate(outbox):
        window = definition.digest_window
        if window is not None:
            merged = await digests.merge_into_open(
                session, kind=kind, channel=channel, address=address, rendered=rendered, dedupe_key=key
            )
            if merged is not None:
                queued.append(merged)
                continue
        digest_until = digests.window_end(window) if window is not None else None
        message = await queue_message(
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
            # A digest's first message waits for its window to close, collecting the burst.
            run_after=max(run_after, digest_until) if run_after and digest_until else run_after or digest_until,
            fallback_rank=rank if definition.fallback else None,
        )
        if digest_until is not None:
            message.digest_until = digest_until
            await session.flush()
        queued.append(message)
    return queued
