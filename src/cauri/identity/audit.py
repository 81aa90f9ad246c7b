"""The append-only audit trail: who did what, when, from which address, and what changed.

Rows are only ever inserted: the ORM refuses to update or delete one, and the migration installs database
triggers that refuse it too, so not even a raw SQL statement from the application can rewrite history.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import JSON, Index, String, event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from cauri.core.db import Base, IdMixin, utcnow
from cauri.core.pagination import PageParams, paginate
from cauri.core.principal import Principal

# Keys whose values must never reach the trail, whatever a caller passes in ``changes``.
_SECRET_KEYS = re.compile(
    r"pass(word)?|secret|token|api[_-]?key|authori[sz]ation|cookie|otp|\bpin\b|credential|signature|hash|digest",
    re.IGNORECASE,
)
REDACTED = "***"


class AuditEvent(IdMixin, Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_organization_id_created_at", "organization_id", "created_at"),)

    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Plain columns, no foreign keys: the trail outlives the users, keys and organisations it mentions.
    organization_id: Mapped[uuid.UUID | None]
    actor_user_id: Mapped[uuid.UUID | None]
    actor_api_key_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(80), index=True)
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(80))
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(45))
    request_id: Mapped[str | None] = mapped_column(String(128))


def _refuse_rewrite(_mapper: Mapper[Any], _connection: Any, target: AuditEvent) -> None:
    raise PermissionError(f"audit events are append-only (event {target.id})")


event.listen(AuditEvent, "before_update", _refuse_rewrite)
event.listen(AuditEvent, "before_delete", _refuse_rewrite)


def redact(value: Any, key: str = "") -> Any:
    """``value`` with every secret-looking key's value replaced, at any depth."""
    if key and _SECRET_KEYS.search(key):
        return REDACTED
    if isinstance(value, dict):
        return {str(k): redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # UUIDs, datetimes, enums: stored as text so the JSON column accepts them


async def record_audit(
    session: AsyncSession,
    *,
    action: str,
    organization_id: uuid.UUID | None,
    actor: Principal | None,
    target_type: str | None = None,
    target_id: str | None = None,
    changes: dict[str, Any] | None = None,
    ip: str | None = None,
) -> None:
    """Add one event to ``session``'s transaction: it is kept exactly when the work it describes is."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    session.add(
        AuditEvent(
            organization_id=organization_id,
            actor_user_id=actor.user_id if actor else None,
            actor_api_key_id=actor.api_key_id if actor else None,
            action=action[:80],
            target_type=target_type,
            target_id=target_id,
            changes=redact(changes) if changes is not None else None,
            ip=ip[:45] if ip else None,
            request_id=str(request_id)[:128] if request_id else None,
        )
    )


async def list_audit_events(
    session: AsyncSession,
    params: PageParams,
    *,
    organization_id: uuid.UUID | None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[AuditEvent], str | None]:
    """One organisation's events, newest first; ``organization_id=None`` means the platform's own events."""
    statement = select(AuditEvent).where(
        AuditEvent.organization_id == organization_id
        if organization_id is not None
        else AuditEvent.organization_id.is_(None)
    )
    if action:
        statement = statement.where(AuditEvent.action == action)
    if since is not None:
        statement = statement.where(AuditEvent.created_at >= since)
    if until is not None:
        statement = statement.where(AuditEvent.created_at < until)
    return await paginate(session, statement, params, created_at=AuditEvent.created_at, row_id=AuditEvent.id)
