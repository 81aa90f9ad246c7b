"""A reminder target and the kinds the notification tests share, in one module imported under one name (a test
module imported by another would be executed twice, and register its target twice)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.errors import Forbidden, NotFound
from cauri.core.principal import Principal
from cauri.notifications.kinds import NotificationKind, register_kind
from cauri.notifications.notify import Recipient
from cauri.notifications.reminders import Reminded, ReminderPlan, register_target
from tests.support.identity import Actor

TEMPLATES = Path(__file__).parent / "kind_templates"
TRACKED = register_kind(NotificationKind("test.tracked", channels=("sms", "email"), templates=TEMPLATES))
URGENT = register_kind(NotificationKind("test.urgent", channels=("sms",), urgent=True, templates=TEMPLATES))

DUE = register_kind(NotificationKind("test.due", channels=("in_app", "email"), templates=TEMPLATES))


@dataclass
class Due:
    """A test module's object: who owes, and who may remind them by hand."""

    members: list[Recipient] = field(default_factory=list)
    managers: set[uuid.UUID] = field(default_factory=set)


DUES: dict[str, Due] = {}


class DueTarget:
    async def plan(
        self, session: AsyncSession, *, organization_id: uuid.UUID | None, object_id: str, note: str | None
    ) -> ReminderPlan:
        due = DUES.get(object_id)
        people = [Reminded(r, {"what": object_id, "note": note or ""}) for r in due.members] if due else []
        return ReminderPlan(DUE.name, people)

    async def authorise(self, session: AsyncSession, *, principal: Principal, object_id: str) -> None:
        due = DUES.get(object_id)
        if due is None:
            raise NotFound("Échéance inconnue.", "Unknown due date.", code="due_not_found")
        if principal.user_id not in due.managers:
            raise Forbidden("Réservé au trésorier.", "Treasurers only.", code="not_treasurer")


register_target("test_due", DueTarget())


def person(actor: Actor | None = None) -> Recipient:
    user_id = actor.user_id if actor else uuid.uuid4()
    return Recipient(user_id, email=f"{uuid.uuid4().hex[:10]}@example.org", language="fr", timezone="Africa/Dakar")


def new_due(*members: Recipient, managers: tuple[uuid.UUID, ...] = ()) -> str:
    object_id = f"due-{uuid.uuid4().hex[:12]}"
    DUES[object_id] = Due(list(members), set(managers))
    return object_id
