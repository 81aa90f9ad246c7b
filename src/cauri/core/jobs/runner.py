"""Run one job, given its id: claim the row, run the handler, record the outcome.

* The **claim** is one conditional UPDATE (the row is picked ``FOR UPDATE SKIP LOCKED`` on PostgreSQL) that
  only succeeds for a queued job that is due, or a running job whose lease expired (its worker died). It is
  committed before the handler runs, so a second delivery of the same doorbell finds nothing to claim.
* The handler runs in a new transaction that also marks the job done, **fenced** by the attempt number: if
  the lease was lost to another worker meanwhile, the mark matches no row and everything rolls back.
* While the handler runs, a heartbeat extends the lease, so only a dead worker's job is taken over.
* On an exception: the error is recorded and the job is queued again after a capped exponential backoff with
  jitter, or failed after ``Settings.job_max_attempts``.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings
from cauri.core.db import commit, rollback, unit_of_work, utcnow
from cauri.core.jobs.models import Job, JobStatus
from cauri.core.jobs.queue import Doorbell, planned_ring, ring_after_commit
from cauri.core.jobs.registry import JobContext, handler_for
from cauri.core.observability import JOB_DURATION, JOBS_TOTAL

log = structlog.get_logger("cauri.jobs")

ERROR_TEXT_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class Claim:
    job_id: uuid.UUID
    kind: str
    payload: dict[str, Any]
    attempt: int


class LeaseLost(Exception):
    """Another worker took the job over (this one was presumed dead); its work here is rolled back."""


def retry_delay(attempt: int, settings: Settings) -> timedelta:
    """Backoff after failed attempt ``attempt`` (1-based): base·2^(n-1), capped, times a jitter in [0.5, 1].

    The jitter spreads retries of jobs that failed together (a provider outage) without ever shortening a
    delay below the previous attempt's.
    """
    exponential = settings.job_retry_base_seconds * 2 ** min(attempt - 1, 32)
    capped = min(exponential, settings.job_retry_max_seconds)
    return timedelta(seconds=capped * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not a secret


class JobRunner:
    def __init__(
        self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], *, doorbell: Doorbell | None = None
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.lease = timedelta(seconds=settings.job_lease_seconds)
        # Rings for a retry when its backoff is over; without one, the sweeper does.
        self.doorbell = doorbell

    async def run(self, job_id: uuid.UUID) -> bool:
        """Run the job if it can be claimed; ``False`` when there was nothing to do (a duplicate doorbell)."""
        claim = await self.claim(job_id)
        if claim is None:
            log.debug("job_not_claimable", job_id=str(job_id))
            return False
        await self.execute(claim)
        return True

    async def claim(self, job_id: uuid.UUID) -> Claim | None:
        now = utcnow()
        candidate = Job.__table__.alias("candidate")
        claimable = (
            select(candidate.c.id)
            .where(
                candidate.c.id == job_id,
                candidate.c.run_after <= now,
                candidate.c.attempts < self.settings.job_max_attempts,
                or_(
                    candidate.c.status == JobStatus.QUEUED.value,
                    and_(candidate.c.status == JobStatus.RUNNING.value, candidate.c.lease_until < now),
                ),
            )
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        statement = (
            update(Job)
            .where(Job.id == claimable)
            .values(
                status=JobStatus.RUNNING.value,
                attempts=Job.attempts + 1,
                lease_until=now + self.lease,
                updated_at=now,
            )
            .returning(Job.kind, Job.payload, Job.attempts)
            .execution_options(synchronize_session=False)
        )
        async with unit_of_work(self.sessionmaker) as session:
            row = (await session.execute(statement)).one_or_none()
        if row is None:
            return None
        return Claim(job_id=job_id, kind=row.kind, payload=dict(row.payload or {}), attempt=row.attempts)

    async def execute(self, claim: Claim) -> str:
        """Run a claimed job; return the outcome: ``done``, ``retry``, ``failed`` or ``lease_lost``."""
        started = time.perf_counter()
        outcome = await self._execute(claim)
        JOBS_TOTAL.labels(claim.kind, outcome).inc()
        JOB_DURATION.labels(claim.kind).observe(time.perf_counter() - started)
        return outcome

    async def _execute(self, claim: Claim) -> str:
        bound = log.bind(job_id=str(claim.job_id), kind=claim.kind, attempt=claim.attempt)
        heartbeat = asyncio.create_task(self._keep_lease(claim))
        try:
            await self._run_handler(claim)
        except LeaseLost:
            bound.warning("job_lease_lost")
            return "lease_lost"
        except Exception as exc:
            return await self._record_failure(claim, exc, bound)
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
        bound.info("job_done")
        return "done"

    async def _run_handler(self, claim: Claim) -> None:
        handler = handler_for(claim.kind)
        if handler is None:
            raise LookupError(f"no handler for job kind {claim.kind!r} in this process")
        async with self.sessionmaker() as session:
            try:
                context = JobContext(
                    session=session,
                    sessionmaker=self.sessionmaker,
                    settings=self.settings,
                    job_id=claim.job_id,
                    kind=claim.kind,
                    attempt=claim.attempt,
                )
                await handler(context, claim.payload)
                now = utcnow()
                marked = await session.execute(
                    update(Job)
                    .where(*self._still_ours(claim))
                    .values(status=JobStatus.DONE.value, lease_until=None, finished_at=now, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
                if marked.rowcount != 1:  # type: ignore[attr-defined]
                    raise LeaseLost
                await commit(session)
            except BaseException:
                await rollback(session)
                raise

    def _still_ours(self, claim: Claim) -> tuple[Any, ...]:
        return (Job.id == claim.job_id, Job.status == JobStatus.RUNNING.value, Job.attempts == claim.attempt)

    async def _keep_lease(self, claim: Claim) -> None:
        """Extend the lease every third of it while the handler runs; a dead worker stops extending it."""
        interval = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                now = utcnow()
                async with unit_of_work(self.sessionmaker) as session:
                    await session.execute(
                        update(Job)
                        .where(*self._still_ours(claim))
                        .values(lease_until=now + self.lease)
                        .execution_options(synchronize_session=False)
                    )
            except Exception as exc:  # a missed beat is retried; the lease has two more in hand
                log.warning("job_heartbeat_failed", job_id=str(claim.job_id), error=type(exc).__name__)

    async def _record_failure(self, claim: Claim, exc: Exception, bound: Any) -> str:
        final = claim.attempt >= self.settings.job_max_attempts
        now = utcnow()
        error = f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_LIMIT]
        run_after = now + retry_delay(claim.attempt, self.settings)
        rung_at = None if final else planned_ring(self.doorbell, run_after, now)
        values: dict[str, Any] = {"last_error": error, "lease_until": None, "rung_at": rung_at, "updated_at": now}
        if final:
            values.update(status=JobStatus.FAILED.value, finished_at=now)
        else:
            values.update(status=JobStatus.QUEUED.value, run_after=run_after)
        async with unit_of_work(self.sessionmaker) as session:
            recorded = await session.execute(
                update(Job)
                .where(*self._still_ours(claim))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            still_ours = recorded.rowcount == 1  # type: ignore[attr-defined]
            if self.doorbell is not None and rung_at is not None and still_ours:
                ring_after_commit(session, self.doorbell, claim.job_id, run_after)
        if final:
            bound.error("job_failed", error=error, exc_info=exc)
            return "failed"
        bound.warning("job_retry_scheduled", error=error, retry_at=run_after.isoformat())
        return "retry"
