"""A person's notification preferences: which kind on which channel, and quiet hours in their time zone.

No row means on. Mandatory kinds (security codes, payment receipts) cannot be turned off: asking is a 422 naming
the kind, and a stored "off" could never silence them anyway (``accepted_channels`` ignores it). Urgent kinds are
sent during quiet hours; the others wait: their delivery job runs at the end of the quiet window (the job
scheduler's ``run_after``, no second scheduler).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.core.errors import field_error
from cauri.notifications.kinds import NotificationKind, kind_named
from cauri.notifications.models import NotificationPreference, QuietHours

MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, slots=True)
class Choice:
    kind: str
    channel: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class Window:
    """Quiet hours, minutes after local midnight; ``start > end`` spans midnight."""

    start: int
    end: int

    def contains(self, minute: int) -> bool:
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end


def zone(name: str, *, field: str = "timezone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise field_error(
            field, "unknown_timezone", f"Fuseau horaire inconnu : « {name} ».", f"Unknown time zone: {name!r}."
        ) from None


async def stored_choices(session: AsyncSession, user_id: uuid.UUID) -> dict[tuple[str, str], bool]:
    rows = await session.scalars(select(NotificationPreference).where(NotificationPreference.user_id == user_id))
    return {(row.kind, row.channel): row.enabled for row in rows}


def is_on(kind: NotificationKind, channel: str, choices: dict[tuple[str, str], bool]) -> bool:
    """On unless turned off; a mandatory kind is always on."""
    return kind.mandatory or choices.get((kind.name, channel), True)


async def accepted_channels(session: AsyncSession, user_id: uuid.UUID | None, kind: NotificationKind) -> list[str]:
    """The kind's channels, in order, that this person has not turned off (all of them for a mandatory kind)."""
    if user_id is None or kind.mandatory:
        return list(kind.channels)
    choices = await stored_choices(session, user_id)
    return [channel for channel in kind.channels if is_on(kind, channel, choices)]


async def quiet_window(session: AsyncSession, user_id: uuid.UUID) -> Window | None:
    row = await session.scalar(select(QuietHours).where(QuietHours.user_id == user_id))
    return Window(row.start_minute, row.end_minute) if row else None


def end_of_quiet(window: Window, now: datetime, timezone: str) -> datetime | None:
    """When the quiet window ``now`` falls in ends (UTC), or None when ``now`` is not in it."""
    local = now.astimezone(zone(timezone))
    minute = local.hour * 60 + local.minute
    if not window.contains(minute):
        return None
    # Past midnight of a window spanning it (or a same-day window): it ends today; before midnight, tomorrow.
    day = local.date() + timedelta(days=1 if window.start > window.end and minute >= window.start else 0)
    ends = datetime.combine(day, time(window.end // 60, window.end % 60), tzinfo=local.tzinfo)
    return ends.astimezone(now.tzinfo)


async def send_after(
    session: AsyncSession, user_id: uuid.UUID | None, kind: NotificationKind, timezone: str
) -> datetime | None:
    """When a message of ``kind`` to this person may go: None for now (urgent, or not in their quiet hours)."""
    if user_id is None or kind.urgent:
        return None
    window = await quiet_window(session, user_id)
    return end_of_quiet(window, utcnow(), timezone) if window else None


def _check(index: int, choice: Choice) -> None:
    field = f"preferences[{index}]"
    kind = kind_named(choice.kind, field=f"{field}.kind")
    if choice.channel not in kind.channels:
        raise field_error(
            f"{field}.channel",
            "channel_not_of_kind",
            f"Le type « {kind.name} » n'est pas envoyé par « {choice.channel} ».",
            f"Kind {kind.name!r} is not sent by {choice.channel!r}.",
        )
    if kind.mandatory and not choice.enabled:
        raise field_error(
            f"{field}.kind",
            "notification_mandatory",
            f"Les notifications « {kind.name} » ne peuvent pas être désactivées.",
            f"Notifications {kind.name!r} cannot be turned off.",
        )


async def save_choices(session: AsyncSession, user_id: uuid.UUID, choices: Sequence[Choice]) -> None:
    """Record ``choices`` (all checked first: a refused one leaves every preference as it was)."""
    for index, choice in enumerate(choices):
        _check(index, choice)
    stored = {
        (row.kind, row.channel): row
        for row in await session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == user_id).with_for_update()
        )
    }
    for choice in choices:
        row = stored.get((choice.kind, choice.channel))
        if row is None:
            row = NotificationPreference(user_id=user_id, kind=choice.kind, channel=choice.channel, enabled=True)
            session.add(row)
            stored[(choice.kind, choice.channel)] = row
        row.enabled = choice.enabled
    await session.flush()


async def save_quiet_hours(session: AsyncSession, user_id: uuid.UUID, window: Window | None) -> None:
    """Set (or, with None, remove) a person's quiet hours."""
    if window is not None and window.start == window.end:
        raise field_error(
            "quiet_hours.end",
            "empty_quiet_hours",
            "Les heures calmes doivent finir à une autre heure que leur début.",
            "Quiet hours must end at another time than they start.",
        )
    await session.execute(delete(QuietHours).where(QuietHours.user_id == user_id))
    if window is not None:
        session.add(QuietHours(user_id=user_id, start_minute=window.start, end_minute=window.end))
    await session.flush()
