"""Housekeeping jobs of the core, on the scheduler's clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete

from cauri.core.db import utcnow
from cauri.core.idempotency import purge_expired
from cauri.core.jobs.models import Job, JobStatus
from cauri.core.jobs.registry import JobContext, periodic


@periodic("core.purge_idempotency_keys", every=timedelta(hours=1))
async def purge_idempotency_keys(ctx: JobContext, payload: dict[str, Any]) -> None:
    await purge_expired(ctx.session)


@periodic("core.purge_finished_jobs", every=timedelta(hours=1))
async def purge_finished_jobs(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Forget jobs done more than ``job_retention_days`` ago; failed jobs stay for an operator to read.

    A dedupe key protects against a second run for as long as its job is kept.
    """
    cutoff = utcnow() - timedelta(days=ctx.settings.job_retention_days)
    await ctx.session.execute(
        delete(Job)
        .where(Job.status == JobStatus.DONE.value, Job.finished_at < cutoff)
        .execution_options(synchronize_session=False)
    )
