"""The safety net of convention 6, and the clock of periodic jobs.

* :func:`sweep` rings the doorbell again for due queued jobs (a lost message, a retry whose backoff is over)
  and for running jobs whose lease expired (a dead worker), and fails those that used their last attempt.
  It runs in the scheduler itself, not as a job: it must not depend on the doorbell it repairs.
* :class:`PeriodicClock` enqueues each ``@periodic`` job once per time slot, with a dedupe key made of the kind
  and the slot, so two schedulers (or several in-process API workers) never double a run.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings
from cauri.core.db import unit_of_work, utcnow
from cauri.core.jobs.models import Job, JobStatus
from cauri.core.jobs.queue import enqueue
from cauri.core.jobs.registry import PeriodicJob, periodic_jobs

log = structlog.get_logger("cauri.jobs")

SWEEP_BATCH = 500


async def sweep(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, ring: Callable[[uuid.UUID], Awaitable[None]]
) -> list[uuid.UUID]:
    """Ring for every job that should be running and is not; return their ids."""
    now = utcnow()
    # A doorbell is presumed lost when its job is still waiting a lease after it rang.
    rung_long_ago = or_(Job.rung_at.is_(None), Job.rung_at < now - timedelta(seconds=settings.job_lease_seconds))
    lease_expired = and_(Job.status == JobStatus.RUNNING.value, Job.lease_until < now)
    async with unit_of_work(sessionmaker) as session:
        await _fail_exhausted(session, settings, now)
        due = (
            select(Job.id)
            .where(
                rung_long_ago,
                or_(and_(Job.status == JobStatus.QUEUED.value, Job.run_after <= now), lease_expired),
            )
            .order_by(Job.run_after)
            .limit(SWEEP_BATCH)
            .with_for_update(skip_locked=True)
        )
        job_ids = list((await session.execute(due)).scalars())
        if job_ids:
            await session.execute(
                update(Job).where(Job.id.in_(job_ids)).values(rung_at=now).execution_options(synchronize_session=False)
            )
    for job_id in job_ids:
        await ring(job_id)
    if job_ids:
        log.info("jobs_swept", count=len(job_ids))
    return job_ids


async def _fail_exhausted(session: AsyncSession, settings: Settings, now: datetime) -> None:
    """A job whose worker died during its last allowed attempt is failed, not retried forever."""
    await session.execute(
        update(Job)
        .where(
            Job.status == JobStatus.RUNNING.value,
            Job.lease_until < now,
            Job.attempts >= settings.job_max_attempts,
        )
        .values(
            status=JobStatus.FAILED.value,
            lease_until=None,
            finished_at=now,
            updated_at=now,
            last_error="lease expired: the worker stopped during the last attempt",
        )
        .execution_options(synchronize_session=False)
    )


def slot_start(periodic: PeriodicJob, at: datetime) -> datetime:
    """The start of the time slot containing ``at`` (slots are aligned on the Unix epoch)."""
    seconds = periodic.every.total_seconds()
    return datetime.fromtimestamp((at.timestamp() // seconds) * seconds, tz=UTC)


def slot_dedupe_key(periodic: PeriodicJob, slot: datetime) -> str:
    return f"periodic:{periodic.kind}:{slot.strftime('%Y%m%dT%H%M%SZ')}"


class PeriodicClock:
    """Enqueues due periodic jobs; remembers the last slot it enqueued so it touches the database once per slot."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self._last_slot: dict[str, datetime] = {}

    async def tick(self, now: datetime | None = None) -> list[uuid.UUID]:
        now = now or utcnow()
        due = [(p, slot_start(p, now)) for p in periodic_jobs()]
        due = [(p, slot) for p, slot in due if self._last_slot.get(p.kind) != slot]
        if not due:
            return []
        async with unit_of_work(self.sessionmaker) as session:
            job_ids = [
                await enqueue(session, p.kind, {"slot": slot.isoformat()}, dedupe_key=slot_dedupe_key(p, slot))
                for p, slot in due
            ]
        for p, slot in due:
            self._last_slot[p.kind] = slot
        return job_ids
