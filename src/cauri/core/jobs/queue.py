"""``enqueue``: write a job row in the caller's transaction; ring the doorbell only once it has committed.

The doorbell of a database engine is registered by the process's job runtime (API, worker, scheduler). A job
due later gets a timer in that process; a job enqueued through an engine without a doorbell (a script, a
migration), or whose timer died with its process, is rung by the sweeper.
"""

from __future__ import annotations

import json
import uuid
import weakref
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from cauri.core.db import after_commit, new_id, utcnow
from cauri.core.jobs.models import Job, JobStatus

# Jobs due further away than this get no timer (a process does not hold timers for days): the sweeper rings.
TIMER_HORIZON = timedelta(hours=1)


class Doorbell(Protocol):
    async def ring(self, job_id: uuid.UUID) -> None:
        """Send the doorbell now; never raises (the sweeper rings again for a doorbell that was not sent)."""

    def ring_at(self, job_id: uuid.UUID, when: datetime) -> None:
        """Send the doorbell at ``when``, from this process."""


_doorbells: weakref.WeakKeyDictionary[Engine, Doorbell] = weakref.WeakKeyDictionary()


def register_doorbell(engine: AsyncEngine, doorbell: Doorbell) -> None:
    _doorbells[engine.sync_engine] = doorbell


def unregister_doorbell(engine: AsyncEngine, doorbell: Doorbell) -> None:
    if _doorbells.get(engine.sync_engine) is doorbell:
        del _doorbells[engine.sync_engine]


def doorbell_for(session: AsyncSession) -> Doorbell | None:
    bind = session.bind
    if isinstance(bind, AsyncEngine):
        return _doorbells.get(bind.sync_engine)
    return None


def planned_ring(doorbell: Doorbell | None, due: datetime, now: datetime) -> datetime | None:
    """When this process will ring for a job due at ``due``: now, at ``due`` (a timer), or ``None`` (the sweeper)."""
    if doorbell is None or due - now > TIMER_HORIZON:
        return None
    return max(due, now)


def ring_after_commit(session: AsyncSession, doorbell: Doorbell, job_id: uuid.UUID, due: datetime) -> None:
    async def ring() -> None:
        if due <= utcnow():
            await doorbell.ring(job_id)
        else:
            doorbell.ring_at(job_id, due)

    after_commit(session, ring)


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
    job_id = new_id()
    doorbell = doorbell_for(session)
    rung_at = planned_ring(doorbell, due, now)
    values = {
        "id": job_id,
        "kind": kind,
        "payload": payload,
        "status": JobStatus.QUEUED.value,
        "attempts": 0,
        "run_after": due,
        # The sweeper leaves a job alone for a lease after its doorbell is due to ring.
        "rung_at": rung_at,
        "dedupe_key": dedupe_key,
        "created_at": now,
        "updated_at": now,
    }
    if not await _insert(session, values):  # an earlier job holds this dedupe key
        existing = await session.execute(select(Job.id).where(Job.dedupe_key == dedupe_key))
        return existing.scalar_one()
    if doorbell is not None and rung_at is not None:
        ring_after_commit(session, doorbell, job_id, due)
    return job_id


async def _insert(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert the row; ``False`` when the dedupe key is taken (without aborting the caller's transaction)."""
    if values["dedupe_key"] is None:
        await session.execute(insert(Job).values(**values))
        return True
    dialect = session.get_bind().dialect.name
    builder = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = builder(Job).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(Job.id)
    return (await session.execute(statement)).scalar_one_or_none() is not None
