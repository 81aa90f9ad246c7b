"""``enqueue``: write a job row in the caller's transaction; ring the doorbell only once it has committed.

The doorbell of a database engine is registered by the process's job runtime (API, worker, scheduler). A
session whose engine has no doorbell (a script, a migration) still enqueues: the sweeper rings for it later.
"""

from __future__ import annotations

import json
import uuid
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from cauri.core.db import after_commit, new_id, utcnow
from cauri.core.jobs.models import Job, JobStatus

Doorbell = Callable[[uuid.UUID], Awaitable[None]]

_doorbells: weakref.WeakKeyDictionary[Engine, Doorbell] = weakref.WeakKeyDictionary()


def register_doorbell(engine: AsyncEngine, doorbell: Doorbell) -> None:
    _doorbells[engine.sync_engine] = doorbell


def unregister_doorbell(engine: AsyncEngine) -> None:
    _doorbells.pop(engine.sync_engine, None)


def doorbell_for(session: AsyncSession) -> Doorbell | None:
    bind = session.bind
    if isinstance(bind, AsyncEngine):
        return _doorbells.get(bind.sync_engine)
    return None


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    run_after: datetime | None = None,
    dedupe_key: str | None = None,
) -> uuid.UUID:
    """Add a job to the caller's transaction and return its id.

    With ``dedupe_key``, a second enqueue with the same key (in this transaction or any earlier one) adds
    nothing and returns the first job's id. Nothing is sent to the broker unless the transaction commits.
    """
    json.dumps(payload)  # a payload that cannot be stored fails here, naming the caller, not at commit
    now = utcnow()
    due = run_after or now
    doorbell = doorbell_for(session)
    # A job due later is rung by the sweeper when it is due: a message now would find nothing to claim.
    ring_now = doorbell is not None and due <= now
    values = {
        "id": new_id(),
        "kind": kind,
        "payload": payload,
        "status": JobStatus.QUEUED.value,
        "attempts": 0,
        "run_after": due,
        "rung_at": now if ring_now else None,
        "dedupe_key": dedupe_key,
        "created_at": now,
        "updated_at": now,
    }
    job_id = await _insert(session, values)
    if job_id is None:  # an earlier job holds this dedupe key
        existing = await session.execute(select(Job.id).where(Job.dedupe_key == dedupe_key))
        return existing.scalar_one()
    if ring_now and doorbell is not None:
        after_commit(session, _ring_once(doorbell, job_id))
    return job_id


async def _insert(session: AsyncSession, values: dict[str, Any]) -> uuid.UUID | None:
    """Insert the row; ``None`` when the dedupe key is taken (without aborting the caller's transaction)."""
    if values["dedupe_key"] is None:
        await session.execute(insert(Job).values(**values))
        return uuid.UUID(str(values["id"]))
    dialect = session.get_bind().dialect.name
    builder = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = builder(Job).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(Job.id)
    return (await session.execute(statement)).scalar_one_or_none()


def _ring_once(doorbell: Doorbell, job_id: uuid.UUID) -> Callable[[], Awaitable[None]]:
    async def ring() -> None:
        await doorbell(job_id)

    return ring
