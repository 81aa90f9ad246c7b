"""Reminders about a module's objects (a tontine session's due date…): scheduled, or sent by hand by a member.

The module that owns an object registers a **target** under a prefix (``register_target("tontine_session",
SessionReminders())``, in a file its ``jobs.py`` imports, so every worker knows it); notifications never imports
the module. A target answers two questions: who is reminded of this object, and of what (``plan``), and whether
this caller may send a reminder by hand (``authorise``).

* ``schedule_reminder(session, target=…, object_id=…, remind_at=…)`` writes a ``notification_reminders`` row and
  its job on the existing scheduler (``enqueue(run_after=remind_at, dedupe_key=…)``: no second scheduler). When it
  runs, the job asks the target for today's plan (who has not paid yet…) and calls ``notify`` for each person, in
  the job's transaction, then marks the reminder sent: a reminder runs once however many workers run (the job is
  claimed by one; a second run finds it sent; ``notify`` is idempotent per (kind, reminder, recipient)).
  ``cancel_reminders`` cancels those not run yet (a session closed early, a due date moved).
* ``send_manual_reminder`` — ``POST /api/v1/notifications/send-reminder`` — checks the target's ``authorise``,
  writes the audit row (who, what, to whom, when) and notifies in the request's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.core.errors import field_error
from cauri.core.jobs import JobContext, enqueue, job
from cauri.core.principal import Principal
from cauri.notifications.kinds import kind_named
from cauri.notifications.models import ManualSend, Reminder, ReminderStatus
from cauri.notifications.notify import Recipient, notify

log = structlog.get_logger("cauri.notifications")

REMIND_JOB = "notifications.remind"


@dataclass(frozen=True, slots=True)
class Reminded:
    """One person to remind, and the context their message is rendered with."""

    recipient: Recipient
    context: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ReminderPlan:
    kind: str  # a registered notification kind (``tontine.due_soon``)
    people: Sequence[Reminded] = field(default_factory=tuple)


class ReminderTarget(Protocol):
    """What a module registers for one kind of its objects."""

    async def plan(
        self, session: AsyncSession, *, organization_id: uuid.UUID | None, object_id: str, note: str | None
    ) -> ReminderPlan:
        """Who to remind of ``object_id`` now, with what kind and context (``note``: a manual sender's words).
        An object that no longer exists (or no longer needs a reminder) answers a plan with nobody."""
        ...

    async def authorise(self, session: AsyncSession, *, principal: Principal, object_id: str) -> None:
        """Raise ``NotFound`` (not theirs to see) or ``Forbidden`` unless ``principal`` may remind by hand."""
        ...


_TARGETS: dict[str, ReminderTarget] = {}


def _qualified_name(target: ReminderTarget) -> str:
    return f"{type(target).__module__}.{type(target).__qualname__}"


def register_target(prefix: str, target: ReminderTarget) -> ReminderTarget:
    if not prefix or len(prefix) > 40 or not prefix.replace("_", "").isalnum():
        raise ValueError(f"a reminder target prefix is 1 to 40 letters, digits or _: {prefix!r}")
    existing = _TARGETS.get(prefix)
    # Importing the same module twice registers the same class again: harmless. Another class: a bug.
    if existing is not None and _qualified_name(existing) != _qualified_name(target):
        raise ValueError(f"reminder target {prefix!r} is already registered by {_qualified_name(existing)}")
    _TARGETS[prefix] = target
    return target


def registered_targets() -> list[str]:
    return sorted(_TARGETS)


def target_named(prefix: str, *, field: str = "target") -> ReminderTarget:
    target = _TARGETS.get(prefix)
    if target is None:
        raise field_error(
            field,
            "unknown_reminder_target",
            f"Aucun rappel possible pour « {prefix} ».",
            f"Nothing can be reminded of as {prefix!r}.",
        )
    return target


async def schedule_reminder(
    session: AsyncSession,
    *,
    target: str,
    object_id: str | uuid.UUID,
    remind_at: datetime,
    organization_id: uuid.UUID | None = None,
) -> Reminder:
    """Schedule a reminder about ``object_id`` at ``remind_at`` (aware); the same (target, object, time) twice is
    one reminder. A time in the past is a 422 naming ``remind_at``."""
    target_named(target)
    if remind_at.tzinfo is None:
        raise field_error(
            "remind_at",
            "naive_datetime",
            "L'heure du rappel doit indiquer son fuseau horaire.",
            "The reminder's time must carry its time zone.",
        )
    if remind_at <= utcnow():
        raise field_error(
            "remind_at",
            "reminder_in_the_past",
            "Un rappel ne peut pas être programmé dans le passé.",
            "A reminder cannot be scheduled in the past.",
        )
    key = str(object_id)
    existing = await session.scalar(
        select(Reminder).where(Reminder.target == target, Reminder.object_id == key, Reminder.remind_at == remind_at)
    )
    if existing is not None:
        if existing.status == ReminderStatus.CANCELLED.value:
            existing.status = ReminderStatus.SCHEDULED.value
            await _enqueue(session, existing)
        return existing
    reminder = Reminder(
        id=uuid.uuid4(),
        organization_id=organization_id,
        target=target,
        object_id=key,
        remind_at=remind_at,
        status=ReminderStatus.SCHEDULED.value,
        notified=0,
    )
    session.add(reminder)
    await session.flush()
    await _enqueue(session, reminder)
    return reminder


async def _enqueue(session: AsyncSession, reminder: Reminder) -> None:
    # A cancelled then re-scheduled reminder needs a new job: the key names the scheduling, not just the row.
    stamp = utcnow().strftime("%Y%m%d%H%M%S%f")
    await enqueue(
        session,
        REMIND_JOB,
        {"reminder_id": str(reminder.id)},
        run_after=reminder.remind_at,
        dedupe_key=f"{REMIND_JOB}:{reminder.id}:{stamp}",
    )


async def cancel_reminders(session: AsyncSession, *, target: str, object_id: str | uuid.UUID) -> int:
    """Cancel the reminders about ``object_id`` that have not run; their jobs then find nothing to do."""
    result = await session.execute(
        update(Reminder)
        .where(
            Reminder.target == target,
            Reminder.object_id == str(object_id),
            Reminder.status == ReminderStatus.SCHEDULED.value,
        )
        .values(status=ReminderStatus.CANCELLED.value, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _notify_plan(
    session: AsyncSession, plan: ReminderPlan, *, object_key: str, organization_id: uuid.UUID | None
) -> list[Reminded]:
    kind_named(plan.kind)
    told: list[Reminded] = []
    for person in plan.people:
        await notify(
            session,
            kind=plan.kind,
            recipient=person.recipient,
            context=person.context,
            object_id=object_key,
            organization_id=organization_id,
        )
        told.append(person)
    return told


@job(REMIND_JOB)
async def run_reminder(ctx: JobContext, payload: dict[str, Any]) -> None:
    session = ctx.session
    statement = select(Reminder).where(Reminder.id == uuid.UUID(payload["reminder_id"]))
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    reminder = await session.scalar(statement)
    if reminder is None or reminder.status != ReminderStatus.SCHEDULED.value:
        return  # cancelled, or already run by another worker: nothing left to do
    target = _TARGETS.get(reminder.target)
    if target is None:
        # The module that registered it is not loaded in this process: fail loudly, the job is retried.
        raise LookupError(f"no reminder target {reminder.target!r} registered in this process")
    plan = await target.plan(session, organization_id=reminder.organization_id, object_id=reminder.object_id, note=None)
    told = await _notify_plan(
        session, plan, object_key=f"reminder:{reminder.id}", organization_id=reminder.organization_id
    )
    reminder.status = ReminderStatus.SENT.value
    reminder.sent_at = utcnow()
    reminder.notified = len(told)
    await session.flush()
    log.info("reminder_sent", reminder_id=str(reminder.id), target=reminder.target, notified=len(told))


def _recipient_label(recipient: Recipient) -> str:
    return str(recipient.user_id) if recipient.user_id is not None else recipient.key


def _audit(
    principal: Principal, target: str, object_id: str, *, kind: str, recipients: list[str], note: str | None
) -> ManualSend:
    return ManualSend(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        actor_user_id=principal.user_id,
        actor_api_key_id=principal.api_key_id,
        target=target,
        object_id=object_id,
        kind=kind,
        recipients=recipients,
        note=note,
        created_at=utcnow(),
    )


async def send_manual_reminder(
    session: AsyncSession,
    *,
    principal: Principal,
    target: str,
    object_id: str,
    note: str | None = None,
    user_ids: Sequence[uuid.UUID] | None = None,
    remind_at: datetime | None = None,
    user_ids_field: str = "user_ids",
) -> ManualSend:
    """A reminder sent now by ``principal`` (the target decides who may), audited; ``user_ids`` narrows it to
    some of the people the target would remind (others named are a 422 naming ``user_ids``). With ``remind_at``,
    it is scheduled instead (the people are those the target names then; a past time is a 422)."""
    handler = target_named(target)
    await handler.authorise(session, principal=principal, object_id=object_id)
    plan = await handler.plan(session, organization_id=principal.organization_id, object_id=object_id, note=note)
    if remind_at is not None:
        reminder = await schedule_reminder(
            session, target=target, object_id=object_id, remind_at=remind_at, organization_id=principal.organization_id
        )
        scheduled = _audit(principal, target, object_id, kind=plan.kind, recipients=[], note=note)
        scheduled.remind_at, scheduled.reminder_id = remind_at, reminder.id
        session.add(scheduled)
        await session.flush()
        return scheduled
    people = list(plan.people)
    if user_ids is not None:
        wanted = set(user_ids)
        known = {person.recipient.user_id for person in people}
        stranger = next((index for index, user_id in enumerate(user_ids) if user_id not in known), None)
        if stranger is not None:
            raise field_error(
                f"{user_ids_field}[{stranger}]",
                "not_reminded",
                "Cette personne n'est pas concernée par ce rappel.",
                "This person is not concerned by this reminder.",
            )
        people = [person for person in people if person.recipient.user_id in wanted]
    if not people:
        raise field_error(
            "object_id",
            "nobody_to_remind",
            "Personne n'est à rappeler pour cet objet.",
            "Nobody is to be reminded of this object.",
        )
    audit = _audit(
        principal,
        target,
        object_id,
        kind=plan.kind,
        recipients=[_recipient_label(p.recipient) for p in people],
        note=note,
    )
    session.add(audit)
    await session.flush()
    await _notify_plan(
        session,
        ReminderPlan(plan.kind, people),
        object_key=f"manual:{audit.id}",
        organization_id=principal.organization_id,
    )
    log.info("reminder_sent_by_hand", send_id=str(audit.id), target=target, recipients=len(people))
    return audit
