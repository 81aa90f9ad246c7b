"""Set-wise fan-out: one notification kind to many recipients (a tontine's members, a fund's operators, a whole
customer base), one outbox message per recipient and channel, written in chunks with multi-row inserts.

Same rules as :func:`cauri.notifications.notify.notify`, through its own functions: the kind's channels in order,
a recipient's turned-off channels skipped (``preferences.is_on``; mandatory kinds ignore it), quiet hours in the
recipient's time zone delaying the delivery job (``preferences.end_of_quiet``; urgent kinds ignore them), the
fallback order (the first outbox channel queued, the others ``held`` with their rank), the in-app copy for a
known person, and idempotency per (kind, object, recipient) with notify's own key (``notify.dedupe_key``): a
recipient notify or an earlier fan-out already told is skipped, so a retried fan-out adds only the missing ones.
Opt-outs (SMS ``STOP``, unsubscribed or undeliverable e-mail addresses) are applied when each message is sent
(``jobs.deliver``), as for notify.

What differs is how it is written: templates are rendered once per (channel, language, time zone), not per
person; preferences, quiet hours and earlier messages are read per chunk (``IN`` lists), not per person; rows go
in with one multi-row ``INSERT`` per table and chunk; the delivery jobs are inserted the same way and their
doorbells rung after the commit. In-app rows reach open pages at their stream's next database read
(``CAURI_NOTIFICATION_STREAM_POLL_SECONDS``): a fan-out publishes no pub/sub signal per person.

Nothing is written until every template has rendered: an unknown kind, a failing template or an unknown time
zone is the same 422 as notify's. Like notify, it writes in the caller's transaction and never commits.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any

import structlog
from sqlalchemy import JSON, ColumnElement, String, Table, TextClause, Uuid, any_, bindparam, insert, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from cauri.core.db import after_commit, utcnow
from cauri.core.jobs.models import Job, JobStatus
from cauri.core.jobs.queue import Doorbell, doorbell_for, planned_ring
from cauri.notifications import inapp
from cauri.notifications.addresses import check_email, number_facts, zone_of_country
from cauri.notifications.kinds import NotificationKind, Rendered, kind_named, language_of, render
from cauri.notifications.models import (
    InAppNotification,
    Notification,
    NotificationPreference,
    NotificationStatus,
    QuietHours,
)
from cauri.notifications.notify import Recipient, dedupe_key, notify
from cauri.notifications.preferences import Window, end_of_quiet, is_on, zone
from cauri.notifications.service import DELIVER_JOB

log = structlog.get_logger("cauri.notifications")

_POSTGRES = postgresql.dialect()  # type: ignore[no-untyped-call]

CHUNK = 2_000  # recipients per round: up to ~6,000 rows per INSERT, IN lists well under every driver's limits


@dataclass(frozen=True, slots=True)
class FanoutResult:
    recipients: int
    already_notified: int  # skipped: this (kind, object, recipient) was told before
    messages: int  # outbox rows written (queued and held)
    queued: int  # of which with a delivery job
    in_app: int  # in-app notifications stored


@dataclass(frozen=True, slots=True)
class _Checked:
    """A recipient after notify's address checks, with its time zone worked out once."""

    recipient: Recipient
    zone_name: str


def _check(recipient: Recipient) -> _Checked:
    """``notify._checked`` then ``Recipient.zone_name``, the phone number parsed once for both."""
    if recipient.email is not None:
        check_email(recipient.email, field="recipient.email")
    number = number_facts(recipient.phone, field="recipient.phone") if recipient.phone is not None else None
    if number is not None and not number.mobile:
        log.info("notification_not_a_mobile_number", user_id=str(recipient.user_id))
        recipient, number = replace(recipient, phone=None), None
    if recipient.timezone:
        return _Checked(recipient, recipient.timezone)
    from_country = zone_of_country(recipient.country) if recipient.country else None
    return _Checked(recipient, (number.zone if number else None) or from_country or "UTC")


def _chunks(items: Sequence[_Checked], size: int) -> Iterator[Sequence[_Checked]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _render_all(
    kind: NotificationKind, recipients: Sequence[_Checked], context: Mapping[str, Any]
) -> dict[tuple[str, str, str], Rendered]:
    """Every (channel, language, time zone) the recipients need, rendered once; the first failure is a 422."""
    rendered: dict[tuple[str, str, str], Rendered] = {}
    first_of: dict[str, int] = {}
    for index, checked in enumerate(recipients):
        first_of.setdefault(checked.zone_name, index)
    for timezone, index in first_of.items():
        zone(timezone, field=f"recipients[{index}].timezone")
    needed = dict.fromkeys((language_of(checked.recipient.language), checked.zone_name) for checked in recipients)
    for language, timezone in needed:  # in the recipients' order, as notify would meet a failing template
        for channel in kind.channels:
            rendered[(channel, language, timezone)] = render(
                kind, channel, context, language=language, timezone=timezone
            )
    return rendered


def _among(session: AsyncSession, column: InstrumentedAttribute[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:array)``: one parameter, not one per value (an
    ``IN`` list of 2,000 is rendered and bound value by value on every chunk)."""
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(values)
    element = Uuid() if isinstance(column.type, Uuid) else String()
    return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(element)))


async def _already_told(session: AsyncSession, keys: list[str]) -> set[str]:
    outbox = await session.scalars(
        select(Notification.dedupe_key).where(_among(session, Notification.dedupe_key, keys))
    )
    stored = await session.scalars(
        select(InAppNotification.dedupe_key).where(_among(session, InAppNotification.dedupe_key, keys))
    )
    return {key for key in outbox if key} | set(stored)


async def _choices(
    session: AsyncSession, kind: NotificationKind, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[tuple[str, str], bool]]:
    if kind.mandatory or not user_ids:
        return {}
    rows = await session.execute(
        select(NotificationPreference.user_id, NotificationPreference.channel, NotificationPreference.enabled).where(
            _among(session, NotificationPreference.user_id, user_ids), NotificationPreference.kind == kind.name
        )
    )
    choices: dict[uuid.UUID, dict[tuple[str, str], bool]] = {}
    for user_id, channel, enabled in rows:
        choices.setdefault(user_id, {})[(kind.name, channel)] = enabled
    return choices


async def _windows(session: AsyncSession, kind: NotificationKind, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, Window]:
    if kind.urgent or not user_ids:
        return {}
    rows = await session.execute(
        select(QuietHours.user_id, QuietHours.start_minute, QuietHours.end_minute).where(
            _among(session, QuietHours.user_id, user_ids)
        )
    )
    return {user_id: Window(start, end) for user_id, start, end in rows}


async def _ring_all(doorbell: Doorbell, due: list[tuple[uuid.UUID, datetime]]) -> None:
    """After the commit: ring now for what is due, set timers for what waits for quiet hours to end."""
    for job_id, when in due:
        if when <= utcnow():
            await doorbell.ring(job_id)
        else:
            doorbell.ring_at(job_id, when)


def _table(name: str) -> Table:
    return Notification.metadata.tables[name]


@dataclass
class _Batch:
    """The rows of one chunk, built in memory, then written with one multi-row INSERT per table."""

    definition: NotificationKind
    rendered: dict[tuple[str, str, str], Rendered]
    object_id: str
    organization_id: uuid.UUID | None
    now: datetime
    doorbell: Doorbell | None
    outbox: list[dict[str, Any]] = field(default_factory=list)
    in_app: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    to_ring: list[tuple[uuid.UUID, datetime]] = field(default_factory=list)

    def add(self, key: str, checked: _Checked, choices: dict[tuple[str, str], bool], window: Window | None) -> None:
        """What notify writes for this recipient (channels on, in order; in-app; fallback ranks; quiet hours)."""
        recipient, timezone = checked.recipient, checked.zone_name
        kind, user_id = self.definition, recipient.user_id
        language = language_of(recipient.language)
        run_after = end_of_quiet(window, self.now, timezone) if window else None
        rank = 0
        for channel in kind.channels:
            address = recipient.address(channel)
            if not address or (user_id is not None and not is_on(kind, channel, choices)):
                continue
            text = self.rendered[(channel, language, timezone)]
            if channel == inapp.CHANNEL:
                self.in_app.append(self._in_app_row(key, user_id, text))
                continue
            fallback_rank = rank if kind.fallback else None
            rank += 1
            notification_id = uuid.uuid4()
            self.outbox.append(
                {
                    "id": notification_id,
                    "organization_id": self.organization_id,
                    "channel": channel,
                    "recipient": address.strip(),
                    "subject": text.subject,
                    "body": text.body,
                    "language": language,
                    "status": (NotificationStatus.HELD if fallback_rank else NotificationStatus.QUEUED).value,
                    "attempts": 0,
                    "kind": kind.name,
                    "user_id": user_id,
                    "dedupe_key": key,
                    "fallback_rank": fallback_rank,
                    "unsubscribe_kind": None,
                    "created_at": self.now,
                    "updated_at": self.now,
                }
            )
            if not fallback_rank:  # a held fallback has no job until the channel before it fails for good
                self._job(notification_id, run_after or self.now)

    def _in_app_row(self, key: str, user_id: uuid.UUID | None, text: Rendered) -> dict[str, Any]:
        return {
            "id": uuid.uuid4(),
            "user_id": user_id,
            "organization_id": self.organization_id,
            "kind": self.definition.name,
            "title": text.subject[:200],
            "body": text.body,
            "object_id": self.object_id[:100],
            "dedupe_key": key,
            "read_at": None,
            "created_at": self.now,
            "updated_at": self.now,
        }

    def _job(self, notification_id: uuid.UUID, due: datetime) -> None:
        """The delivery job ``service.enqueue_delivery`` would write (same kind, payload and dedupe key)."""
        job_id = uuid.uuid4()
        rung_at = planned_ring(self.doorbell, due, self.now)
        self.jobs.append(
            {
                "id": job_id,
                "kind": DELIVER_JOB,
                "payload": {"notification_id": str(notification_id)},
                "status": JobStatus.QUEUED.value,
                "attempts": 0,
                "run_after": due,
                "rung_at": rung_at,
                "dedupe_key": f"{DELIVER_JOB}:{notification_id}",
                "created_at": self.now,
                "updated_at": self.now,
            }
        )
        if rung_at is not None:
            self.to_ring.append((job_id, due))

    async def write(self, session: AsyncSession) -> None:
        # On PostgreSQL one INSERT … SELECT FROM unnest(arrays) per table (one statement, one round trip, no
        # per-row compilation); elsewhere Core inserts of the tables (executemany, not the ORM's bulk path).
        tables = (
            (_table(Notification.__tablename__), self.outbox),
            (_table(InAppNotification.__tablename__), self.in_app),
            (_table(Job.__tablename__), self.jobs),
        )
        postgres = session.get_bind().dialect.name == "postgresql"
        for table, rows in tables:
            if rows and postgres:
                statement, parameters = _unnest_insert(table, rows)
                await session.execute(statement, parameters)
            elif rows:
                await session.execute(insert(table), rows)


def _unnest_insert(table: Table, rows: list[dict[str, Any]]) -> tuple[TextClause, dict[str, list[Any]]]:
    """``INSERT INTO table (columns) SELECT … FROM unnest(:c0, :c1, …)``: one array per column, typed as the
    column (a JSON column travels as text and is cast back)."""
    names = list(rows[0])
    arrays: list[str] = []
    selected: list[str] = []
    parameters: dict[str, list[Any]] = {}
    for index, name in enumerate(names):
        column_type = table.c[name].type
        is_json = isinstance(column_type, JSON)
        sql_type = "text" if is_json else column_type.compile(dialect=_POSTGRES)
        values = [row[name] for row in rows]
        parameters[f"c{index}"] = [json.dumps(value) for value in values] if is_json else values
        arrays.append(f"CAST(:c{index} AS {sql_type}[])")
        selected.append(f"CAST(u.c{index} AS json)" if is_json else f"u.c{index}")
    columns = ", ".join(f'"{name}"' for name in names)
    aliases = ", ".join(f"c{index}" for index in range(len(names)))
    statement = (
        f'INSERT INTO "{table.name}" ({columns}) SELECT {", ".join(selected)} '  # noqa: S608 (our own table names)
        f"FROM unnest({', '.join(arrays)}) AS u({aliases})"
    )
    return text(statement), parameters


async def _one_by_one(
    session: AsyncSession,
    *,
    kind: str,
    recipients: Sequence[Recipient],
    context: Mapping[str, Any],
    object_id: str | uuid.UUID,
    organization_id: uuid.UUID | None,
) -> FanoutResult:
    """A kind with a digest window merges bursts per address (digests.py): notify, person by person (``in_app``
    is not counted; ``already_notified`` counts everyone notify queued nothing for)."""
    messages = already = 0
    for recipient in recipients:
        queued = await notify(
            session,
            kind=kind,
            recipient=recipient,
            context=context,
            object_id=object_id,
            organization_id=organization_id,
        )
        messages += len(queued)
        already += not queued
    return FanoutResult(len(recipients), already, messages, messages, 0)


async def fan_out(
    session: AsyncSession,
    *,
    kind: str,
    recipients: Sequence[Recipient],
    context: Mapping[str, Any],
    object_id: str | uuid.UUID,
    organization_id: uuid.UUID | None = None,
    chunk_size: int = CHUNK,
) -> FanoutResult:
    """Queue ``kind`` for every recipient on each of its channels they can receive, set-wise (see the module)."""
    definition = kind_named(kind)
    if definition.digest_window is not None:
        return await _one_by_one(
            session,
            kind=kind,
            recipients=recipients,
            context=context,
            object_id=object_id,
            organization_id=organization_id,
        )
    # notify's address checks: a malformed address is a 422 before anything is written; a landline is not texted.
    checked = [_check(recipient) for recipient in recipients]
    rendered = _render_all(definition, checked, context)
    now = utcnow()
    doorbell = doorbell_for(session)
    to_ring: list[tuple[uuid.UUID, datetime]] = []
    already = messages = queued = in_app_count = 0
    seen: set[str] = set()  # the same recipient twice in the list is told once
    for chunk in _chunks(checked, chunk_size):
        keyed: dict[str, _Checked] = {}
        for one in chunk:
            key = dedupe_key(kind, object_id, one.recipient)
            if key not in seen:
                seen.add(key)
                keyed[key] = one
        told = await _already_told(session, list(keyed)) if keyed else set()
        people = list(
            {c.recipient.user_id for key, c in keyed.items() if key not in told and c.recipient.user_id is not None}
        )
        choices = await _choices(session, definition, people)
        windows = await _windows(session, definition, people)
        batch = _Batch(definition, rendered, str(object_id), organization_id, now, doorbell)
        for key, one in keyed.items():
            if key not in told:
                user_id = one.recipient.user_id
                mine = choices.get(user_id, {}) if user_id is not None else {}
                batch.add(key, one, mine, windows.get(user_id) if user_id is not None else None)
        await batch.write(session)
        already += len(chunk) - len(keyed) + len(told)
        messages += len(batch.outbox)
        queued += len(batch.jobs)
        in_app_count += len(batch.in_app)
        to_ring += batch.to_ring
    if doorbell is not None and to_ring:
        after_commit(session, partial(_ring_all, doorbell, to_ring))
    return FanoutResult(
        recipients=len(recipients), already_notified=already, messages=messages, queued=queued, in_app=in_app_count
    )
