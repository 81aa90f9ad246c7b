"""Background jobs: the database is the source of truth, the queue is a doorbell (DESIGN.md, convention 6).

    from cauri.core.jobs import JobContext, enqueue, job, periodic

    @job("notifications.deliver")
    async def deliver(ctx: JobContext, payload: dict[str, Any]) -> None: ...

    job_id = await enqueue(session, "notifications.deliver", {"notification_id": "…"})

See :mod:`cauri.core.jobs.runner` for the claim/run/record cycle, :mod:`cauri.core.jobs.sweeper` for the safety
net and periodic jobs, :mod:`cauri.core.jobs.runtime` for how each process (API, worker, scheduler) runs them.
"""

from cauri.core.jobs.models import Job, JobStatus
from cauri.core.jobs.queue import enqueue
from cauri.core.jobs.registry import JobContext, JobHandler, job, periodic

__all__ = ["Job", "JobContext", "JobHandler", "JobStatus", "enqueue", "job", "periodic"]
